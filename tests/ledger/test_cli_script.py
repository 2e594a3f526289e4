"""`dubline script` as a reviewer runs it, on a job built the cheap way: Scripts, stage results and the job's
manifest written straight into a local store (no media, no engines)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from pipeline.cli.app import app
from pipeline.core.config import Settings
from pipeline.core.script import Script, Segment, SourceInfo, Translation
from pipeline.core.stagerun import StageResult, open_settings_store, write_job_manifest
from pipeline.core.storage import put_json
from pipeline.ledger.revisions import record_revision

runner = CliRunner()
SHA = "ab" * 32
LINES = [
    ("s0001", 0.5, 2.0, "Hello everyone.", "Hola a todos."),
    ("s0002", 2.6, 4.2, "Welcome to the show.", "Bienvenidos al programa."),
    ("s0003", 5.0, 7.0, "Let us begin.", "Empecemos."),
]


def _script(translated: bool) -> Script:
    segments = [
        Segment(
            id=sid,
            start=start,
            end=end,
            speaker="S1",
            text=text,
            translations={"es": Translation(text=es, engine="test-mt")} if translated else {},
        )
        for sid, start, end, text, es in LINES
    ]
    source = SourceInfo(
        uri="file:///media/episode.mp4",
        sha256=SHA,
        filename="episode.mp4",
        duration=10.0,
        has_video=True,
        language="en",
    )
    return Script(
        revision=5 if translated else 3, source=source, segments=segments, languages=["es"] if translated else []
    )


def _stage(store: Any, stage: str, key: str, label: str, script: Script, **fields: Any) -> StageResult:
    uri = store.put_bytes(f"stages/{stage}/{key}/script.json", script.to_json())
    doc = {"stage": stage, "label": label, "key": key, "elapsed_s": 0.0, "script_uri": uri, **fields}
    put_json(store, f"stages/{stage}/{key}/result.json", doc)
    return StageResult(stage=stage, label=label, key=key)


@pytest.fixture
def job(settings: Settings) -> str:
    """A finished en -> es dub job in the settings' store; returns its id."""
    store = open_settings_store(settings)
    cast = _stage(store, "cast", "kcast", "", _script(False), language="en")
    fit = _stage(store, "fit", "kfit", "es", _script(True), language="es")
    mux = StageResult(stage="mux", key="kmux")
    uri = write_job_manifest(store, ("episode.mp4", SHA), [cast, fit], mux, {"location": "/out", "files": {}})
    return uri.rstrip("/").split("/")[-2]


