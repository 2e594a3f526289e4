"""`dubline consent`: request, grant, revoke and inspect consent to use a person's voice."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from pipeline.cli.console import console, errors
from pipeline.core.config import get_settings
from pipeline.core.errors import InputError

consent_app = typer.Typer(
    help="Consent to use a person's voice: request, grant, revoke, inspect.", no_args_is_help=True
)


def _date(text: str | None, option: str) -> date | None:
    if not text:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise InputError(f"{option} {text!r} is not a date", "write it as YYYY-MM-DD") from None


@consent_app.command("request")
@errors
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
@errors
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
@errors
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
@errors
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
@errors
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
@errors
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
