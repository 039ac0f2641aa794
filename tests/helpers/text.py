"""Text measures for the ASR tests."""
from __future__ import annotations


def cer(reference: str, hypothesis: str) -> float:
    """Character error rate ignoring spaces and punctuation."""
    from speech.text import character_error_rate

    errors, n = character_error_rate(reference, hypothesis)
    return errors / max(n, 1)
