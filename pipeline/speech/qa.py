"""QA of synthesized lines: hear every clip again with Whisper, compare with the intended text, measure how
close the voice is to the one assigned, and re-synthesize a line that was not heard right.

Why: a TTS engine can mispronounce, skip or garble a line (numbers, symbols, stray markup, a name it does
not know), and nobody listens to every line of a batch. Whisper hearing the clip back is a cheap proxy for a
listener: a line heard with a word error rate above `settings.qa_max_wer` is synthesized again with varied
settings (VARIANTS) up to `settings.qa_retries` times, and the best attempt is kept. The figures go into the
Script (Clip.qa, a LineQA) and the job report (`summarize`).

How a stage uses it: build one `LineChecker.from_settings(settings)` (pipeline.speech.hearing); synthesize every
line once (VARIANTS[0]); `checker.check_many(...)` hears them together in Whisper windows; then
`synthesize_checked(make, ..., first=(clip, qa))` for each line that failed, which re-synthesizes with
VARIANTS[1], VARIANTS[2] and checks each alone. The word error rate and its normalisation (numbers and
symbols spelled out, compounds joined) are models.text.heard_wer's; VARIANTS[2] gives the engine
models.text.normalise_for_speech(text).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

from pipeline.core.script import LineQA

if TYPE_CHECKING:
    from pipeline.core.config import Settings


class Checker(Protocol):
    """What `synthesize_checked` needs: pipeline.speech.hearing.LineChecker, or a fake in tests."""

    def check(self, clip_path: Path, text: str, language: str, reference_embedding: np.ndarray | None) -> LineQA: ...


# --- the retry loop ----------------------------------------------------------------------------------------

# What the synthesize stage varies per attempt (index = attempt): `rate` multiplies the line's rate,
# `normalise` gives the engine normalise_for_speech(text) instead of the text as written. Attempt 1 speaks
# a little slower (engines garble fewer syllables, Whisper hears them better); attempt 2 also spells out
# numbers and symbols and drops markup (what engines misread most).
VARIANTS: list[dict[str, Any]] = [
    {"name": "as written", "rate": 1.0, "normalise": False},
    {"name": "slower", "rate": 0.9, "normalise": False},
    {"name": "spelled out, slower", "rate": 0.9, "normalise": True},
]


def variant(attempt: int) -> dict[str, Any]:
    """VARIANTS[attempt], the last one for attempts past the list."""
    return VARIANTS[min(max(attempt, 0), len(VARIANTS) - 1)]


def _rank(qa: LineQA) -> tuple[float, float]:
    wer = qa.wer if qa.wer is not None else math.inf
    sim = qa.similarity if qa.similarity is not None else -math.inf
    return (wer, -sim)


def synthesize_checked(
    make: Callable[[int], tuple[Path, str]],
    text: str,
    language: str,
    checker: Checker,
    settings: Settings,
    reference_embedding: np.ndarray | None = None,
    first: tuple[Path, LineQA] | None = None,
) -> tuple[Path, LineQA]:
    """Synthesize a line with `make(attempt)` (which returns the WAV and a description of its settings),
    check it, and synthesize it again while the check fails, at most `settings.qa_retries` more times.
    Returns the best attempt (lowest WER, then highest similarity) and its LineQA, whose `attempts` and
    `tried` record every attempt. Each attempt is checked against `text`, the line as meant, whatever
    text the maker gave the engine. The clips of the attempts not kept are the caller's to discard.
    `first`: attempt 0 already made and checked (e.g. by `LineChecker.check_many` over all the lines of a
    job), so only the retries are made here; its description in `tried` is VARIANTS[0]'s name."""
    best: tuple[Path, LineQA] | None = None
    tried: list[str] = []
    attempts = 0
    for attempt in range(settings.qa_retries + 1):
        if attempt == 0 and first is not None:
            path, qa = first
            description = str(variant(0)["name"])
        else:
            path, description = make(attempt)
            qa = checker.check(path, text, language, reference_embedding)
        attempts += 1
        wer = "n/a" if qa.wer is None else f"{qa.wer:.2f}"
        tried.append(f"{description}: WER {wer}")
        if best is None or _rank(qa) < _rank(best[1]):
            best = (path, qa)
        if qa.passed:
            break
    assert best is not None  # qa_retries >= 0: at least one attempt
    path, qa = best
    reason = "" if qa.passed else f"{qa.reason or 'failed'} (best of {attempts} attempts)"
    return path, qa.model_copy(update={"attempts": attempts, "tried": tried, "reason": reason})


# --- the job report ----------------------------------------------------------------------------------------


def summarize(clips: list[LineQA]) -> dict[str, Any]:
    """QA figures of a job's lines: checked, passed, failed, retried (more than one attempt), mean and max
    WER, mean and min speaker similarity, and for people's cloned voices the mean CAM++ similarity (None where
    nothing was measured)."""
    checked = [q for q in clips if q.wer is not None]
    wers = [float(q.wer) for q in checked if q.wer is not None]
    sims = [float(q.similarity) for q in clips if q.similarity is not None]
    cams = [float(q.similarity_campp) for q in clips if q.similarity_campp is not None]
    return {
        "lines": len(checked),
        "passed": sum(1 for q in checked if q.passed),
        "failed": sum(1 for q in checked if not q.passed),
        "retried": sum(1 for q in checked if q.attempts > 1),
        "mean_wer": round(sum(wers) / len(wers), 4) if wers else None,
        "max_wer": round(max(wers), 4) if wers else None,
        "mean_similarity": round(sum(sims) / len(sims), 4) if sims else None,
        "min_similarity": round(min(sims), 4) if sims else None,
        # cloned voices only: the independent judge's (CAM++) cosine of each line to the person
        "mean_similarity_campp": round(sum(cams) / len(cams), 4) if cams else None,
    }
