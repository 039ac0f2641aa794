"""ASR domain vocabulary: the [asr] vocabulary / vocabulary_mode keys, the vocabulary file, and
real Whisper runs under each mode (words on speech, nothing on silence)."""
import dataclasses

import numpy as np
import pytest

from core.settings import AsrSettings, load_settings, project_path, vocabulary_terms
from speech.asr import TERM_SEPARATOR, get_transcriber, vocabulary_options
from speech.audio import normalise_gain
from tests.helpers.audio import load_clip
from tests.helpers.text import cer

BUNDLED = "speech/data/collection_vocabulary.txt"


def write_config(tmp_path, body: str):
    path = tmp_path / "callqa.toml"
    path.write_text(body, encoding="utf-8")
    return path


def test_bundled_vocabulary_is_read_from_the_project_folder():
    terms = vocabulary_terms(BUNDLED)
    for term in ("信用卡", "逾期", "还款", "欠款", "最低还款额", "分期", "征信", "信用卡中心", "招商银行"):
        assert term in terms
    assert not any(t.startswith("#") for t in terms)
    assert project_path(BUNDLED).is_file()


def test_terms_skip_comments_and_blank_lines_and_keep_order_once(tmp_path):
    path = tmp_path / "vocab.txt"
    path.write_text("# our centre\n\n  逾期 \n# 不要\n滞纳金\n逾期\n", encoding="utf-8")
    assert vocabulary_terms(str(path)) == ("逾期", "滞纳金")


def test_modes_parse_from_the_file_and_the_environment(tmp_path):
    vocab = tmp_path / "v.txt"
    vocab.write_text("停息挂账\n", encoding="utf-8")
    cfg = load_settings(write_config(tmp_path, f'[asr]\nvocabulary = "{vocab}"\nvocabulary_mode = "prompt"\n'), environ={})
    assert (cfg.asr.vocabulary, cfg.asr.vocabulary_mode) == (str(vocab), "prompt")
    env = load_settings(write_config(tmp_path, "[asr]\n"), environ={"CALLQA_ASR__VOCABULARY_MODE": "off"})
    assert env.asr.vocabulary_mode == "off"
    assert vocabulary_options(cfg.asr) == {"initial_prompt": "停息挂账。"}


@pytest.mark.parametrize("body, needle", [
    ('vocabulary_mode = "hotword"', "asr.vocabulary_mode must be one of off, hotwords, prompt"),
    ('vocabulary_mode = "hotwords"\nvocabulary = "/nonexistent/vocab.txt"', "asr.vocabulary: cannot read /nonexistent/vocab.txt"),
    ("vocabulary_mode = true", "asr.vocabulary_mode must be a string"),
])
def test_bad_values_are_one_line_errors_naming_the_key(tmp_path, body, needle):
    with pytest.raises(ValueError) as err:
        load_settings(write_config(tmp_path, f"[asr]\n{body}\n"), environ={})
    assert needle in str(err.value)
    assert "\n" not in str(err.value)


def test_a_vocabulary_without_terms_or_not_utf8_is_an_error_only_when_used(tmp_path):
    empty = tmp_path / "empty.txt"
    empty.write_text("# nothing yet\n\n", encoding="utf-8")
    binary = tmp_path / "gbk.txt"
    binary.write_bytes("信用卡\n".encode("gbk"))
    for path, needle in ((empty, "holds no term"), (binary, "cannot read")):
        with pytest.raises(ValueError, match=needle):
            AsrSettings(vocabulary=str(path), vocabulary_mode="hotwords")
        assert AsrSettings(vocabulary=str(path), vocabulary_mode="off", correction=False).vocabulary_mode == "off"
        with pytest.raises(ValueError, match=f"asr.vocabulary: .*{path.name}"):   # term correction reads it too
            AsrSettings(vocabulary=str(path), vocabulary_mode="off")


