"""The disposition of one call: whom the collector reached (LABELS.md "Call outcomes").

    disposition(utterances, findings=None) -> one of DISPOSITIONS

* ``no_answer``: nobody on the far side spoke: no customer, third-party or unknown-role
  utterance with text, or only network announcements and voicemail greetings
  (您拨打的电话暂时无法接通, 请在提示音后留言; `disposition.not_speech` in
  rules/outcomes.yaml). A call with only collector speech (ringing, a message left) is
  no_answer.
* ``wrong_number``: the far side said the number is not the debtor's and they do not know
  them (a `wrong_party` finding, or the label on a far-side utterance).
* ``right_party``: a customer-role speaker (by `speaker` label) spoke who confirmed being
  the debtor (rules/calls.yaml `debtor_cues`: 对,我是刘伟) or never presented themself as
  someone else (`third_party_cues`: 我是他妈妈, 他不在).
* ``third_party``: someone who knows the debtor answered (role third_party, or a
  customer-role speaker who presented themself as someone else and never as the debtor),
  and no right-party speaker.
* ``unknown``: far-side speech whose role is unknown (roles were not assigned).

`utterances` need `role` and `text` (and `labels` when `findings` is None: analyze_call
sets them). `findings` are analyze_call's; only `wrong_party` ones are read.
"""
from __future__ import annotations

import re
from functools import lru_cache
from typing import Iterable

from analysis.normalize import normalize
from analysis.privacy import says_debtor, says_third_party
from analysis.rules import pack
from core.domain import Finding, Utterance, norm_role

DISPOSITIONS = ("right_party", "third_party", "wrong_number", "no_answer", "unknown")
_FAR_SIDE = ("customer", "third_party", "unknown")


@lru_cache(maxsize=1)
def _not_speech() -> re.Pattern[str]:
    return re.compile(pack("outcomes").data["disposition"]["not_speech"])


def is_far_side_speech(u: Utterance) -> bool:
    """True when `u` is a person on the far side speaking (not an announcement, not empty)."""
    if norm_role(u.role) not in _FAR_SIDE:
        return False
    norm = normalize(u.text or "")
    return bool(norm.strip(" ,.!?;:")) and not _not_speech().search(norm)


def disposition(utterances: list[Utterance], findings: Iterable[Finding] | None = None) -> str:
    """right_party, third_party, wrong_number, no_answer or unknown (see module docstring)."""
    far = [(i, u) for i, u in enumerate(utterances) if is_far_side_speech(u)]
    if not far:
        return "no_answer"
    far_idx = {i for i, _ in far}
    if findings is not None:
        wrong = any(f.kind == "wrong_party" and norm_role(f.role) != "collector"
                    and (f.utterance_index is None or f.utterance_index in far_idx) for f in findings)
    else:
        wrong = any("wrong_party" in u.labels for _, u in far)
    if wrong:
        return "wrong_number"
    customers: dict[str, list[str]] = {}
    for _, u in far:
        if norm_role(u.role) == "customer":
            customers.setdefault(u.speaker, []).append(normalize(u.text))
    for texts in customers.values():
        if any(says_debtor(t) for t in texts) or not any(says_third_party(t) for t in texts):
            return "right_party"
    if customers or any(norm_role(u.role) == "third_party" for _, u in far):
        return "third_party"
    return "unknown"
