"""`dubline audit`: verify the append-only, hash-chained audit log."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.markup import escape

from pipeline.cli.console import console, err_console, errors
from pipeline.core.config import get_settings

audit_app = typer.Typer(help="The append-only, hash-chained audit log.", no_args_is_help=True)


@audit_app.command("verify")
@errors
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
