"""A job's outputs are named after its own input, not after the input that first made a reused stage result:
dubbing b.wav after a byte-identical a.wav delivers b.dub.m4a, while the ingest stage's key stays content-only."""

from __future__ import annotations

import ast
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from pipeline.core.config import Settings

REPO = Path(__file__).resolve().parents[3]
RATE = 16000


def _speechlike(path: Path) -> Path:
    t = np.arange(3 * RATE) / RATE
    x = 0.2 * np.sin(2 * np.pi * 150 * t) * np.clip(np.sin(2 * np.pi * 4 * t), 0, None)
    sf.write(str(path), x.astype(np.float32), RATE)
    return path


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(data_dir=tmp_path / "data")


def test_a_byte_identical_input_keeps_its_own_name(settings: Settings, tmp_path: Path) -> None:
    from pipeline.stages import job_names

    a = _speechlike(tmp_path / "a.wav")
    b = tmp_path / "b b.wav"
    b.write_bytes(a.read_bytes())
    first = job_names.ingest(settings, str(a))
    second = job_names.ingest(settings, b.as_uri())
    assert second.cached and second.key == first.key  # the same content: the stage is reused...
    assert (first.filename, first.stem) == ("a.wav", "a")
    assert (second.filename, second.stem) == ("b b.wav", "b b")  # ...under this job's name


def test_the_delivered_names_follow_the_job(settings: Settings, tmp_path: Path) -> None:
    from pipeline.products.dubbing.contracts import Muxed
    from pipeline.products.dubbing.publish import _names
    from pipeline.stages import job_names

    a = _speechlike(tmp_path / "a.wav")
    b = tmp_path / "b.wav"
    b.write_bytes(a.read_bytes())
    job_names.ingest(settings, str(a))
    ingested = job_names.ingest(settings, str(b))

    class Job:  # what _names reads of a DubOutcome
        def __init__(self) -> None:
            self.ingested = ingested
            self.separated = None
            self.fits: list[object] = []
            self.mixes: list[object] = []
            self.described: list[object] = []

    muxed = Muxed.model_construct(
        media={"m4a": "file:///store/dub.m4a"}, subtitles={"en": {"srt": "file:///store/en.srt"}}
    )
    names = _names(Job(), muxed, stems=False)  # type: ignore[arg-type]
    assert sorted(names) == ["b.dub.m4a", "b.en.srt"]


@pytest.mark.parametrize(
    ("uri", "name"),
    [("talk.mp4", "talk.mp4"), ("/x/y/a b.mp4", "a b.mp4"), ("file:///x/%C3%A9t%C3%A9.mp4", "été.mp4"),
     ("s3://bucket/in/ep1.mkv", "ep1.mkv"), ("http://host/x.mp4", "")],
)  # fmt: skip
def test_input_name(uri: str, name: str) -> None:
    from pipeline.stages.job_names import input_name

    assert input_name(uri) == name


@pytest.mark.parametrize("dag", ["dub_video.py", "describe_video.py"])
def test_the_dags_ingest_through_the_job_names(dag: str) -> None:
    """The DAGs' ingest task calls the named ingest, not the bare stage (whose reused result names another file)."""
    tree = ast.parse((REPO / "dags" / dag).read_text())
    task = next(n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef) and n.name == "ingest")
    called = [ast.unparse(c.args[0]) for c in ast.walk(task) if isinstance(c, ast.Call) and c.args]
    assert "job_names.ingest" in called
