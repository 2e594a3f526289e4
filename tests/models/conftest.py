"""Shared fixtures for the engine-adapter tests: real weights, real recordings, synthetic speech."""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
if str(REPO) not in sys.path:  # the project is not installed into the venv; make `models` importable
    sys.path.insert(0, str(REPO))

FIXTURES = REPO.parent / "shared" / "fixtures"


@pytest.fixture(scope="session")
def fixtures_dir() -> Path:
    if not FIXTURES.is_dir():
        pytest.skip(f"real recordings not available ({FIXTURES} is absent)")
    return FIXTURES


def _to_wav16k(src: Path, dst: Path) -> Path:
    if shutil.which("ffmpeg") is None:
        pytest.skip("ffmpeg is not installed")
    subprocess.run(
        [
            "ffmpeg",
            "-nostdin",
            "-loglevel",
            "error",
            "-y",
            "-i",
            str(src),
            "-ac",
            "1",
            "-ar",
            "16000",
            str(dst),
        ],
        check=True,
    )
    return dst


@pytest.fixture(scope="session")
def wav16k(tmp_path_factory: pytest.TempPathFactory) -> Callable[[Path], Path]:
    """Decode any audio file to a 16 kHz mono WAV in a session tmp dir."""
    out_dir = tmp_path_factory.mktemp("wav16k")

    def convert(src: Path) -> Path:
        dst = out_dir / (src.stem + ".wav")
        return dst if dst.is_file() else _to_wav16k(src, dst)

    return convert


@pytest.fixture(scope="session")
def espeak_wav(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """'one two three four five' spoken by espeak-ng, as a 16 kHz mono WAV (no fixtures needed)."""
    if shutil.which("espeak-ng") is None:
        pytest.skip("espeak-ng is not installed")
    d = tmp_path_factory.mktemp("espeak")
    raw = d / "raw.wav"
    subprocess.run(["espeak-ng", "-v", "en-us", "-w", str(raw), "one two three four five"], check=True)
    return _to_wav16k(raw, d / "one_to_five.wav")


def _require(model_id: str) -> Path:
    from models import registry

    try:
        return registry.require(model_id)
    except registry.WeightsError as e:
        pytest.skip(f"weights not installed: {e}")


@pytest.fixture(scope="session")
def base_ct2_dir() -> Path:
    return _require("whisper-base-ct2")


@pytest.fixture(scope="session")
def tiny_en_ct2_dir() -> Path:
    return _require("whisper-tiny-en-ct2")


@pytest.fixture(scope="session")
def base_pt(base_ct2_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """whisper-base-ct2 converted to an openai-whisper checkpoint, once per session."""
    from models.whisper_convert import convert_ct2_to_openai

    return convert_ct2_to_openai(base_ct2_dir, tmp_path_factory.mktemp("whisper-base-pt") / "base.pt")
