"""Text cleaning shared by the manuscript readers (EPUB, Markdown, plain text): pure functions on strings.

What a narrator should not read is removed (page-number markers, footnote reference marks, soft hyphens,
running heads, Project Gutenberg licences), print typography is made speakable (curly quotes straight, an
ellipsis as "...", dashes as a spaced hyphen) and layout is undone (CRLF, line-break hyphenation, runs of
whitespace). Front and back matter that is not read (contents, copyright page, index) is recognised by its
title here too, and `assemble_chapters` turns the sections a reader found into the book's chapters.
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from dataclasses import dataclass, field

import langcodes

from pipeline.products.audiobook.book import Chapter, Paragraph

SOFT_HYPHEN = "\u00ad"

# "[Pg 12]", "[p. 12]", "[Page xii]", "{12}": page numbers left in the text by scans and Project Gutenberg
_PAGE_MARK = re.compile(r"\s*(?:\[(?:pg|page|p)\.?\s*[0-9ivxlcdm]+\]|\{\d{1,4}\})", re.IGNORECASE)
# "[1]", "[12]", "[^3]" (Markdown footnotes), "[Illustration: ...]" (Gutenberg)
_NOTE_MARK = re.compile(r"\s?\[\^?\d{1,3}\]|\s?\[\^[^\]\s]+\]")
_ILLUSTRATION = re.compile(r"\[Illustration(?::[^\]]*)?\]", re.IGNORECASE)
# "*", "†", "‡" right after a word or its punctuation: a note mark ("as he said.*")
_SYMBOL_NOTE = re.compile(r"(?<=[\w.,;:!?'\")\]])[*\u2020\u2021\u00a7]+(?=[\s.,;:!?'\")]|$)")
# "*word*" and "_word_": emphasis of plain-text and Gutenberg manuscripts; the word is kept
_EMPHASIS = re.compile(r"(?<![\w*])([*_])(?=\S)(.+?)(?<=\S)\1(?![\w*])")
# a paragraph that is a footnote body, not read inline: "[Footnote 1: ...]", "[1] ...", "[^1]: ..."
_NOTE_BODY = re.compile(r"^\s*(?:\[footnote\b|\[\^?\d{1,3}\]:?\s|\[\^[^\]]+\]:)", re.IGNORECASE)
# "exam-\nple" -> "example": a hyphen at a line end between lower-case letters is a printer's, not a word's,
# unless the part before it is one of the few first halves of compounds ("well-known", "self-evident")
_LINE_HYPHEN = re.compile(r"\b([a-zß-öø-ÿ]+)-[ \t]*\n[ \t]*(?=[a-zß-öø-ÿ])")
_COMPOUND_FIRST = {"well", "self", "half", "non", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty"}
_COMPOUND_FIRST |= {"ninety"}
_KEPT_HYPHEN = re.compile(r"(?<=\S)-[ \t]*\n[ \t]*(?=\S)")
_SCENE_BREAK = re.compile(r"^[\s*#~\u2022\u00b7\u2042\u2766\u2767\u2043-]+$")

_QUOTES = str.maketrans(
    {
        "\u2018": "'", "\u2019": "'", "\u201a": "'", "\u201b": "'", "\u2032": "'", "\u2039": "'", "\u203a": "'",
        "\u201c": '"', "\u201d": '"', "\u201e": '"', "\u201f": '"', "\u2033": '"', "\u00ab": '"', "\u00bb": '"',
        "\u2026": "...", "\u2212": "-", "\u2010": "-", "\u2011": "-",
        "\u00a0": " ", "\u2007": " ", "\u2009": " ", "\u200a": " ", "\u202f": " ", "\u3000": " ",
        "\u200b": "", "\u200c": "", "\u200d": "", "\u2060": "", "\ufeff": "", SOFT_HYPHEN: "",
    }
)  # fmt: skip
_LIGATURES = re.compile("[\ufb00-\ufb06]")
_DIGIT_DASH = re.compile(r"(?<=\d)\s*[\u2012\u2013]\s*(?=\d)")  # 1914–1918 -> 1914-1918
_DASH = re.compile(r"\s*(?:---?|[\u2012-\u2015\u2e3a\u2e3b])\s*")  # em/en dashes and "--" -> " - "
_SPACED_DOTS = re.compile(r"\.(?:\s\.){2,}")  # ". . ." -> "..."

# titles of sections that are not read aloud, and why (Book.skipped says "title: why")
_SKIP_TITLES = {
    "contents": "table of contents",
    "table of contents": "table of contents",
    "copyright": "copyright page",
    "copyright page": "copyright page",
    "index": "index",
    "colophon": "colophon",
    "list of illustrations": "list of illustrations",
    "illustrations": "list of illustrations",
    "list of tables": "list of tables",
    "notes": "notes (not read inline)",
    "endnotes": "notes (not read inline)",
    "footnotes": "notes (not read inline)",
    "title page": "title page",
    "cover": "cover",
}

_GUTENBERG_START = re.compile(r"^\*{3}\s*START OF (?:THE|THIS) PROJECT GUTENBERG.*$", re.IGNORECASE | re.MULTILINE)
_GUTENBERG_END = re.compile(r"^\*{3}\s*END OF (?:THE|THIS) PROJECT GUTENBERG.*$", re.IGNORECASE | re.MULTILINE)
_HEADER_FIELD = re.compile(r"^(title|author|language)\s*:\s*(.+?)\s*$", re.IGNORECASE | re.MULTILINE)


def normalize_newlines(text: str) -> str:
    """CRLF and lone CR to LF."""
    return text.replace("\r\n", "\n").replace("\r", "\n")


def remove_soft_hyphens(text: str) -> str:
    return text.replace(SOFT_HYPHEN, "")


def join_hyphenated_lines(text: str) -> str:
    """Undo line-break hyphenation: "exam-\\nple" -> "example". The rule, kept simple: the hyphen goes when
    a lower-case letter is on both sides of the line break, except after the first halves of common compounds
    (well-, self-, half-, non-, twenty- ... ninety-: "well-\\nknown" -> "well-known"). "Anglo-\\nSaxon" and
    "1914-\\n18" keep it too. Other compounds broken at their own hyphen are joined: print does not tell them
    apart."""

    def join(m: re.Match[str]) -> str:
        return m.group(1) + ("-" if m.group(1).lower() in _COMPOUND_FIRST else "")

    return _KEPT_HYPHEN.sub("-", _LINE_HYPHEN.sub(join, text))


def remove_page_markers(text: str) -> str:
    """Drop page-number markers: "[Pg 12]", "[p. 12]", "[Page xii]", "{12}"."""
    return _PAGE_MARK.sub("", text)


def remove_note_marks(text: str) -> str:
    """Drop footnote reference marks ("[1]", "[^2]", "*" or "†" after a word) and illustration notes."""
    text = _ILLUSTRATION.sub("", text)
    text = _NOTE_MARK.sub("", text)
    return _SYMBOL_NOTE.sub("", text)


def remove_emphasis_marks(text: str) -> str:
    """Emphasis marks of plain text dropped: "*word*" and "_word_" -> "word"."""
    return _EMPHASIS.sub(r"\2", text)


def is_note_body(text: str) -> bool:
    """A paragraph that is a footnote body ("[Footnote 1: ...]", "[1] ...", "[^1]: ..."), not read inline."""
    return bool(_NOTE_BODY.match(text))


def normalize_typography(text: str) -> str:
    """Print typography made speakable: curly quotes and guillemets straight, "…" and ". . ." as "...",
    em and en dashes (and "--") as a spaced hyphen (a pause), an en dash between digits as "-", ligatures
    split, no-break and zero-width spaces as spaces or nothing, soft hyphens removed."""
    text = _LIGATURES.sub(lambda m: unicodedata.normalize("NFKC", m.group()), text.translate(_QUOTES))
    text = _SPACED_DOTS.sub("...", text)
    text = _DIGIT_DASH.sub("-", text)
    return _DASH.sub(" - ", text)


def collapse_whitespace(text: str) -> str:
    """Every run of whitespace (line breaks included) as one space; no space before , . ; : ! ?"""
    text = re.sub(r"\s+", " ", text).strip()
    return re.sub(r" (?=[,.;:!?](?:\s|$))", "", text)


def is_scene_break(text: str) -> bool:
    """A paragraph of only "*", "* * *", "#", "~", "---" or ornaments: a scene break, nothing to read."""
    stripped = text.strip()
    return bool(stripped) and bool(_SCENE_BREAK.match(stripped))


def clean_paragraph(text: str) -> str:
    """One paragraph as it is read: line-break hyphenation joined, markers and note marks gone, typography
    normalised, whitespace collapsed."""
    text = join_hyphenated_lines(remove_soft_hyphens(normalize_newlines(text)))
    text = remove_note_marks(remove_page_markers(text))
    return collapse_whitespace(normalize_typography(text))


def clean_plain_paragraph(text: str) -> str:
    """`clean_paragraph` for plain text, which also marks emphasis with "*word*" or "_word_" (marks dropped)."""
    text = collapse_whitespace(join_hyphenated_lines(remove_soft_hyphens(normalize_newlines(text))))
    return clean_paragraph(remove_emphasis_marks(text))


def make_paragraph(raw: str, *, plain: bool = False) -> Paragraph | None:
    """One paragraph of raw text as read: a scene break, None for a footnote body or nothing left to read,
    else the cleaned text (`plain`: the text's own emphasis marks are dropped too)."""
    if is_scene_break(raw):
        return Paragraph(kind="scene_break")
    if is_note_body(raw):
        return None
    text = clean_plain_paragraph(raw) if plain else clean_paragraph(raw)
    return Paragraph(text=text) if text else None


def strip_page_number(line: str) -> str:
    """A running head without its page number: "12 ALICE IN WONDERLAND" -> "ALICE IN WONDERLAND"."""
    return re.sub(r"^\s*\d{1,4}\s+|\s+\d{1,4}\s*$", "", line).strip()


def running_heads(lines: list[str], min_count: int = 5, max_len: int = 60) -> set[str]:
    """Running heads of a plain text: short lines (page numbers at either end aside) repeated at least
    `min_count` times. Scene breaks and lines without letters are not heads. Returns the heads as
    `strip_page_number` gives them."""
    counts = Counter(strip_page_number(line) for line in lines if line.strip())
    return {
        head
        for head, n in counts.items()
        if n >= min_count and len(head) <= max_len and any(c.isalpha() for c in head) and not is_scene_break(head)
    }


def remove_running_heads(lines: list[str]) -> list[str]:
    """The lines without their running heads (each removed line leaves nothing, not a blank line)."""
    heads = running_heads(lines)
    if not heads:
        return lines
    return [line for line in lines if not line.strip() or strip_page_number(line) not in heads]


def skip_reason_for_title(title: str) -> str:
    """Why a section with this title is not read ("table of contents", "copyright page", ...), or "" when it is
    read. Matches whole titles only: "Contents", "Table of Contents", "Copyright", "Copyright © 2001",
    "Index", "Colophon"; a chapter called "The Index Card" is read. A title naming Project Gutenberg ("The
    Full Project Gutenberg License") is its licence."""
    words = re.sub(r"[^\w\s]", " ", title.casefold())
    words = " ".join(w for w in words.split() if not w.isdigit())
    if words.startswith("copyright"):
        return "copyright page"
    if "project gutenberg" in words:
        return "licence"
    return _SKIP_TITLES.get(words, "")


def gutenberg_split(text: str) -> tuple[str, str, str]:
    """Split a Project Gutenberg text at its "*** START OF ..." and "*** END OF ..." markers into
    (header, body, licence). A text without the markers is all body."""
    start = _GUTENBERG_START.search(text)
    end = _GUTENBERG_END.search(text, start.end() if start else 0)
    if not start and not end:
        return "", text, ""
    body_from = start.end() if start else 0
    body_to = end.start() if end else len(text)
    return text[: start.start() if start else 0], text[body_from:body_to], text[body_to:]


def header_fields(header: str) -> dict[str, str]:
    """The "Title: ...", "Author: ...", "Language: ..." lines of a Project Gutenberg header (lower-case keys)."""
    return {m.group(1).lower(): m.group(2) for m in _HEADER_FIELD.finditer(header)}


# language names as Project Gutenberg headers state them ("Language: English"), for when langcodes has no
# name data installed (langcodes.find needs the optional language_data package)
_LANGUAGE_NAMES = {
    "english": "en", "french": "fr", "german": "de", "spanish": "es", "italian": "it", "portuguese": "pt",
    "dutch": "nl", "finnish": "fi", "swedish": "sv", "danish": "da", "norwegian": "no", "polish": "pl",
    "russian": "ru", "latin": "la", "greek": "el", "chinese": "zh", "japanese": "ja", "hungarian": "hu",
}  # fmt: skip


def language_code(value: str) -> str:
    """A language as the metadata states it, as a lower-case ISO 639-1 code where one exists: "en-GB" -> "en",
    "eng" -> "en", "fre" -> "fr", "English" -> "en"; "" when not stated ("und", or a name not known). A code
    langcodes does not know falls back to its first subtag, lower case ("xx-Foo" -> "xx")."""
    value = value.strip()
    if not value or value.casefold() in {"und", "mul", "zxx"}:
        return ""
    if value.casefold() in _LANGUAGE_NAMES:
        return _LANGUAGE_NAMES[value.casefold()]
    try:
        return str(langcodes.Language.get(value).language or "").lower()
    except ValueError:
        pass
    try:
        return str(langcodes.find(value).language or "").lower()
    except (ValueError, LookupError, ImportError):
        first = re.split(r"[-_\s]", value, maxsplit=1)[0].lower()
        return first if re.fullmatch(r"[a-z]{2,3}", first) else ""


@dataclass
class Section:
    """A stretch of a manuscript a reader found (a chapter, or matter it may skip): its title, where it is,
    its paragraphs and why it is not read ("" = it is)."""

    title: str
    source: str
    paragraphs: list[Paragraph] = field(default_factory=list)
    skip: str = ""


def tidy_paragraphs(paragraphs: list[Paragraph]) -> list[Paragraph]:
    """No scene break at a chapter's start or end, nor two in a row."""
    out: list[Paragraph] = []
    for p in paragraphs:
        if p.kind == "scene_break" and (not out or out[-1].kind == "scene_break"):
            continue
        out.append(p)
    while out and out[-1].kind == "scene_break":
        out.pop()
    return out


READ_ALL_HINT = "or read the sections skipped by rule too (`dubline audiobook --read-all`, the DAG param read_all)"


def no_chapters(skipped: list[str]) -> str:
    """The message for a book with nothing left to read, naming what was skipped."""
    return f"no chapters found (skipped: {'; '.join(skipped)})" if skipped else "no chapters found"


def assemble_chapters(sections: list[Section], *, read_all: bool) -> tuple[list[Chapter], list[str]]:
    """The book's chapters in reading order, numbered from 1, and the sections skipped by rule, each
    "title: why". Sections with nothing to read are dropped; `read_all` reads the skipped ones too."""
    chapters: list[Chapter] = []
    skipped: list[str] = []
    for section in sections:
        paragraphs = tidy_paragraphs(section.paragraphs)
        if not any(p.kind == "text" for p in paragraphs):
            continue
        title = clean_paragraph(section.title)
        if section.skip and not read_all:
            skipped.append(f"{title or section.source}: {section.skip}")
            continue
        index = len(chapters) + 1
        chapters.append(
            Chapter(index=index, title=title or f"Chapter {index}", paragraphs=paragraphs, source=section.source)
        )
    return chapters, skipped
