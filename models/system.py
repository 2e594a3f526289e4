"""Small helpers for engines that are Debian programs (Apertium, Pico, espeak-ng): versions, languages,
error text."""

from __future__ import annotations

import functools
import os
import subprocess

from models.base import ModelInfo


def engine_threads() -> int:
    """Intra-op threads for an engine that computes on the CPU (llama.cpp, onnxruntime): DUBLINE_ENGINE_THREADS,
    else half the cores, at least one. Half, because under a scheduler a worker runs tasks side by side and
    spinning threads that share cores slow down several times (llama.cpp on 2 shared cores: 1 thread 1.6 s a
    line, 2 threads 6 s). `dubline dub` runs its tasks one at a time and sets every core (pipeline/cli/runner.py):
    on 2 idle cores 2 threads translate a line in 1.41 s against 2.65 s, and Kokoro speaks at RTF 0.54 against
    0.93."""
    value = os.environ.get("DUBLINE_ENGINE_THREADS", "").strip()
    if value:
        try:
            return max(1, int(value))
        except ValueError:
            pass  # an unreadable value: the default (the settings object reports it)
    return max(1, (os.cpu_count() or 2) // 2)


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
