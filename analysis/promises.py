"""Promises to pay: the amount and the due date said in one utterance.

API (plain functions; `core.domain.Promise` is the result type):

    parse_promise(text, started_at) -> Promise(amount, due)
    parse_amount(text) -> float | None          # yuan
    parse_due(text, started_at) -> str | None   # "YYYY-MM-DD", "YYYY-MM" or None
    cn_number("一万二") -> 12000.0                # Chinese/Arabic numerals, None if not a number
    local_date(started_at) -> date | None

Whether an utterance *is* a promise is the `promise_to_pay` rule's job
(`rules/outcomes.yaml`, see analysis.outcomes); these functions only read the amount and the
date out of a text that is one, so they assume that context.

`started_at` is the call's local start: a timezone-aware `datetime` (the date is taken in
its own offset, so pass it converted to the debtor's zone), a `date`, or an ISO-8601 string
with offset as in JSONL rows ("2026-11-12T10:00:00+08:00"; its local date is the one
written). Without it every due is None: relative dates (明天, 下周五, 十五号) cannot be
resolved, and the function never guesses "today".

Amounts: 三千五 = 3500, 一万二 = 12000, 两千五百块 = 2500, 一千零五十 = 1050, 3000块, 1.5万,
1万5 = 15000, 叁仟 = 3000, 五千多 = 5000. Not amounts: dates and times (二十号, 十点,
三天, 十一月), counts (一次性, 两个月, 五六年), card tails (尾号8866), runs of 7+ digits
(phone/card numbers), ranges (两三千), what is owed (欠五千, 只刷了三千) and lone 一 (一定).
When several amounts are said, the first one next to a paying verb (还/转/打/交...) wins.

Due dates (weeks run Monday to Sunday):
* 今天/今晚/今儿 = the start's date; 明天 +1, 后天 +2, 大后天 +3; 现在就/马上/立刻 = today;
* 这周五/本周五/周五(之前): this week's Friday, or next week's when that day has passed;
  下周X: next week's; 下下周X: the week after; 周末 = the week's Sunday;
* 月底/月末 = this month's last day (下个月底: next month's); 年底 = 31 December;
* 十五号: this month, or next month when the 15th has passed (said on the 15th: today);
  这个月二十号 / 下个月五号 / 十二月十五号 (this year, or next year if passed);
* 三天内/一周之内/一个星期之内/两天后: start + N days (weeks x 7); 一个月内: + one month;
* 下个月 / 二月(初|份) / 这个月 -> "YYYY-MM"; 上周/昨天/上个月 (past) are skipped;
* 发工资以后, 过几天, 有钱了 -> None (no date named).
The first date expression that resolves in a clause with a paying verb wins (一号了是吧,那我
十号之前还 -> the 10th), else the first in the text (下个月十五号发工资,发了就还 -> the 15th
of next month); 马上/立刻/现在就 count only when no date is named (下周一发工资,发了马上还 ->
next Monday).
"""
from __future__ import annotations

import calendar
import re
from datetime import date, datetime, timedelta

from analysis.normalize import normalize
from core.domain import Promise

__all__ = ["Promise", "cn_number", "local_date", "parse_amount", "parse_due", "parse_promise"]

# ---- numbers --------------------------------------------------------------------------
_CN_DIGIT = {"零": 0, "〇": 0, "一": 1, "壹": 1, "二": 2, "贰": 2, "两": 2, "三": 3, "叁": 3,
             "四": 4, "肆": 4, "五": 5, "伍": 5, "六": 6, "陆": 6, "七": 7, "柒": 7, "八": 8,
             "捌": 8, "九": 9, "玖": 9}
_CN_UNIT = {"十": 10, "拾": 10, "百": 100, "佰": 100, "千": 1000, "仟": 1000}
_CN_BIG = {"万": 10_000, "亿": 100_000_000}
_CN_CHARS = "".join(_CN_DIGIT) + "".join(_CN_UNIT) + "".join(_CN_BIG)
_TOKEN = re.compile(rf"[0-9]+(?:,[0-9]{{3}})*(?:\.[0-9]+)?|[{_CN_CHARS}]")


