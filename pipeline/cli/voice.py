"""`dubline voice`: enrol a consented voice (the enroll_voice DAG), list, show, retire profiles; series voice maps."""

from __future__ import annotations

import json
import time
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from pipeline.cli.console import console, stage_progress
from pipeline.cli.console import errors as _errors
from pipeline.core.config import Settings, get_settings
from pipeline.core.errors import InputError
from pipeline.voice.contracts import EnrollRequest

voice_app = typer.Typer(
    help="Voice profiles: enrol a person's consented voice (cloning), list, show, retire; series voice maps.",
    no_args_is_help=True,
)


def _figure(figures: dict[str, Any], name: str, fmt: str) -> str:
    value = figures.get(name)
    return format(value, fmt) if isinstance(value, int | float) else "-"


@voice_app.command("enroll")
@_errors
def voice_enroll(
    person: Annotated[str, typer.Argument(help="the person's handle in the consent ledger")],
    references: Annotated[list[str], typer.Argument(help="recordings of the person speaking (10 s or more in all)")],
    language: Annotated[str, typer.Option(help="ISO 639-1 code the voice will speak, e.g. es")],
    use: Annotated[str, typer.Option(help="dubbing | audio_description | audiobook")] = "dubbing",
    backend: Annotated[str, typer.Option(help="cloning backend; default DUBLINE_CLONE_BACKEND")] = "",
    budget: Annotated[float, typer.Option(help="seconds the search may take; default DUBLINE_CLONE_BUDGET_S")] = 0.0,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="show Airflow's task logs")] = False,
) -> None:
    """Build a cloned voice of PERSON from REFERENCES through the enroll_voice DAG (consent checked first)."""
    from pipeline.voice.enroll import check

    settings = get_settings()
    if budget < 0:
        raise InputError(f"--budget {budget:g} is negative", "give the search's seconds, e.g. --budget 300")
    # Fail fast, before Airflow starts: consent, then the references (the DAG checks both again).
    with console.status("checking consent and references..."):
        checked = check(settings, person, list(references), language, use, backend or None)
    console.print(
        f"[bold]dubline voice[/] {escape(person)}: consent {checked.consent_id} covers {escape(use)} in "
        f"{escape(checked.language)}; {len(checked.references)} reference(s), {checked.speech_s:.1f} s "
        f"of speech (cosine to the consented voice "
        f"{min(r.cosine for r in checked.references):.2f} or more); backend {escape(checked.backend)}"
    )
    request = EnrollRequest(
        person=person,
        references=list(references),
        language=checked.language,
        use=checked.use,  # type: ignore[arg-type]
        backend=checked.backend,
        budget_s=budget,
    )
    result = _run(settings, request, verbose)
    figs = result.get("figures", {})
    what = "recorded" if result.get("created") else "already recorded"
    has_campp = "held_out_similarity_campp" in figs
    campp = f" (CAM++ {_figure(figs, 'held_out_similarity_campp', '.3f')})" if has_campp else ""
    console.print(
        f"[bold green]voice profile {result.get('profile_id')}[/] {what} for {escape(person)} "
        f"({escape(str(result.get('backend')))}, {', '.join(result.get('languages', []))}): held-out similarity "
        f"{_figure(figs, 'held_out_similarity', '.3f')}{campp}, WER {_figure(figs, 'wer', '.3f')}, "
        f"search {_figure(figs, 'seconds', '.0f')} s{'' if result.get('searched') else ' (reused, not searched again)'}"
    )
    console.print(f"  {escape(str(result.get('uri')))}")


def _run(settings: Settings, request: EnrollRequest, verbose: bool) -> dict[str, Any]:
    """Run enroll_voice in-process (dag.test), showing each task and the search's progress."""
    from pipeline.cli.runner import run_dag

    log_path = None if verbose else settings.data_dir / "logs" / f"enroll-{time.strftime('%Y%m%d-%H%M%S')}.log"
    label = " ".join(request.references)  # what `dubline jobs` shows
    with stage_progress(hide=("publish",)):
        return dict(run_dag(settings, "enroll_voice", request.to_xcom(), log_path=log_path, label=label)["published"])


