"""Text cleaning shared by the manuscript readers: each rule on the strings it is for, and what it must leave."""

from __future__ import annotations

import pytest

from pipeline.products.audiobook.book import Paragraph
from pipeline.products.audiobook.cleaning import (
    Section,
    assemble_chapters,
    clean_paragraph,
    clean_plain_paragraph,
    gutenberg_split,
    header_fields,
    is_note_body,
    is_scene_break,
    join_hyphenated_lines,
    language_code,
    make_paragraph,
    normalize_newlines,
    normalize_typography,
    remove_note_marks,
    remove_page_markers,
    remove_running_heads,
    skip_reason_for_title,
    tidy_paragraphs,
)


def test_newlines() -> None:
    assert normalize_newlines("a\r\nb\rc\n") == "a\nb\nc\n"


@pytest.mark.parametrize(
    ("text", "joined"),
    [
        ("exam-\nple", "example"),
        ("tor-  \n   rents", "torrents"),
        ("well-\nknown", "well-known"),  # a common compound's first half keeps its hyphen
        ("self-\nevident", "self-evident"),
        ("Anglo-\nSaxon", "Anglo-Saxon"),  # a capital: a real hyphen
        ("1914-\n18", "1914-18"),
        ("a dash -\nthen", "a dash -\nthen"),  # a spaced hyphen is not hyphenation
    ],
)
def test_line_break_hyphenation(text: str, joined: str) -> None:
    assert join_hyphenated_lines(text) == joined


@pytest.mark.parametrize("marker", ["[Pg 12]", "[pg 12]", "[p. 12]", "[Page xii]", "{12}"])
def test_page_markers(marker: str) -> None:
    assert remove_page_markers(f"the end {marker} of it") == "the end of it"


@pytest.mark.parametrize(
    ("text", "clean"),
    [
        ("a gust of wind.[1] Then", "a gust of wind. Then"),
        ("as he said [12], so", "as he said, so"),
        ("the word\u2020 and more", "the word and more"),
        ("he left.* And", "he left. And"),
        ("see [^note] here", "see here"),
        ("[Illustration: a fox] The fox", "The fox"),
    ],
)
def test_note_marks(text: str, clean: str) -> None:
    assert clean_paragraph(remove_note_marks(text)) == clean


def test_note_marks_leave_prices_and_math() -> None:
    assert remove_note_marks("3 * 4 is twelve") == "3 * 4 is twelve"


@pytest.mark.parametrize(
    "text", ["[Footnote 1: Not read.]", "[1] A note body.", "[^2]: Markdown note.", "  [footnote A: x]"]
)
def test_note_bodies(text: str) -> None:
    assert is_note_body(text)
    assert make_paragraph(text) is None


def test_typography_for_speech() -> None:
    text = "\u201cYes,\u201d she said\u2014\u2018no\u2019\u2026 1914\u20131918 . . . \ufb01ne\u00a0day\u200b"
    assert clean_paragraph(text) == "\"Yes,\" she said - 'no'... 1914-1918 ... fine day"
    assert normalize_typography("well--known") == "well - known"
    assert clean_paragraph("\u00abBonjour\u00bb") == '"Bonjour"'


def test_soft_hyphens_and_whitespace() -> None:
    assert clean_paragraph("soft\u00adly   and\n\nquietly ,  now") == "softly and quietly, now"


def test_plain_text_emphasis() -> None:
    assert clean_plain_paragraph("She was _very_ *sure* of it.*") == "She was very sure of it."
    assert clean_plain_paragraph("snake_case_name stays") == "snake_case_name stays"


@pytest.mark.parametrize("text", ["*", "* * *", "*****", "#", "~", "~ ~ ~", "---", "\u2042", " *  *  * "])
def test_scene_breaks(text: str) -> None:
    assert is_scene_break(text)
    assert make_paragraph(text) == Paragraph(kind="scene_break")


@pytest.mark.parametrize("text", ["", "  ", "A * B", "#1", "-- Yes"])
def test_not_scene_breaks(text: str) -> None:
    assert not is_scene_break(text)


def test_running_heads_removed_but_not_repeated_short_prose() -> None:
    lines = []
    for page in range(1, 13):  # a head on each page, the page number on either side
        lines += [f"THE TEST TALE {page}" if page % 2 else f"{page} CHAPTER NAME", "", f"Page {page} text.", ""]
    lines += ['"Yes."', "", '"Yes."', ""]
    kept = remove_running_heads(lines)
    assert not any("TEST TALE" in line or "CHAPTER NAME" in line for line in kept)
    assert kept.count('"Yes."') == 2
    assert "Page 3 text." in kept


@pytest.mark.parametrize(
    ("title", "why"),
    [
        ("Contents", "table of contents"),
        ("TABLE OF CONTENTS", "table of contents"),
        ("Copyright \u00a9 2001", "copyright page"),
        ("Index", "index"),
        ("Colophon.", "colophon"),
        ("The Index Card", ""),
        ("Chapter 1", ""),
        ("Acknowledgments", ""),
        ("Dedication", ""),
    ],
)
def test_skip_by_title(title: str, why: str) -> None:
    assert skip_reason_for_title(title) == why


def test_gutenberg_split() -> None:
    text = (
        "Title: T\nAuthor: A\n*** START OF THE PROJECT GUTENBERG EBOOK T ***\nBody\n"
        "*** END OF THE PROJECT GUTENBERG EBOOK T ***\nL"
    )
    header, body, licence = gutenberg_split(text)
    assert body.strip() == "Body" and header_fields(header) == {"title": "T", "author": "A"}
    assert licence.startswith("*** END") and licence.endswith("L")
    assert gutenberg_split("plain text") == ("", "plain text", "")


@pytest.mark.parametrize(
    ("stated", "code"),
    [("en-GB", "en"), ("EN", "en"), ("eng", "en"), ("spa", "es"), ("fra", "fr"), ("fre", "fr"), ("deu", "de")]
    + [("pt_BR", "pt"), ("English", "en"), ("", ""), ("und", ""), ("xx-Foo", "xx"), ("Klingonish", "")],
)
def test_language_code(stated: str, code: str) -> None:
    assert language_code(stated) == code


def test_assemble_numbers_skips_and_tidies() -> None:
    text, brk = Paragraph(text="Words here."), Paragraph(kind="scene_break")
    sections = [
        Section("Contents", "line 1", [Paragraph(text="Chapter 1")], skip="table of contents"),
        Section("Empty", "line 5", [brk]),
        Section("One", "line 9", [brk, text, brk, brk, text, brk]),
        Section("", "line 20", [text]),
    ]
    chapters, skipped = assemble_chapters(sections, read_all=False)
    assert [(c.index, c.title) for c in chapters] == [(1, "One"), (2, "Chapter 2")]
    assert [p.kind for p in chapters[0].paragraphs] == ["text", "scene_break", "text"]
    assert skipped == ["Contents: table of contents"]
    everything, none = assemble_chapters(sections, read_all=True)
    assert [c.title for c in everything] == ["Contents", "One", "Chapter 3"] and none == []
    assert tidy_paragraphs([brk]) == []
