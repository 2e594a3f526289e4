"""Markdown (CommonMark, parsed with markdown-it-py) and plain-text manuscripts.

Both are decoded as UTF-8 (a BOM allowed) or BOM-marked UTF-16, and read only between a Project Gutenberg
text's "*** START OF ..." and "*** END OF ..." markers (unless `read_all`). Text before the first chapter is
the book's title lines (title, "by" author: metadata, not read) or else a preface, read as a chapter titled
with the book's title. A text without any chapter heading is one chapter.

Markdown: chapters at the top heading level present; a single h1 above several h2 is the book's title.
Plain text: chapter headings by rule (`_heading_at`): `CHAPTER I`, `Chapter 1`, `Chapter One`,
`CHAPTER XII. THE TITLE`, `BOOK II`, `PART 3`, a line of only a roman numeral (`IV.`), named sections
(`PREFACE`, `Contents` ...) and centred capitals, each on its own between blank lines.
"""

from __future__ import annotations

import codecs
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from bs4 import BeautifulSoup
from markdown_it import MarkdownIt
from markdown_it.token import Token

from pipeline.core.errors import InputError
from pipeline.products.audiobook.book import Book, Manuscript, Paragraph
from pipeline.products.audiobook.cleaning import (
    READ_ALL_HINT,
    Section,
    assemble_chapters,
    clean_paragraph,
    gutenberg_split,
    header_fields,
    language_code,
    make_paragraph,
    no_chapters,
    normalize_newlines,
    remove_soft_hyphens,
    running_heads,
    skip_reason_for_title,
    strip_page_number,
)

ENCODING_HINT = "save it as UTF-8 (in most editors: Save As, encoding UTF-8)"
_FRONT_MATTER = re.compile(r"\A---[ \t]*\n(.*?\n)(?:---|\.\.\.)[ \t]*(?:\n|\Z)", re.DOTALL)
_FIELD = re.compile(r"^(title|author|language)\s*:\s*(.+)$", re.IGNORECASE)
_BY = re.compile(r"^by\s+(.+)$", re.IGNORECASE)
_PRODUCTION_NOTE = re.compile(
    r"^\s*(?:produced by|e-?text prepared by|transcriber'?s'? notes?|transcribed (?:from|by)|this (?:e-?book|file) "
    r"was produced|\[illustration)",
    re.IGNORECASE,
)
_NUM_WORDS = (
    "one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|thirteen|fourteen|fifteen|sixteen|"
    "seventeen|eighteen|nineteen|twenty|thirty|forty|fifty|sixty|seventy|eighty|ninety"
)
_NUMBER = rf"(?:\d{{1,3}}|[ivxlcdm]+|(?:{_NUM_WORDS})(?:[- ](?:{_NUM_WORDS}))?)"
_KEYWORD_HEADING = re.compile(
    rf"^(chapter|book|part|volume|act)\s+({_NUMBER})\b\.?\s*(?:[:\u2014\u2013-]\s*)?(.*?)\.?$", re.IGNORECASE
)
_ROMAN = re.compile(r"^M{0,3}(?:CM|CD|D?C{0,3})(?:XC|XL|L?X{0,3})(?:IX|IV|V?I{0,3})$")
_NAMED_HEADING = re.compile(
    r"^(prologue|epilogue|preface|foreword|introduction|afterword|contents|table of contents|index|colophon)[.:]?$",
    re.IGNORECASE,
)
_SMALL_WORDS = {"a", "an", "and", "at", "by", "for", "in", "of", "on", "or", "the", "to", "with", "from"}


def decode_text(path: Path, data: bytes) -> str:
    """UTF-8 (with or without a BOM), or UTF-16 with a BOM; anything else is an InputError naming the line."""
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        try:
            return data.decode("utf-16")
        except UnicodeDecodeError:
            raise InputError(f"{path.name} is not UTF-16 text, though it starts like it", ENCODING_HINT) from None
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        line = data[: e.start].count(b"\n") + 1
        raise InputError(f"{path.name} is not UTF-8 text (line {line})", ENCODING_HINT) from None
    if "\x00" in text:
        raise InputError(f"{path.name} is not UTF-8 text (it holds NUL bytes: UTF-16 without a BOM?)", ENCODING_HINT)
    return text