def cn_number(s: str) -> float | None:
    """Value of a numeral written in Chinese and/or Arabic digits, None if it is not one.

    Elliptic forms take the next lower unit (两千五 = 2500, 一万二 = 12000, 三百五 = 350);
    two digits in a row without a unit (两三千, 一三七...) are a range or a digit string: None.
    """
    if not s or _TOKEN.sub("", s):
        return None
    total = section = 0.0
    number: float | None = None
    last_unit = 0
    zero = False
    for tok in _TOKEN.findall(s):
        if tok[0].isdigit():
            if number is not None:
                return None
            number = float(tok.replace(",", ""))
        elif tok in ("零", "〇"):
            if number is not None and last_unit == 0:
                return None          # 一零 ...: a digit string
            zero = True
        elif tok in _CN_DIGIT:
            if number is not None:
                return None          # 两三 / 一三七: range or digit string
            number = float(_CN_DIGIT[tok])
        elif tok in _CN_UNIT:
            section += (number if number is not None else 1.0) * _CN_UNIT[tok]
            number, last_unit, zero = None, _CN_UNIT[tok], False
        else:
            section += number or 0.0
            total += (section or 1.0) * _CN_BIG[tok]
            section, number, last_unit, zero = 0.0, None, _CN_BIG[tok], False
    if number is not None:
        if last_unit >= 100 and not zero and number < 10:
            number *= last_unit / 10        # 两千五, 一万二, 1万5
        section += number
    return total + section


# A numeral run, then what follows it. The run may mix Arabic digits and Chinese numerals.
_AMOUNT = re.compile(rf"(?P<num>(?:[0-9]+(?:,[0-9]{{3}})*(?:\.[0-9]+)?|[{_CN_CHARS}])+)(?P<more>多)?"
                     r"(?P<unit>块钱|块|元钱|元|快)?")
# After the numeral: a date, time, duration, count or ordinal, not money.
_NOT_MONEY_AFTER = re.compile(r"(?:多)?(?:号|日|天|点|个|月|年|周|期|次|岁|分(?!钱)|位|星期|礼拜|倍|成|折|%|遍|"
                              r"小时|钟|秒|毛|角|米|斤|层|楼|下|起|直|定|样|般|些|共|切|致|律|半|晚|早|"
                              r"会|阵|口|家|笔|张|部|条|项|回|趟|声|生|辈|旦|行|方|手|路|边|[a-z])")
_NOT_MONEY_BEFORE = re.compile(r"(?:尾号|号码|卡号|账号|工号|编号|电话|手机|第|周|星期|礼拜|农历|年)$")
# Money said as owed, charged or borrowed is not the promised amount.
_OWED_BEFORE = re.compile(r"(?:欠|欠了|欠款|欠你们|欠的|刷了|刷的|借了|借的|利息|多出来?|多收了?|多扣了?|本金|"
                          r"只有|就剩|变成|成了)[^,.!?;]{0,3}$")
# 一 that starts a word (一次性, 一起, 一下) rather than ending a numeral
_YI_WORD = re.compile(r"[次起下共定直样般些切点会阵口半]")
_DIGIT_GROUP_AFTER = re.compile(r"\s[0-9]")
_DIGIT_GROUP_BEFORE = re.compile(r"[0-9]\s$")
_PAY_NEAR = re.compile(r"还|转|打|交|存|付|缴|凑|汇|给|补|结清|换")


def _amount_candidates(norm: str) -> list[tuple[int, float, bool]]:
    out = []
    for m in _AMOUNT.finditer(norm):
        raw = m.group("num")
        unit = m.group("unit")
        after = norm[m.end("num"):] if not unit and not m.group("more") else norm[m.end():]
        if not unit and len(raw) > 1 and raw.endswith("一") and _YI_WORD.match(after):
            raw, after = raw[:-1], "一" + after        # 1.5万|一次性, 两千|一起
        value = cn_number(raw)
        if value is None or value < 1:
            continue
        if not unit and _NOT_MONEY_AFTER.match(after):
            continue
        before = norm[max(0, m.start() - 6):m.start()]
        if _NOT_MONEY_BEFORE.search(before) or _OWED_BEFORE.search(before):
            continue
        if _DIGIT_GROUP_AFTER.match(norm, m.end("num")) or _DIGIT_GROUP_BEFORE.search(before):
            continue                  # one group of a spaced card/phone number
        magnitude = any(c in raw for c in "十百千万亿拾佰仟") or any(c.isdigit() for c in raw)
        if not magnitude and not unit:
            continue                  # lone 一/两/五: 一定, 两口子
        digits = re.sub(r"[^0-9]", "", raw)
        if len(digits) >= 7 and not unit and "万" not in raw:
            continue                  # phone or card number
        clause_lo = max((norm.rfind(p, 0, m.start()) for p in ",.!?;"), default=-1) + 1
        window = norm[max(clause_lo, m.start() - 6):m.end() + 6]
        out.append((m.start(), value, bool(_PAY_NEAR.search(window))))
    return out


