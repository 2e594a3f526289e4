"""Read a manuscript, whatever its format: the reader is chosen by sniffing (a zip whose `mimetype` is
application/epub+zip is an EPUB whatever its name) and else by the file's extension."""

from __future__ import annotations

import zipfile
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import Literal

from pipeline.core.errors import InputError
from pipeline.products.audiobook.book import Manuscript
from pipeline.products.audiobook.epub import read_epub
from pipeline.products.audiobook.markup import read_markdown, read_text

Format = Literal["epub", "markdown", "text"]
EXTENSIONS: dict[str, Format] = {
    ".epub": "epub",
    ".md": "markdown",
    ".markdown": "markdown",
    ".txt": "text",
    ".text": "text",
}
ACCEPTED = "EPUB 2 or 3 (.epub), Markdown (.md, .markdown) or plain text (.txt, .text)"
_READERS: dict[Format, Callable[..., Manuscript]] = {"epub": read_epub, "markdown": read_markdown, "text": read_text}


def read_manuscript(path: Path, *, read_all: bool = False) -> Manuscript:
    """The book in a manuscript file. `read_all` also reads the front and back matter skipped by rule (each
    skipped section is listed in `Book.skipped` as "title: why"). Unusable input is an InputError naming the
    file, with what to do."""
    return _READERS[manuscript_format(path)](path, read_all=read_all)


def manuscript_format(path: Path) -> Format:
    """The manuscript's format (epub, markdown or text); an InputError for a missing, empty or unknown file."""
    if not path.is_file():
        raise InputError(f"{path.name}: no such file ({path})", "check the manuscript's path")
    if path.stat().st_size == 0:
        raise InputError(f"{path.name} is empty", "give the manuscript's text")
    if _is_epub_zip(path):
        return "epub"
    found = EXTENSIONS.get(path.suffix.lower())
    if found is None:
        raise InputError(f"{path.name} is not a manuscript format dubline reads", f"give {ACCEPTED}")
    return found


def _is_epub_zip(path: Path) -> bool:
    """A zip whose first entry, `mimetype`, says application/epub+zip."""
    try:
        with zipfile.ZipFile(path) as zf:
            return zf.read("mimetype").strip() == b"application/epub+zip"
    except (zipfile.BadZipFile, KeyError, OSError, EOFError, ValueError, NotImplementedError, zlib.error):
        return False
