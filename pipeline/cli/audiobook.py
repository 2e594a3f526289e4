"""`dubline audiobook`: a manuscript in, an ACX-ready narrated book out, through the audiobook DAG run in-process."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from pipeline.cli.console import console, errors, run_and_report
from pipeline.core.config import get_settings


@errors
def audiobook(
    book: Annotated[str, typer.Argument(help="EPUB, Markdown or text manuscript (path, file:// or s3:// URI)")],
    voice: Annotated[
        str, typer.Option(help="narrator: ENGINE:VOICE (stock, e.g. kokoro:jm_kumo) or person:ID (cloned, consented)")
    ] = "",
    style: Annotated[str, typer.Option(help="delivery style: neutral|warm|excited|calm|serious")] = "",
    lexicon: Annotated[str, typer.Option(help="pronunciation lexicon: a TSV file, word<TAB>how to say it")] = "",
    language: Annotated[str, typer.Option(help="the book's language (ISO 639-1); default: its metadata")] = "",
    narrator: Annotated[str, typer.Option(help="narrator's name for the tags; default: the voice's")] = "",
    read_all: Annotated[bool, typer.Option("--read-all", help="also read front and back matter (contents...)")] = False,
    ident: Annotated[
        str, typer.Option(help="a composed ident before and a bed after the narration: calm|bright|tense|sad")
    ] = "",
    ident_at: Annotated[str, typer.Option(help="book (first and last chapter) or chapter (every one)")] = "book",
    out: Annotated[Path, typer.Option("--out", help="folder for the outputs")] = Path("audiobooks"),
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="show Airflow's task logs")] = False,
) -> None:
    """Narrate BOOK into an m4b with chapters and one MP3 per chapter, mastered to ACX, through the audiobook DAG."""
    from pipeline.products.audiobook.contracts import BookRequest
    from pipeline.products.audiobook.read import preflight

    settings = get_settings()
    request = BookRequest.from_params(
        {
            "book": book,
            "output": str(out.resolve()),
            "voice": voice,
            "style": style,
            "lexicon": str(Path(lexicon).expanduser().resolve()) if lexicon.strip() else "",
            "language": language,
            "narrator": narrator,
            "read_all": read_all,
            "ident": ident,
            "ident_at": ident_at,
        }
    )
    read = preflight(settings, request).book  # bad input, voice, style or lexicon: refused before Airflow starts
    words = sum(c.words for c in read.chapters)
    console.print(
        f"[bold]dubline[/] {Path(book).name}: {read.title!r}"
        + (f" by {read.author}" if read.author else "")
        + f", {len(read.chapters)} chapters, {words} words, language {read.language}"
    )
    report = run_and_report(settings, "audiobook", request.to_xcom(), verbose, "audiobook", label=book)
    if report is not None:
        print_chapters(report)


def print_chapters(report: dict[str, Any]) -> None:
    """One row per chapter: length, chunks (spoken now / in all), QA, and the ACX checks."""
    table = Table(title="chapters", title_justify="left")
    for col in ("#", "title", "length", "chunks", "QA passed", "RMS dB", "peak dB", "floor dB", "ACX"):
        table.add_column(col, justify="right" if col not in ("title", "ACX") else "left")
    for c in report.get("chapters", []):
        acx, qa = c.get("acx") or {}, c.get("qa") or {}
        table.add_row(
            str(c["index"]),
            str(c["title"])[:40],
            time.strftime("%H:%M:%S", time.gmtime(float(c.get("duration_s", 0)))),
            f"{c.get('synthesized', 0)}/{c.get('chunks', 0)}",
            f"{qa.get('passed')}/{qa.get('lines')}" if qa else "-",
            f"{acx.get('rms_db', 0):.1f}",
            f"{acx.get('peak_db', 0):.1f}",
            f"{acx.get('noise_floor_db', 0):.1f}",
            "pass" if acx.get("passed") else "FAIL: " + "; ".join(acx.get("failures") or []),
        )
    console.print(table)
    for c in report.get("chapters", []):
        music = c.get("music") or {}
        parts = [p for p in ("opening", "closing") if p in music]
        if parts:
            console.print(f"chapter {c['index']}: composed {music['mood']} {' and '.join(parts)} (generated)")
