"""Provenance of a delivery that is not a dub (an audiobook; next, a described video): a manifest beside every
delivered file and an artifact record of each, and an artifact of each marked track, found by its watermark's
payload (`dubline detect`). The dub's own, richer record is `provenance.record_publication`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from sqlalchemy import select

from models.files import atomic_write_bytes
from pipeline.core.config import Settings
from pipeline.core.deliver import DELIVERED_MODE
from pipeline.core.errors import InputError
from pipeline.ledger.job_facts import consent_docs, run_context
from pipeline.ledger.provenance import MANIFEST_SUFFIX, add_artifact, hash_uri, media_type, normalise_uri
from pipeline.ledger.tables import Artifact


@dataclass
class Delivery:
    """What was delivered, and from what."""

    product: str  # "audiobook", ...
    location: str  # a folder or a store URI
    files: dict[str, str]  # delivered name -> where it is (a path or URI)
    source: dict[str, Any]  # {"uri", "sha256", "filename"}: the job's input
    stages: list[dict[str, Any]]  # each stage once: {stage, label, key, elapsed_s, cached}
    models: list[dict[str, Any]]
    parameters: dict[str, Any]
    consent_ids: list[int]
    job: dict[str, Any]  # job id and whatever names the job
    origins: dict[str, str] = field(default_factory=dict)  # delivered name -> the store object it was copied from
    credentials: dict[str, dict[str, Any]] = field(default_factory=dict)  # name -> its C2PA facts
    marks: list[dict[str, Any]] = field(default_factory=list)  # each marked track: {uri, payload, scheme, key_id...}


def record_delivery(settings: Settings, d: Delivery) -> dict[str, str]:
    """Write a manifest beside every delivered file and record each as an artifact (and each marked track as
    one, by its payload). Returns {name: manifest}."""
    from pipeline.core.storage import open_store
    from pipeline.ledger import db

    local = urlparse(d.location).scheme in ("", "file")
    target = None if local else open_store(d.location, settings)
    with db.session(settings) as s:
        consents = consent_docs(s, d.consent_ids)
    source = {"role": "source", "uri": d.source["uri"], "sha256": d.source["sha256"]}
    written: dict[str, str] = {}
    docs: list[dict[str, Any]] = []
    for name, where in d.files.items():
        uri = normalise_uri(where) if local else where
        sha, size = _hashed(settings, uri)
        inputs = [source]
        if name in d.origins:
            inputs.append(
                {"role": "stage_output", "uri": d.origins[name], "sha256": _hashed(settings, d.origins[name])[0]}
            )
        is_media = media_type(name).startswith(("video/", "audio/"))
        doc: dict[str, Any] = {
            "dubline_provenance": 1,
            "artifact": {
                "uri": uri,
                "name": name,
                "sha256": sha,
                "size": size,
                "media_type": media_type(name),
                "stage": "publish",
                "kind": "report" if name.endswith(".report.json") else ("media" if is_media else "document"),
                "product": d.product,
            },
            "inputs": inputs,
            "stages": d.stages,
            "models": d.models,
            "parameters": d.parameters,
            "consents": consents,
            "job": d.job,
            "run": run_context(),
        }
        if is_media:
            doc["watermarks"] = [{k: m[k] for k in ("scheme", "key_id", "payload") if k in m} for m in d.marks]
            if name in d.credentials:
                doc["c2pa"] = d.credentials[name]
        body = json.dumps(doc, indent=1, sort_keys=True).encode()
        if local:
            dest = Path(uri).parent / (name + MANIFEST_SUFFIX)
            atomic_write_bytes(dest, body, exact_mode=DELIVERED_MODE)
            written[name] = str(dest)
        else:
            assert target is not None
            written[name] = target.put_bytes(name + MANIFEST_SUFFIX, body)
        docs.append(doc)
    with db.session(settings) as s:
        tracks = {m["uri"]: _record_track(s, settings, d, m, source, consents).id for m in d.marks}
        for doc in docs:
            add_artifact(s, doc, d.consent_ids, tracks)
    return written


def _hashed(settings: Settings, uri: str) -> tuple[str, int]:
    got = hash_uri(uri, settings)
    if got is None:
        raise InputError(f"{uri} vanished while its provenance was being recorded", "run the job again")
    return got


def _record_track(
    s: Any, settings: Settings, d: Delivery, mark: dict[str, Any], source: dict[str, Any], consents: list[Any]
) -> Artifact:
    """The artifact of a marked track (a narrated chapter), recorded once per content."""
    sha, size = _hashed(settings, mark["uri"])
    existing = s.scalars(
        select(Artifact).where(Artifact.uri == mark["uri"], Artifact.sha256 == sha, Artifact.stage == d.product)
    ).first()
    if existing is not None:
        return existing  # type: ignore[no-any-return]
    doc = {
        "dubline_provenance": 1,
        "artifact": {
            "uri": mark["uri"],
            "sha256": sha,
            "size": size,
            "media_type": "audio/wav",
            "stage": d.product,
            "kind": "narration" if d.product == "audiobook" else "track",
            **{k: v for k, v in mark.items() if k in ("chapter", "language", "title")},
        },
        "inputs": [source],
        "models": d.models,
        "parameters": d.parameters,
        "watermark": {k: mark[k] for k in ("scheme", "key_id", "payload") if k in mark},
        "job": d.job,
        "consents": consents,
        "run": run_context(),
    }
    return add_artifact(s, doc, d.consent_ids, watermark=int(mark["payload"]))
