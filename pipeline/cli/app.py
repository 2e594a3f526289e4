"""The `dubline` command."""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from pipeline.cli.ledger import audit_app, consent_app, db_app, provenance_app
from pipeline.cli.marking import detect
from pipeline.cli.voice import voice_app
from pipeline.core.config import get_settings
from pipeline.core.errors import ConfigError, DublineError

app = typer.Typer(
    help="dubline: batch dubbing and accessibility pipeline.", no_args_is_help=True, pretty_exceptions_enable=False
)
models_app = typer.Typer(help="Model weights: list, install, verify, convert.", no_args_is_help=True)
app.add_typer(models_app, name="models")
app.add_typer(db_app, name="db")
app.add_typer(consent_app, name="consent")
app.add_typer(audit_app, name="audit")
app.add_typer(provenance_app, name="provenance")
app.add_typer(voice_app, name="voice")
app.command("detect")(detect)

# A console on a duplicate of stdout, so that progress still reaches the terminal while Airflow's task
# logs (written to fd 1 and 2) are sent to a log file.
_width = None if sys.stdout.isatty() else 120
console = Console(file=os.fdopen(os.dup(1), "w", buffering=1), highlight=False, width=_width)
err_console = Console(file=os.fdopen(os.dup(2), "w", buffering=1), highlight=False, stderr=True, width=_width)


def _fail(e: DublineError) -> None:
    err_console.print(f"[bold red]error:[/] {escape(e.one_line())}", soft_wrap=True)
    raise typer.Exit(e.exit_code)


def _langs(values: list[str]) -> list[str]:
    out: list[str] = []
    for v in values:
        for part in v.split(","):
            part = part.strip().lower()
            if part and part not in out:
                out.append(part)
    return out


@app.command()
def dub(
    input: Annotated[str, typer.Argument(help="video or audio file (path, file:// or s3:// URI)")],
    to: Annotated[list[str], typer.Option("--to", help="target language (ISO 639-1); repeat for more")],
    source: Annotated[str, typer.Option("--from", help="source language; default: detect")] = "",
    out: Annotated[Path, typer.Option("--out", help="folder for the outputs")] = Path("dubbed"),
    mkv: Annotated[bool, typer.Option("--mkv", help="deliver an mkv beside the mp4")] = False,
    m4a: Annotated[bool, typer.Option("--m4a", help="deliver an audio-only m4a beside the video")] = False,
    stems: Annotated[bool, typer.Option("--stems", help="deliver the dialogue, bed and dub stems as WAV")] = False,
    loudness: Annotated[str, typer.Option(help="ebu_r128 | atsc_a85 | streaming | acx | none")] = "",
    subtitles: Annotated[str, typer.Option(help="subtitle profile: broadcast (17 chars/s) or children (13)")] = "",
    glossary: Annotated[str, typer.Option(help="translation glossary, a JSON or TSV file (README: Glossary)")] = "",
    speakers: Annotated[int, typer.Option(help="number of speakers; 0 = find out", min=0)] = 0,
    speaker: Annotated[
        list[str] | None,
        typer.Option("--speaker", help="SPEAKER=PERSON: that speaker is an enrolled person (their cloned voice)"),
    ] = None,
    series: Annotated[str, typer.Option(help="series name: speakers keep their voices across episodes")] = "",
    style: Annotated[str, typer.Option(help="delivery style for every line: neutral|warm|excited|calm|serious")] = "",
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="show Airflow's task logs")] = False,
) -> None:
    """Dub INPUT into the --to languages through the dub_video DAG, run in-process."""
    try:
        from pipeline.products.dubbing.cast import parse_speaker_people

        people = parse_speaker_people(",".join(speaker or []))
        if style:
            from pipeline.speech.prosody import get_style

            get_style(style)  # a clear error for an unknown style, before Airflow starts
        if glossary:
            from pipeline.products.dubbing.translate import load_glossary

            glossary = str(Path(glossary).expanduser().resolve())
            load_glossary(get_settings(), glossary)  # a clear error for a bad file, before Airflow starts
        extra = {
            "glossary": glossary,
            "containers": ["mp4"] + (["mkv"] if mkv else []) + (["m4a"] if m4a else []),
            "subtitle_profile": subtitles or get_settings().subtitle_profile,
            "loudness_profile": loudness or get_settings().loudness_profile,
            "stems": stems,
            "speakers": speakers,
            "speaker_people": people,
            "series": series.strip(),
            "style": style.strip().lower(),
        }
        _dub(input, _langs(to), source.strip().lower(), out, verbose, extra)
    except DublineError as e:
        _fail(e)


