"""Audiobooks' typed contracts: the run configuration (`BookRequest`, validated once where a job enters: the
CLI or the DAG's `configure` task) and what the book's stages hand on (read, narrate per chapter, package,
publish)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field, field_validator

from pipeline.core.langs import normalize_language
from pipeline.core.stagerun import Contract, JsonDoc, StageResult

Style = Literal["", "neutral", "warm", "excited", "calm", "serious"]


class BookRequest(Contract):
    """One book as asked for: the `audiobook` DAG's params, normalised and checked in one place."""

    PARAMS_NAME = "audiobook"
    PARAMS_HINT = "fix it (see `dubline audiobook --help`)"

    book: str = Field(min_length=1, description="EPUB, Markdown or text manuscript: a path, file:// or s3:// URI")
    output: str = Field("", description="folder, file:// or s3:// location; empty = the store")
    voice: str = Field(
        "",
        description="narrator: ENGINE:VOICE (a stock voice, e.g. kokoro:jm_kumo), person:ID (their consented, "
        "cloned voice), or empty (the stock voice for the book's language)",
    )
    style: Style = Field("", description="a named delivery style; empty = neutral")
    lexicon: str = Field("", description="pronunciation lexicon, a TSV file (word, how to say it); empty = none")
    language: str = Field("", description="ISO 639-1 code; empty = the manuscript's metadata (else English)")
    narrator: str = Field("", description="narrator's name for the tags; empty = the voice's")
    read_all: bool = Field(False, description="also read front and back matter (contents, copyright page)")
    ident: str = Field(
        "", description="a composed musical ident before the narration and a closing bed after it: a mood "
        "(calm, bright, tense, sad); empty = none"
    )
    ident_at: Literal["book", "chapter"] = Field(
        "book", description="book: the ident opens the first chapter and the bed closes the last; chapter: every one"
    )

    @field_validator("book", "output", "voice", "lexicon", "narrator", "ident", mode="before")
    @classmethod
    def _strip(cls, v: object) -> str:
        return str(v or "").strip()

    @field_validator("ident", mode="after")
    @classmethod
    def _ident(cls, v: str) -> str:
        from pipeline.audio.compose import MOODS

        v = v.lower()
        if v and v not in MOODS:
            raise ValueError(f"ident mood {v!r} is not one of {', '.join(MOODS)}")
        return v

    @field_validator("style", mode="before")
    @classmethod
    def _style(cls, v: object) -> str:
        return str(v or "").strip().lower()

    @field_validator("language", mode="before")
    @classmethod
    def _language(cls, v: object) -> str:
        return normalize_language(str(v) if v is not None else None)

    @field_validator("voice")
    @classmethod
    def _voice(cls, v: str) -> str:
        if v and (":" not in v or not v.split(":", 1)[0] or not v.split(":", 1)[1]):
            raise ValueError(f"{v!r} is not ENGINE:VOICE or person:ID (e.g. kokoro:jm_kumo, person:joe)")
        return v


class ChapterInfo(BaseModel):
    index: int
    title: str
    words: int
    chars: int
    sha256: str  # of the chapter's content as read (title and paragraphs): an edit changes it


class BookRead(StageResult):
    """The manuscript read into chapters (the Book JSON and the cover in the store)."""

    filename: str
    stem: str
    source_sha256: str
    source_uri: str  # the manuscript as read, kept in the store (provenance's input)
    format: str
    book_uri: str
    cover_uri: str | None = None
    title: str
    author: str
    language: str
    chapters: list[ChapterInfo]
    skipped: list[str] = []
    words: int


class NarratorInfo(BaseModel):
    """The voice a book was read in: the engine's model info, the voice id, the person (a cloned voice) and the
    profile it was cloned into."""

    engine: dict[str, str]
    voice: str
    person: str | None = None
    profile: str | None = None


class ChapterNarrated(StageResult):
    """One chapter narrated, QA'd and mastered to ACX: a 44.1 kHz mono WAV in the store (`acx`: its figures)."""

    index: int
    title: str
    audio_uri: str
    duration_s: float
    chunks: int
    synthesized: int  # chunks synthesized by this run (the rest were reused, content-addressed)
    chars: int
    voice: NarratorInfo
    consents: list[int] = []
    acx: JsonDoc
    qa: JsonDoc | None = None
    report_uri: str  # per-chunk report (text, what was said, pause, QA) as JSON in the store
    music: JsonDoc | None = None  # the composed ident and closing bed (`--ident`): their provenance (generated)


class Packaged(StageResult):
    """The book's deliverables built, marked and signed in the store: the m4b and one MP3 per chapter. `acx`
    holds each chapter's ACX figures as measured on its delivered MP3 (chapter index -> report); `watermark`
    the book's one mark (every chapter carries the same payload)."""

    m4b_uri: str
    mp3: dict[str, str]  # delivered name -> store URI
    markers: list[JsonDoc]  # each chapter's {index, title, start_s, end_s} in the m4b
    duration_s: float
    acx: dict[str, JsonDoc]
    watermark: JsonDoc | None = None
    c2pa: JsonDoc


class BookPublished(Contract):
    """Where the book went: the location, each file, the report, presigned links (S3 only), provenance and
    the job manifest."""

    location: str
    files: dict[str, str]
    report: str
    links: dict[str, str] | None = None
    provenance: dict[str, str] = {}
    manifest: str = ""
