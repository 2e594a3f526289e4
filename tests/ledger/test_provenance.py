"""Provenance manifests at publish time: beside each output and in the database; `provenance verify`
recomputes the hashes through the chain of inputs (SQLite and PostgreSQL)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from pipeline.cli.app import app
from pipeline.core.config import Settings
from pipeline.core.stagerun import open_settings_store
from pipeline.ledger import db, provenance, verification

MODEL = {"id": "m", "version": "1", "sha256": "f" * 64}


@pytest.fixture
def published(
    settings: Settings, grant: Any, dub_job: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> dict[str, Any]:
    """A job's stage results (small files in the store) published to a folder, as the DAG's publish task does."""
    from pipeline.products.dubbing.contracts import DubRequest, Muxed
    from pipeline.products.dubbing.publish import publish
    from pipeline.stages.contracts import Ingested

    settings = settings.model_copy(update={"c2pa_sign": False})  # stand-in bytes for media: nothing to sign
    monkeypatch.setenv("AIRFLOW_CTX_DAG_ID", "dub_video")
    monkeypatch.setenv("AIRFLOW_CTX_DAG_RUN_ID", "manual__2026-06-15")
    monkeypatch.setenv("AIRFLOW_CTX_TASK_ID", "publish")
    store = open_settings_store(settings)
    cid = grant(settings, languages=("es",))
    src = store.put_bytes("sources/talk.wav", b"RIFF source audio")
    import hashlib

    ingested = Ingested(
        stage="ingest",
        key="k-ingest",
        source_uri=src,
        source_sha256=hashlib.sha256(b"RIFF source audio").hexdigest(),
        filename="talk.wav",
        stem="talk",
        duration=3.0,
        has_video=False,
        asr_audio_uri=src,
        full_audio_uri=src,
        script_uri=src,
    )
    mix_uri = store.put_bytes("stages/mix/k/mix.wav", b"mixed es")
    media_uri = store.put_bytes("stages/mux/k/dub.m4a", b"muxed media")
    muxed = Muxed(
        stage="mux",
        key="k-mux",
        media_ext="m4a",
        media_uri=media_uri,
        media={"m4a": media_uri},
        subtitles={
            lang: {
                ext: store.put_bytes(f"stages/mux/k/{lang}.{ext}", f"{lang} {ext}".encode()) for ext in ("srt", "vtt")
            }
            for lang in ("en", "es")
        },
        subtitle_profile="broadcast",
        subtitle_checks={},
        loudness={},
        script_uri=store.put_bytes("stages/mux/k/script.json", b"{}"),
        languages=["es"],
        source_language="en",
    )
    job = dub_job(ingested, muxed, model=MODEL, consents=[cid], mix_uri=mix_uri)
    out = tmp_path / "out"
    request = DubRequest(input=src, target_languages=["es"], output=str(out))
    result = publish(settings, job, request)
    return {"out": out, "result": result, "consent": cid, "mix": mix_uri, "store": store}


def test_every_output_has_a_manifest_beside_it_and_a_record(settings: Settings, published: dict[str, Any]) -> None:
    out: Path = published["out"]
    outputs = [p for p in out.iterdir() if not p.name.endswith(provenance.MANIFEST_SUFFIX)]
    assert {p.name for p in outputs} >= {"talk.dub.m4a", "talk.es.srt", "talk.en.vtt", "talk.report.json"}
    for p in outputs:
        manifest = json.loads((out / (p.name + provenance.MANIFEST_SUFFIX)).read_text())
        assert manifest["artifact"]["uri"] == str(p) and manifest["artifact"]["size"] == p.stat().st_size
        assert manifest["run"] == {
            "dag_id": "dub_video",
            "run_id": "manual__2026-06-15",
            "task_id": "publish",
            "try_number": None,
        }
        assert [c["id"] for c in manifest["consents"]] == [published["consent"]]
        assert {m["role"] for m in manifest["models"]} == {"asr", "mt", "tts"}
        assert manifest["inputs"][0]["role"] == "source"
        stages = [(st["stage"], st["label"], st["key"]) for st in manifest["stages"]]
        assert len(stages) == len(set(stages)) and ("mux", "", "k-mux") in stages, stages
        with db.session(settings) as s:
            art = verification.find(s, str(p))
            assert art is not None and art.manifest == manifest and art.stage == "publish"
    media = json.loads((out / "talk.dub.m4a.provenance.json").read_text())
    assert {i["role"] for i in media["inputs"]} == {"source", "stage_output", "mix:es"}


def test_verify_passes_on_untouched_outputs(settings: Settings, published: dict[str, Any]) -> None:
    r = CliRunner().invoke(app, ["provenance", "verify", str(published["out"] / "talk.dub.m4a")])
    assert r.exit_code == 0, r.output
    assert "verified: 5 hashes match" in r.output  # the file, the source, the store copy, the mix, the consent


def test_show_prints_the_manifest(settings: Settings, published: dict[str, Any]) -> None:
    r = CliRunner().invoke(app, ["provenance", "show", str(published["out"] / "talk.es.srt")])
    assert r.exit_code == 0, r.output
    doc = json.loads(r.output)
    assert doc["artifact"]["name"] == "talk.es.srt" and doc["record"]["flag"] is None


def test_edited_output_is_reported(settings: Settings, published: dict[str, Any]) -> None:
    target = published["out"] / "talk.es.srt"
    target.write_text("1\n00:00:00,000 --> 00:00:01,000\nsomething else\n")
    r = CliRunner().invoke(app, ["provenance", "verify", str(target)])
    assert r.exit_code == 7
    assert "mismatch" in r.output and "artifact" in r.output and "does not match the recorded" in r.output


def test_changed_input_in_the_chain_is_reported(settings: Settings, published: dict[str, Any]) -> None:
    store = published["store"]
    store.put_bytes("stages/mix/k/mix.wav", b"a different mix")
    checked, bad = verification.verify(settings, str(published["out"] / "talk.dub.m4a"))
    assert len(bad) == 1 and bad[0].startswith("input (mix:es)") and "does not match" in bad[0], bad
    store.put_bytes("sources/talk.wav", b"")  # the source too
    _, bad = verification.verify(settings, str(published["out"] / "talk.dub.m4a"))
    assert any(b.startswith("input (source)") for b in bad), bad


def test_missing_input_and_edited_manifest_are_reported(settings: Settings, published: dict[str, Any]) -> None:
    out = published["out"]
    (Path(settings.data_dir) / "store" / "stages" / "mux" / "k" / "es.vtt").unlink()
    m = out / "talk.es.vtt.provenance.json"
    doc = json.loads(m.read_text())
    doc["consents"] = []
    m.write_text(json.dumps(doc))
    _, bad = verification.verify(settings, str(out / "talk.es.vtt"))
    assert any("missing" in b and "es.vtt" in b for b in bad), bad
    assert any("differs from the record in the database" in b for b in bad), bad


def test_published_outputs_are_in_consent_impact_and_flagged_on_revocation(
    settings: Settings, published: dict[str, Any]
) -> None:
    r = CliRunner().invoke(app, ["consent", "revoke", "--person", "joe", "--reason", "no longer"])
    assert r.exit_code == 0, r.output
    r = CliRunner().invoke(app, ["consent", "impact", "--person", "joe"])
    n = len([p for p in published["out"].iterdir() if not p.name.endswith(provenance.MANIFEST_SUFFIX)])
    assert f"{n} artifact(s) made with the voice of joe; {n} flagged" in r.output, r.output
    r = CliRunner().invoke(app, ["provenance", "show", str(published["out"] / "talk.dub.m4a")])
    assert json.loads(r.output)["record"]["flag"] == "consent_revoked"
