"""Personal names, street addresses and named employers in one utterance (for redaction).

Found with a real segmenter and part-of-speech tagger (jieba.posseg) plus context rules from
`rules/pii.yaml`; no list of names. A span never cuts a segmenter token, so 高兴 or 王八蛋 are
never part of a name. Spans are offsets into the text as given (end exclusive).

* **name**: a person token (nr/nrt/nrfg) that starts with a common surname and is not an
  ordinary word (`not_names`), or any token right after a naming context (我叫X); a surname
  token followed by a given-name token (陈/红梅, 欧阳/娜娜) is one name; surname + title
  (王女士, 何经理: the title is masked with it), 老/小 + surname (老李, 小陈), 姓 + surname (我姓赵).
  A full name followed by a title keeps the title in clear (刘伟先生 -> [姓名]先生).
* **address**: a place (ns token or a word ending in 省/市/区/县/镇...) followed by street-level
  parts (路/街/小区/村..., numbers with 号/栋/单元/室); a city or district alone is not personal.
* **employer**: a named organisation (nt/nz/nr token, or ending in 公司/厂...) said as where
  someone works (在X上班, 我们X公司); 在银行上班 or 在北京打工 are not.

The segmenter is its own `jieba.Tokenizer` (others' added words cannot change these results),
loaded once on first use, silently (jieba's logger is held at WARNING), and deterministic.
"""
from __future__ import annotations

import logging
import re
import threading
from functools import lru_cache

from analysis.rules import load_yaml

_HAN = re.compile(r"^[\u4e00-\u9fff]+$")
_NUM = re.compile(r"^[0-9０-９零〇一二三四五六七八九十百千幺两-]+$")
_PERSON = ("nr", "nrt", "nrfg")
_ORG = ("nt", "nz", "nr", "nrt", "oov")
_PRONOUN = re.compile(r"[您你我他她它们咱]")
_lock = threading.Lock()
_TAGGER = None


@lru_cache(maxsize=1)
def _config() -> dict:
    cfg = load_yaml("pii.yaml")
    surnames = cfg["surnames"]
    return {
        "single": frozenset(s for s in surnames if len(s) == 1),
        "compound": frozenset(s for s in surnames if len(s) == 2),
        "titles": re.compile(f"^(?:{cfg['titles']})$"),
        "title_prefix": re.compile(f"^(?:{cfg['titles']})"),
        "name_before": re.compile(f"(?:{cfg['name_before']})$"),
        "not_name_before": re.compile(cfg["not_name_before"]),
        "not_names": frozenset(cfg["not_names"]),
        "admin": re.compile(cfg["address_admin"]),
        "street": re.compile(cfg["address_street"]),
        "unit": re.compile(cfg["address_unit"]),
        "employer_after": re.compile(cfg["employer_after"]),
        "employer_suffix": re.compile(cfg["employer_suffix"]),
    }


def _tagger():
    """(segmenter, word -> part of speech) over a private jieba dictionary instance, built
    once per process (threads wait for the first build)."""
    global _TAGGER
    if _TAGGER is None:
        with _lock:
            if _TAGGER is None:
                import jieba
                import jieba.posseg

                jieba.setLogLevel(logging.WARNING)  # silent: its dictionary messages are DEBUG
                tok = jieba.Tokenizer()
                tok.initialize()
                _TAGGER = (tok, jieba.posseg.POSTokenizer(tok))
    return _TAGGER


def tokens(text: str) -> list[tuple[int, int, str, str]]:
    """(start, end, word, flag) of every segmenter token of `text`.

    Words come from jieba's segmenter with its HMM for words not in the dictionary (new
    names: 黄志刚), flags from the dictionary (nr person, ns place, nt organisation...); a word
    the dictionary lacks that could be a name (it starts with a surname, or follows 叫) is
    tagged by jieba.posseg on its own (黄志刚/nr; 全花光 -> 全花/n 光/n), any other Han word is
    ``oov`` (美团), anything else ``x``.
    Much the same tags as jieba.posseg on the whole text, at a fraction of the cost (its
    tagging HMM is what costs).
    """
    tok, pos_tagger = _tagger()
    tags = pos_tagger.word_tag_tab
    out, pos = [], 0
    for word in tok.lcut(text, HMM=True):
        flag = tags.get(word)
        if flag is None and len(word) > 1 and _HAN.match(word) and (
                _surname_of(word) or _config()["name_before"].search(text[max(0, pos - 4):pos])):
            for pair in pos_tagger.lcut(word, HMM=True):
                out.append((pos, pos + len(pair.word), pair.word, pair.flag))
                pos += len(pair.word)
            continue
        out.append((pos, pos + len(word), word, flag or ("oov" if _HAN.match(word) else "x")))
        pos += len(word)
    return out


def _surname_of(word: str) -> str | None:
    cfg = _config()
    if word[:2] in cfg["compound"] and len(word) > 2:
        return word[:2]
    if word[:1] in cfg["single"]:
        return word[:1]
    return None


def _is_surname(word: str) -> bool:
    cfg = _config()
    return word in cfg["single"] or word in cfg["compound"]


