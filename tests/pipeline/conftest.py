"""Shared fixtures for the pipeline unit tests: a clean environment, a local store, tiny media files."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest


@pytest.fixture(autouse=True)
def _no_dubline_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Settings read DUBLINE_* variables: keep the developer's own out of every test, and keep every
    test's data (store, databases) in its own temporary folder."""
    import os

    for name in list(os.environ):
        if name.startswith("DUBLINE_"):
            monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("DUBLINE_DATA_DIR", str(tmp_path / "dubline-data"))
    # the public built-in watermark key, set as an operator would for tests: the marks (and the figures that
    # depend on them) do not change from run to run; production marks with its installation's own key
    monkeypatch.setenv("DUBLINE_WATERMARK_KEY", "dubline-watermark-v1")


@pytest.fixture
def store(tmp_path: Path):
    from pipeline.core.storage import LocalStore

    return LocalStore(tmp_path / "store")


@pytest.fixture(scope="session")
def ffmpeg_make(tmp_path_factory: pytest.TempPathFactory) -> Callable[..., Path]:
    """Make a small media file with ffmpeg: ffmpeg_make("name.ext", *ffmpeg args before the output)."""
    if shutil.which("ffmpeg") is None or shutil.which("ffprobe") is None:
        pytest.skip("ffmpeg is not installed")
    out_dir = tmp_path_factory.mktemp("media")

    def make(name: str, *args: str) -> Path:
        dest = out_dir / name
        if not dest.is_file():
            subprocess.run(
                ["ffmpeg", "-nostdin", "-hide_banner", "-loglevel", "error", "-y", *args, str(dest)],
                check=True,
            )
        return dest

    return make


@pytest.fixture(scope="session")
def sine_wav(ffmpeg_make: Callable[..., Path]) -> Path:
    """A 2 s 440 Hz sine, 16-bit mono 44.1 kHz WAV."""
    return ffmpeg_make(
        "sine2s.wav",
        "-f",
        "lavfi",
        "-i",
        "sine=frequency=440:duration=2:sample_rate=44100",
        "-ac",
        "1",
        "-c:a",
        "pcm_s16le",
    )
