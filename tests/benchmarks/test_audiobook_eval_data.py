"""The audiobook evaluation's book (benchmarks/eval/data/fables.md) and its manuscript helpers: the book reads
into the chapters the evaluation counts on, and the edit it re-runs after changes one sentence of chapter 3."""

from __future__ import annotations

import difflib
from pathlib import Path

from benchmarks.eval.audiobook import BOOK, edited, references, sections, trimmed
from pipeline.products.audiobook.manuscript import read_manuscript


def test_the_book_reads_into_six_chapters_of_at_least_400_words() -> None:
    book = read_manuscript(BOOK).book
    assert book.format == "markdown"
    assert book.title == "Fables of Aesop"
    assert book.author == "Aesop; translated by George Fyler Townsend"
    assert book.language == "en"
    assert [c.title for c in book.chapters] == [
        "Chapter I: The Wolf and the Lamb and Other Fables",
        "Chapter II: The Fox and the Grapes and Other Fables",
        "Chapter III: The Town Mouse and the Country Mouse and Other Fables",
        "Chapter IV: The Hare and the Tortoise and Other Fables",
        "Chapter V: The North Wind and the Sun and Other Fables",
        "Chapter VI: The Milkmaid and Her Pail and Other Fables",
    ]
    assert all(c.words >= 400 for c in book.chapters), [c.words for c in book.chapters]
    assert sum(c.words for c in book.chapters) >= 2200
    texts = [p.text for c in book.chapters for p in c.paragraphs]
    assert "The Town Mouse and the Country Mouse" in texts  # a fable's bold title: a paragraph, not a chapter
    assert not any("**" in t or t.startswith("#") for t in texts)


def test_references_spell_the_heading_numeral_as_whisper_writes_it(tmp_path: Path) -> None:
    book = tmp_path / "fables.md"
    book.write_text(trimmed(BOOK.read_text(encoding="utf-8"), 3), encoding="utf-8")
    refs = references(book)
    assert [t for t, _ in refs][2] == "Chapter III: The Town Mouse and the Country Mouse and Other Fables"
    assert refs[2][1].startswith("Chapter 3: The Town Mouse and the Country Mouse and Other Fables. ")
    assert "dried figs" in refs[2][1]


def test_trimmed_keeps_the_first_chapters_and_the_front_matter() -> None:
    text = BOOK.read_text(encoding="utf-8")
    assert len(sections(text)) == 7
    two = trimmed(text, 2)
    assert two.startswith("---\ntitle:")
    assert len(sections(two)) == 3
    assert trimmed(text, 0) == text


def test_the_edit_changes_one_line_of_chapter_3_only() -> None:
    text = BOOK.read_text(encoding="utf-8")
    changed, what = edited(text, 3)
    assert "fresh figs" in what
    diff = [d for d in difflib.ndiff(text.splitlines(), changed.splitlines()) if d[:1] in "+-"]
    assert len(diff) == 2 and "dried figs" in diff[0] and "fresh figs" in diff[1]
    before, after = sections(text), sections(changed)
    assert [a == b for a, b in zip(before, after, strict=True)] == [True, True, True, False, True, True, True]
    # a shorter run edits its last chapter: still one line
    one, what = edited(trimmed(text, 1), 1)
    assert what.startswith("chapter 1")
    assert sum(d[:1] in "+-" for d in difflib.ndiff(trimmed(text, 1).splitlines(), one.splitlines())) == 2
