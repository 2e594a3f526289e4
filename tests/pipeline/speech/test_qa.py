"""QA of synthesized lines (pipeline.speech.qa): the retry loop, its variants, the job summary. The hearing
itself is tested in test_hearing.py, the word error rate in tests/models/test_text.py."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from pipeline.core.config import Settings
from pipeline.core.script import LineQA
from pipeline.speech import qa

# --- the retry loop ----------------------------------------------------------------------------------------


class ScriptedChecker:
    """Answers each check with the next (wer, similarity) of a script; passes at wer <= 0.34."""

    def __init__(self, results: list[tuple[float, float | None]]) -> None:
        self.results = list(results)
        self.paths: list[Path] = []

    def check(self, clip_path: Path, text: str, language: str, reference_embedding: np.ndarray | None) -> LineQA:
        self.paths.append(clip_path)
        wer, sim = self.results.pop(0)
        return LineQA(
            heard=f"heard {clip_path.name}",
            wer=wer,
            similarity=sim,
            passed=wer <= 0.34,
            reason="" if wer <= 0.34 else f"WER {wer}",
        )


def _maker(made: list[int]) -> Callable[[int], tuple[Path, str]]:
    def make(attempt: int) -> tuple[Path, str]:
        made.append(attempt)
        return Path(f"attempt{attempt}.wav"), qa.variant(attempt)["name"]

    return make


def test_the_first_pass_stops_the_loop(tmp_path: Path) -> None:
    made: list[int] = []
    checker = ScriptedChecker([(0.1, 0.8), (0.0, 0.9)])
    path, result = qa.synthesize_checked(_maker(made), "x", "es", checker, Settings(data_dir=tmp_path, qa_retries=2))
    assert made == [0] and path == Path("attempt0.wav")
    assert result.attempts == 1 and result.passed and result.tried == ["as written: WER 0.10"]


def test_a_failing_line_is_tried_again_and_the_best_attempt_kept(tmp_path: Path) -> None:
    made: list[int] = []
    checker = ScriptedChecker([(0.6, 0.9), (0.5, 0.7), (0.5, 0.8), (0.0, 0.9)])
    path, result = qa.synthesize_checked(_maker(made), "x", "es", checker, Settings(data_dir=tmp_path, qa_retries=2))
    assert made == [0, 1, 2]  # at most qa_retries re-syntheses
    assert path == Path("attempt2.wav")  # lowest WER, then the higher similarity
    assert result.wer == 0.5 and result.similarity == 0.8 and not result.passed
    assert result.attempts == 3 and len(result.tried) == 3
    assert result.tried[1] == "slower: WER 0.50"
    assert "best of 3 attempts" in result.reason


def test_a_retry_that_passes_is_kept(tmp_path: Path) -> None:
    made: list[int] = []
    checker = ScriptedChecker([(0.5, 0.9), (0.2, None)])
    path, result = qa.synthesize_checked(
        _maker(made), "x", "es", checker, Settings(data_dir=tmp_path, qa_retries=2), np.array([1.0])
    )
    assert made == [0, 1] and path == Path("attempt1.wav")
    assert result.passed and result.attempts == 2 and result.reason == ""


def test_a_first_attempt_checked_elsewhere_is_not_made_again(tmp_path: Path) -> None:
    made: list[int] = []
    checker = ScriptedChecker([(0.0, None)])
    first = (Path("batch0.wav"), LineQA(heard="x", wer=0.8, passed=False, reason="WER 0.8"))
    path, result = qa.synthesize_checked(
        _maker(made), "x", "es", checker, Settings(data_dir=tmp_path, qa_retries=2), first=first
    )
    assert made == [1] and path == Path("attempt1.wav")
    assert result.attempts == 2 and result.tried == ["as written: WER 0.80", "slower: WER 0.00"]


def test_no_retries_means_one_attempt(tmp_path: Path) -> None:
    made: list[int] = []
    checker = ScriptedChecker([(0.9, None)])
    _, result = qa.synthesize_checked(_maker(made), "x", "es", checker, Settings(data_dir=tmp_path, qa_retries=0))
    assert made == [0] and result.attempts == 1 and not result.passed


def test_variants_go_on_with_the_last() -> None:
    assert qa.variant(0)["rate"] == 1.0 and not qa.variant(0)["normalise"]
    assert qa.variant(2)["normalise"] and qa.variant(7) == qa.VARIANTS[-1]


# --- the job report ----------------------------------------------------------------------------------------


def test_summarize() -> None:
    lines = [
        LineQA(heard="a", wer=0.0, similarity=0.8),
        LineQA(heard="b", wer=0.5, similarity=None, passed=False, attempts=3),
        LineQA(heard="c", wer=0.2, similarity=0.6, attempts=2, similarity_campp=0.5),
        LineQA(),  # not checked
    ]
    s = qa.summarize(lines)
    assert s == {
        "lines": 3,
        "passed": 2,
        "failed": 1,
        "retried": 2,
        "mean_wer": pytest.approx(0.2333, abs=1e-4),
        "max_wer": 0.5,
        "mean_similarity": pytest.approx(0.7),
        "min_similarity": 0.6,
        "mean_similarity_campp": 0.5,  # a cloned voice's lines only
    }
    assert qa.summarize([])["mean_wer"] is None and qa.summarize(lines[:1])["mean_similarity_campp"] is None
