"""Provenance: an artifact record and a JSON manifest for every published output (and every line spoken in
a person's voice): its sha256 and size, its inputs with their hashes, the models (id, version, weights
sha256), the parameters, the consents used, and the DAG run and task that made it.

The manifest is written beside the output (`<name>.provenance.json`) and stored in the artifacts table.
pipeline.ledger.verification reads them back: its `verify` recomputes the hashes of the output and, through
the chain of inputs (and the inputs' own records), of everything it was made from, and reports each mismatch.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

from sqlalchemy import select
from sqlalchemy.orm import Session

from models.files import atomic_write_bytes
from pipeline.core.config import Settings
from pipeline.core.deliver import DELIVERED_MODE
from pipeline.core.errors import InputError
from pipeline.ledger import audit
from pipeline.ledger.job_facts import consent_docs, model_entries, run_context
from pipeline.ledger.tables import Artifact, ArtifactConsent, ArtifactInput

MANIFEST_SUFFIX = ".provenance.json"
MEDIA_TYPES = {
    ".mp4": "video/mp4",
    ".mkv": "video/x-matroska",
    ".m4a": "audio/mp4",
    ".wav": "audio/wav",
    ".srt": "application/x-subrip",
    ".vtt": "text/vtt",
    ".json": "application/json",
}


# the stages that speak with a voice: the consents their results name are the job's
VOICE_STAGES = ("synthesize", "describe_dub")


def media_type(name: str) -> str:
    return MEDIA_TYPES.get(Path(name).suffix.lower(), "application/octet-stream")


def normalise_uri(uri: str) -> str:
    p = urlparse(uri)
    if p.scheme in ("", "file"):
        return str(Path(unquote(p.path) if p.scheme else uri).expanduser().resolve())
    return uri


def hash_uri(uri: str, settings: Settings) -> tuple[str, int] | None:
    """(sha256, size) of the object at `uri` (a path, file:// or s3:// URI); None when it is missing."""
    from models.registry import sha256_file

    p = urlparse(uri)
    if p.scheme in ("", "file"):
        path = Path(normalise_uri(uri))
        return (sha256_file(path), path.stat().st_size) if path.is_file() else None
    from pipeline.core.storage import open_store

    parent, _, name = uri.rpartition("/")
    store = open_store(parent, settings)
    if not store.exists(name):
        return None
    local = store.local_path(name, settings.data_dir / "work" / "provenance")
    return sha256_file(local), local.stat().st_size


def _add(
    s: Session,
    doc: dict[str, Any],
    consent_ids: list[int],
    input_ids: dict[str, int] | None = None,
    watermark: int | None = None,
) -> Artifact:
    a, ctx = doc["artifact"], doc["run"]
    art = Artifact(
        watermark=watermark,
        uri=a["uri"],
        sha256=a["sha256"],
        size=a["size"],
        media_type=a["media_type"],
        stage=a["stage"],
        models=doc["models"],
        parameters=doc["parameters"],
        dag_id=ctx.get("dag_id"),
        run_id=ctx.get("run_id"),
        task_id=ctx.get("task_id"),
        manifest=doc,
        created_at=datetime.now(UTC),
    )
    s.add(art)
    s.flush()
    for inp in doc["inputs"]:
        s.add(
            ArtifactInput(
                artifact_id=art.id,
                role=inp["role"],
                uri=inp["uri"],
                sha256=inp["sha256"],
                input_artifact_id=(input_ids or {}).get(inp["uri"]),
            )
        )
    for cid in consent_ids:
        s.add(ArtifactConsent(artifact_id=art.id, consent_id=cid))
    s.flush()
    audit.append(
        s,
        f"artifact.{a['stage']}",
        "artifact",
        art.id,
        {"uri": a["uri"], "sha256": a["sha256"], "consents": consent_ids},
    )
    return art


add_artifact = _add  # for the other products' delivery records (pipeline.ledger.delivery)


def record_clip(settings: Settings, uri: str, consent_id: int, model: dict[str, Any], params: dict[str, Any]) -> None:
    """A line synthesized in a person's voice, made under `consent_id` (recorded once per clip and consent)."""
    from pipeline.ledger import db

    hashed = hash_uri(uri, settings)
    if hashed is None:
        return
    sha, size = hashed
    with db.session(settings) as s:
        existing = s.scalars(
            select(Artifact).where(Artifact.uri == uri, Artifact.stage == "synthesize", Artifact.sha256 == sha)
        ).first()
        if existing is not None:
            if s.get(ArtifactConsent, (existing.id, consent_id)) is None:
                s.add(ArtifactConsent(artifact_id=existing.id, consent_id=consent_id))
            return
        doc = {
            "dubline_provenance": 1,
            "artifact": {"uri": uri, "sha256": sha, "size": size, "media_type": "audio/wav", "stage": "synthesize"},
            "inputs": [],
            "models": [model],
            "parameters": params,
            "consents": consent_docs(s, [consent_id]),
            "run": run_context(),
        }
        _add(s, doc, [consent_id])


def record_publication(
    settings: Settings,
    ingested: dict[str, Any],
    stage_results: list[dict[str, Any]],
    muxed: dict[str, Any],
    published: dict[str, Any],
    params: dict[str, Any],
) -> dict[str, str]:
    """Write a manifest beside every published file and record each as an artifact. Returns {name: manifest}."""
    from pipeline.core.storage import open_store
    from pipeline.ledger import db

    origin = _origins(str(ingested["stem"]), muxed)
    files: dict[str, str] = dict(published.get("files", {}))
    if published.get("report"):
        files[Path(urlparse(str(published["report"])).path).name] = str(published["report"])
    hashes: dict[str, tuple[str, int] | None] = {}

    def hashed(uri: str) -> tuple[str, int]:
        if uri not in hashes:
            hashes[uri] = hash_uri(uri, settings)
        got = hashes[uri]
        if got is None:
            raise InputError(f"{uri} vanished while its provenance was being recorded", "run the job again")
        return got

    mixes = [r for r in stage_results if r.get("stage") == "mix" and r.get("mix_uri")]
    marked = [m for m in mixes if (m.get("watermark") or {}).get("payload") is not None]
    consent_ids = sorted(
        {int(c) for r in stage_results if r.get("stage") in VOICE_STAGES for c in r.get("consents", [])}
    )
    stages = _stages_once([*stage_results, muxed])  # the results may hold the muxed one already
    source = {"role": "source", "uri": ingested["source_uri"], "sha256": ingested["source_sha256"]}
    location = str(published.get("location", ""))
    local = urlparse(location).scheme in ("", "file")
    from pipeline.core.stagerun import job_id

    job = {"job_id": job_id(str(muxed["key"]), location), "input_filename": ingested["filename"]}
    target = None if local else open_store(location, settings)
    written: dict[str, str] = {}
    docs: list[dict[str, Any]] = []
    with db.session(settings) as s:
        consents = consent_docs(s, consent_ids)
    for name, where in files.items():
        uri = normalise_uri(where) if local else where
        sha, size = hashed(uri)
        inputs = [source]
        if name in origin:
            inputs.append({"role": "stage_output", "uri": origin[name], "sha256": hashed(origin[name])[0]})
        if media_type(name).startswith(("video/", "audio/")):
            inputs += [
                {"role": f"mix:{m['language']}", "uri": m["mix_uri"], "sha256": hashed(m["mix_uri"])[0]} for m in mixes
            ]
        kind = "media" if media_type(name).startswith(("video/", "audio/")) else "subtitles"
        doc = {
            "dubline_provenance": 1,
            "artifact": {
                "uri": uri,
                "name": name,
                "sha256": sha,
                "size": size,
                "media_type": media_type(name),
                "stage": "publish",
                "kind": "report" if name.endswith(".report.json") else kind,
            },
            "inputs": inputs,
            "stages": stages,
            "models": model_entries(stage_results),
            "parameters": params,
            "consents": consents,
            "run": run_context(),
        }
        if kind == "media":
            doc["watermarks"] = [_mark_of(m) for m in marked]
            if name in origin:
                doc.update(_credentials_of(name, muxed))
        body = json.dumps(doc, indent=1, sort_keys=True).encode()
        mname = name + MANIFEST_SUFFIX
        if local:
            dest = Path(uri).parent / mname
            atomic_write_bytes(dest, body, exact_mode=DELIVERED_MODE)
            written[name] = str(dest)
        else:
            assert target is not None
            written[name] = target.put_bytes(mname, body)
        docs.append(doc)
    with db.session(settings) as s:
        # each marked dub track is an artifact of its own, found by its mark's payload (`dubline detect`)
        tracks = {
            m["mix_uri"]: _record_track(s, m, hashed(m["mix_uri"]), source, stage_results, job).id for m in marked
        }
        for doc in docs:
            _add(s, doc, consent_ids, tracks)
    return written


def _origins(stem: str, muxed: dict[str, Any]) -> dict[str, str]:
    """Each delivered media and subtitle file's name and the stage output it was copied from."""
    origin: dict[str, str] = {}
    for ext, uri in (muxed.get("media") or {muxed["media_ext"]: muxed["media_uri"]}).items():
        origin[f"{stem}.dub.{ext}"] = uri
    for lang, by_ext in muxed["subtitles"].items():
        for ext, uri in by_ext.items():
            origin[f"{stem}.{lang}.{ext}"] = uri
    return origin


def _stages_once(results: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The stages of a job, each once, as a manifest lists them."""
    seen: set[tuple[object, object, object]] = set()
    stages = []
    for r in results:
        ident = (r.get("stage"), r.get("label"), r.get("key"))
        if r.get("key") and ident not in seen:
            seen.add(ident)
            stages.append({k: r.get(k) for k in ("stage", "label", "key", "elapsed_s", "cached")})
    return stages


def _credentials_of(name: str, muxed: dict[str, Any]) -> dict[str, Any]:
    """A delivered media file's content credentials: signed (with the label) or why not; {} when neither."""
    ext = Path(name).suffix.lstrip(".")
    credentials = muxed.get("c2pa") or {}
    if ext in credentials.get("signed", {}):
        return {"c2pa": {"signed": True, **credentials["signed"][ext]}}
    if ext in credentials.get("skipped", {}):
        return {"c2pa": {"signed": False, "reason": credentials["skipped"][ext]}}
    return {}


def _mark_of(mix: dict[str, Any]) -> dict[str, Any]:
    return {"language": mix["language"], **{k: mix["watermark"][k] for k in ("scheme", "key_id", "payload")}}


def _record_track(
    s: Session,
    mix: dict[str, Any],
    sha_size: tuple[str, int],
    source: dict[str, Any],
    stage_results: list[dict[str, Any]],
    job: dict[str, Any],
) -> Artifact:
    """The artifact of a marked dub track (the mix stage's output), recorded once per content."""
    sha, size = sha_size
    existing = s.scalars(
        select(Artifact).where(Artifact.uri == mix["mix_uri"], Artifact.sha256 == sha, Artifact.stage == "mix")
    ).first()
    if existing is not None:
        return existing
    lang = mix["language"]
    consent_ids = sorted(
        {
            int(c)
            for r in stage_results
            if r.get("stage") == "synthesize" and r.get("language") == lang
            for c in r.get("consents", [])
        }
    )
    params = ("mode", "base", "duck_db", "attack", "release", "dub_gain_db", "loudness_profile")
    doc = {
        "dubline_provenance": 1,
        "artifact": {
            "uri": mix["mix_uri"],
            "sha256": sha,
            "size": size,
            "media_type": "audio/wav",
            "stage": "mix",
            "kind": "dub_track",
            "language": lang,
        },
        "inputs": [source],
        "models": [m for m in model_entries(stage_results) if m["role"] == "asr" or m.get("language") in (None, lang)],
        "parameters": {k: mix[k] for k in params if k in mix},
        "watermark": mix["watermark"],
        "job": job,
        "consents": consent_docs(s, consent_ids),
        "run": run_context(),
    }
    return _add(s, doc, consent_ids, watermark=int(mix["watermark"]["payload"]))