@dataclass
class _Block:
    """A paragraph or heading of the manuscript, its text as written (line breaks kept)."""

    text: str
    line: int  # 1-based, in the file
    level: int = 0  # heading level; 0 = a paragraph
    scene_break: bool = False


@dataclass
class _Body:
    """The part of the file that is read, where it starts, the Gutenberg header's fields, what was cut."""

    text: str
    offset: int  # lines of the file before `text`
    fields: dict[str, str]
    skipped: list[str]


def _body(path: Path, read_all: bool) -> _Body:
    if path.stat().st_size == 0:
        raise InputError(f"{path.name} is empty", "give the manuscript's text")
    text = remove_soft_hyphens(normalize_newlines(decode_text(path, path.read_bytes())))
    header, body, licence = gutenberg_split(text)
    fields = header_fields(header)
    if read_all or not (header.strip() or licence.strip()):
        return _Body(text, 0, fields, [])
    skipped = [f"Project Gutenberg {part}: licence" for part, t in (("header", header), ("licence", licence)) if t]
    return _Body(body, header.count("\n"), fields, skipped)


def read_markdown(path: Path, *, read_all: bool = False) -> Manuscript:
    """Read a Markdown manuscript: YAML front matter (title, author, lang) and chapters at the top heading level;
    inline markup is dropped (link text and code kept, images not), lists and quotes read as paragraphs."""
    body = _body(path, read_all)
    front, text, offset = _front_matter(body.text)
    blocks = _markdown_blocks(MarkdownIt("commonmark").parse(text), body.offset + offset)
    heads = [b for b in blocks if b.level]
    h1 = [b for b in heads if b.level == 1]
    title_h1 = h1[0] if len(h1) == 1 and sum(b.level == 2 for b in heads) >= 2 and heads[0] is h1[0] else None
    level = 2 if title_h1 else min((b.level for b in heads), default=0)
    fields = {**body.fields, **front}
    if title_h1:
        fields.setdefault("title", clean_paragraph(title_h1.text))
    blocks = [b for b in blocks if b is not title_h1]
    return _manuscript(path, blocks, level, fields, body.skipped, "markdown", read_all)


def _front_matter(text: str) -> tuple[dict[str, str], str, int]:
    """YAML front matter's title, author and language (`lang`), the text after it and its lines."""
    m = _FRONT_MATTER.match(text)
    try:
        data: Any = yaml.safe_load(m.group(1)) if m else None
    except yaml.YAMLError:
        data = None
    if not m or not isinstance(data, dict):
        return {}, text, 0
    fields: dict[str, str] = {}
    for key, name in (("title", "title"), ("author", "author"), ("lang", "language"), ("language", "language")):
        value = data.get(key)
        value = ", ".join(str(v) for v in value) if isinstance(value, list) else str(value or "").strip()
        if value:
            fields.setdefault(name, value)
    return fields, text[m.end() :], text[: m.end()].count("\n")


def _markdown_blocks(tokens: list[Token], offset: int) -> list[_Block]:
    blocks: list[_Block] = []
    for i, tok in enumerate(tokens):
        line = offset + (tok.map[0] if tok.map else 0) + 1
        if tok.type in {"heading_open", "paragraph_open"}:
            text = _inline_text(tokens[i + 1])
            level = int(tok.tag[1:]) if tok.type == "heading_open" else 0
            blocks.append(_Block(text, line, level, scene_break=level > 0 and not text.strip()))  # "#" alone
        elif tok.type == "hr":
            blocks.append(_Block("", line, scene_break=True))
        elif tok.type in {"fence", "code_block"}:
            blocks.append(_Block(tok.content, line))
        elif tok.type == "html_block":
            blocks.append(_Block(BeautifulSoup(tok.content, "lxml").get_text(), line))
    return [b for b in blocks if b.scene_break or b.text.strip()]


def _inline_text(inline: Token) -> str:
    """An inline run's text: emphasis and links as their text, code as written, images and HTML dropped."""
    parts: list[str] = []
    for child in inline.children or []:
        if child.type in {"text", "code_inline"}:
            parts.append(child.content)
        elif child.type in {"softbreak", "hardbreak"}:
            parts.append("\n")
    return "".join(parts)