def _dub(input: str, targets: list[str], source: str, out: Path, verbose: bool, extra: dict[str, Any]) -> None:
    from pipeline.cli.runner import run_dag
    from pipeline.core import progress
    from pipeline.core.engines import choose_translator, get_asr
    from pipeline.stages.ingest import check_input
    from pipeline.text.subtitles import profile

    settings = get_settings()
    if not targets:
        raise ConfigError("no target language given", "add --to es (or another language)")
    profile(extra["subtitle_profile"])  # a clear error for an unknown profile
    from pipeline.audio.loudness import profile as loudness_profile

    loudness_profile(extra["loudness_profile"])
    # Fail fast, before Airflow starts, on what can be checked up front.
    info = check_input(input, settings.data_dir / "work")
    get_asr(settings)  # weights present and verified
    if source:
        for t in targets:
            if t == source:
                raise ConfigError(f"target language {t} is the source language", "pick another --to language")
            choose_translator(settings, source, t)
    kind = "video" if info.has_video else "audio"
    console.print(f"[bold]dubline[/] {Path(input).name}: {kind}, {info.duration:.1f} s -> {', '.join(targets)}")
    t0 = time.perf_counter()
    started: dict[str, float] = {}
    status = console.status("starting Airflow (dag.test)...")
    status.start()

    def show(stage: str, event: str, data: dict[str, Any]) -> None:
        if event == "start":
            started[stage] = time.perf_counter()
            status.update(f"{escape(stage)}...")
        elif event == "step":
            status.update(f"{escape(stage)} {data.get('done')}/{data.get('total')}")
        elif event == "done":
            secs = data.get("elapsed_s") or time.perf_counter() - started.get(stage, time.perf_counter())
            console.print(f"  [green]done[/]   {escape(stage):<16} {float(secs):6.1f} s")
        elif event == "cached":
            console.print(f"  [cyan]reused[/] {escape(stage):<16}   (done before)")
        elif event == "failed":
            console.print(f"  [red]failed[/] {escape(stage)}")

    unsubscribe = progress.subscribe(show)
    log_path = None if verbose else settings.data_dir / "logs" / f"dub-{time.strftime('%Y%m%d-%H%M%S')}.log"
    try:
        conf = {
            "input": input,
            "source_language": source,
            "target_languages": targets,
            "output": str(out.resolve()),
            **extra,
        }
        result = run_dag(settings, "dub_video", conf, log_path=log_path)
    finally:
        status.stop()
        unsubscribe()
    pub = result["published"]
    console.print(f"[bold green]finished[/] in {time.perf_counter() - t0:.1f} s. Outputs in {pub.get('location')}:")
    for name in sorted(pub.get("files", {})):
        console.print(f"  {name}")
    console.print(f"  {Path(pub.get('report', '')).name}")
    report_path = Path(str(pub.get("report", "")))
    if report_path.is_file():
        report = json.loads(report_path.read_text())
        _print_voices(report)
        _print_timing(report)


def _print_voices(report: dict[str, Any]) -> None:
    """Who spoke, with which voice, and how the lines' check went: one row per language and speaker."""
    voices = report.get("voices") or {}
    if not voices:
        return
    table = Table(title="voices", title_justify="left")
    for col in ("lang", "speaker", "voice", "person", "why", "QA passed", "mean WER", "similarity"):
        table.add_column(col)
    for lang, rows in voices.items():
        qa = (report.get("qa") or {}).get(lang) or {}
        for i, v in enumerate(rows):
            table.add_row(
                lang,
                str(v["speaker"]),
                f"{v['engine']}:{v['voice']}" + (f" @{v['pitch']:.2f}" if v.get("pitch", 1.0) != 1.0 else ""),
                str(v.get("person") or "-"),
                str(v.get("reason", "")),
                f"{qa.get('passed')}/{qa.get('lines')}" if qa and i == 0 else "",
                f"{qa['mean_wer']:.2f}" if qa and i == 0 and qa.get("mean_wer") is not None else "",
                f"{qa['mean_similarity']:.2f}" if qa and i == 0 and qa.get("mean_similarity") is not None else "",
            )
    console.print(table)


def _print_timing(report: dict[str, Any]) -> None:
    """The readable timing summary of a job report: one row per dub language."""
    table = Table(title="timing", title_justify="left")
    for col in ("lang", "lines", "> 1.15", "> 1.25", "largest", "shortened", "overruns", "isochrony", "end drift"):
        table.add_column(col, justify="right")
    for lang, t in report.get("timing", {}).items():
        s = t.get("summary", t)
        table.add_row(
            lang,
            str(s["lines"]),
            f"{s['share_above_1_15']:.0%}",
            f"{s['share_above_1_25']:.0%}",
            f"{s['largest_factor']:.2f}x",
            str(s.get("shortened", 0)),
            str(s["overruns"]),
            f"{s['isochrony']:.2f}",
            f"{s['end_drift_s']:.3f} s",
        )
    console.print(table)


