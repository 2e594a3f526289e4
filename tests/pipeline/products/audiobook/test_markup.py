"""The Markdown and plain-text readers on small manuscripts written here: a Gutenberg-like text (header and
licence markers, contents, roman numerals, centred capitals, page markers, running heads, soft hyphens,
line-break hyphenation, CRLF), Markdown with front matter, and text in encodings that must be refused."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipeline.core.errors import InputError
from pipeline.products.audiobook.book import Manuscript
from pipeline.products.audiobook.markup import read_markdown, read_text

GUTENBERG = """\
The Project Gutenberg eBook of The Test Tale, by Jane Doe

This eBook is for the use of anyone anywhere in the United States.

Title: The Test Tale

Author: Jane Doe

Language: English

*** START OF THE PROJECT GUTENBERG EBOOK THE TEST TALE ***




Produced by Some Volunteers



                           THE TEST TALE

                            by Jane Doe


Contents

 CHAPTER I.     Down the Hole
 CHAPTER II.    The Pool


CHAPTER I.
Down the Hole


It was a \u201cdark\u201d and stormy night; the rain fell in tor-
rents [Pg 12] except at intervals, when it was checked by a
violent gust of wind.[1] She was _very_ well-
known in town.

THE TEST TALE 13

The second para\u00adgraph has a soft hyphen.

* * * * *

After the break.

[Footnote 1: A note that is not read.]


CHAPTER II.

THE POOL


Alice swam in the pool.

THE TEST TALE 14


                          THE LAST PART

Something else entirely.

THE TEST TALE 15

IV.

Roman chapter text.

THE TEST TALE 16

More.

THE TEST TALE 17

*** END OF THE PROJECT GUTENBERG EBOOK THE TEST TALE ***

Licence text that is not read.
"""


def write(tmp_path: Path, name: str, text: str, encoding: str = "utf-8", newline: str = "\n") -> Path:
    path = tmp_path / name
    path.write_bytes(text.replace("\n", newline).encode(encoding))
    return path


def titles(m: Manuscript) -> list[str]:
    return [c.title for c in m.book.chapters]


def all_text(m: Manuscript) -> list[str]:
    return [p.text for c in m.book.chapters for p in c.paragraphs]


@pytest.mark.parametrize("newline", ["\n", "\r\n"])
def test_gutenberg_text(tmp_path: Path, newline: str) -> None:
    m = read_text(write(tmp_path, "tale.txt", GUTENBERG, newline=newline))
    book = m.book
    assert (book.title, book.author, book.language, book.format) == ("The Test Tale", "Jane Doe", "en", "text")
    assert titles(m) == ["Chapter I: Down the Hole", "Chapter II: The Pool", "The Last Part", "IV"]
    assert [c.index for c in book.chapters] == [1, 2, 3, 4]
    assert book.chapters[0].source == "line 31"  # the heading line in the file
    assert book.skipped == [
        "Project Gutenberg header: licence",
        "Project Gutenberg licence: licence",
        "Contents: table of contents",
    ]
    first = book.chapters[0].paragraphs
    assert first[0].text == (
        'It was a "dark" and stormy night; the rain fell in torrents except at intervals, when it was checked '
        "by a violent gust of wind. She was very well-known in town."
    )
    assert first[1].text == "The second paragraph has a soft hyphen."
    assert [p.kind for p in first] == ["text", "text", "scene_break", "text"]
    assert [p.text for p in book.chapters[3].paragraphs] == ["Roman chapter text.", "More."]
    for text in all_text(m):
        assert "[Pg" not in text and "\u00ad" not in text and "\r" not in text
        assert "TEST TALE" not in text and "not read" not in text and "Footnote" not in text


def test_gutenberg_read_all_reads_the_licence_and_contents(tmp_path: Path) -> None:
    m = read_text(write(tmp_path, "tale.txt", GUTENBERG), read_all=True)
    assert m.book.skipped == []
    assert "Contents" in titles(m)
    assert any("Licence text" in t for t in all_text(m))


HEADINGS = """\
My Plain Book

Chapter 1

Down the Rabbit-Hole

Alice was beginning to get very tired.

CHAPTER TWO

Text of two, which is long enough to be prose and not a subtitle at all.

CHAPTER XII. THE OLD MAN AND THE SEA

Text of twelve.

BOOK II

PART 3

Text of part three.

