"""Errors a user can act on. Each names what was wrong, with which input, and what to do.

The CLI prints them as one line without a traceback and exits non-zero; in Airflow they fail the task
with the same message.
"""

from __future__ import annotations


class DublineError(Exception):
    """Base of every error meant for the user. `exit_code` is what the CLI exits with."""

    exit_code = 1

    def __init__(self, message: str, hint: str = "") -> None:
        self.message = message
        self.hint = hint
        super().__init__(f"{message}. {hint}" if hint else message)

    def one_line(self) -> str:
        text = self.message.rstrip(".")
        return f"{text}. {self.hint}" if self.hint else f"{text}."


class InputError(DublineError):
    """The input media (or a parameter naming it) is unusable."""

    exit_code = 2


class ConfigError(DublineError):
    """Settings, languages or engines are not usable as configured."""

    exit_code = 3


class SetupError(DublineError):
    """Something set-up should have installed is missing (a package, weights, a system tool)."""

    exit_code = 4


class StageError(DublineError):
    """A stage failed for a reason that is not the input's fault (engine failure, storage)."""

    exit_code = 5


class ConsentError(DublineError):
    """A person's voice was asked for without a valid consent record covering this use."""

    exit_code = 6


class DatabaseError(DublineError):
    """The project's database cannot be reached (or its URL is unusable). Airflow retries these."""

    exit_code = 4
