"""`dubline db`, `dubline consent`, `dubline audit`, `dubline provenance`: the ledger's commands."""

from __future__ import annotations

import functools
import json
import sys
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from pipeline.cli.marking import init_signer
from pipeline.core.config import get_settings
from pipeline.core.errors import DublineError, InputError

_width = None if sys.stdout.isatty() else 160
console = Console(highlight=False, soft_wrap=True, width=_width)
err_console = Console(highlight=False, stderr=True, soft_wrap=True, width=_width)

db_app = typer.Typer(help="The project's database: migrations.", no_args_is_help=True)
consent_app = typer.Typer(
    help="Consent to use a person's voice: request, grant, revoke, inspect.", no_args_is_help=True
)
audit_app = typer.Typer(help="The append-only, hash-chained audit log.", no_args_is_help=True)
provenance_app = typer.Typer(help="Provenance manifests of published outputs.", no_args_is_help=True)

F = TypeVar("F", bound=Callable[..., Any])


def _errors(fn: F) -> F:
    """Print a DublineError as one line, without a traceback, and exit with its code."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except DublineError as e:
            err_console.print(f"[bold red]error:[/] {escape(e.one_line())}")
            raise typer.Exit(e.exit_code) from None

    return wrapper  # type: ignore[return-value]


def _date(text: str | None, option: str) -> date | None:
    if not text:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise InputError(f"{option} {text!r} is not a date", "write it as YYYY-MM-DD") from None


# --- db --------------------------------------------------------------------------------------------


@db_app.command("upgrade")
@_errors
def db_upgrade(revision: Annotated[str, typer.Option(help="target revision")] = "head") -> None:
    """Create or migrate the project's database to the latest schema (Alembic)."""
    from pipeline.ledger import db

    url = get_settings().resolved_db_url
    before, after = db.upgrade(url, revision)
    if before == after:
        console.print(f"{db.safe_url(url)}: already at revision {after}")
    else:
        console.print(f"{db.safe_url(url)}: migrated from {before or '(empty)'} to revision {after}")


@db_app.command("current")
@_errors
def db_current() -> None:
    """The revision the database is at, and the one this dubline needs."""
    from pipeline.ledger import db

    url = get_settings().resolved_db_url
    current, head = db.current_revision(url), db.head_revision()
    state = "up to date" if current == head else "needs `dubline db upgrade`"
    console.print(f"{db.safe_url(url)}: revision {current or '(none)'}; latest {head}: {state}")


# --- consent ---------------------------------------------------------------------------------------


@consent_app.command("request")
@_errors
def consent_request(
    person: Annotated[str, typer.Option(help="the person's handle, e.g. joe")],
    uses: Annotated[str, typer.Option(help="comma list of dubbing, audio_description, audiobook")],
    languages: Annotated[str, typer.Option(help="comma list of ISO 639-1 codes, e.g. es,fr")],
    until: Annotated[str | None, typer.Option(help="last day the consent covers (YYYY-MM-DD)")] = None,
    projects: Annotated[str | None, typer.Option(help="comma list of projects; default any project")] = None,
    name: Annotated[str | None, typer.Option(help="the person's full name, as they will say it")] = None,
) -> None:
    """Print the statement the person must read aloud (with a random code) for `consent grant`."""
    from pipeline.voice.consent import parse_list, parse_uses, request_consent

    req = request_consent(
        get_settings(),
        person,
        parse_uses(uses),
        parse_list(languages),
        _date(until, "--until"),
        parse_list(projects) or None,
        name,
    )
    console.print(f"Consent request {req.consent_id} for {escape(person)}. Have them read this aloud and record it:\n")
    console.print(f"  [bold]{escape(req.statement)}[/]\n")
    console.print(
        f"then: dubline consent grant --person {escape(person)} --recording FILE --reference FILE [--reference ...]"
    )


@consent_app.command("grant")
@_errors
def consent_grant(
    person: Annotated[str, typer.Option(help="the person's handle")],
    recording: Annotated[Path, typer.Option(help="the person reading the statement")],
    reference: Annotated[list[Path], typer.Option(help="a recording of the voice to be cloned; repeat for more")],
    request: Annotated[int | None, typer.Option(help="the request id; default the latest open one")] = None,
    supplied_by: Annotated[str | None, typer.Option(help="who supplied the references")] = None,
) -> None:
    """Check the recording (words and code; voice against the references) and record the consent."""
    from pipeline.voice.consent import grant_consent

    with console.status("transcribing and comparing voices..."):
        g = grant_consent(get_settings(), person, recording, list(reference), request, supplied_by)
    w, v = g.verification["words"], g.verification["voice"]
    console.print(
        f"[green]granted[/] consent {g.consent_id}: word error rate {w['wer']:.2f} (max {w['max_wer']:.2f}), "
        f"code heard, speaker cosine {v['cosine_min']:.2f} (min {v['min_cosine']:.2f})"
    )


@consent_app.command("revoke")
@_errors
def consent_revoke(
    person: Annotated[str, typer.Option(help="the person's handle")],
    reason: Annotated[str, typer.Option(help="why (recorded)")],
    consent: Annotated[int | None, typer.Option(help="one consent id; default all of the person's")] = None,
) -> None:
    """Revoke consent: synthesis in the person's voice stops, outputs made under it are flagged."""
    from pipeline.voice.consent import revoke_consent

    for cid, flagged in revoke_consent(get_settings(), person, reason, consent):
        console.print(f"revoked consent {cid}; {flagged} artifact(s) flagged (see `dubline consent impact`)")