def name_spans(text: str, toks: list[tuple[int, int, str, str]] | None = None) -> list[tuple[int, int]]:
    """(start, end) of every personal name in `text`."""
    cfg = _config()
    toks = tokens(text) if toks is None else toks
    spans: list[tuple[int, int]] = []
    i, n = 0, len(toks)
    while i < n:
        s, e, w, f = toks[i]
        nxt = toks[i + 1] if i + 1 < n else None
        before = text[max(0, s - 4):s]
        if not _HAN.match(w) or w in cfg["not_names"] or len(w) > 4 or _PRONOUN.search(w) \
                or (len(w) >= 3 and (cfg["admin"].search(w) or cfg["street"].search(w))):
            i += 1  # 武侯区, 王庄村, 张杨路: places the tagger took for people
            continue
        # 姓 + surname: 我姓赵, 姓欧阳的, 姓何 (one word)
        if before.endswith("姓") and _is_surname(w):
            spans.append((s, e))
            i += 1
            continue
        if w[0] == "姓" and _is_surname(w[1:]):
            spans.append((s + 1, e))
            i += 1
            continue
        # 姓 + surname inside one token (姓何 is rare): skip; 老/小 + surname, as one token or two
        if w in ("老", "小") and nxt and _is_surname(nxt[2]) and nxt[2] not in cfg["not_names"]:
            spans.append((s, nxt[1]))
            i += 2
            continue
        if len(w) == 2 and w[0] in "老小" and w[1] in cfg["single"] and w not in cfg["not_names"]:
            spans.append((s, e))
            i += 1
            continue
        # surname + title: 何/经理, 曹/女士, 李先生 (one token)
        if _is_surname(w) and nxt and cfg["titles"].match(nxt[2]):
            spans.append((s, nxt[1]))
            i += 2
            continue
        sur = _surname_of(w)
        if sur and cfg["titles"].match(w[len(sur):]):
            spans.append((s, e))
            i += 1
            continue
        # surname token + given-name token: 陈/红梅, 徐/建华, 欧阳/娜娜
        if _is_surname(w) and nxt and (f in _PERSON or len(w) == 2 or f == "ns") \
                and nxt[3] in _PERSON + ("nz",) and _HAN.match(nxt[2]) and len(nxt[2]) <= 2 \
                and nxt[2] not in cfg["not_names"]:
            spans.append((s, nxt[1]))
            i += 2
            continue
        if f in _PERSON and not cfg["not_name_before"].search(before):
            named = bool(cfg["name_before"].search(before))
            if len(w) >= 2 and (sur or named) and not (len(w) == 2 and w[0] == w[1]):
                spans.append((s, e))
                i += 1
                continue
        if cfg["name_before"].search(before) and f in ("n", "nz", "ns") and 2 <= len(w) <= 3 and _surname_of(w):
            spans.append((s, e))  # 我叫X when the tagger took the name for a noun
        i += 1
    return spans


def _street(word: str, flag: str) -> bool:
    """A street-level place word (建国路, 东街, 王庄村); 家里/这里 are not."""
    return bool(_config()["street"].search(word)) and (len(word) >= 3 or flag in ("ns", "nz", "nr"))


def address_spans(text: str, toks: list[tuple[int, int, str, str]] | None = None) -> list[tuple[int, int]]:
    """(start, end) of every street-level address in `text`."""
    cfg = _config()
    toks = tokens(text) if toks is None else toks
    out: list[tuple[int, int]] = []
    i, n = 0, len(toks)
    while i < n:
        s, e, w, f = toks[i]
        if not ((f == "ns" or cfg["admin"].search(w) or _street(w, f)) and _HAN.match(w) and len(w) >= 2):
            i += 1
            continue
        j, last, detail = i, None, False
        parts = 0
        while j < n:
            _, te, tw, tf = toks[j]
            if cfg["unit"].match(tw) or (_NUM.match(tw) and j + 1 < n and cfg["unit"].match(toks[j + 1][2])):
                detail = detail or bool(cfg["unit"].match(tw))
                last = te if cfg["unit"].match(tw) else last
            elif _NUM.match(tw) and j > i and cfg["unit"].match(toks[j - 1][2]):
                last = te  # 2单元501
            elif _HAN.match(tw) and (tf in ("ns", "nz", "nr", "n", "f", "nrt") or cfg["admin"].search(tw)
                                     or cfg["street"].search(tw)):
                if _street(tw, tf):
                    detail, last = True, te
                elif cfg["admin"].search(tw) or tf == "ns":
                    last = last if detail else te
            else:
                break
            parts += 1
            j += 1
        if detail and last is not None and parts >= 2:
            out.append((s, last))
            while i < n and toks[i][0] < last:
                i += 1
        else:
            i += 1
    return out


def employer_spans(text: str, toks: list[tuple[int, int, str, str]] | None = None) -> list[tuple[int, int]]:
    """(start, end) of every named employer in `text` (在X上班, 我们X公司)."""
    cfg = _config()
    toks = tokens(text) if toks is None else toks
    out: list[tuple[int, int]] = []
    for i, (s, e, w, f) in enumerate(toks):
        if not _HAN.match(w) or len(w) < 2:
            continue
        named = f in _ORG or (cfg["employer_suffix"].search(w) and len(w) > 3)
        if not named or w in cfg["not_names"]:
            continue
        prev = toks[i - 1][2] if i else ""
        after = text[e:e + 3]
        if prev in ("在", "去", "到") and cfg["employer_after"].match(after):
            out.append((s, e))
        elif prev in ("我们", "他们", "她们") and after.startswith(("公司", "单位", "厂")):
            out.append((s, e))
    return out