def _sha(spec: Any, model_dir: Path) -> str:
    from models import registry

    if spec.derived_from:
        path = registry.model_path(spec.id, model_dir) / spec.main_file
        return registry.sha256_file(path) if path.is_file() else "-"
    return str(spec.main_sha256) or "-"


@models_app.command("list")
def models_list() -> None:
    """Each model: id, version, source package, sha256, licence, ready or missing."""
    from models import registry

    settings = get_settings()
    table = Table(show_lines=False)
    for col in ("id", "kind", "version", "source", "sha256", "licence", "status"):
        table.add_column(col, overflow="fold")
    for spec in registry.SPECS.values():
        st = registry.status(spec, settings.model_dir)
        colour = {"ready": "green", "missing": "yellow"}.get(st, "red")
        table.add_row(
            spec.id,
            spec.kind,
            spec.version,
            "\n".join(spec.packages),
            _sha(spec, settings.model_dir),
            spec.licence,
            f"[{colour}]{st}[/]",
        )
    console.print(table)
    console.print(f"model folder: {settings.model_dir}")


@models_app.command("install")
def models_install(
    force: Annotated[bool, typer.Option(help="unpack again even when present")] = False,
    convert: Annotated[bool, typer.Option(help="also build the openai-whisper checkpoint")] = True,
) -> None:
    """Unpack the weights from their packages into the model folder, verifying each sha256."""
    from models import registry

    settings = get_settings()
    failed = False
    for spec in registry.SPECS.values():
        if spec.derived_from:
            continue
        try:
            what = registry.install(spec, settings.model_dir, force=force)
            console.print(f"  {spec.id:<24} {what}")
        except registry.WeightsError as e:
            err_console.print(f"[red]error:[/] {e}")
            failed = True
    if failed:
        raise typer.Exit(4)
    if convert:
        models_convert_whisper()


@models_app.command("verify")
def models_verify() -> None:
    """Re-hash every unpacked weights file against its pinned sha256."""
    from models import registry

    settings = get_settings()
    bad = False
    for spec in registry.SPECS.values():
        if spec.check is not None or spec.derived_from:
            continue
        try:
            registry.verify(spec, settings.model_dir)
            console.print(f"  {spec.id:<24} [green]ok[/]")
        except registry.WeightsError as e:
            err_console.print(f"  {spec.id:<24} [red]{e}[/]")
            bad = True
    if bad:
        raise typer.Exit(4)


@models_app.command("convert-whisper")
def models_convert_whisper() -> None:
    """Build the openai-whisper checkpoint (base.pt) from the verified CTranslate2 Whisper weights."""
    from models import registry
    from models.whisper_convert import convert_registered

    settings = get_settings()
    try:
        path = convert_registered(settings.model_dir)
    except registry.WeightsError as e:
        err_console.print(f"[red]error:[/] {e}")
        raise typer.Exit(4) from None
    console.print(f"  {'whisper-base-pt':<24} {path}")


@app.command()
def sample(
    out: Annotated[Path, typer.Argument(help="file to write (.mp4 for video, .wav for audio)")],
    seconds: Annotated[float, typer.Option(help="approximate length")] = 30.0,
) -> None:
    """Make the demo sample: an English narration (Piper voice) over a quiet music bed, with a picture."""
    from pipeline.audio.sample import make_sample

    try:
        path = make_sample(out, get_settings(), seconds)
    except DublineError as e:
        _fail(e)
    console.print(f"sample written: {path}")


@app.command()
def jobs(limit: Annotated[int, typer.Option(help="how many")] = 20) -> None:
    """The most recent `dubline dub` jobs recorded in the project's database."""
    from pipeline.ledger import db

    table = Table()
    for col in ("id", "started", "status", "wall s", "input", "languages", "error"):
        table.add_column(col, overflow="fold")
    for j in db.recent_jobs(get_settings().resolved_db_url, limit):
        table.add_row(
            str(j.id),
            j.started_at.strftime("%Y-%m-%d %H:%M:%S"),
            j.status,
            f"{j.wall_s:.1f}" if j.wall_s else "-",
            j.input,
            ",".join(j.params.get("target_languages", [])),
            j.error or "",
        )
    console.print(table)


def main() -> None:  # pragma: no cover - entry point
    try:
        app()
    except DublineError as e:
        err_console.print(f"[bold red]error:[/] {escape(e.one_line())}", soft_wrap=True)
        sys.exit(e.exit_code)


if __name__ == "__main__":  # pragma: no cover
    main()
