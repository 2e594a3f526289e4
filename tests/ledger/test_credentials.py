"""C2PA content credentials at publish (mp4 and m4a signed last, mkv delivered unsigned with a note),
`provenance verify` on them (tampering reported), the project-local signer, and `dubline detect` finding a
published dub track's record through its mark (SQLite and PostgreSQL)."""

from __future__ import annotations

import hashlib
import json
import shutil
import stat
import subprocess
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import soundfile as sf
from typer.testing import CliRunner

from pipeline.audio import media
from pipeline.cli.app import app
from pipeline.core.config import Settings
from pipeline.core.stagerun import open_settings_store
from pipeline.ledger import certificates, signing
from pipeline.ledger import watermark as wm
from pipeline.ledger import watermark_embed as wme

MODEL = {"id": "m", "version": "1", "sha256": "f" * 64}
PAYLOAD = 0x5EED1234
RATE = 48000


def _tone_speech(seconds: float, seed: int) -> np.ndarray:
    """Bursts of harmonic tones with pauses, over a quiet hum: enough structure to carry the mark."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * RATE)) / RATE
    out = 0.01 * np.sin(2 * np.pi * 110 * t)
    pos = 0.2
    while pos < seconds - 0.4:
        dur = rng.uniform(0.15, 0.35)
        seg = (t >= pos) & (t < pos + dur)
        f0 = rng.uniform(100, 220)
        local = t[seg] - pos
        env = np.sin(np.pi * local / dur)
        for h in range(1, int(7000 / f0)):
            gain = np.exp(-(((h * f0 - rng.uniform(500, 3000)) / 600) ** 2)) + 0.05
            out[seg] += env * gain * np.sin(2 * np.pi * h * f0 * local) / h**0.5
        pos += dur + rng.uniform(0.03, 0.4)
    return np.stack([out, out], axis=1) / np.max(np.abs(out)) * 0.3


@pytest.fixture(scope="module")
def media_files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Real media as mux makes them: a picture, the original track and a marked dub track."""
    d = tmp_path_factory.mktemp("credentials-media")
    sf.write(str(d / "original.wav"), _tone_speech(10, 1).astype(np.float32), RATE)
    dub = wme.embed(_tone_speech(10, 2).astype(np.float32), RATE, PAYLOAD, Settings().watermark_key.get_secret_value())
    sf.write(str(d / "dub.wav"), dub, RATE)
    picture = d / "picture.mp4"
    subprocess.run(
        ["ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i", "color=c=green:s=160x120:r=10:d=10"]
        + ["-c:v", "libx264", "-pix_fmt", "yuv420p", str(picture)],
        check=True,
    )
    tracks = [(d / "original.wav", "eng", "Original (en)"), (d / "dub.wav", "spa", "Dub (es)")]
    return {
        "mp4": media.mux(picture, tracks, d / "dub.mp4", 10.0),
        "mkv": media.mux(picture, tracks, d / "dub.mkv", 10.0),
        "m4a": media.mux(None, tracks, d / "dub.m4a", 10.0),
        "dub": d / "dub.wav",
    }


