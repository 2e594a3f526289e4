"""Small helpers for engines that are Debian programs (Apertium, Pico, espeak-ng): versions, languages,
error text."""

from __future__ import annotations

import functools
import subprocess

from models.base import ModelInfo


def base_language(language: str) -> str:
    """'en-US', 'en_us', 'EN' -> 'en'."""
    return language.strip().replace("_", "-").split("-")[0].lower()


@functools.cache
def dpkg_version(package: str) -> str:
    """The installed Debian version of a package, or 'unknown'."""
    try:
        r = subprocess.run(["dpkg-query", "-W", "-f=${Version}", package], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return r.stdout.strip() if r.returncode == 0 and r.stdout.strip() else "unknown"


def stderr_tail(text: str | bytes | None, limit: int) -> str:
    """The last `limit` characters of a program's error output, for an error message."""
    if text is None:
        return ""
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    return text.strip()[-limit:]


class LazyInfo:
    """`info` computed on first read (it may run dpkg-query or hash weights), settable like the Protocol's."""

    _info: ModelInfo | None = None

    def _make_info(self) -> ModelInfo:
        raise NotImplementedError

    @property
    def info(self) -> ModelInfo:
        if self._info is None:
            self._info = self._make_info()
        return self._info

    @info.setter
    def info(self, value: ModelInfo) -> None:
        self._info = value
