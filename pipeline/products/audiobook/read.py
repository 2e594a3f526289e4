"""read: the manuscript (a path, file:// or s3:// URI) read into chapters; the Book JSON and the cover go to
the store. Content-addressed by the manuscript's sha256 and what changes the reading (read_all, language), so
the same manuscript is read once however often the book runs.

Everything a user can fix is refused here, before a word is spoken: an unreadable manuscript (the readers'
InputErrors name the file), a book with no chapters, a language no installed voice reads, an unknown style,
a lexicon with a bad line.
"""

from __future__ import annotations

import hashlib
from datetime import date
from pathlib import Path

from models.registry import sha256_file
from pipeline.core.config import Settings
from pipeline.core.errors import InputError
from pipeline.core.inputs import resolve_input
from pipeline.core.stagerun import StageRun, run_stage
from pipeline.core.storage import put_json
from pipeline.products.audiobook.book import Chapter, Manuscript
from pipeline.products.audiobook.contracts import BookRead, BookRequest, ChapterInfo

READER_VERSION = 2  # bump when the readers change what they read from the same manuscript
DEFAULT_LANGUAGE = "en"


def chapter_sha256(chapter: Chapter) -> str:
    """The content hash of a chapter as read: an edit anywhere in it changes it."""
    return hashlib.sha256(chapter.model_dump_json(exclude={"index", "source"}).encode()).hexdigest()


def locate(settings: Settings, where: str) -> Path:
    """A local path for the manuscript; InputError naming it when it is not there."""
    scratch = settings.data_dir / "work" / "inputs"
    scratch.mkdir(parents=True, exist_ok=True)
    path = resolve_input(where, scratch, settings)
    if not path.is_file():
        raise InputError(f"manuscript {where} does not exist", "give the path of an EPUB, Markdown or text file")
    return path


def preflight(settings: Settings, request: BookRequest, today: str | None = None) -> Manuscript:
    """Read the manuscript and check the voice, the style and the lexicon: what the CLI calls before it starts
    a run, and what the read stage checks before it stores anything. Returns it with the book's language set."""
    from pipeline.products.audiobook.manuscript import read_manuscript
    from pipeline.products.audiobook.narrate import delivery, load_lexicon
    from pipeline.products.audiobook.narrator import choose_narrator

    path = locate(settings, request.book)
    manuscript = read_manuscript(path, read_all=request.read_all)
    book = manuscript.book
    if not book.chapters or not any(c.words for c in book.chapters):
        raise InputError(f"{path.name} has no text to read", "check that it is the book's manuscript")
    language = request.language or book.language or DEFAULT_LANGUAGE
    book = book.model_copy(update={"language": language})
    delivery(request.style)  # an unknown style is refused here
    load_lexicon(settings, request.lexicon)
    day = date.fromisoformat(today) if today else date.today()
    choose_narrator(settings, request.voice, language, day, path.name)
    return manuscript.model_copy(update={"book": book})


def read_book(settings: Settings, request: BookRequest) -> BookRead:
    path = locate(settings, request.book)
    sha = sha256_file(path)
    material = {"sha256": sha, "read_all": request.read_all, "language": request.language, "v": READER_VERSION}

    def work(run: StageRun) -> BookRead:
        manuscript = preflight(settings, request)
        book = manuscript.book
        cover_uri = None
        if manuscript.cover:
            ext = {"image/png": "png"}.get(manuscript.cover_type, "jpg")
            cover_uri = run.put_bytes(f"cover.{ext}", manuscript.cover)
        source_uri = run.put(f"source{path.suffix.lower()}", path)
        book_uri = put_json(run.store, f"{run.prefix}/book.json", book.model_dump(mode="json"))
        return BookRead(
            filename=path.name,
            stem=path.stem,
            source_sha256=sha,
            source_uri=source_uri,
            format=book.format,
            book_uri=book_uri,
            cover_uri=cover_uri,
            title=book.title,
            author=book.author,
            language=book.language,
            chapters=[
                ChapterInfo(index=c.index, title=c.title, words=c.words, chars=c.chars, sha256=chapter_sha256(c))
                for c in book.chapters
            ],
            skipped=book.skipped,
            words=sum(c.words for c in book.chapters),
        )

    done = run_stage(settings, "read_book", material, work, BookRead, label=path.stem)
    # keyed by content: a reused result keeps the names of the job that made it; the names are this job's
    return done.model_copy(update={"filename": path.name, "stem": path.stem})
