"""`dubline detect`: read the inaudible mark of every audio stream of a file and look it up in the ledger."""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer
from rich.markup import escape

from pipeline.cli.console import console, errors
from pipeline.core.config import get_settings
from pipeline.core.errors import DublineError


@errors
def detect(
    file: Annotated[str, typer.Argument(help="an audio or video file (path or file:// URI)")],
    as_json: Annotated[bool, typer.Option("--json", help="print the readings as JSON")] = False,
) -> None:
    """Read the inaudible mark of every audio stream of FILE: presence, payload, confidence, and the
    ledger's record of the dub track that payload identifies (job, input, models, consents)."""
    from pipeline.ledger import marking

    settings = get_settings()
    readings = marking.detect_file(settings, file)
    ledger_error = ""
    for r in readings:
        if r.detection.payload is None or ledger_error:
            continue
        try:
            r.records = marking.lookup(settings, r.detection.payload)
        except DublineError as e:  # the mark stands on its own; the ledger only adds what it knows
            ledger_error = e.one_line()
    if as_json:
        console.print_json(
            json.dumps({"file": file, "streams": [_doc(r) for r in readings], "ledger_error": ledger_error})
        )
        return
    for r in readings:
        d = r.detection
        what = ", ".join(x for x in (r.language, r.title, r.codec, f"{r.seconds:.1f} s") if x)
        if d.payload is not None:
            verdict = f"[bold green]marked[/]: payload {d.payload:08x} ({d.payload})"
        elif d.present:
            verdict = "[yellow]marked[/], but the payload could not be read"
        else:
            verdict = "no mark"
        console.print(f"audio stream {r.index} ({escape(what)}): {verdict}  [dim]confidence {d.confidence:.1f}[/]")
        if r.public_key:
            console.print("  [yellow]warning[/]: read with dubline's public built-in key: anyone can make this mark")
        if d.payload is None:
            continue
        if ledger_error:
            console.print(f"  ledger: {escape(ledger_error)}")
        elif not r.records:
            console.print("  ledger: no dub track with this payload is recorded here")
        for rec in r.records:
            _print_record(rec)


def _doc(r: Any) -> dict[str, Any]:
    d = r.detection
    return {
        "index": r.index,
        "language": r.language,
        "title": r.title,
        "codec": r.codec,
        "seconds": r.seconds,
        "present": d.present,
        "payload": d.payload,
        "payload_hex": f"{d.payload:08x}" if d.payload is not None else None,
        "confidence": d.confidence,
        "consistent": d.consistent,
        "groups": d.groups,
        "records": r.records,
        "public_key": r.public_key,
    }


def _print_record(rec: dict[str, Any]) -> None:
    job = rec.get("job", {})
    inp = rec.get("input", {})
    console.print(
        f"  ledger: dub track artifact {rec['artifact']} ({escape(str(rec.get('language') or '?'))}), "
        f"recorded {rec['created_at'][:19]}"
    )
    console.print(
        f"    job {escape(str(job.get('job_id') or '-'))}, DAG run {escape(str(job.get('run_id') or '-'))}; "
        f"input {escape(str(job.get('input_filename') or inp.get('uri') or '-'))} "
        f"(sha256 {str(inp.get('sha256') or '-')[:16]}...)"
    )
    models = ", ".join(f"{m.get('role')} {m.get('id')} {m.get('version', '')}".strip() for m in rec.get("models", []))
    console.print(f"    models: {escape(models or '-')}")
    consents = rec.get("consents") or []
    if consents:
        for c in consents:
            console.print(
                f"    consent {c['id']}: {escape(str(c['person']))}, {', '.join(c['uses'])} in "
                f"{', '.join(c['languages'])}, {c['valid_from']}..{c.get('valid_until') or 'open'}"
            )
    else:
        console.print("    consents: none used (stock voices)")
    for uri in rec.get("published", []):
        console.print(f"    published in {escape(uri)}")
    if rec.get("flag"):
        console.print(f"    [red]flagged[/]: {escape(str(rec.get('flag_reason') or rec['flag']))}")