def test_the_cli_reports_a_missing_vocabulary_on_one_line(tmp_path, repo_root):
    from typer.testing import CliRunner

    from callqa.cli import app

    config = write_config(tmp_path, '[asr]\nvocabulary_mode = "hotwords"\nvocabulary = "gone.txt"\n')
    result = CliRunner().invoke(app, ["transcribe", str(repo_root / "samples" / "calls" / "dev_call_06.mono.wav"),
                                      "--config", str(config)])
    assert result.exit_code == 2
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and "asr.vocabulary: cannot read" in lines[0] and "gone.txt" in lines[0]
    assert "Traceback" not in result.output


def test_default_mode_is_hotwords_and_options_per_mode_carry_every_term():
    assert AsrSettings().vocabulary_mode == "hotwords"
    terms = vocabulary_terms(BUNDLED)
    assert vocabulary_options(AsrSettings(vocabulary_mode="off")) == {}
    hot = vocabulary_options(AsrSettings(vocabulary_mode="hotwords"))
    prompt = vocabulary_options(AsrSettings(vocabulary_mode="prompt"))
    assert hot == {"hotwords": TERM_SEPARATOR.join(terms) + "。"}
    assert prompt == {"initial_prompt": TERM_SEPARATOR.join(terms) + "。"}


@pytest.mark.slow  # the real Whisper model, once per mode
@pytest.mark.parametrize("mode", ["off", "hotwords", "prompt"])
def test_each_mode_transcribes_real_speech(cfg, test_data, mode):
    transcriber = get_transcriber(dataclasses.replace(cfg.asr, vocabulary_mode=mode))
    assert transcriber.vocabulary == vocabulary_options(dataclasses.replace(cfg.asr, vocabulary_mode=mode))
    audio = load_clip(test_data / "audio" / "BAC009S0764W0121.wav")
    text = "".join(w.text for w in transcriber.transcribe(normalise_gain(audio, -3.0, 30.0)[0]))
    assert cer("甚至出现交易几乎停滞的情况", text) <= 0.25


@pytest.mark.slow  # the real Whisper model
@pytest.mark.parametrize("mode", ["hotwords", "prompt"])
def test_silence_gives_no_words_with_the_vocabulary_on(cfg, mode):
    transcriber = get_transcriber(dataclasses.replace(cfg.asr, vocabulary_mode=mode))
    assert transcriber.transcribe(np.zeros(20 * 16000, dtype=np.float32)) == []


def test_decoding_loops_are_dropped_and_ordinary_repeats_kept():
    from core.domain import Word
    from speech.asr import drop_loops

    def words(texts):
        return [Word(start=i * 0.2, end=i * 0.2 + 0.2, text=t, probability=0.9) for i, t in enumerate(texts)]

    said = ["下个月", "15号", "我", "先", "还", "500。"]
    loop = ["字", "幕", "——"] * 30
    assert [w.text for w in drop_loops(words(said + loop))] == said
    assert [w.text for w in drop_loops(words(["喂", "喂", "喂", "你好"]))] == ["喂", "喂", "喂", "你好"]
    assert [w.text for w in drop_loops(words(["对"] * 5 + ["好"]))] == ["对"] * 5 + ["好"]
    assert drop_loops(words(["银行"] * 6)) == []


def test_words_on_no_audio_and_the_unsure_word_before_them_are_dropped():
    from core.domain import Word
    from speech.asr import drop_unaligned

    # what Whisper base wrote on the AISHELL clip with the vocabulary as hotwords (bench/README.md)
    said = [Word(3.03, 3.51, "情况。", 0.99)]
    echo = [Word(3.51, 3.61, "银", 0.085), Word(3.61, 3.61, "行、", 0.18), Word(3.61, 3.61, "商", 0.003),
            Word(3.61, 3.93, "银", 0.41), Word(3.93, 3.93, "行、", 0.88), Word(3.93, 3.93, "工", 0.01),
            Word(3.93, 3.93, "商", 0.04), Word(3.93, 3.93, "银", 0.81), Word(3.93, 3.93, "行。", 0.99)]
    assert drop_unaligned(said + echo) == said
    sure = [Word(1.0, 1.3, "还", 0.9), Word(1.3, 1.5, "款", 0.15), Word(1.5, 1.8, "了", 0.95)]
    assert drop_unaligned(sure) == sure  # low probability alone is not a reason
