"""Personal data in one utterance: full ID numbers, bank cards, phone numbers (the `pii`
label), and for redaction at rest also partial numbers, names, addresses and employers.

Works on `normalize.digit_view` of the ORIGINAL text, so spans are offsets into the text
as given and `redact` can replace them there. Numbers may be Arabic or spoken Chinese
digits (幺=1, 两=2, 零/〇=0), with spaces or commas between groups; leading zeros are kept.
Partial numbers (尾号3456, 后四位) and amounts of money are never `pii` (LABELS.md); partial
numbers are masked at rest as ``partial_id`` (`partial_spans`). Names, addresses and employers
come from analysis.personal (a segmenter). Context words, thresholds and the kinds that are
masked (`redact_kinds`) live in `rules/pii.yaml`.
"""
from __future__ import annotations

import re
from datetime import date
from functools import lru_cache

from analysis.normalize import digit_view
from analysis.rules import load_yaml

KINDS = ("id_card", "bank_card", "phone")
MASKS = {"id_card": "[身份证]", "bank_card": "[卡号]", "phone": "[电话]", "number": "[号码]",
         "partial_id": "[尾号]", "name": "[姓名]", "address": "[地址]", "employer": "[单位]"}
REDACTION_KINDS = tuple(MASKS)

_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_CHECK = "10X98765432"


@lru_cache(maxsize=1)
def _config() -> dict:
    cfg = load_yaml("pii.yaml")
    cfg["_card_ctx"] = re.compile(cfg["card_context"])
    cfg["_phone_ctx"] = re.compile(cfg["phone_context"])
    cfg["_partial_ctx"] = re.compile(cfg["partial_context"])
    cfg["_amount_after"] = re.compile(cfg["amount_after"])
    cfg["_partial_before"] = re.compile(f"(?:{cfg['partial_context']}){cfg['partial_joiners']}$")
    cfg["_alone_fillers"] = re.compile(f"^{cfg['partial_alone_fillers']}$")
    unknown = set(cfg["redact_kinds"]) - set(MASKS)
    if unknown:
        raise ValueError(f"pii.yaml: redact_kinds: unknown kind(s) {', '.join(sorted(unknown))}")
    cfg["_redact_kinds"] = frozenset(cfg["redact_kinds"])
    return cfg


def redact_kinds() -> frozenset[str]:
    """The kinds masked at rest by default (`redact_kinds` in rules/pii.yaml)."""
    return _config()["_redact_kinds"]


def id_checksum_ok(num: str) -> bool:
    """GB 11643 check character of an 18-character ID number."""
    if len(num) != 18 or not num[:17].isdigit():
        return False
    total = sum(int(c) * w for c, w in zip(num[:17], _ID_WEIGHTS))
    return _ID_CHECK[total % 11] == num[17].upper()


def _id_date_ok(num: str) -> bool:
    try:
        y, m, d = int(num[6:10]), int(num[10:12]), int(num[12:14])
        return 1900 <= y <= date.today().year and date(y, m, d) is not None
    except ValueError:
        return False


def luhn_ok(num: str) -> bool:
    """Luhn (mod 10) check used by bank card numbers."""
    if not num.isdigit():
        return False
    total = 0
    for i, c in enumerate(reversed(num)):
        d = int(c)
        if i % 2:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return total % 10 == 0


