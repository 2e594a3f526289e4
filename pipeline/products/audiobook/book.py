"""The book as read from a manuscript: title, author, language, chapters of paragraphs. Every reader
(EPUB, Markdown, plain text) produces a `Manuscript`; chunking and narration read only this model.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field


class Paragraph(BaseModel):
    """One paragraph of cleaned text, or a scene break (`***`, `<hr/>`): a longer pause, nothing spoken."""

    text: str = ""
    kind: Literal["text", "scene_break"] = "text"


class Chapter(BaseModel):
    """One chapter in reading order. `title` is read aloud before the text; `source` says where it came from
    (an EPUB item and fragment, a Markdown or text line) for error messages and the report."""

    index: int = Field(ge=1)
    title: str
    paragraphs: list[Paragraph]
    source: str = ""

    @property
    def words(self) -> int:
        return sum(len(p.text.split()) for p in self.paragraphs)

    @property
    def chars(self) -> int:
        return sum(len(p.text) for p in self.paragraphs)


class Book(BaseModel):
    """What is read aloud, and the metadata the deliverables carry."""

    title: str
    author: str = ""
    language: str = ""  # ISO 639-1 from the metadata; "" = not stated (the request may say)
    chapters: list[Chapter]
    format: Literal["epub", "markdown", "text"]
    skipped: list[str] = Field(default_factory=list)  # sections not read, each "title: why" (front/back matter)


class Manuscript(BaseModel):
    """A read manuscript: the book, and the cover image when there is one."""

    book: Book
    cover: bytes | None = None
    cover_type: str = ""  # its media type: image/jpeg or image/png
