"""`dubline voice` as a user runs it (SQLite and PostgreSQL), with the fake listener and cloner of test_voices.

The refusals come from the command's up-front check (before Airflow starts); the slow test runs the
enroll_voice DAG itself through dag.test(), with a refusal inside the DAG too.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from pipeline.cli.app import app
from pipeline.core.config import Settings
from pipeline.ledger import db, voices
from tests.ledger.test_voices import FakeCloner, consent_with_references, fake_measure, recording

runner = CliRunner()


@pytest.fixture
def cloner(monkeypatch: pytest.MonkeyPatch) -> FakeCloner:
    from pipeline.voice import enroll

    fake = FakeCloner()
    monkeypatch.setattr(enroll, "measure_reference", fake_measure)
    monkeypatch.setattr(enroll, "speaker_model", lambda: {"id": "fake-speaker", "version": "1", "sha256": ""})
    monkeypatch.setattr(enroll, "make_cloner", lambda settings, backend: fake)
    return fake


def _error_line(output: str) -> str:
    lines = [ln for ln in output.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), output
    assert "Traceback" not in output
    return " ".join(output.split())


@pytest.mark.parametrize(
    ("consent", "code", "says"),
    [
        (None, 6, "no consent lets the voice of person joe (clone:fake-search) be used for dubbing in es"),
        ({"status": "revoked"}, 6, "was revoked"),
        ({"voice": "joe", "refs": [("ann.wav", "ann", 12)]}, 6, "ann.wav does not sound like the consented voice"),
        ({"voice": "joe", "refs": [("a.wav", "joe", 4), ("b.wav", "joe", 4)]}, 2, "8.0 s of speech (a.wav 4.0 s"),
        ({"voice": "joe", "refs": [("gone.wav", None, 0)]}, 2, "gone.wav does not exist"),
    ],
)
def test_enroll_refusals(
    settings: Settings,
    grant: Any,
    cloner: FakeCloner,
    tmp_path: Path,
    consent: dict[str, Any] | None,
    code: int,
    says: str,
) -> None:
    refs = [str(recording(tmp_path, "joe.wav", "joe", 12))]
    if consent and "voice" in consent:
        consent_with_references(settings, grant, languages=("es",))
        refs = [
            str(recording(tmp_path, name, voice, secs)) if voice else str(tmp_path / name)
            for name, voice, secs in consent["refs"]
        ]
    elif consent:
        grant(settings, languages=("es",), **consent)
    r = runner.invoke(app, ["voice", "enroll", "joe", *refs, "--language", "es", "--backend", "fake-search"])
    assert r.exit_code == code, r.output
    assert says in _error_line(r.output)
    assert cloner.searches == []


def test_list_show_retire_and_series(settings: Settings, grant: Any) -> None:
    cid = consent_with_references(settings, grant, languages=("es",))
    figures = {"held_out_similarity": 0.812, "held_out_similarity_campp": 0.634, "wer": 0.04, "seconds": 95.0}
    with db.session(settings) as s:
        p, _ = voices.add_profile(s, "joe", "kokoro-search", ["es"], "file:///store/p/", "a" * 64, figures, [1], cid)
        pid = p.id
        voices.remember_series_voice(s, "Sea Stories", "S1", "es", "piper", "es_ES-davefx-medium", 0.92, None, [1.0])
        voices.remember_series_voice(s, "Sea Stories", "S2", "es", "kokoro", f"profile:{pid}", 1.0, "joe", [0.0])
    r = runner.invoke(app, ["voice", "list"])
    out = " ".join(r.output.split())
    assert r.exit_code == 0 and "kokoro-search" in out and "0.812" in out and "active" in out, r.output
    assert "CAM++" in out and "0.634" in out  # the second judge beside Resemblyzer
    r = runner.invoke(app, ["voice", "list", "--person", "nobody"])
    assert r.exit_code == 0 and "kokoro-search" not in r.output
    r = runner.invoke(app, ["voice", "show", str(pid)])
    doc = json.loads(r.output)
    assert (doc["person"], doc["consent"], doc["figures"], doc["uri"]) == ("joe", cid, figures, "file:///store/p/")
    assert [ref["id"] for ref in doc["references"]] == [1]
    r = runner.invoke(app, ["voice", "show", "99"])
    assert r.exit_code == 2 and "no voice profile 99" in _error_line(r.output)
    r = runner.invoke(app, ["voice", "series", "Sea Stories"])
    out = " ".join(r.output.split())
    assert r.exit_code == 0 and "es_ES-davefx-medium" in out and "0.92" in out and "joe" in out, r.output
    r = runner.invoke(app, ["voice", "series", "Sea Stories", "--language", "fr"])
    assert r.exit_code == 2 and "has no stored voices" in _error_line(r.output)
    r = runner.invoke(app, ["voice", "retire", str(pid), "--reason", "the actor asked"])
    assert r.exit_code == 0 and f"retired voice profile {pid} of joe" in r.output
    r = runner.invoke(app, ["voice", "retire", str(pid)])
    assert r.exit_code == 0 and "already retired" in r.output
    with db.session(settings) as s:
        assert voices.active_profile(s, "joe", "es") is None
    r = runner.invoke(app, ["audit", "verify"])
    assert r.exit_code == 0, r.output


@pytest.mark.slow
def test_enroll_through_the_dag(
    settings: Settings,
    grant: Any,
    cloner: FakeCloner,
    tmp_path: Path,
    tmp_path_factory: pytest.TempPathFactory,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """`dubline voice enroll` runs enroll_voice in-process; a second run reuses the search; the DAG's own
    consent check refuses an enrolment the command did not check first."""
    from pipeline.cli.runner import _Replayed, run_dag
    from pipeline.core.config import reset_settings

    monkeypatch.setenv("DUBLINE_AIRFLOW_HOME", str(tmp_path_factory.getbasetemp() / "airflow-enroll"))
    reset_settings()
    cid = consent_with_references(settings, grant, languages=("es",))
    refs = [str(recording(tmp_path, f"joe{i}.wav", "joe2", 6)) for i in range(2)]
    args = ["voice", "enroll", "joe", *refs, "--language", "es", "--budget", "30"]
    r = runner.invoke(app, args)
    out = " ".join(r.output.split())
    assert r.exit_code == 0, r.output
    assert f"consent {cid} covers dubbing in es; 2 reference(s), 12.0 s of speech" in out
    assert "recorded for joe (fake-search, es): held-out similarity 0.810, WER 0.050, search 12 s" in out
    assert len(cloner.searches) == 1 and cloner.searches[0][2] == 30.0
    r = runner.invoke(app, args)
    assert r.exit_code == 0 and "already recorded" in r.output and "reused, not searched again" in r.output
    assert len(cloner.searches) == 1
    with db.session(settings) as s:
        [p] = voices.profiles(s, "joe")
    jobs = db.recent_jobs(settings)
    assert p.status == "active" and [j.status for j in jobs] == ["success", "success"]
    assert jobs[0].outputs and jobs[0].outputs["profile_id"] == p.id

    conf = {"person": "ann", "references": refs, "language": "es", "use": "dubbing", "backend": "", "budget_s": 0}
    with pytest.raises(_Replayed) as err:
        run_dag(settings, "enroll_voice", conf)
    assert err.value.exit_code == 6 and "no consent lets the voice of person ann" in err.value.one_line()
    assert len(cloner.searches) == 1
