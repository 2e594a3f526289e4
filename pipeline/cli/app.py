"""The `dubline` root command: registers every command group and command; `main()` is the entry point."""

from __future__ import annotations

import sys
from pathlib import Path

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

try:  # typer 0.2x carries its own copy of click, whose exceptions are not click's
    from typer._click import exceptions as cx
except ImportError:  # pragma: no cover - a typer that uses click itself
    from click import exceptions as cx  # type: ignore[no-redef]

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
    """Run `dubline`; a DublineError raised outside a command, and a usage error (an unknown option, a missing
    argument), still end with one line and an exit code (2 for usage, as click gives)."""
    try:
        rv = app(standalone_mode=False)
    except cx.NoArgsIsHelpError as e:
        print(e.format_message())
        sys.exit(0)
    except cx.UsageError as e:
        print(f"error: {usage_line(e)}", file=sys.stderr)
        sys.exit(e.exit_code)
    except cx.ClickException as e:
        print(f"error: {e.format_message()}", file=sys.stderr)
        sys.exit(e.exit_code)
    except typer.Abort:
        print("error: aborted", file=sys.stderr)
        sys.exit(1)
    except DublineError as e:
        try:
            fail(e)
        except typer.Exit as done:
            sys.exit(done.exit_code)
    sys.exit(rv if isinstance(rv, int) else 0)


def usage_line(e: cx.UsageError) -> str:
    """A usage error as one line with the fix: the command's help to read, and for an "option" that is really a
    file whose name begins with a dash, the `--` that makes it an input."""
    command = e.ctx.command_path if e.ctx is not None else "dubline"
    text = " ".join(e.format_message().split()).rstrip(".")
    name = getattr(e, "option_name", "") or ""
    dashed = [a for a in sys.argv[1:] if a.startswith(name) and ("." in a or Path(a).exists())] if name else []
    if isinstance(e, cx.NoSuchOption) and dashed:
        return (
            f"{text} ({dashed[0]} reads as options). Put `--` before an input whose name begins with a dash: "
            f"{command} [OPTIONS] -- {dashed[0]}"
        )
    return f"{text}. See `{command} --help`"


if __name__ == "__main__":  # pragma: no cover
    main()