Chapter did not start here
because this is a sentence.
"""


def test_plain_text_headings(tmp_path: Path) -> None:
    m = read_text(write(tmp_path, "plain.txt", HEADINGS))
    assert m.book.title == "My Plain Book"
    assert titles(m) == [
        "Chapter 1: Down the Rabbit-Hole",
        "Chapter Two",
        "Chapter XII: The Old Man and the Sea",
        "Part 3",  # "BOOK II" has no text of its own
    ]
    assert m.book.chapters[3].paragraphs[-1].text == "Chapter did not start here because this is a sentence."
    assert m.book.chapters[1].source == "line 9"


def test_text_without_headings_is_one_chapter_with_a_preface_title(tmp_path: Path) -> None:
    m = read_text(write(tmp_path, "story.txt", "A Short Story\n\nOnce upon a time.\n\nThe end of it.\n"))
    assert m.book.title == "A Short Story"
    assert titles(m) == ["A Short Story"]
    assert all_text(m) == ["Once upon a time.", "The end of it."]


def test_text_title_falls_back_to_the_file_stem(tmp_path: Path) -> None:
    m = read_text(write(tmp_path, "my-novel.txt", "CHAPTER 1\n\nIt begins here, with a long sentence of prose.\n"))
    assert m.book.title == "my-novel" and titles(m) == ["Chapter 1"]


def test_utf8_bom_and_utf16_are_read(tmp_path: Path) -> None:
    text = "Caf\u00e9 Stories\n\nChapter 1\n\nUn caf\u00e9 cr\u00e8me.\n"
    for name, encoding in (("bom.txt", "utf-8-sig"), ("wide.txt", "utf-16")):
        m = read_text(write(tmp_path, name, text, encoding))
        assert m.book.title == "Caf\u00e9 Stories" and all_text(m) == ["Un caf\u00e9 cr\u00e8me."]


def test_latin1_is_refused(tmp_path: Path) -> None:
    path = write(tmp_path, "latin.txt", "Title\n\nChapter 1\n\nUn caf\u00e9 cr\u00e8me.\n", "latin-1")
    with pytest.raises(InputError, match=r"latin\.txt is not UTF-8 text \(line 5\)") as e:
        read_text(path)
    assert e.value.hint == "save it as UTF-8 (in most editors: Save As, encoding UTF-8)"
    with pytest.raises(InputError, match="not UTF-8"):
        read_markdown(write(tmp_path, "latin.md", "# Caf\u00e9\n", "latin-1"))


def test_utf16_without_bom_is_refused(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="NUL bytes"):
        read_text(write(tmp_path, "nobom.txt", "Chapter 1\n\nText.\n", "utf-16-le"))


@pytest.mark.parametrize("text", ["", "   \n\n  \n"])
def test_empty_is_refused(tmp_path: Path, text: str) -> None:
    with pytest.raises(InputError, match=r"empty\.txt (is empty|has no text)"):
        read_text(write(tmp_path, "empty.txt", text))


def test_only_skipped_matter_is_no_chapters(tmp_path: Path) -> None:
    path = write(tmp_path, "toc.txt", "Book\n\nContents\n\nChapter 1 .... 3\nChapter 2 .... 9\n")
    with pytest.raises(InputError, match=r"toc\.txt: no chapters found \(skipped: Contents: table of contents\)"):
        read_text(path)


MARKDOWN = """\
---
title: "The Markdown Tale"
author: [Ann One, Bob Two]
lang: fr-CA
---

# Chapter One

Some *emphasis*, a [link text](http://x.y) and ![an image](cover.png) with `code`.
A line that breaks exam-
ple here.

- item one
- item two

> A quoted line.

## A sub-section

Inside chapter one.

* * *

After the scene break.

# Contents

- [Chapter One](#chapter-one)

# Chapter Two

Second chapter text.[^1] [Pg 7]

[^1]: The note body.
"""


def test_markdown_front_matter_chapters_and_inline_markup(tmp_path: Path) -> None:
    m = read_markdown(write(tmp_path, "tale.md", MARKDOWN))
    book = m.book
    assert (book.title, book.author, book.language, book.format) == (
        "The Markdown Tale",
        "Ann One, Bob Two",
        "fr",
        "markdown",
    )
    assert titles(m) == ["Chapter One", "Chapter Two"]
    assert book.skipped == ["Contents: table of contents"]
    assert book.chapters[0].source == "line 7"
    first = book.chapters[0].paragraphs
    assert [p.text for p in first[:5]] == [
        "Some emphasis, a link text and with code. A line that breaks example here.",
        "item one",
        "item two",
        "A quoted line.",
        "A sub-section",
    ]
    assert [p.kind for p in first[5:]] == ["text", "scene_break", "text"]
    assert [p.text for p in book.chapters[1].paragraphs] == ["Second chapter text."]


def test_markdown_single_h1_is_the_title_and_text_before_h2_a_preface(tmp_path: Path) -> None:
    text = "# The Whole Book\n\nAn introduction.\n\n## First\n\nOne.\n\n## Second\n\nTwo.\n"
    m = read_markdown(write(tmp_path, "whole.md", text))
    assert m.book.title == "The Whole Book"
    assert titles(m) == ["The Whole Book", "First", "Second"]
    assert m.book.chapters[0].paragraphs[0].text == "An introduction."


def test_markdown_title_line_before_the_first_heading_is_metadata(tmp_path: Path) -> None:
    text = "The Plain Title\nby Some Author\n\n## First\n\nOne.\n\n## Second\n\nTwo.\n"
    m = read_markdown(write(tmp_path, "lines.md", text))
    assert (m.book.title, m.book.author) == ("The Plain Title", "Some Author")
    assert titles(m) == ["First", "Second"]


def test_markdown_several_h1_are_chapters_and_the_stem_is_the_title(tmp_path: Path) -> None:
    m = read_markdown(write(tmp_path, "my-book.md", "# One\n\nA.\n\n# Two\n\nB.\n\n#\n\nC.\n"))
    assert m.book.title == "my-book" and titles(m) == ["One", "Two"]
    assert [p.kind for p in m.book.chapters[1].paragraphs] == ["text", "scene_break", "text"]


def test_markdown_without_headings_is_one_chapter(tmp_path: Path) -> None:
    m = read_markdown(write(tmp_path, "note.md", "Just a paragraph of prose, nothing else in it.\n"))
    assert titles(m) == ["note"] and all_text(m) == ["Just a paragraph of prose, nothing else in it."]
