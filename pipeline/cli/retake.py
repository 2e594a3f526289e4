"""`dubline retake`: speak one line of a finished dub again with other delivery settings, and rebuild the
job's outputs. The job is run again as it was asked for (its manifest records the request) plus the retake:
every other line, and every stage the retake does not touch, is reused."""

from __future__ import annotations

from typing import Annotated

import typer

from pipeline.cli.console import console, errors
from pipeline.core.config import get_settings
from pipeline.core.errors import InputError


@errors
def retake(
    job: Annotated[str, typer.Argument(help="the job's id (or a unique prefix), as `dubline dub` printed it")],
    lang: Annotated[str, typer.Option("--lang", help="the dub language of the line")],
    line: Annotated[list[str], typer.Option("--line", help="the line's id, e.g. s0007 (repeat for more)")],
    style: Annotated[str, typer.Option(help="delivery style: neutral|warm|excited|calm|serious")] = "",
    rate: Annotated[float, typer.Option(help="speaking rate against the line's own, 0.5-2.0 (e.g. 0.95)")] = 0.0,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="show Airflow's task logs")] = False,
) -> None:
    """Re-synthesize LINE of JOB's LANG dub with new delivery settings and rebuild the outputs."""
    from pipeline.cli.dub import _dub
    from pipeline.cli.script import find_job, job_script
    from pipeline.core.stagerun import open_settings_store
    from pipeline.products.dubbing.contracts import DubRequest, Retake

    store = open_settings_store(get_settings())
    manifest = find_job(store, job)
    jid = str(manifest.get("job_id", job))
    asked = manifest.get("request")
    if not isinstance(asked, dict):
        raise InputError(f"job {jid} does not record how it was asked for", "dub the input again with `dubline dub`")
    request = DubRequest.from_params(asked)
    lang = lang.strip().lower()
    if lang not in request.target_languages:
        raise InputError(f"job {jid} has no {lang!r} dub", f"its languages: {', '.join(request.target_languages)}")
    ids = {s.id for s in job_script(store, manifest, lang).script.segments}
    retakes = {k: dict(v) for k, v in request.retakes.items()}
    for line_id in line:
        if line_id not in ids:
            raise InputError(
                f"job {jid} has no line {line_id!r}", "see the line ids with `dubline script export JOB --lang LANG`"
            )
        before = retakes.get(lang, {}).get(line_id)
        take = Retake.model_validate({"style": style, "rate": rate or None})
        if before is not None and (before.style, before.rate) == (take.style, take.rate):
            take = take.model_copy(update={"take": before.take + 1})
        retakes.setdefault(lang, {})[line_id] = take
        said = ", ".join(p for p in (f"style {style}" if style else "", f"rate {rate:g}" if rate else "") if p)
        console.print(f"retake {line_id} ({lang}): {said or 'the same settings'} (take {take.take})")
        if not said:
            console.print("  the engines are deterministic: without --style or --rate the take sounds the same")
    _dub(DubRequest.from_params({**request.to_xcom(), "retakes": retakes}), verbose)
