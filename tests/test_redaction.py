"""Personal data is masked at rest: utterance text and the words inside it; raw only on request."""
from core.domain import Utterance, Word
from flows.recording import mask_words, redact_utterances


def spoken_number_utterance():
    pieces = ["我的", "手机", "是", "139", "1234", "5678", ",", "记", "一下"]
    words, t = [], 0.0
    for p in pieces:
        words.append(Word(t, t + 0.3, p, 0.9))
        t += 0.3
    return Utterance(speaker="ch1", role="customer", start=0.0, end=t, text="".join(pieces), words=words, channel=1)


def test_text_and_words_are_masked():
    u = spoken_number_utterance()
    raw = redact_utterances([u], keep_raw=False)
    assert raw is None
    assert u.text == "我的手机是[电话],记一下"
    assert [w.text for w in u.words] == ["我的", "手机", "是", "*", "*", "*", ",", "记", "一下"]
    assert [(w.start, w.end) for w in u.words] == [(w.start, w.end) for w in spoken_number_utterance().words]


def test_raw_kept_only_when_enabled():
    u = spoken_number_utterance()
    raw = redact_utterances([u], keep_raw=True)
    assert raw == ["我的手机是13912345678,记一下"] and "[电话]" in u.text


def test_leading_space_offsets():
    words = [Word(0, 1, " call", 1.0), Word(1, 2, " 13912345678", 1.0)]
    text = "".join(w.text for w in words).strip()
    start = text.index("139")
    masked = mask_words(words, text, [(start, start + 11, "phone")])
    assert [w.text for w in masked] == [" call", "*"]