def classify_number(num: str, before: str = "", after: str = "") -> tuple[str, float] | None:
    """(kind, score) for one whole number, or None. `before`/`after` are nearby text."""
    cfg = _config()
    n = len(num)
    if "X" in num[:-1]:
        return None
    if n == 18 and num[0] in "123456789":
        if id_checksum_ok(num):
            return "id_card", 1.0
        if num[-1] == "X" or (_id_date_ok(num) and num[:2] in cfg["id_regions"]):
            return "id_card", 0.7  # looks like an ID, checksum wrong (misheard digit?)
    if "X" in num:
        return None
    if n == 11 and re.fullmatch(r"1[3-9]\d{9}", num):
        return "phone", 0.95
    if n == 13 and re.fullmatch(r"861[3-9]\d{9}", num):
        return "phone", 0.95
    if n in (10, 11, 12) and re.fullmatch(r"0[1-9]\d{8,10}", num):
        return "phone", 0.85  # landline with area code
    if 15 <= n <= 19:
        ctx = bool(cfg["_card_ctx"].search(before))
        if n >= 16 and luhn_ok(num):
            return "bank_card", 0.95 if ctx or num[0] in "3456" else 0.8
        if ctx and num[0] in "3456":
            return "bank_card", 0.6  # card context, Luhn fails (misheard digit?)
    if 7 <= n <= 8 and num[0] != "0" and cfg["_phone_ctx"].search(before) \
            and not cfg["_amount_after"].match(after):
        return "phone", 0.6  # local landline without area code, said after 电话/座机
    return None


def pii_spans(text: str) -> list[tuple[int, int, str]]:
    """(start, end, kind) of every full ID / bank card / phone number in `text`.

    Offsets index the original `text` (end exclusive); kind is id_card, bank_card or phone.
    """
    return [(s, e, k) for s, e, k, _ in pii_matches(text)]


def pii_matches(text: str) -> list[tuple[int, int, str, float]]:
    """Like `pii_spans` with a score per span (1.0 = checksum-valid ID)."""
    if not text:
        return []
    cfg = _config()
    out: list[tuple[int, int, str, float]] = []
    for digits, offs, groups in digit_view(text):
        if len(digits) < cfg["min_digits"]:
            continue
        bounds = groups + [len(digits)]
        # Try the whole run first, then separator-delimited sub-runs (two numbers in a row).
        i = 0
        while i < len(bounds) - 1:
            found = None
            for j in range(len(bounds) - 1, i, -1):
                a, b = bounds[i], bounds[j]
                if b - a < cfg["min_digits"]:
                    break
                s, e = offs[a], offs[b - 1] + 1
                before = text[max(0, s - 12):s]
                if cfg["_partial_ctx"].search(text[max(0, s - 6):s]) and b - a <= 6:
                    continue
                res = classify_number(digits[a:b], before, text[e:e + 3])
                if res is not None:
                    found = (j, (s, e, res[0], res[1]))
                    break
            if found:
                out.append(found[1])
                i = found[0]
            else:
                i += 1
    return out


def asks_for_partial(text: str) -> bool:
    """Whether `text` names a partial number (请报一下身份证后四位, 尾号3456的卡): the other
    side's next turn may answer with the digits alone."""
    return bool(text) and bool(_config()["_partial_ctx"].search(text))


def partial_spans(text: str, asked: bool = False) -> list[tuple[int, int]]:
    """(start, end) of partial numbers: the digits after 尾号/后四位/末六位... (Arabic or spoken,
    any length, a final X kept), and an utterance that is nothing but a short digit-by-digit
    number (the answer to "后四位是?" in its own turn). With `asked` (the other side's turn
    just before asked for a partial number: `asks_for_partial`) every digit-by-digit run of
    ``partial_alone_min``..``partial_alone_max`` digits that is not an amount is one too, so an
    answer ASR garbled (厚肆卫视三八一二 for 后四位是三八一二) is still masked."""
    cfg = _config()
    out = []
    runs = digit_view(text)
    for digits, offs, _ in runs:
        s, e = offs[0], offs[-1] + 1
        if e < len(text) and text[e] in "Xx":
            e += 1
        if cfg["_amount_after"].match(text[e:e + 3]):
            continue
        if cfg["_partial_before"].search(text[max(0, s - 12):s]) \
                or (asked and cfg["partial_alone_min"] <= len(digits) <= cfg["partial_alone_max"]):
            out.append((s, e))
    if len(runs) == 1:
        digits, offs, _ = runs[0]
        s, e = offs[0], offs[-1] + 1
        if cfg["partial_alone_min"] <= len(digits) <= cfg["partial_alone_max"] \
                and cfg["_alone_fillers"].match(text[:s]) and cfg["_alone_fillers"].match(text[e:]) \
                and not any(ch in "十百千万" for ch in text[s:e]):
            out.append((s, e))
    return out


