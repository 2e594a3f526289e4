"""The `dubline` root command: registers every command group and command; `main()` is the entry point."""

from __future__ import annotations

import sys

import typer

from pipeline.cli.audiobook import audiobook
from pipeline.cli.audit import audit_app
from pipeline.cli.clean import clean
from pipeline.cli.consent import consent_app
from pipeline.cli.console import fail
from pipeline.cli.db import db_app
from pipeline.cli.describe import describe
from pipeline.cli.detect import detect
from pipeline.cli.dub import dub, jobs, sample
from pipeline.cli.models import models_app
from pipeline.cli.provenance import provenance_app
from pipeline.cli.retake import retake
from pipeline.cli.review import review_app
from pipeline.cli.script import script_app
from pipeline.cli.sound import ambience, compose
from pipeline.cli.voice import voice_app
from pipeline.core.errors import DublineError

app = typer.Typer(
    help="dubline: batch dubbing and accessibility pipeline.", no_args_is_help=True, pretty_exceptions_enable=False
)
app.command("detect")(detect)
app.command("dub")(dub)
app.command("sample")(sample)
app.command("audiobook")(audiobook)
app.command("describe")(describe)
app.command("jobs")(jobs)
app.command("retake")(retake)
app.command("clean")(clean)
app.command("compose")(compose)
app.command("ambience")(ambience)
app.add_typer(models_app, name="models")
app.add_typer(db_app, name="db")
app.add_typer(consent_app, name="consent")
app.add_typer(audit_app, name="audit")
app.add_typer(provenance_app, name="provenance")
app.add_typer(voice_app, name="voice")
app.add_typer(review_app, name="review")
app.add_typer(script_app, name="script")


def main() -> None:  # pragma: no cover - entry point
    """Run `dubline`; a DublineError raised outside a command still ends with one line and its exit code."""
    try:
        app()
    except DublineError as e:
        try:
            fail(e)
        except typer.Exit as done:
            sys.exit(done.exit_code)


if __name__ == "__main__":  # pragma: no cover
    main()