@pytest.mark.parametrize(("fmt", "ext"), [("srt", "srt"), ("vtt", "vtt"), ("dapt", "ttml"), ("json", "json")])
def test_export_writes_each_format(
    settings: Settings, job: str, fmt: str, ext: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    r = runner.invoke(app, ["script", "export", job[:8], "--lang", "es", "--format", fmt])
    assert r.exit_code == 0, r.output
    out = tmp_path / f"episode.es.{ext}"
    assert out.is_file() and out.name in r.output and "3 line(s)" in r.output, r.output
    text = out.read_text(encoding="utf-8")
    assert "Bienvenidos al programa." in text


def test_export_names_the_jobs_input_not_the_reused_transcripts(
    settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # trailer.mp4 is byte-identical to episode.mp4: its stages (and their Scripts) are episode.mp4's
    store = open_settings_store(settings)
    cast = _stage(store, "cast", "kcast", "", _script(False), language="en")
    fit = _stage(store, "fit", "kfit", "es", _script(True), language="es")
    mux = StageResult(stage="mux", key="kmux")
    uri = write_job_manifest(store, ("trailer.mp4", SHA), [cast, fit], mux, {"location": "/out", "files": {}})
    job = uri.rstrip("/").split("/")[-2]
    monkeypatch.chdir(tmp_path)
    r = runner.invoke(app, ["script", "export", job, "--lang", "es", "--format", "vtt"])
    assert r.exit_code == 0, r.output
    text = (tmp_path / "trailer.es.vtt").read_text(encoding="utf-8")
    assert "of trailer.mp4" in text and "episode.mp4" not in text


def test_export_of_the_transcript_to_a_named_file(settings: Settings, job: str, tmp_path: Path) -> None:
    out = tmp_path / "review" / "transcript.vtt"
    r = runner.invoke(app, ["script", "export", job, "--lang", "source", "--format", "vtt", "--out", str(out)])
    assert r.exit_code == 0, r.output
    assert "transcript" in r.output and "Welcome to the show." in out.read_text(encoding="utf-8")
    r = runner.invoke(app, ["script", "export", job, "--lang", "en", "--out", str(tmp_path / "en.srt")])
    assert r.exit_code == 0 and "Let us begin." in (tmp_path / "en.srt").read_text(encoding="utf-8"), r.output


def test_check_lists_a_changed_line_and_applies_nothing(settings: Settings, job: str, tmp_path: Path) -> None:
    edited = tmp_path / "episode.es.srt"
    assert runner.invoke(app, ["script", "export", job, "--lang", "es", "--out", str(edited)]).exit_code == 0
    before = edited.read_text(encoding="utf-8")
    edited.write_text(before.replace("Bienvenidos al programa.", "Bienvenidas al show."), encoding="utf-8")
    r = runner.invoke(app, ["script", "check", job, "--lang", "es", str(edited)])
    assert r.exit_code == 0, r.output
    assert "s0002" in r.output and "Bienvenidas al show." in r.output and "Bienvenidos al programa." in r.output
    assert "s0001" not in r.output and "stale" in r.output
    r = runner.invoke(app, ["script", "history", job])
    assert r.exit_code == 0 and "no script revisions" in r.output, r.output  # check recorded nothing


def test_check_of_an_unchanged_file(settings: Settings, job: str, tmp_path: Path) -> None:
    same = tmp_path / "same.srt"
    assert runner.invoke(app, ["script", "export", job, "--lang", "es", "--out", str(same)]).exit_code == 0
    r = runner.invoke(app, ["script", "check", job, "--lang", "es", str(same)])
    assert r.exit_code == 0 and "no changes" in r.output, r.output


def test_check_of_a_bad_file_is_one_line(settings: Settings, job: str, tmp_path: Path) -> None:
    bad = tmp_path / "bad.srt"
    bad.write_text("this is not a subtitle file\n", encoding="utf-8")
    r = runner.invoke(app, ["script", "check", job, "--lang", "es", str(bad)])
    assert r.exit_code != 0 and "error:" in r.output and "Traceback" not in r.output, r.output
    r = runner.invoke(app, ["script", "check", job, "--lang", "es", str(tmp_path / "missing.srt")])
    assert r.exit_code == 2 and "is not a file" in r.output, r.output


def test_a_missing_job_or_language_is_a_clear_error(settings: Settings, job: str) -> None:
    r = runner.invoke(app, ["script", "export", "0000nope", "--lang", "es"])
    assert r.exit_code == 2 and "no job '0000nope' in the store" in r.output and "Traceback" not in r.output, r.output
    r = runner.invoke(app, ["script", "export", job, "--lang", "fr"])
    assert r.exit_code == 2 and "has no 'fr' script" in r.output and "es" in r.output, r.output
    r = runner.invoke(app, ["script", "export", job, "--lang", "es", "--format", "docx"])
    assert r.exit_code == 2 and "--format 'docx'" in r.output, r.output


def test_an_ambiguous_job_prefix_is_refused(settings: Settings, job: str) -> None:
    store = open_settings_store(settings)
    twin = job[:4] + "f" * (len(job) - 4) if job[4] != "f" else job[:4] + "0" * (len(job) - 4)
    put_json(store, f"jobs/{twin}/manifest.json", {"job_id": twin, "input": {"filename": "x.mp4", "sha256": SHA}})
    r = runner.invoke(app, ["script", "history", job[:4]])
    assert r.exit_code == 2 and "ambiguous" in r.output, r.output
    assert runner.invoke(app, ["script", "history", job]).exit_code == 0


def test_history_lists_a_recorded_revision(settings: Settings, job: str) -> None:
    record_revision(
        settings,
        input_sha256=SHA,
        language="es",
        kind="translation",
        revision=6,
        edit_name="episode.es.srt",
        edit_sha256="e1" * 32,
        edit_format="srt",
        before_sha256="b0" * 32,
        after_sha256="a1" * 32,
        changes=[{"id": "s0002", "field": "translation", "language": "es", "before": "a", "after": "b"}],
        stale={"es": {"s0002": "translation edited"}},
        script_uri="file:///store/revised.json",
        review={"approved_by": "ana", "timed_out": False},
    )
    r = runner.invoke(app, ["script", "history", job[:10]])
    assert r.exit_code == 0, r.output
    assert "episode.es.srt" in r.output and "tester" in r.output and "approved by ana" in r.output, r.output
