"""`dubline db`: migrate the project's database and show its revision."""

from __future__ import annotations

from typing import Annotated

import typer

from pipeline.cli.console import console, errors
from pipeline.core.config import get_settings

db_app = typer.Typer(help="The project's database: migrations.", no_args_is_help=True)


@db_app.command("upgrade")
@errors
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
@errors
def db_current() -> None:
    """The revision the database is at, and the one this dubline needs."""
    from pipeline.ledger import db

    url = get_settings().resolved_db_url
    current, head = db.current_revision(url), db.head_revision()
    state = "up to date" if current == head else "needs `dubline db upgrade`"
    console.print(f"{db.safe_url(url)}: revision {current or '(none)'}; latest {head}: {state}")
