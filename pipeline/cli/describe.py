"""`dubline describe`: a video and its description script in, a described video out, through the describe_video
DAG run in-process; and `dubline describe draft VIDEO`, a draft DAPT script from the picture for a describer to
edit."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from pipeline.cli.console import BedOption, bed_arg, console, errors, run_and_report
from pipeline.core.config import get_settings
from pipeline.core.errors import InputError


@errors
def describe(
    target: Annotated[
        list[str], typer.Argument(help="VIDEO (path, file:// or s3:// URI), or `draft VIDEO` to draft a script")
    ],
    script: Annotated[str, typer.Option(help="description script: WebVTT, DAPT (TTML2), CSV or JSON")] = "",
    extended: Annotated[
        bool, typer.Option("--extended", help="also render extended description (the picture pauses)")
    ] = False,
    voice: Annotated[
        str, typer.Option(help="describer: ENGINE:VOICE (stock, e.g. piper:joe) or person:ID (cloned, consented)")
    ] = "",
    style: Annotated[str, typer.Option(help="delivery style: neutral|calm|warm|serious")] = "",
    language: Annotated[str, typer.Option(help="the descriptions' language (ISO 639-1); default: the script's")] = "",
    mkv: Annotated[bool, typer.Option("--mkv", help="also deliver the described video as mkv")] = False,
    duck_db: Annotated[float, typer.Option(help="programme gain while a description speaks (dB)")] = -10.0,
    denoise: Annotated[
        str, typer.Option(help="off | auto | speech: denoise the speech the dialogue map hears (README: Sound)")
    ] = "",
    bed: BedOption = "",
    out: Annotated[Path, typer.Option("--out", help="folder for the outputs")] = Path("described"),
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="show Airflow's task logs")] = False,
) -> None:
    """Speak the descriptions of SCRIPT in the gaps between the dialogue of VIDEO and mix them in as an
    audio-description track (described video, descriptions stem, script as placed, report)."""
    if target and target[0] == "draft":
        if len(target) != 2:
            raise InputError("`dubline describe draft` takes one video", "write: dubline describe draft VIDEO")
        draft(target[1], language, out)
        return
    if len(target) != 1:
        raise InputError(f"`dubline describe` takes one video, got {len(target)}", "write: dubline describe VIDEO")
    if not script.strip():
        raise InputError("no description script given", "add --script FILE (WebVTT, DAPT, CSV or JSON)")
    run_describe(
        target[0],
        {
            "script": str(Path(script).expanduser().resolve()) if "://" not in script else script,
            "extended": extended,
            "voice": voice,
            "style": style,
            "language": language,
            "containers": ["mp4", "mkv"] if mkv else ["mp4"],
            "duck_db": duck_db,
            "denoise": denoise,
            "bed": bed_arg(bed),
        },
        out,
        verbose,
    )


def run_describe(video: str, options: dict[str, Any], out: Path, verbose: bool) -> None:
    from pipeline.products.description.contracts import DescribeRequest
    from pipeline.products.description.read import preflight
    from pipeline.stages.ingest import check_input

    settings = get_settings()
    request = DescribeRequest.from_params({"video": video, "output": str(out.resolve()), **options})
    try:
        checked = check_input(request.video, str(settings.data_dir / "work"))
    except InputError as e:
        if "no audio stream" not in e.message:
            raise
        raise InputError(
            f"{Path(video).name} has no audio stream",
            "audio description is mixed into the programme's soundtrack: give the video with its sound",
        ) from None
    info = checked.info
    for w in checked.warnings:
        console.print(f"[yellow]warning:[/] {w}")
    if not info.has_video:
        raise InputError(f"{Path(video).name} has no picture", "audio description describes a video: give the video")
    script = preflight(settings, request, info.duration)  # bad script: refused before Airflow starts
    language = request.language or script.language
    if language:  # a language no voice reads, or a person's voice without consent: refused before Airflow starts
        from datetime import date

        from pipeline.products.description.voicing import USE
        from pipeline.stages.voice_choice import choose_voice

        choose_voice(settings, request.voice, language, date.today(), Path(request.script).name, USE)
    console.print(
        f"[bold]dubline[/] {Path(video).name}: {len(script.cues)} descriptions ({script.format}), "
        f"{info.duration:.1f} s programme" + (", extended description" if request.extended else "")
    )
    report = run_and_report(settings, "describe_video", request.to_xcom(), verbose, "describe", label=video)
    if report is not None:
        print_cues(report)


def print_cues(report: dict[str, Any]) -> None:
    """One row per description: asked and placed time, rate, what changed, QA; then the figures."""
    table = Table(title="descriptions", title_justify="left")
    for col in ("id", "asked", "placed", "rate", "steps", "QA", "text"):
        table.add_column(col, justify="right" if col in ("asked", "placed", "rate") else "left")
    for c in report.get("cues", []):
        qa = c.get("qa") or {}
        table.add_row(
            str(c["id"]),
            f"{c['asked']:.2f}",
            f"{c['start']:.2f}",
            f"{c['rate']:.2f}",
            ",".join(c.get("steps") or []),
            "-" if not qa else ("pass" if qa.get("passed") else f"FAIL ({qa.get('heard', '')[:20]})"),
            str(c.get("spoken_text", ""))[:50],
        )
    console.print(table)
    f = report.get("figures") or {}
    console.print(
        f"placed within 1 s: {f.get('placed_within_1s')}/{f.get('cues')}, shortened {f.get('shortened')}, "
        f"faster {f.get('rated')}, extended {f.get('extended')}, overruns {f.get('overruns')}"
    )
    if report.get("bed"):
        b = report["bed"]
        console.print(f"bed: {b.get('spec')}, heard {b.get('heard_s')} s (generated: {b.get('generated')})")
    for w in report.get("warnings", []):
        console.print(f"[yellow]warning[/] {w}")


def draft(video: str, language: str, out: Path) -> None:
    """Write `<out>/<stem>.draft.dapt.xml`: a draft script of the picture's scene changes and on-screen text."""
    from pipeline.products.description.drafting import draft_file

    settings = get_settings()
    path = draft_file(settings, video, language, out)
    console.print(f"[bold green]draft written[/]: {path}")
