"""A chapter as the narration chunks an engine is given: the title, then each paragraph's sentences (a long
one cut at clause boundaries), each with what is said (the lexicon's sayings, then the text normalised for
speech) and the silence after it.

A chunk's id is a content key: the hash of its kind, what is said and the language (and which occurrence of
that same chunk in the chapter it is), not its position, so editing one paragraph changes only the ids of
that paragraph's chunks, and the rest of the chapter's audio is reused.
"""

from __future__ import annotations

import hashlib
import re
from typing import Literal

from pydantic import BaseModel, Field

from models.system import base_language
from pipeline.products.audiobook.book import Chapter
from pipeline.text.lexicon import Lexicon
from pipeline.text.normalize import normalize, roman_heading
from pipeline.text.sentences import fit_chunks, split_sentences

_SPEAKABLE = re.compile(r"[^\W_]")
_SENTENCE_END = ".!?…;:"


class Pauses(BaseModel):
    """Seconds of silence after each kind of chunk. A scene break adds `scene_break` to the pause before it;
    `clause` follows a piece of a long sentence that was cut in two."""

    sentence: float = Field(0.35, ge=0)
    paragraph: float = Field(0.9, ge=0)
    scene_break: float = Field(2.0, ge=0)
    title: float = Field(1.6, ge=0)
    clause: float = Field(0.2, ge=0)

    def scaled(self, factor: float) -> Pauses:
        """Every pause times `factor` (a slower or faster narration)."""
        if factor < 0:
            raise ValueError(f"a pause factor cannot be negative ({factor})")
        return Pauses(**{name: value * factor for name, value in self.model_dump().items()})


class Chunk(BaseModel):
    """One piece of narration: what the engine is given, and the silence after it."""

    id: str  # sha256 hex[:16] of (kind, said, language, occurrence): stable when other paragraphs change
    kind: Literal["title", "sentence"]
    text: str  # as written: the report, and what QA compares with (both sides normalised)
    said: str  # after the lexicon, then normalize: what the engine is given
    paragraph: int  # 0 for the title, then 1.. (text paragraphs in the chapter)
    pause_after_s: float


def chunk_id(kind: str, said: str, language: str, occurrence: int = 0) -> str:
    """The content key of a chunk: the same words said the same way in the same language, n-th time."""
    doc = "\x1f".join((kind, said, base_language(language), str(occurrence)))
    return hashlib.sha256(doc.encode()).hexdigest()[:16]


def _said(text: str, language: str, lexicon: Lexicon | None) -> str:
    return normalize(lexicon.apply(text) if lexicon else text, language)


def chapter_chunks(
    chapter: Chapter,
    language: str,
    lexicon: Lexicon | None = None,
    *,
    max_chars: int = 300,
    pauses: Pauses | None = None,
) -> list[Chunk]:
    """The chapter's chunks in reading order: its title (its numbers said: "Chapter IV" -> "Chapter four";
    the pause `title` after it), then each paragraph's sentences (`sentence` between them, `paragraph` after
    the last; a scene break adds `scene_break` to the pause after the chunk before it). A chunk with nothing
    to say (only punctuation) is dropped, its pause kept by the chunk before it when longer. The last chunk's
    pause is 0: mastering adds the room tone at the tail."""
    pauses = pauses or Pauses()
    rows: list[tuple[Literal["title", "sentence"], str, str, int, float]] = []  # kind, text, said, paragraph, pause

    def add(kind: Literal["title", "sentence"], text: str, said: str, paragraph: int, pause: float) -> None:
        if _SPEAKABLE.search(said):
            rows.append((kind, text, said, paragraph, pause))
        elif rows and pause > rows[-1][4]:  # nothing to say: its pause folds into the chunk before it
            rows[-1] = (*rows[-1][:4], pause)

    title = " ".join(chapter.title.split())
    if title:
        lexical = lexicon.apply(title) if lexicon else title
        said = normalize(roman_heading(lexical, language), language)
        if said and said[-1] not in _SENTENCE_END:  # a heading read as a statement, not a question
            said += "."
        add("title", title, said, 0, pauses.title)
    number = 0
    scene_break_pending = False
    for paragraph in chapter.paragraphs:
        if paragraph.kind == "scene_break":
            if rows and not scene_break_pending:
                rows[-1] = (*rows[-1][:4], rows[-1][4] + pauses.scene_break)
            scene_break_pending = True
            continue
        pieces = _paragraph_pieces(paragraph.text, language, lexicon, max_chars)
        if not pieces:
            continue
        number += 1
        scene_break_pending = False
        for i, (text, said, whole_sentence) in enumerate(pieces):
            last = i == len(pieces) - 1
            pause = pauses.paragraph if last else (pauses.sentence if whole_sentence else pauses.clause)
            add("sentence", text, said, number, pause)
    chunks: list[Chunk] = []
    seen: dict[tuple[str, str], int] = {}
    for i, (kind, text, said, paragraph_no, pause) in enumerate(rows):
        occurrence = seen.get((kind, said), 0)
        seen[(kind, said)] = occurrence + 1
        chunks.append(
            Chunk(
                id=chunk_id(kind, said, language, occurrence),
                kind=kind,
                text=text,
                said=said,
                paragraph=paragraph_no,
                pause_after_s=0.0 if i == len(rows) - 1 else round(pause, 3),
            )
        )
    return chunks


def _paragraph_pieces(text: str, language: str, lexicon: Lexicon | None, max_chars: int) -> list[tuple[str, str, bool]]:
    """(text, said, ends a sentence) of each piece of a paragraph."""
    out: list[tuple[str, str, bool]] = []
    for sentence in split_sentences(text, language):
        pieces = _fit(sentence, language, lexicon, max_chars)
        out += [(piece, said, j == len(pieces) - 1) for j, (piece, said) in enumerate(pieces)]
    return out


def _fit(text: str, language: str, lexicon: Lexicon | None, max_chars: int) -> list[tuple[str, str]]:
    """A sentence whose saying is longer than `max_chars`, cut (as written) in proportion to how much longer
    its saying is ("1984" says "nineteen eighty-four"), again where a piece's saying is still too long."""
    said = _said(text, language, lexicon)
    if len(said) <= max_chars or len(text) < 2:
        return [(text, said)]
    budget = max(1, min(len(text) - 1, max_chars * len(text) // len(said)))
    pieces = fit_chunks([text], budget)
    if len(pieces) < 2:
        return [(text, said)]
    return [fitted for piece in pieces for fitted in _fit(piece, language, lexicon, max_chars)]
