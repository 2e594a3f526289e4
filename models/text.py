"""Small text measures shared by the engines' checks and the pipeline (no heavy imports)."""

from __future__ import annotations

from collections.abc import Sequence


def edit_distance(ref: Sequence[str], hyp: Sequence[str]) -> int:
    """Levenshtein distance over tokens (substitutions + deletions + insertions): the numerator of a word
    error rate. Used by the consent statement check, line QA and the cloning search's intelligibility check."""
    prev = list(range(len(hyp) + 1))
    for i, r in enumerate(ref, 1):
        cur = [i] + [0] * len(hyp)
        for j, h in enumerate(hyp, 1):
            cur[j] = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (r != h))
        prev = cur
    return prev[-1]


_ONES = (
    "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen "
    "seventeen eighteen nineteen"
).split()
_TENS = "_ _ twenty thirty forty fifty sixty seventy eighty ninety".split()


def english_number(n: int) -> str:
    """0 <= n < 1,000,000 in English words: 27 -> 'twenty-seven', 2026 -> 'two thousand twenty-six'. Used by
    the consent statement (dates read aloud) and line QA (numbers spelled out before comparing)."""
    if n < 20:
        return _ONES[n]
    if n < 100:
        t, u = divmod(n, 10)
        return _TENS[t] + (f"-{_ONES[u]}" if u else "")
    if n < 1000:
        h, r = divmod(n, 100)
        return f"{_ONES[h]} hundred" + (f" {english_number(r)}" if r else "")
    k, r = divmod(n, 1000)
    return f"{english_number(k)} thousand" + (f" {english_number(r)}" if r else "")