@pytest.fixture
def published(
    settings: Settings,
    grant: Any,
    dub_job: Any,
    media_files: dict[str, Path],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> dict[str, Any]:
    from pipeline.products.dubbing.contracts import DubRequest, Muxed
    from pipeline.products.dubbing.publish import publish
    from pipeline.stages.contracts import Ingested

    monkeypatch.setenv("AIRFLOW_CTX_DAG_ID", "dub_video")
    monkeypatch.setenv("AIRFLOW_CTX_DAG_RUN_ID", "manual__2026-06-15")
    store = open_settings_store(settings)
    cid = grant(settings, languages=("es",))
    src = store.put_bytes("sources/talk.mp4", b"the source video")
    ingested = Ingested(
        stage="ingest",
        key="k-ingest",
        source_uri=src,
        source_sha256=hashlib.sha256(b"the source video").hexdigest(),
        filename="talk.mp4",
        stem="talk",
        duration=10.0,
        has_video=True,
        asr_audio_uri=src,
        full_audio_uri=src,
        script_uri=src,
    )
    mark = {"scheme": wm.SCHEME, "key_id": wm.key_id(settings.watermark_key.get_secret_value()), "payload": PAYLOAD}
    mix_uri = store.put_file("stages/mix/k/mix_es.wav", media_files["dub"])
    muxed = Muxed(
        stage="mux",
        key="k-mux",
        media_ext="mp4",
        media_uri="",
        media={ext: store.put_file(f"stages/mux/k/dub.{ext}", media_files[ext]) for ext in ("mp4", "mkv", "m4a")},
        subtitles={"es": {"srt": store.put_bytes("stages/mux/k/es.srt", b"1\n")}},
        subtitle_profile="broadcast",
        subtitle_checks={},
        loudness={},
        script_uri=store.put_bytes("stages/mux/k/script.json", b"{}"),
        languages=["es"],
        source_language="en",
    )
    job = dub_job(ingested, muxed, model=MODEL, consents=[cid], mix_uri=mix_uri, watermark=mark)
    out = tmp_path / "out"
    request = DubRequest(input=src, target_languages=["es"], output=str(out), containers=["mp4", "mkv", "m4a"])
    result = publish(settings, job, request)
    return {"out": out, "result": result, "consent": cid, "args": (job, request)}


def test_mp4_and_m4a_are_signed_with_the_job_and_consents(settings: Settings, published: dict[str, Any]) -> None:
    for name in ("talk.dub.mp4", "talk.dub.m4a"):
        check = signing.check_file(settings, published["out"] / name)
        assert check.intact and check.trusted and check.state == "Trusted", check
        actions = next(v for k, v in check.assertions.items() if k.startswith("c2pa.actions"))
        assert actions["actions"][0]["digitalSourceType"] == signing.DIGITAL_SOURCE_TYPE
        job = check.assertions[signing.JOB_ASSERTION]
        assert job["input"] == {"filename": "talk.mp4", "sha256": hashlib.sha256(b"the source video").hexdigest()}
        assert job["dag_id"] == "dub_video" and job["run_id"] == "manual__2026-06-15"
        assert job["delivery_key"] == "k-mux"
        assert {m["role"] for m in job["models"]} == {"asr", "mt", "tts"}
        consents = check.assertions[signing.CONSENT_ASSERTION]["consents"]
        assert [c["id"] for c in consents] == [published["consent"]] and consents[0]["person"] == "joe"
        assert check.assertions[signing.WATERMARK_ASSERTION]["tracks"][0]["payload"] == PAYLOAD
        doc = json.loads((published["out"] / f"{name}.provenance.json").read_text())
        assert doc["c2pa"]["signed"] and doc["c2pa"]["label"] == check.label


def test_mkv_is_delivered_unsigned_and_the_report_says_so(settings: Settings, published: dict[str, Any]) -> None:
    assert not signing.check_file(settings, published["out"] / "talk.dub.mkv").supported
    report = json.loads(Path(published["result"].report).read_text())
    assert any(w.startswith("mkv: C2PA cannot embed") for w in report["warnings"]), report["warnings"]
    assert set(report["content_credentials"]["signed"]) == {"mp4", "m4a"}
    doc = json.loads((published["out"] / "talk.dub.mkv.provenance.json").read_text())
    assert doc["c2pa"]["signed"] is False and "Matroska" in doc["c2pa"]["reason"]
    r = CliRunner().invoke(app, ["provenance", "verify", str(published["out"] / "talk.dub.mkv")])
    assert r.exit_code == 0, r.output


def test_verify_checks_the_manifest(settings: Settings, published: dict[str, Any]) -> None:
    r = CliRunner().invoke(app, ["provenance", "verify", str(published["out"] / "talk.dub.mp4")])
    assert r.exit_code == 0, r.output
    assert "C2PA manifest of" in r.output and "C2PA manifest intact" in r.output


def test_flipped_bytes_are_reported_as_tampering(settings: Settings, published: dict[str, Any]) -> None:
    target = published["out"] / "talk.dub.mp4"
    data = bytearray(target.read_bytes())
    for i in range(len(data) // 2, len(data) // 2 + 16):
        data[i] ^= 0xFF
    target.write_bytes(bytes(data))
    r = CliRunner().invoke(app, ["provenance", "verify", str(target)])
    assert r.exit_code == 7, r.output
    assert "does not match the recorded" in r.output  # the ledger's hash
    assert "Hash.mismatch" in r.output  # and the manifest's hash binding


def test_a_signed_copy_elsewhere_is_checked_by_its_manifest(
    settings: Settings, published: dict[str, Any], tmp_path: Path
) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    copy = shutil.copy(published["out"] / "talk.dub.m4a", elsewhere / "copy.m4a")
    r = CliRunner().invoke(app, ["provenance", "verify", str(copy)])
    assert r.exit_code == 7, r.output
    assert "no provenance record here" in r.output and "signature, hash binding and certificate" in r.output


def test_a_manifest_from_another_signer_is_untrusted(
    settings: Settings, media_files: dict[str, Path], tmp_path: Path
) -> None:
    other = settings.model_copy(update={"c2pa_cert_dir": tmp_path / "other-ca"})
    files, made = certificates.init_signer(other)
    assert made
    signed = tmp_path / "foreign.mp4"
    signing.sign_file(files, media_files["mp4"], signed, signing.manifest_definition("x", {}, [], []))
    assert signing.check_file(other, signed).trusted
    check = signing.check_file(settings, signed)  # this project's CA
    assert check.found and not check.trusted and not check.failures
    _, bad = check.lines()
    assert any("not this project's signing CA" in b for b in bad)


def test_signing_again_reuses_the_signed_files(settings: Settings, published: dict[str, Any]) -> None:
    from pipeline.products.dubbing.publish import publish

    first = (published["out"] / "talk.dub.mp4").read_bytes()
    publish(settings, *published["args"])
    assert (published["out"] / "talk.dub.mp4").read_bytes() == first


def test_init_signer_is_idempotent_and_keeps_keys_private(settings: Settings) -> None:
    files, _ = certificates.init_signer(settings)
    again, made = certificates.init_signer(settings)
    assert not made and again.fingerprint() == files.fingerprint()
    for key in (files.key, files.ca_key):
        assert stat.S_IMODE(key.stat().st_mode) == 0o600
    r = CliRunner().invoke(app, ["provenance", "init-signer"])
    assert r.exit_code == 0 and "present and usable" in r.output, r.output
    files.chain.write_text("damaged")
    remade, made = certificates.init_signer(settings)
    assert made and remade.problem() is None
    ca = files.ca_cert.read_bytes()
    assert certificates.init_signer(settings, force=True)[1] and files.ca_cert.read_bytes() == ca  # the CA is kept


def test_detect_finds_the_dub_track_in_the_ledger(settings: Settings, published: dict[str, Any]) -> None:
    target = published["out"] / "talk.dub.mp4"
    r = CliRunner().invoke(app, ["detect", str(target)])
    assert r.exit_code == 0, r.output
    assert "audio stream 0 (eng" in r.output and "no mark" in r.output
    assert f"marked: payload {PAYLOAD:08x}" in r.output
    assert "dub track artifact" in r.output and "manual__2026-06-15" in r.output and "talk.mp4" in r.output
    assert f"consent {published['consent']}: joe, dubbing in es" in r.output
    assert f"published in {target}" in r.output
    assert "models: asr m 1, mt m 1, tts m 1" in r.output
    r = CliRunner().invoke(app, ["detect", "--json", str(published["out"] / "talk.dub.mkv")])
    assert r.exit_code == 0, r.output
    streams = json.loads(r.output)["streams"]
    assert [s["payload"] for s in streams] == [None, PAYLOAD]
    assert streams[1]["records"][0]["language"] == "es"


def test_detect_bad_input_is_one_line(settings: Settings, tmp_path: Path) -> None:
    r = CliRunner().invoke(app, ["detect", str(tmp_path / "missing.mp4")])
    assert r.exit_code == 2 and "no such file" in r.output
    (tmp_path / "silent.txt").write_text("hello")
    r = CliRunner().invoke(app, ["detect", str(tmp_path / "silent.txt")])
    assert r.exit_code == 2 and "not a media file" in r.output
