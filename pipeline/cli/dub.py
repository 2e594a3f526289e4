"""`dubline dub`, `dubline sample`, `dubline jobs`: dub through the dub_video DAG, the demo sample, recent jobs."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.table import Table

from pipeline.cli.console import BedOption, bed_arg, console, errors, run_and_report, script_args
from pipeline.core.config import Settings, get_settings

if TYPE_CHECKING:
    from pipeline.products.dubbing.contracts import DubRequest


@errors
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
    describe: Annotated[
        str,
        typer.Option(help="description script (WebVTT, DAPT, CSV, JSON): add a described track per dub language"),
    ] = "",
    denoise: Annotated[
        str, typer.Option(help="off | auto | speech | all: clean noisy speech before transcription (README: Sound)")
    ] = "",
    bed: BedOption = "",
    script: Annotated[
        list[str] | None,
        typer.Option(
            "--script",
            help="LANG=FILE: apply an edited script (SRT, WebVTT, DAPT, JSON from `dubline script export`): the source "
            "language's edits the transcript, a target's its translation; only the lines it changes are re-rendered",
        ),
    ] = None,
    editor: Annotated[str, typer.Option(help="who edited the --script files (revision history); default: you")] = "",
    review: Annotated[
        bool, typer.Option("--review", help="wait for approval of the transcript and translations (`dubline review`)")
    ] = False,
    profile: Annotated[
        str,
        typer.Option(
            help="speed profile: fast | balanced | best (README: Speed); default DUBLINE_PROFILE, else balanced"
        ),
    ] = "",
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="show Airflow's task logs")] = False,
    check: Annotated[
        bool,
        typer.Option("--check", help="check the input, languages, glossary and --out, say what would run, and stop"),
    ] = False,
) -> None:
    """Dub INPUT into the --to languages through the dub_video DAG, run in-process.

    An INPUT whose name begins with a dash goes after `--`: dubline dub --to es -- -take1.mp4"""
    from pipeline.products.dubbing.contracts import DubRequest

    settings = get_settings()
    check_out_dir(out)  # an unusable --out is refused before any work, not at publish
    request = DubRequest.from_params(
        {
            "input": input,
            "source_language": source,
            "target_languages": to,
            "output": str(out.resolve()),
            "containers": ["mp4"] + (["mkv"] if mkv else []) + (["m4a"] if m4a else []),
            "loudness_profile": loudness or settings.loudness_profile,
            "stems": stems,
            "glossary": str(Path(glossary).expanduser().resolve()) if glossary.strip() else "",
            "speakers": speakers,
            "speaker_people": ",".join(speaker or []),
            "series": series,
            "style": style,
            "subtitle_profile": subtitles or settings.subtitle_profile,
            "describe": str(Path(describe).expanduser().resolve())
            if describe.strip() and "://" not in describe
            else describe,
            "denoise": denoise,
            "bed": bed_arg(bed),
            "scripts": script_args(script or []),
            "editor": editor,
            "review": review,
            "profile": profile,
        }
    )
    _dub(request, verbose, check)


def check_out_dir(out: Path) -> None:
    """--out must be a folder dubline can create and write into; refused here, before any work starts."""
    import tempfile

    from pipeline.core.errors import InputError

    if out.exists() and not out.is_dir():
        raise InputError(f"--out {out} is a file, not a folder", "give a folder for the outputs (made if missing)")
    try:
        out.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=out, prefix=".dubline-write-check-"):
            pass
    except OSError as e:
        raise InputError(
            f"--out {out} cannot be written ({e.strerror or e})", "give a folder you can create and write to"
        ) from None


def _preflight(settings: Settings, request: DubRequest) -> Any:
    """Fail fast, before Airflow starts, on what can be checked up front: the glossary, the input (read
    whole: damaged, silent or too short is refused), the ASR weights and every language pair (with no
    source language, that some engine translates into each target). The checked input is returned."""
    from pipeline.core.engines import get_asr
    from pipeline.stages.ingest import check_input
    from pipeline.text.translation.engines import choose_translator, require_target

    if request.glossary:
        from pipeline.products.dubbing.translate import load_glossary

        load_glossary(settings, request.glossary)
    checked = check_input(request.input, str(settings.data_dir / "work"))
    info = checked.info
    if request.describe:  # a bad description script, or no picture to describe: refused before Airflow starts
        from datetime import date

        from pipeline.core.errors import InputError
        from pipeline.products.dubbing.describe import read_description
        from pipeline.stages.describing.speaking import USE
        from pipeline.stages.voice_choice import choose_voice

        if not info.has_video:
            raise InputError(
                f"{Path(request.input).name} has no picture to describe", "drop --describe, or give the video"
            )
        _, path = read_description(settings, request.describe, info.duration)
        for t in request.target_languages:  # each dub language needs a describer voice
            choose_voice(settings, "", t, date.today(), path.name, USE)
    get_asr(settings)  # weights present and verified
    for t in request.target_languages:
        if request.source_language:
            choose_translator(settings, request.source_language, t)
        else:
            require_target(settings, t)
    return checked


def _dub(request: DubRequest, verbose: bool, check_only: bool = False) -> None:
    from pipeline.core.profiles import SUMMARY

    settings = get_settings().with_profile(request.profile) if request.profile else get_settings()
    checked = _preflight(settings, request)
    info = checked.info
    kind = "video" if info.has_video else "audio"
    targets = ", ".join(request.target_languages)
    console.print(f"[bold]dubline[/] {Path(request.input).name}: {kind}, {info.duration:.1f} s -> {targets}")
    console.print(f"profile: {settings.profile} ({SUMMARY[settings.profile]})")
    for w in checked.warnings:
        console.print(f"[yellow]warning:[/] {w}")
    if check_only:
        console.print(f"checked: ready to dub into {request.output}")
        return
    report = run_and_report(settings, "dub_video", request.to_xcom(), verbose, "dub")
    if report is not None:
        _print_voices(report)
        _print_timing(report)
        _print_description(report)
        _print_sound(report)


def _print_sound(report: dict[str, Any]) -> None:
    """What the denoiser measured and did, and the bed laid under the silent stretches."""
    d = report.get("denoise") or {}
    if d:
        applied = ", ".join(
            f"{a['copy']} ({a['engine']['id']}, SNR {a['snr_after_db']:.1f} dB after)" for a in d.get("applied") or []
        )
        console.print(
            f"denoise ({d['mode']}): speech SNR {d['snr_db']:.1f} dB; "
            + (f"cleaned {applied}" if applied else f"not needed (at or above {d['below_db']:.0f} dB)")
        )
    for lang, b in (report.get("bed") or {}).items():
        console.print(f"bed ({lang}): {b.get('spec')}, heard {b.get('heard_s')} s, {b.get('licence', '')}")


def _print_description(report: dict[str, Any]) -> None:
    """The described tracks (`--describe`): per language how the descriptions were placed."""
    for lang, d in (report.get("description") or {}).items():
        f = d.get("figures") or {}
        console.print(
            f"audio description ({lang}): {f.get('cues')} descriptions, within 1 s of their time "
            f"{f.get('placed_within_1s')}, delayed {f.get('delayed')}, faster {f.get('rated')}, shortened "
            f"{f.get('shortened')}, overruns {f.get('overruns')}"
        )


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
                _qa_passed(qa) if qa and i == 0 else "",
                f"{qa['mean_wer']:.2f}" if qa and i == 0 and qa.get("mean_wer") is not None else "",
                f"{qa['mean_similarity']:.2f}" if qa and i == 0 and qa.get("mean_similarity") is not None else "",
            )
    console.print(table)


def _qa_passed(qa: dict[str, Any]) -> str:
    """'passed/heard', and how many of the spoken lines were heard when QA heard only some (profile fast)."""
    text = f"{qa.get('passed')}/{qa.get('lines')}"
    if qa.get("scope", "all") != "all":
        text += f" ({qa.get('heard')} of {qa.get('spoken')} lines heard)"
    return text


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


@errors
def sample(
    out: Annotated[Path, typer.Argument(help="file to write (.mp4 for video, .wav for audio)")],
    seconds: Annotated[float, typer.Option(help="its length in seconds")] = 30.0,
) -> None:
    """Make the demo sample: an English narration (Piper voice) over a quiet music bed, with a picture."""
    from pipeline.audio.sample import make_sample

    path = make_sample(out, get_settings(), seconds)
    console.print(f"sample written: {path}")


@errors
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