def read_text(path: Path, *, read_all: bool = False) -> Manuscript:
    """Read a plain-text manuscript: running heads removed, chapters at the headings `_heading_at` finds."""
    body = _body(path, read_all)
    numbered = [(body.offset + i + 1, line) for i, line in enumerate(body.text.split("\n"))]
    first = next((line.strip() for _, line in numbered if line.strip()), "")
    book_title = body.fields.get("title") or first
    # a repeated chapter heading ("CHAPTER I" in each of several books) is not a running head
    heads = {h for h in running_heads([line for _, line in numbered]) if _classify(h, book_title) is None}
    numbered = [(n, line) for n, line in numbered if not line.strip() or strip_page_number(line) not in heads]
    lines = [line for _, line in numbered]
    blocks: list[_Block] = []
    i = 0
    while i < len(lines):
        heading = _heading_at(lines, i, book_title)
        if heading:
            title, end = heading
            blocks.append(_Block(title, numbered[i][0], level=1))
            i = end
            continue
        start = i
        while i < len(lines) and lines[i].strip():
            i += 1
        if i > start:
            blocks.append(_Block("\n".join(lines[start:i]), numbered[start][0]))
        i = max(i, start + 1)
    return _manuscript(path, blocks, 1, body.fields, body.skipped, "text", read_all, plain=True)


def _heading_at(lines: list[str], i: int, book_title: str) -> tuple[str, int] | None:
    """A chapter heading starting at line i: (its title, the line after it), or None. A heading stands alone:
    a blank line (or the start) before it and a blank line (or the end) after it. A heading that is only a
    number takes a short title-like line after it as its subtitle ("Chapter 1: Down the Rabbit-Hole")."""
    if not lines[i].strip() or (i > 0 and lines[i - 1].strip()):
        return None
    found = _classify(lines[i], book_title)
    if found is None:
        return None
    title, number_only = found
    end = i + 1
    if number_only:
        j = next((k for k in range(i + 1, min(i + 4, len(lines))) if lines[k].strip()), None)
        if j is not None and _is_subtitle(lines, j, book_title):
            title, end = f"{title}: {_tidy_title(lines[j].strip())}", j + 1
    if end < len(lines) and lines[end].strip():
        return None
    return title, end


def _classify(line: str, book_title: str) -> tuple[str, bool] | None:
    """(title, whether it is only a number) when the line is a heading by rule, else None."""
    text = line.strip()
    if len(text) > 80:
        return None
    m = _KEYWORD_HEADING.match(text)
    if m and _is_number(m.group(2)):
        heading = f"{m.group(1)} {m.group(2)}"
        rest = m.group(3).strip()
        return _tidy_title(f"{heading}: {rest}" if rest else heading), not rest
    roman = text.rstrip(".")
    if _ROMAN.match(roman) and roman:
        return roman, True
    if _NAMED_HEADING.match(text):
        return _tidy_title(text.rstrip(".:")), False
    centred = line[:1] in {" ", "\t"} and len(text) <= 60 and text.upper() == text and any(c.isalpha() for c in text)
    if centred and _words(text) != _words(book_title):  # the book's title atop the text is not a chapter
        return _tidy_title(text.rstrip(".")), False
    return None


def _is_number(token: str) -> bool:
    """1, 12, IV, xii, One, Twenty-One (a word of roman-numeral letters must be a valid numeral)."""
    words = re.fullmatch(rf"(?:{_NUM_WORDS})(?:[- ](?:{_NUM_WORDS}))?", token, re.IGNORECASE)
    return token.isdigit() or bool(words) or bool(_ROMAN.match(token.upper()))


def _is_subtitle(lines: list[str], j: int, book_title: str) -> bool:
    """A short title-like line: capitalised, no trailing comma, a full stop only in capitals, alone."""
    text = lines[j].strip()
    alone = j + 1 >= len(lines) or not lines[j + 1].strip()
    title_like = text[:1].isalpha() and text[:1].isupper() and text[-1] not in ",;:!?\"'"
    full_stop_ok = not text.endswith(".") or text.upper() == text
    return alone and title_like and full_stop_ok and len(text) <= 60 and _classify(lines[j], book_title) is None