def parse_amount(text: str) -> float | None:
    """The promised amount in yuan (see module docstring), None when none is said."""
    cands = _amount_candidates(_norm(text))
    if not cands:
        return None
    paid = [c for c in cands if c[2]]
    return (paid or cands)[0][1]


# ---- dates ----------------------------------------------------------------------------
_NUM = r"[0-9]{1,2}|[一二两三四五六七八九十]{1,3}"
_CLAUSE = re.compile(r"[^,.!?;]+")
_WEEKDAY = {"一": 0, "二": 1, "三": 2, "四": 3, "五": 4, "六": 5, "日": 6, "天": 6, "末": 6}
_REL_DAY = {"大后天": 3, "后天": 2, "后儿个": 2, "后儿": 2, "明天": 1, "明日": 1, "明儿个": 1, "明儿": 1,
            "明早": 1, "明晚": 1, "明个": 1, "今天": 0, "今日": 0, "今儿个": 0, "今儿": 0, "今晚": 0,
            "今早": 0, "今个": 0, "当天": 0, "现在就": 0, "马上": 0, "立刻": 0, "立马": 0, "这就": 0}
_IMMEDIATE = frozenset({"现在就", "马上", "立刻", "立马", "这就"})
_MONTH_PREFIX = r"下下个?|下个?|这个?|本|当|上个?"
_DATE = re.compile(
    rf"(?:(?P<y>[0-9]{{4}})年)?(?P<m>{_NUM})月(?P<d>{_NUM})(?:号|日)"
    rf"|(?P<mp>{_MONTH_PREFIX})月(?P<md>{_NUM})(?:号|日)"
    rf"|(?P<ep>{_MONTH_PREFIX})?月(?:底|末)|(?P<em>{_NUM})月(?:底|末)"
    r"|(?P<ye>今年|这年|年)(?:底|末)"
    rf"|(?P<wp>下下个?|下个?|这个?|本|上个?)?(?:周|星期|礼拜)(?P<wd>一(?![定直起样般下会点些次共切])|[二三四五六日天末])"
    rf"|(?P<n>{_NUM}|半)(?P<ge>个)?(?P<nu>天|日|周|星期|礼拜|月)(?:之内|以内|内|之后|以后|后)"
    r"|(?P<rel>" + "|".join(sorted(_REL_DAY, key=len, reverse=True)) + ")"
    rf"|(?P<dd>{_NUM})(?:号|日)"
    rf"|(?P<mo>{_MONTH_PREFIX})月(?P<ms>初|份|中|内|里|之内)?"
    rf"|(?P<mn>{_NUM})月(?:份|初|中|里|内)?(?![0-9一二三四五六七八九十])"
)


def local_date(started_at: datetime | date | str | None) -> date | None:
    """The call's local start date (see module docstring), None when unknown or unreadable."""
    if started_at is None:
        return None
    if isinstance(started_at, datetime):
        return started_at.date()
    if isinstance(started_at, date):
        return started_at
    try:
        return datetime.fromisoformat(str(started_at).strip()).date()
    except ValueError:
        return None


def _month_add(y: int, m: int, k: int) -> tuple[int, int]:
    idx = y * 12 + (m - 1) + k
    return idx // 12, idx % 12 + 1


def _day(y: int, m: int, d: int) -> date:
    return date(y, m, min(d, calendar.monthrange(y, m)[1]))


def _last_day(y: int, m: int) -> date:
    return date(y, m, calendar.monthrange(y, m)[1])


def _month_offset(prefix: str | None) -> int | None:
    if not prefix or prefix[0] in "这本当":
        return 0
    if prefix.startswith("下下"):
        return 2
    if prefix.startswith("下"):
        return 1
    return None                       # 上个月: past