@consent_app.command("list")
@_errors
def consent_list(person: Annotated[str | None, typer.Option(help="only this person")] = None) -> None:
    """Every consent record: person, uses, languages, projects, validity, status."""
    from sqlalchemy import select

    from pipeline.ledger import consents as ledger
    from pipeline.ledger import db
    from pipeline.ledger.tables import Consent

    settings = get_settings()
    table = Table()
    for col in ("id", "person", "uses", "languages", "projects", "from", "until", "status"):
        table.add_column(col, overflow="fold")
    with db.session(settings) as s:
        ledger.expire_due(s, date.today())
        q = select(Consent).order_by(Consent.id)
        if person:
            q = q.where(Consent.person_id == person)
        for c in s.scalars(q):
            colour = {"granted": "green", "revoked": "red", "expired": "yellow"}.get(c.status, "white")
            table.add_row(
                str(c.id),
                c.person_id,
                ",".join(c.uses),
                ",".join(c.languages),
                ",".join(c.projects or ["any"]),
                c.valid_from.isoformat(),
                c.valid_until.isoformat() if c.valid_until else "-",
                f"[{colour}]{c.status}[/]",
            )
    console.print(table)


@consent_app.command("show")
@_errors
def consent_show(consent_id: Annotated[int, typer.Argument(help="consent id")]) -> None:
    """One consent: scope, statement, evidence, verification figures, events."""
    from pipeline.ledger import consents as ledger
    from pipeline.ledger import db
    from pipeline.ledger.tables import Consent

    with db.session(get_settings()) as s:
        ledger.expire_due(s, date.today())
        c = s.get(Consent, consent_id)
        if c is None:
            raise InputError(f"no consent {consent_id}", "see `dubline consent list`")
        doc = {
            "id": c.id,
            "person": c.person_id,
            "status": c.status,
            "uses": c.uses,
            "languages": c.languages,
            "projects": c.projects or "any",
            "valid_from": c.valid_from.isoformat(),
            "valid_until": c.valid_until.isoformat() if c.valid_until else None,
            "statement": c.statement,
            "recording": {"uri": c.recording_uri, "sha256": c.recording_sha256},
            "references": [{"id": r.id, "uri": r.uri, "sha256": r.sha256} for r in ledger.references(s, c.id)],
            "verification": c.verification,
            "events": [
                {"event": e.event, "at": e.at.isoformat(), "actor": e.actor, "reason": e.reason}
                for e in ledger.events(s, c.id)
            ],
        }
    console.print_json(json.dumps(doc, default=str))


@consent_app.command("impact")
@_errors
def consent_impact(person: Annotated[str, typer.Option(help="the person's handle")]) -> None:
    """Every artifact made with this person's voice, and whether its consent was revoked."""
    from pipeline.ledger import consents as ledger
    from pipeline.ledger import db

    table = Table()
    for col in ("artifact", "stage", "uri", "sha256", "consents", "created", "flag"):
        table.add_column(col, overflow="fold")
    with db.session(get_settings()) as s:
        ledger.get_person(s, person)
        rows = ledger.impact(s, person)
        for art, cids in rows:
            table.add_row(
                str(art.id),
                art.stage,
                art.uri,
                art.sha256[:12],
                ",".join(map(str, cids)),
                art.created_at.strftime("%Y-%m-%d %H:%M"),
                f"[red]{escape(art.flag_reason or art.flag)}[/]" if art.flag else "",
            )
    console.print(table)
    flagged = sum(1 for art, _ in rows if art.flag)
    console.print(
        f"{len(rows)} artifact(s) made with the voice of {escape(person)}; {flagged} flagged (consent revoked)"
    )


# --- audit -----------------------------------------------------------------------------------------


@audit_app.command("verify")
@_errors
def audit_verify(
    expect_head: Annotated[str | None, typer.Option(help="the head hash recorded elsewhere earlier")] = None,
) -> None:
    """Recompute the audit chain; report every edited, inserted or deleted row."""
    from pipeline.ledger import audit, db

    with db.session(get_settings()) as s:
        result = audit.verify(s, expect_head)
    if result.ok:
        console.print(
            f"[green]ok[/]: {result.rows} rows, chain intact ({result.seconds:.2f} s); head {result.head_hash}"
        )
        return
    for p in result.problems:
        err_console.print(f"[red]tampered:[/] {escape(p)}")
    err_console.print(f"{len(result.problems)} problem(s) in {result.rows} rows ({result.seconds:.2f} s)")
    raise typer.Exit(7)


# --- provenance ------------------------------------------------------------------------------------


@provenance_app.command("show")
@_errors
def provenance_show(uri: Annotated[str, typer.Argument(help="a published output: path, file:// or s3:// URI")]) -> None:
    """Print the output's provenance manifest."""
    from pipeline.ledger import provenance

    console.print_json(json.dumps(provenance.show(get_settings(), uri), default=str))


@provenance_app.command("verify")
@_errors
def provenance_verify(
    uri: Annotated[str, typer.Argument(help="a published output: path, file:// or s3:// URI")],
) -> None:
    """Recompute the hashes of the output and of its whole chain of inputs, check the C2PA manifest of a
    signed mp4/m4a (signature, hash binding, certificate); report each mismatch or sign of tampering."""
    from pipeline.ledger import provenance

    checked, bad = provenance.verify(get_settings(), uri)
    for line in checked:
        console.print(f"  [green]ok[/]       {escape(line.removesuffix(': ok'))}")
    for line in bad:
        err_console.print(f"  [red]mismatch[/] {escape(line)}")
    if bad:
        raise typer.Exit(7)
    credentials = [line for line in checked if line.startswith("C2PA manifest")]
    note = "; C2PA manifest intact (signature, hash binding, this project's CA)" if credentials else ""
    console.print(f"[green]verified[/]: {len(checked) - len(credentials)} hashes match{note}")


provenance_app.command("init-signer")(init_signer)
