"""What every command group shares: the consoles, one-line errors, and the progress printer of a DAG run."""

from __future__ import annotations

import contextlib
import functools
import os
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, NoReturn, TypeVar

import typer
from rich.console import Console
from rich.markup import escape

from pipeline.core.errors import DublineError

if TYPE_CHECKING:
    from pipeline.core.config import Settings

WIDTH = None if sys.stdout.isatty() else 160
console = Console(highlight=False, soft_wrap=True, width=WIDTH)
err_console = Console(highlight=False, stderr=True, soft_wrap=True, width=WIDTH)

F = TypeVar("F", bound=Callable[..., Any])


def fail(e: DublineError) -> NoReturn:
    """Print a DublineError as one line, without a traceback, and exit with its code."""
    err_console.print(f"[bold red]error:[/] {escape(e.one_line())}")
    raise typer.Exit(e.exit_code)


def errors(fn: F) -> F:
    """A command that ends on a DublineError with one line and the error's exit code."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except DublineError as e:
            fail(e)

    return wrapper  # type: ignore[return-value]


@contextlib.contextmanager
def stage_progress(hide: tuple[str, ...] = ()) -> Iterator[Console]:
    """Show a DAG run's stages as they start, step, finish, are reused or fail (the `pipeline.core.progress`
    events), on a console writing to a duplicate of stdout: while the run lasts, Airflow's task logs (fd 1
    and 2) go to a log file, and the progress must still reach the terminal. Stages in `hide` are not shown.
    Yields that console."""
    from pipeline.core import progress

    live = Console(file=os.fdopen(os.dup(1), "w", buffering=1), highlight=False, soft_wrap=True, width=WIDTH)
    status = live.status("starting Airflow (dag.test)...")
    started: dict[str, float] = {}

    def show(stage: str, event: str, data: dict[str, Any]) -> None:
        if stage in hide:
            return
        if event == "start":
            started[stage] = time.perf_counter()
            status.update(f"{escape(stage)}...")
        elif event == "step":
            label = f" {escape(str(data.get('label')))}" if data.get("label") else ""
            status.update(f"{escape(stage)} {data.get('done')}/{data.get('total')}{label}")
        elif event == "done":
            secs = data.get("elapsed_s") or time.perf_counter() - started.get(stage, time.perf_counter())
            live.print(f"  [green]done[/]   {escape(stage):<24} {float(secs):6.1f} s")
        elif event == "cached":
            live.print(f"  [cyan]reused[/] {escape(stage):<24}   (done before)")
        elif event == "failed":
            live.print(f"  [red]failed[/] {escape(stage)}")
        elif event == "waiting":  # a review gate (dub --review): who answers, and how
            run = escape(str(data.get("run_id") or "RUN_ID"))
            live.print(f"  [yellow]waiting[/] {escape(stage)}: for a person to approve or edit (run {run})")
            for line in str(data.get("body") or "").strip().splitlines():
                live.print(f"    {escape(line)}")
            status.update(f"{escape(stage)}: waiting for a review...")

    status.start()
    unsubscribe = progress.subscribe(show)
    try:
        yield live
    finally:
        status.stop()
        unsubscribe()
        live.file.close()


def run_and_report(
    settings: Settings, dag_id: str, conf: dict[str, Any], verbose: bool, log_name: str, label: str | None = None
) -> dict[str, Any] | None:
    """Run DAG `dag_id` in-process with the stages' progress on the terminal (Airflow's task logs in
    <data>/logs/<log_name>-<time>.log unless `verbose`), then say how long it took, where the outputs are and
    their names. The job report when it is a local file (None for a store location)."""
    import json
    from pathlib import Path

    from pipeline.cli.runner import run_dag

    started = time.perf_counter()
    log_path = None if verbose else settings.data_dir / "logs" / f"{log_name}-{time.strftime('%Y%m%d-%H%M%S')}.log"
    with stage_progress():
        published = run_dag(settings, dag_id, conf, log_path=log_path, label=label)["published"]
    where = published.get("location")
    console.print(f"[bold green]finished[/] in {time.perf_counter() - started:.1f} s. Outputs in {where}:")
    for name in sorted(published.get("files", {})):
        console.print(f"  {name}")
    report_path = Path(str(published.get("report", "")))
    console.print(f"  {report_path.name}")
    manifest = str(published.get("manifest") or "")
    if "/jobs/" in manifest:  # the job's id: what `dubline script export` and `dubline retake` take
        console.print(f"job {manifest.rsplit('/jobs/', 1)[1].split('/')[0]}")
    if not report_path.is_file():
        return None
    report: dict[str, Any] = json.loads(report_path.read_text())
    return report


BedOption = Annotated[
    str, typer.Option(help="a bed under silent stretches: compose:MOOD, library:MOOD, ambience:KIND or a file")
]


def bed_arg(bed: str) -> str:
    """`--bed` as the job's parameter: a file given by path made absolute (the run may not share the working
    folder); compose:/library:/ambience: specs and URIs as they are."""
    head = bed.split(":", 1)[0].strip().lower()
    if not bed.strip() or head in ("compose", "library", "ambience") or "://" in bed:
        return bed
    return str(Path(bed).expanduser().resolve())


def script_args(specs: list[str], transcript: bool = False) -> dict[str, str]:
    """`--script LANG=FILE` (repeated) as the job's or a gate's parameter: {lang: absolute path or URI}, each
    file checked. At the transcript's gate (`transcript`) one bare FILE is the transcript's ("source")."""
    from pipeline.core.errors import InputError
    from pipeline.products.dubbing.contracts import parse_scripts

    if transcript and len(specs) == 1 and "=" not in specs[0]:
        scripts = {"source": specs[0]}  # the transcript's language goes without saying
    else:
        try:
            scripts = parse_scripts(specs)
        except ValueError as e:
            raise InputError(str(e), "write --script LANG=FILE, e.g. --script es=edited.srt") from None
    out: dict[str, str] = {}
    for lang, where in scripts.items():
        if "://" not in where:
            path = Path(where).expanduser()
            if not path.is_file():
                raise InputError(f"edited script {where} (for {lang}) does not exist", "check the path and try again")
            where = str(path.resolve())
        out[lang] = where
    if transcript and len(out) > 1:
        raise InputError("the transcript takes one edited script", "give one --script (the source language's)")
    return out