@voice_app.command("list")
@_errors
def voice_list(person: Annotated[str | None, typer.Option(help="only this person")] = None) -> None:
    """Every voice profile: person, backend, languages, figures, status."""
    from pipeline.ledger import db, voices

    table = Table()
    cols = ["id", "person", "backend", "languages", "similarity", "CAM++", "wer", "search s", "consent", "created"]
    cols.append("status")
    for col in cols:
        table.add_column(col, overflow="fold")
    with db.session(get_settings()) as s:
        for p in voices.profiles(s, person):
            colour = "green" if p.status == voices.ACTIVE else "yellow"
            table.add_row(
                str(p.id),
                p.person_id,
                p.backend,
                ",".join(p.languages),
                _figure(p.figures, "held_out_similarity", ".3f"),
                _figure(p.figures, "held_out_similarity_campp", ".3f"),
                _figure(p.figures, "wer", ".3f"),
                _figure(p.figures, "seconds", ".0f"),
                str(p.consent_id),
                p.created_at.strftime("%Y-%m-%d %H:%M"),
                f"[{colour}]{p.status}[/]",
            )
    console.print(table)


@voice_app.command("show")
@_errors
def voice_show(profile_id: Annotated[int, typer.Argument(help="voice profile id")]) -> None:
    """One voice profile: where it is, what it was built from, under which consent, its figures."""
    from pipeline.ledger import db, voices
    from pipeline.ledger.tables import VoiceReference

    with db.session(get_settings()) as s:
        p = voices.get_profile(s, profile_id)
        refs = [s.get(VoiceReference, rid) for rid in p.reference_ids]
        doc = {
            "id": p.id,
            "person": p.person_id,
            "status": p.status,
            "backend": p.backend,
            "languages": p.languages,
            "uri": p.uri,
            "profile_sha256": p.sha256,
            "figures": p.figures,
            "consent": p.consent_id,
            "references": [{"id": r.id, "uri": r.uri, "sha256": r.sha256} for r in refs if r is not None],
            "created_at": p.created_at.isoformat(),
        }
    console.print_json(json.dumps(doc, default=str))


@voice_app.command("retire")
@_errors
def voice_retire(
    profile_id: Annotated[int, typer.Argument(help="voice profile id")],
    reason: Annotated[str, typer.Option(help="why (recorded in the audit log)")] = "retired by the operator",
) -> None:
    """Stop using a voice profile for new lines (it stays recorded)."""
    from pipeline.ledger import db, voices

    with db.session(get_settings()) as s:
        p = voices.get_profile(s, profile_id)
        was = p.status
        voices.retire(s, p, reason)
    if was == voices.RETIRED:
        console.print(f"voice profile {profile_id} was already retired")
    else:
        console.print(f"retired voice profile {profile_id} of {escape(p.person_id)}")


@voice_app.command("series")
@_errors
def voice_series(
    series: Annotated[str, typer.Argument(help="the series' name")],
    language: Annotated[str | None, typer.Option(help="only this dub language")] = None,
) -> None:
    """The voice each speaker of a series keeps across its episodes, per language."""
    from pipeline.ledger import db, voices

    table = Table(title=f"series {series}", title_justify="left")
    for col in ("language", "speaker", "engine", "voice", "pitch", "person", "since"):
        table.add_column(col, overflow="fold")
    with db.session(get_settings()) as s:
        rows = voices.series_map(s, series, language.strip().lower() if language else None)
        for v in rows:
            table.add_row(
                v.language,
                v.speaker_key,
                v.engine,
                v.voice_id,
                f"{v.pitch:.2f}",
                v.person_id or "-",
                v.created_at.strftime("%Y-%m-%d"),
            )
    if not rows:
        raise InputError(f"series {series!r} has no stored voices", "a dub of one of its episodes stores them")
    console.print(table)
