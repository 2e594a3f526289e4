"""A book is named after its own manuscript: reading b.md after a byte-identical a.md reuses the read stage
(keyed by content) but names the job's files b.*, and packaging names its files after the job's manuscript."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipeline.core.config import Settings

BOOK = """---
title: Names
author: Tester
lang: en
---

# One

A sentence to read.
"""


@pytest.fixture
def settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Settings:
    from pipeline.core.config import reset_settings

    monkeypatch.setenv("DUBLINE_DATA_DIR", str(tmp_path / "data"))
    reset_settings()
    return Settings(data_dir=tmp_path / "data", qa=False)


def test_a_byte_identical_manuscript_keeps_its_own_name(settings: Settings, tmp_path: Path) -> None:
    from pipeline.products.audiobook.contracts import BookRequest
    from pipeline.products.audiobook.read import read_book

    (tmp_path / "a.md").write_text(BOOK)
    (tmp_path / "b.md").write_text(BOOK)
    first = read_book(settings, BookRequest(book=str(tmp_path / "a.md"), voice="espeak:en-us+m3"))
    second = read_book(settings, BookRequest(book=str(tmp_path / "b.md"), voice="espeak:en-us+m3"))
    assert second.cached and second.key == first.key
    assert (first.filename, first.stem) == ("a.md", "a")
    assert (second.filename, second.stem) == ("b.md", "b")
