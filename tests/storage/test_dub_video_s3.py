"""End to end on S3: the dub_video DAG with DUBLINE_STORE_URL and the output on a real S3 server
(SeaweedFS). Every intermediate and final object lands in the bucket; nothing in the local store."""

from __future__ import annotations

import hashlib
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from pipeline.core.config import Settings, get_settings, reset_settings
from pipeline.core.storage import ObjectStore, get_json, key_of, open_store
from tools.seaweed import SeaweedS3

pytestmark = pytest.mark.slow


@pytest.fixture
def s3_env(
    s3_server: SeaweedS3, _isolated_data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[Settings, str]]:
    """The session's data folder (Airflow already migrated there), with the store on S3."""
    store_url = f"s3://{s3_server.bucket}/e2e-{uuid.uuid4().hex[:8]}"
    monkeypatch.setenv("DUBLINE_DATA_DIR", str(_isolated_data_dir))
    monkeypatch.setenv("DUBLINE_STORE_URL", store_url)
    for k, v in s3_server.env().items():
        monkeypatch.setenv(k, v)
    reset_settings()
    try:
        yield get_settings(), store_url
    finally:
        monkeypatch.undo()
        reset_settings()


def _files(folder: Path) -> dict[str, float]:
    return {str(p.relative_to(folder)): p.stat().st_mtime for p in folder.rglob("*") if p.is_file()}


def _uris(doc: Any) -> Iterator[str]:
    if isinstance(doc, str) and doc.startswith("s3://"):
        yield doc
    elif isinstance(doc, dict):
        for v in doc.values():
            yield from _uris(v)
    elif isinstance(doc, list):
        for v in doc:
            yield from _uris(v)


def test_dub_video_keeps_every_object_in_s3(s3_env: tuple[Settings, str], tmp_path: Path) -> None:
    from pipeline.audio.sample import make_sample
    from pipeline.cli.runner import run_dag
    from pipeline.core.script import Script

    settings, store_url = s3_env
    store = open_store(store_url, settings)
    local_store = settings.data_dir / "store"
    local_before = _files(local_store) if local_store.is_dir() else {}

    sample = make_sample(tmp_path / "talk.mp4", settings, seconds=12.0)
    inbox = open_store(f"{store_url}-in", settings)
    input_uri = inbox.put_file("talk.mp4", sample)  # the input comes from S3 too
    output = f"{store_url}-out"
    conf = {"input": input_uri, "source_language": "", "target_languages": ["es"], "output": output}
    result = run_dag(settings, "dub_video", conf, log_path=settings.data_dir / "logs" / "e2e-s3.log")
    assert result["state"] == "success"
    published = result["published"]

    # the delivered files, under the output prefix, with working presigned links
    out = open_store(output, settings)
    names = ["talk.dub.mp4", "talk.en.srt", "talk.en.vtt", "talk.es.srt", "talk.es.vtt", "talk.report.json"]
    delivered = out.list("")
    assert [n for n in delivered if not n.endswith(".provenance.json")] == names  # provenance beside each
    assert published["location"] == output
    assert sorted(published["links"]) == names
    with urllib.request.urlopen(published["links"]["talk.es.vtt"], timeout=10) as resp:
        assert resp.read() == out.get_bytes("talk.es.vtt")

    # the per-job manifest lists every stage; every object a stage result names is in the bucket
    manifest_uri = published["manifest"]
    assert manifest_uri.startswith(f"{store_url}/jobs/") and manifest_uri.endswith("/manifest.json")
    manifest = get_json(store, key_of(store, manifest_uri))
    stages = {s["stage"] for s in manifest["stages"]}
    assert stages >= {"ingest", "transcribe", "translate", "synthesize", "fit", "mix", "mux"}
    checked: set[str] = set()
    for entry in manifest["stages"]:
        result_key = key_of(store, entry["result_uri"])
        assert store.exists(result_key)
        for uri in _uris(get_json(store, result_key)):
            _assert_object(store, uri, store_url)
            checked.add(uri)
    muxed = next(s for s in manifest["stages"] if s["stage"] == "mux")
    script = Script.from_json(store.get_bytes(f"stages/mux/{muxed['key']}/script.json"))
    clips = {c.uri for seg in script.segments for c in seg.clips.values()}
    assert clips, "no synthesized clips recorded in the script"
    for uri in clips:
        _assert_object(store, uri, store_url)
    assert any("/stages/ingest/" in u and u.endswith("/full48k.wav") for u in checked)
    assert any("/stages/mux/" in u and u.endswith("/dub.mp4") for u in checked)
    # the delivered mp4 is the signed one (the sign stage's output), byte for byte (compared by digest: a
    # failing comparison of megabytes would have pytest diff them for hours)
    signed = [u for u in checked if "/stages/sign/" in u and u.endswith("dub.mp4")]
    assert len(signed) == 1, signed
    delivered_sha = hashlib.sha256(out.get_bytes("talk.dub.mp4")).hexdigest()
    assert delivered_sha == hashlib.sha256(store.get_bytes(key_of(store, signed[0]))).hexdigest()

    # nothing went to the local store folder; no upload was left open
    changed = sorted(set((_files(local_store) if local_store.is_dir() else {}).items()) ^ set(local_before.items()))
    assert changed == [], changed[:10]
    assert store.incomplete_uploads() == [] and out.incomplete_uploads() == []  # type: ignore[attr-defined]


def _assert_object(store: ObjectStore, uri: str, store_url: str) -> None:
    assert uri.startswith(store_url + "/"), f"{uri} is not in the S3 store {store_url}"
    assert store.exists(key_of(store, uri)), f"{uri} is missing from the bucket"