def redaction_spans(text: str, kinds: frozenset[str] | set[str] | None = None,
                    asked: bool = False) -> list[tuple[int, int, str]]:
    """What is masked at rest, as (start, end, kind), sorted, not overlapping.

    Every PII span, plus any other long digit run (kind ``number``): ASR drops and invents
    digits, so a misheard phone number (10 digits, say) is not `pii` by the label's definition
    but is still personal data; runs of at least ``redact_unclassified_min_digits`` digits
    that are not amounts are masked as [号码]. Then partial numbers (``partial_id``), personal
    names (``name``), street addresses (``address``) and named employers (``employer``).
    `kinds` limits the kinds masked (default: `redact_kinds` of rules/pii.yaml); `asked`: the
    turn before asked for a partial number (see `partial_spans`).
    """
    cfg = _config()
    kinds = cfg["_redact_kinds"] if kinds is None else frozenset(kinds)
    if not text:
        return []
    spans = [sp for sp in pii_spans(text) if sp[2] in kinds]
    if "number" in kinds:
        for digits, offs, _ in digit_view(text):
            if len(digits) < cfg["redact_unclassified_min_digits"]:
                continue
            s, e = offs[0], offs[-1] + 1
            if cfg["_amount_after"].match(text[e:e + 3]) or any(a < e and s < b for a, b, _ in spans):
                continue
            spans.append((s, e, "number"))
    if "partial_id" in kinds:
        spans += [(s, e, "partial_id") for s, e in partial_spans(text, asked)]
    if kinds & {"name", "address", "employer"}:
        from analysis import personal  # the segmenter loads on first use only

        toks = personal.tokens(text)
        if "address" in kinds:
            spans += [(s, e, "address") for s, e in personal.address_spans(text, toks)]
        if "name" in kinds:
            spans += [(s, e, "name") for s, e in personal.name_spans(text, toks)]
        if "employer" in kinds:
            spans += [(s, e, "employer") for s, e in personal.employer_spans(text, toks)]
    return _without_overlaps(spans)


def _without_overlaps(spans: list[tuple[int, int, str]]) -> list[tuple[int, int, str]]:
    """Spans sorted by start; one that overlaps an earlier (first found: numbers first) span
    is merged into it, so every masked character stays masked and placeholders never nest."""
    order = {kind: i for i, kind in enumerate(REDACTION_KINDS)}
    out: list[tuple[int, int, str]] = []
    for s, e, kind in sorted(spans, key=lambda sp: (sp[0], -sp[1], order[sp[2]])):
        if out and s < out[-1][1]:
            ps, pe, pk = out[-1]
            out[-1] = (ps, max(pe, e), pk)
        else:
            out.append((s, e, kind))
    return out


def redact(text: str, kinds: frozenset[str] | set[str] | None = None, asked: bool = False) -> str:
    """`text` with every span of `redaction_spans` replaced by its placeholder: [身份证], [卡号],
    [电话], [号码], [尾号], [姓名], [地址] or [单位]."""
    return apply_masks(text, redaction_spans(text, kinds, asked))


def apply_masks(text: str, spans: list[tuple[int, int, str]]) -> str:
    """`text` with each (start, end, kind) of `spans` (sorted, not overlapping) replaced by
    the kind's placeholder."""
    if not spans:
        return text
    parts = []
    last = 0
    for s, e, kind in spans:
        parts.append(text[last:s])
        parts.append(MASKS[kind])
        last = e
    parts.append(text[last:])
    return "".join(parts)
