"""Small helpers for engines: threads, the record of model loads in this process, and for engines that are
Debian programs (Apertium, Pico, espeak-ng): versions, languages, error text."""

from __future__ import annotations

import ctypes
import functools
import gc
import os
import subprocess
import threading
from collections.abc import Callable, Collection
from typing import Any

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


_LOADS: list[tuple[str, float]] = []  # (engine, seconds) of each model loaded in this process, in order
_LOADS_LOCK = threading.Lock()


def record_load(engine: str, seconds: float) -> None:
    """Note that loading `engine`'s model took `seconds` in this process (a stage's result reports the sum)."""
    with _LOADS_LOCK:
        _LOADS.append((engine, float(seconds)))


def load_mark() -> int:
    """A mark in this process's record of model loads (for loads_since)."""
    with _LOADS_LOCK:
        return len(_LOADS)


def loads_since(mark: int) -> dict[str, float]:
    """Seconds spent loading models since `mark`, by engine. Under a real executor every task is a process of its
    own, so a task pays for each model it uses; under `dubline dub` (one process) only the first task does."""
    out: dict[str, float] = {}
    with _LOADS_LOCK:
        for engine, seconds in _LOADS[mark:]:
            out[engine] = round(out.get(engine, 0.0) + seconds, 3)
    return out


_FORGETTERS: dict[str, Callable[[], bool]] = {}


def register_cache(engine: str, forget: Callable[[], bool]) -> None:
    """`forget()` drops this process's cached models of `engine` (True when it held one). A model in use elsewhere
    lives on until its last reference goes; the next use loads it again."""
    _FORGETTERS[engine] = forget


def cache_forgetter(
    cache: dict[Any, Any], lock: Any, which: Callable[[Any], bool] = lambda key: True
) -> Callable[[], bool]:
    """A forget() for register_cache: drops the entries of `cache` whose key `which` accepts, under `lock`."""

    def forget() -> bool:
        with lock:
            keys = [k for k in cache if which(k)]
            for k in keys:
                del cache[k]
        return bool(keys)

    return forget


def forget_engines(keep: Collection[str]) -> list[str]:
    """Drop the cached models of every engine not in `keep`, and hand the freed memory back to the system.
    Under `dubline dub` one process runs every stage, so the LLM and Kokoro need not sit under the mix
    (pipeline.core.stagerun calls this before each stage). Returns the engines dropped."""
    return _drop([name for name in list(_FORGETTERS) if name not in keep])


def drop_engines(names: Collection[str]) -> list[str]:
    """Drop the cached models of the engines in `names` only (a stage that needs the LLM for its first part
    and not after: synthesis, whose QA then loads Whisper beside Kokoro). Returns the engines dropped."""
    return _drop([name for name in list(_FORGETTERS) if name in names])


def _drop(names: list[str]) -> list[str]:
    dropped = [name for name in names if _FORGETTERS[name]()]
    if dropped:
        gc.collect()
    _malloc_trim()  # also what was freed before (a stage's arrays, its ffmpeg buffers): milliseconds
    return dropped


def _malloc_trim() -> None:
    """glibc keeps freed heap memory for reuse; give it back (nothing elsewhere)."""
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass


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