def _int(s: str | None) -> int | None:
    v = cn_number(s or "")
    return int(v) if v is not None and v.is_integer() else None


def _resolve(m: re.Match[str], today: date) -> str | None:
    g = m.groupdict()
    if g["m"]:
        mon, day = _int(g["m"]), _int(g["d"])
        if not (mon and 1 <= mon <= 12 and day and 1 <= day <= 31):
            return None
        year = int(g["y"]) if g["y"] else today.year
        when = _day(year, mon, day)
        if not g["y"] and when < today:
            when = _day(year + 1, mon, day)
        return when.isoformat()
    if g["mp"] is not None:
        k, day = _month_offset(g["mp"]), _int(g["md"])
        if k is None or not day or not 1 <= day <= 31:
            return None
        return _day(*_month_add(today.year, today.month, k), day).isoformat()
    if g["em"]:
        mon = _int(g["em"])
        if not mon or not 1 <= mon <= 12:
            return None
        year = today.year + (mon < today.month)
        return _last_day(year, mon).isoformat()
    if "底" in m.group(0) or "末" in m.group(0):
        if g["ye"]:
            return date(today.year, 12, 31).isoformat()
        if g["wd"] is None:
            k = _month_offset(g["ep"])
            return None if k is None else _last_day(*_month_add(today.year, today.month, k)).isoformat()
    if g["wd"]:
        pre = g["wp"] or ""
        if pre.startswith("上"):
            return None
        monday = today - timedelta(days=today.weekday())
        when = monday + timedelta(days=_WEEKDAY[g["wd"]])
        if pre.startswith("下下"):
            when += timedelta(days=14)
        elif pre.startswith("下"):
            when += timedelta(days=7)
        elif when < today:
            when += timedelta(days=7)         # 周三 said on Sunday: the coming one
        return when.isoformat()
    if g["nu"]:
        n = 0.5 if g["n"] == "半" else _int(g["n"])
        if not n:
            return None
        if g["nu"] == "月":
            if n == 0.5:
                return (today + timedelta(days=15)).isoformat()
            y, mo = _month_add(today.year, today.month, int(n))
            return _day(y, mo, today.day).isoformat()
        days = n * (1 if g["nu"] in ("天", "日") else 7)
        return (today + timedelta(days=int(days))).isoformat()
    if g["rel"]:
        return (today + timedelta(days=_REL_DAY[g["rel"]])).isoformat()
    if g["dd"]:
        day = _int(g["dd"])
        if not day or not 1 <= day <= 31:
            return None
        if day >= today.day:
            return _day(today.year, today.month, day).isoformat()
        return _day(*_month_add(today.year, today.month, 1), day).isoformat()
    if g["mo"] is not None:
        k = _month_offset(g["mo"])
        if k is None:
            return None
        y, mo = _month_add(today.year, today.month, k)
        return f"{y:04d}-{mo:02d}"
    if g["mn"]:
        mon = _int(g["mn"])
        if not mon or not 1 <= mon <= 12:
            return None
        year = today.year + (mon < today.month)
        return f"{year:04d}-{mon:02d}"
    return None


def parse_due(text: str, started_at: datetime | date | str | None) -> str | None:
    """The due date named in `text` (see module docstring); None without `started_at`."""
    today = local_date(started_at)
    if today is None:
        return None
    norm = _norm(text)
    found = [(m.start(), due, m.group("rel") in _IMMEDIATE) for m in _DATE.finditer(norm)
             if (due := _resolve(m, today)) is not None]
    if not found:
        return None
    # a date in the clause that pays wins over one said elsewhere (一号了是吧,那我十号之前还);
    # 马上/立刻 only when no date is named (发了工资马上还: the payday counts)
    clauses = [(c.start(), c.end()) for c in _CLAUSE.finditer(norm) if _PAY_NEAR.search(c.group())]
    named = [f for f in found if not f[2]] or found
    for pos, due, _ in named:
        if any(lo <= pos < hi for lo, hi in clauses):
            return due
    return named[0][1]


def parse_promise(text: str, started_at: datetime | date | str | None = None) -> Promise:
    """Amount and due of a promise said in `text` (raw or normalised)."""
    norm = _norm(text)
    return Promise(amount=parse_amount(norm), due=parse_due(norm, started_at))


def _norm(text: str) -> str:
    return normalize(text or "")