def _tidy_title(title: str) -> str:
    """All-capital headings in title case ("CHAPTER XII: THE OLD MAN" -> "Chapter XII: The Old Man"); roman
    numerals stay in capitals."""
    if not any(c.isalpha() for c in title) or title.upper() != title:
        return title
    words = title.split()
    out = []
    for n, word in enumerate(words):
        bare = word.strip(".:,;")
        if _ROMAN.match(bare) and bare:
            out.append(word)
        elif n > 0 and bare.lower() in _SMALL_WORDS and not words[n - 1].endswith(":"):
            out.append(word.lower())
        else:
            out.append("-".join(part.capitalize() for part in word.split("-")))
    return " ".join(out)


def _words(text: str) -> str:
    return " ".join(re.sub(r"[\W_]+", " ", text.casefold()).split())


def _manuscript(
    path: Path,
    blocks: list[_Block],
    level: int,
    fields: dict[str, str],
    skipped: list[str],
    fmt: str,
    read_all: bool,
    *,
    plain: bool = False,
) -> Manuscript:
    """Blocks into chapters at headings of `level` (deeper headings are read as paragraphs); what comes before
    the first chapter is the title lines (metadata) and a preface."""
    first = next((n for n, b in enumerate(blocks) if b.level == level and level and not b.scene_break), len(blocks))
    meta, preface = _title_block(blocks[:first])
    fields = {**meta, **fields}
    title = clean_paragraph(fields.get("title", "")) or path.stem
    sections: list[Section] = []
    if any(not b.scene_break for b in preface):
        sections.append(Section(title, f"line {preface[0].line}", _paragraphs(preface, plain)))
    for block in blocks[first:]:
        if block.level == level and not block.scene_break:
            heading = clean_paragraph(block.text)
            sections.append(Section(heading, f"line {block.line}", skip=skip_reason_for_title(heading)))
        elif sections:
            sections[-1].paragraphs.extend(_paragraphs([block], plain))
    chapters, more_skipped = assemble_chapters(sections, read_all=read_all)
    skipped = skipped + more_skipped
    if not chapters:
        if not skipped:
            raise InputError(f"{path.name} has no text to read", "give the manuscript's text")
        raise InputError(f"{path.name}: {no_chapters(skipped)}", "check its headings, " + READ_ALL_HINT)
    book = Book(
        title=title,
        author=clean_paragraph(fields.get("author", "")),
        language=language_code(fields.get("language", "")),
        chapters=chapters,
        format="markdown" if fmt == "markdown" else "text",
        skipped=skipped,
    )
    return Manuscript(book=book)


def _paragraphs(blocks: list[_Block], plain: bool) -> list[Paragraph]:
    made = (Paragraph(kind="scene_break") if b.scene_break else make_paragraph(b.text, plain=plain) for b in blocks)
    return [p for p in made if p is not None]


def _title_block(blocks: list[_Block]) -> tuple[dict[str, str], list[_Block]]:
    """The leading title lines before the first chapter (at most 6 short paragraphs of at most 3 short lines,
    not sentences: "Title: ...", "Author: ...", "by ...", the title itself, production notes) as metadata,
    and the rest (a preface)."""
    meta: dict[str, str] = {}
    n = 0
    for block in blocks[:6]:
        lines = [line.strip() for line in block.text.split("\n") if line.strip()]
        note = bool(_PRODUCTION_NOTE.match(block.text))
        if block.level or block.scene_break or not (note or (len(lines) <= 3 and all(map(_is_title_line, lines)))):
            break
        n += 1
        for line in [] if note else lines:
            field, by = _FIELD.match(line), _BY.match(line)
            if field:
                meta.setdefault(field.group(1).lower(), field.group(2).strip())
            elif by:
                meta.setdefault("author", by.group(1).strip())
            elif not skip_reason_for_title(line):
                meta.setdefault("title", line)
    return meta, blocks[n:]


def _is_title_line(line: str) -> bool:
    return len(line) <= 80 and (line[-1] not in ".!?,;:" or line.upper() == line or bool(_FIELD.match(line)))
