"""The narration stage with a real (fast) voice and no QA: a crash in the middle of a chapter resumes at the
chunk it stopped at; an edited paragraph re-narrates only its sentences; the chapter passes ACX."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from pipeline.core.config import Settings
from pipeline.core.errors import StageError

BOOK = """---
title: Resume
author: Tester
lang: en
---

# One

First sentence here. Second sentence here. Third sentence here.

Fourth sentence here. Fifth sentence here.
"""


@pytest.fixture
def settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Settings:
    from pipeline.core.config import reset_settings

    monkeypatch.setenv("DUBLINE_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("DUBLINE_QA", "false")
    reset_settings()
    return Settings(data_dir=tmp_path / "data", qa=False)


def _request(tmp_path: Path, text: str = BOOK) -> Any:
    from pipeline.products.audiobook.contracts import BookRequest

    book = tmp_path / "resume.md"
    book.write_text(text)
    return BookRequest(book=str(book), voice="espeak:en-us+m3")


def test_a_crash_mid_chapter_resumes_at_the_chunk_it_stopped_at(
    settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from pipeline.products.audiobook import narrate
    from pipeline.products.audiobook.read import read_book

    request = _request(tmp_path)
    book = read_book(settings, request)
    real = narrate.synth_clip
    calls: list[str] = []

    def crash_on_the_fourth(*args: Any, **kwargs: Any) -> Any:
        calls.append(args[3])
        if len(calls) == 4:
            raise RuntimeError("worker lost")
        return real(*args, **kwargs)

    monkeypatch.setattr(narrate, "synth_clip", crash_on_the_fourth)
    with pytest.raises(StageError, match="worker lost"):
        narrate.narrate_chapter(settings, request, book, 1)
    monkeypatch.setattr(narrate, "synth_clip", real)
    done = narrate.narrate_chapter(settings, request, book, 1)
    assert done.chunks == 6 and done.synthesized == 3  # the title and two sentences were kept
    assert done.acx["passed"], done.acx


def test_an_edited_paragraph_renarrates_only_its_sentences(settings: Settings, tmp_path: Path) -> None:
    from pipeline.products.audiobook.narrate import narrate_chapter
    from pipeline.products.audiobook.read import read_book

    request = _request(tmp_path)
    first = narrate_chapter(settings, request, read_book(settings, request), 1)
    edited = _request(tmp_path, BOOK.replace("Fifth sentence here.", "Fifth sentence, changed."))
    again = narrate_chapter(settings, edited, read_book(settings, edited), 1)
    assert first.synthesized == 6 and not again.cached and again.synthesized == 1


def test_an_unknown_voice_is_refused_naming_the_choices(settings: Settings, tmp_path: Path) -> None:
    from pipeline.core.errors import ConfigError
    from pipeline.products.audiobook.contracts import BookRequest
    from pipeline.products.audiobook.read import read_book

    request = _request(tmp_path).model_copy(update={"voice": "espeak:nobody"})
    with pytest.raises(ConfigError, match="no voice .nobody.*espeak:en-us"):
        read_book(settings, BookRequest.model_validate(request.model_dump()))


def test_an_ident_opens_and_a_bed_closes_the_book_within_acx(settings: Settings, tmp_path: Path) -> None:
    from pipeline.products.audiobook.contracts import BookRequest
    from pipeline.products.audiobook.narrate import CLOSING_S, IDENT_S, narrate_chapter
    from pipeline.products.audiobook.read import read_book

    plain = _request(tmp_path)
    with_music = BookRequest(**{**plain.model_dump(), "ident": "calm"})
    book = read_book(settings, with_music)
    bare = narrate_chapter(settings, plain, book, 1)
    done = narrate_chapter(settings, with_music, book, 1)
    assert done.music is not None and done.music["opening"]["generated"] and done.music["closing"]["generated"]
    assert done.synthesized == 0  # the narration's clips are reused: only the music is new
    added = done.duration_s - bare.duration_s
    assert IDENT_S + CLOSING_S < added < IDENT_S + CLOSING_S + 4, added
    assert done.acx["passed"], done.acx


def test_an_unknown_ident_mood_is_refused_where_the_job_enters(tmp_path: Path) -> None:
    from pipeline.core.errors import ConfigError
    from pipeline.products.audiobook.contracts import BookRequest

    with pytest.raises(ConfigError, match="ident mood 'jolly' is not one of calm, bright, tense, sad"):
        BookRequest.from_params({"book": str(tmp_path / "b.md"), "ident": "Jolly"})
