"""Consent before voice, for audiobooks: a person's cloned voice narrates only under a consent for the use
`audiobook` in the book's language; checked before every chunk, so a revocation in the middle of a chapter stops
the chunks not yet spoken; a chapter narrated before a revocation is not reused after it."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import pytest

from pipeline.core import progress
from pipeline.core.config import Settings
from pipeline.core.errors import ConsentError
from pipeline.core.stagerun import open_settings_store
from pipeline.voice.consent import revoke_consent

TODAY = date(2026, 6, 15)
BOOK = """---
title: A Short Book
author: Test Author
lang: en
---

# Chapter One

The first sentence is short. The second one is short too. Here is a third.

A new paragraph begins here.
"""


@pytest.fixture
def person_settings(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Settings:
    """The English voice (eSpeak NG, fast) stands for person joe's voice; no QA (the gate is what is tested)."""
    monkeypatch.setenv("DUBLINE_PERSON_VOICES", '{"en": "joe"}')
    monkeypatch.setenv("DUBLINE_TTS_PREFERENCE", '{"en": ["espeak"], "*": ["espeak"]}')
    monkeypatch.setenv("DUBLINE_QA", "false")
    from pipeline.core.config import reset_settings

    reset_settings()
    return settings.model_copy(
        update={"person_voices": {"en": "joe"}, "tts_preference": {"en": ["espeak"], "*": ["espeak"]}, "qa": False}
    )


def _request(tmp_path: Path) -> Any:
    from pipeline.products.audiobook.contracts import BookRequest

    book = tmp_path / "short.md"
    book.write_text(BOOK)
    return BookRequest(book=str(book), voice="person:joe", output=str(tmp_path / "out"))


def _clips(settings: Settings) -> list[str]:
    return [k for k in open_settings_store(settings).list("clips") if k.endswith(".wav")]


def test_consent_for_another_use_is_refused_before_a_word(
    person_settings: Settings, grant: Any, tmp_path: Path
) -> None:
    from pipeline.products.audiobook.read import read_book

    grant(person_settings, uses=("dubbing",))
    with pytest.raises(ConsentError) as err:
        read_book(person_settings, _request(tmp_path))
    assert "covers dubbing, not audiobook" in err.value.one_line() and err.value.exit_code == 6
    assert _clips(person_settings) == []


def test_revocation_during_a_chapter_stops_the_remaining_chunks(
    person_settings: Settings, grant: Any, tmp_path: Path
) -> None:
    from pipeline.products.audiobook.narrate import narrate_chapter
    from pipeline.products.audiobook.read import read_book

    grant(person_settings, uses=("audiobook",))
    request = _request(tmp_path)
    book = read_book(person_settings, request)
    steps: list[int] = []

    def revoke_after_first_chunk(stage: str, event: str, info: dict[str, Any]) -> None:
        if stage.startswith("narrate") and event == "step":
            steps.append(int(info["done"]))
            if len(steps) == 1:
                revoke_consent(person_settings, "joe", "revoked while the book ran")

    unsubscribe = progress.subscribe(revoke_after_first_chunk)
    try:
        with pytest.raises(ConsentError) as err:
            narrate_chapter(person_settings, request, book, 1, today=TODAY.isoformat())
    finally:
        unsubscribe()
    assert "was revoked" in err.value.one_line()
    assert steps == [1], "chunks were spoken after the revocation"
    assert len(_clips(person_settings)) == 1
    assert not (tmp_path / "out").exists()


def test_a_chapter_narrated_before_a_revocation_is_not_reused_after_it(
    person_settings: Settings, grant: Any, tmp_path: Path
) -> None:
    from pipeline.products.audiobook.narrate import narrate_chapter
    from pipeline.products.audiobook.read import read_book

    cid = grant(person_settings, uses=("audiobook",))
    request = _request(tmp_path)
    book = read_book(person_settings, request)
    done = narrate_chapter(person_settings, request, book, 1, today=TODAY.isoformat())
    assert done.consents == [cid] and done.chunks == 5
    revoke_consent(person_settings, "joe", "withdrawn")
    with pytest.raises(ConsentError, match="was revoked"):
        narrate_chapter(person_settings, request, book, 1, today=TODAY.isoformat())
