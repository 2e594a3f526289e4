"""Provenance: an artifact record and a JSON manifest for every published output (and every line spoken in
a person's voice): its sha256 and size, its inputs with their hashes, the models (id, version, weights
sha256), the parameters, the consents used, and the DAG run and task that made it.

The manifest is written beside the output (`<name>.provenance.json`) and stored in the artifacts table.
`verify` recomputes the hashes of the output and, through the chain of inputs (and the inputs' own
records), of everything it was made from, and reports each mismatch.
"""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

from sqlalchemy import select
from sqlalchemy.orm import Session

from pipeline.core.config import Settings
from pipeline.core.errors import InputError
from pipeline.ledger import audit
from pipeline.ledger.tables import Artifact, ArtifactConsent, ArtifactInput, Consent

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


def local_path(uri: str, settings: Settings) -> Path | None:
    """A local file holding the object at `uri` (downloaded for a remote store); None when it is missing."""
    p = urlparse(uri)
    if p.scheme in ("", "file"):
        path = Path(normalise_uri(uri))
        return path if path.is_file() else None
    from pipeline.core.storage import open_store

    parent, _, name = uri.rpartition("/")
    store = open_store(parent, settings)
    return store.local_path(name, settings.data_dir / "work" / "provenance") if store.exists(name) else None


def _atomic_write(dest: Path, data: bytes) -> None:
    tmp = dest.with_name(f".{dest.name}.{os.getpid()}.part")
    try:
        tmp.write_bytes(data)
        os.replace(tmp, dest)
    finally:
        tmp.unlink(missing_ok=True)


def run_context() -> dict[str, str | None]:
    """The Airflow DAG run and task this process is executing (Airflow exports them to the environment)."""
    env = os.environ
    return {
        "dag_id": env.get("AIRFLOW_CTX_DAG_ID"),
        "run_id": env.get("AIRFLOW_CTX_DAG_RUN_ID"),
        "task_id": env.get("AIRFLOW_CTX_TASK_ID"),
        "try_number": env.get("AIRFLOW_CTX_TRY_NUMBER"),
    }


def _consent_docs(s: Session, ids: list[int]) -> list[dict[str, Any]]:
    out = []
    for c in s.scalars(select(Consent).where(Consent.id.in_(ids)).order_by(Consent.id)):
        out.append(
            {
                "id": c.id,
                "person": c.person_id,
                "uses": c.uses,
                "languages": c.languages,
                "projects": c.projects,
                "valid_from": c.valid_from.isoformat(),
                "valid_until": c.valid_until.isoformat() if c.valid_until else None,
                "recording_sha256": c.recording_sha256,
            }
        )
    return out


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
            "consents": _consent_docs(s, [consent_id]),
            "run": run_context(),
        }
        _add(s, doc, [consent_id])


def _models(stage_results: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for r in stage_results:
        for field, role in (
            ("model", "asr"),
            ("engine", {"translate": "mt", "synthesize": "tts"}.get(r.get("stage", ""))),
        ):
            m = r.get(field)
            if isinstance(m, dict) and m.get("id") and role:
                entry = {"role": role, "id": m["id"], "version": m.get("version", ""), "sha256": m.get("sha256", "")}
                if r.get("language"):
                    entry["language"] = r["language"]
                if role == "tts" and r.get("voice"):
                    entry["voice"] = r["voice"]
                if entry not in out:
                    out.append(entry)
    return out


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

    stem = ingested["stem"]
    origin: dict[str, str] = {}
    for ext, uri in (muxed.get("media") or {muxed["media_ext"]: muxed["media_uri"]}).items():
        origin[f"{stem}.dub.{ext}"] = uri
    for lang, by_ext in muxed["subtitles"].items():
        for ext, uri in by_ext.items():
            origin[f"{stem}.{lang}.{ext}"] = uri
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
        {int(c) for r in stage_results if r.get("stage") == "synthesize" for c in r.get("consents", [])}
    )
    stages = [
        {k: r.get(k) for k in ("stage", "label", "key", "elapsed_s", "cached")}
        for r in [*stage_results, muxed]
        if r.get("key")
    ]
    source = {"role": "source", "uri": ingested["source_uri"], "sha256": ingested["source_sha256"]}
    location = str(published.get("location", ""))
    local = urlparse(location).scheme in ("", "file")
    from pipeline.core.stagerun import job_id

    job = {"job_id": job_id(muxed, location), "input_filename": ingested["filename"]}
    target = None if local else open_store(location, settings)
    written: dict[str, str] = {}
    docs: list[dict[str, Any]] = []
    with db.session(settings) as s:
        consents = _consent_docs(s, consent_ids)
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
            "models": _models(stage_results),
            "parameters": params,
            "consents": consents,
            "run": run_context(),
        }
        if kind == "media":
            doc["watermarks"] = [_mark_of(m) for m in marked]
            ext = Path(name).suffix.lstrip(".")
            credentials = muxed.get("c2pa") or {}
            if name in origin and ext in credentials.get("signed", {}):
                doc["c2pa"] = {"signed": True, **credentials["signed"][ext]}
            elif name in origin and ext in credentials.get("skipped", {}):
                doc["c2pa"] = {"signed": False, "reason": credentials["skipped"][ext]}
        body = json.dumps(doc, indent=1, sort_keys=True).encode()
        mname = name + MANIFEST_SUFFIX
        if local:
            dest = Path(uri).parent / mname
            _atomic_write(dest, body)
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
        "models": [m for m in _models(stage_results) if m["role"] == "asr" or m.get("language") in (None, lang)],
        "parameters": {k: mix[k] for k in params if k in mix},
        "watermark": mix["watermark"],
        "job": job,
        "consents": _consent_docs(s, consent_ids),
        "run": run_context(),
    }
    return _add(s, doc, consent_ids, watermark=int(mix["watermark"]["payload"]))


# --- show and verify -----------------------------------------------------------------------------


def find(s: Session, uri: str) -> Artifact | None:
    return s.scalars(select(Artifact).where(Artifact.uri == normalise_uri(uri)).order_by(Artifact.id.desc())).first()


def manifest_beside(uri: str, settings: Settings) -> dict[str, Any] | None:
    u = normalise_uri(uri)
    if urlparse(u).scheme in ("", "file"):
        p = Path(u + MANIFEST_SUFFIX)
        return json.loads(p.read_text()) if p.is_file() else None
    from pipeline.core.storage import open_store

    parent, _, name = u.rpartition("/")
    store = open_store(parent, settings)
    key = name + MANIFEST_SUFFIX
    return json.loads(store.get_bytes(key)) if store.exists(key) else None


def show(settings: Settings, uri: str) -> dict[str, Any]:
    from pipeline.ledger import db

    with db.session(settings) as s:
        art = find(s, uri)
        if art is not None and art.manifest:
            return {**art.manifest, "record": {"id": art.id, "flag": art.flag, "flag_reason": art.flag_reason}}
    beside = manifest_beside(uri, settings)
    if beside is None:
        raise InputError(f"no provenance for {uri}", "give the path or URI of a published output")
    return beside


def verify(settings: Settings, uri: str) -> tuple[list[str], list[str]]:
    """Recompute every hash in the chain and check the C2PA manifest of signed media (signature, hash
    binding, this project's CA). Returns (checked: one line per object, mismatches)."""
    from pipeline.ledger import db

    checked: list[str] = []
    bad: list[str] = []
    with db.session(settings) as s:
        art = find(s, uri)
        doc = art.manifest if art is not None else None
        beside = manifest_beside(uri, settings)
        if doc is None and beside is None:
            credentials = _credentials(settings, uri, None)
            if credentials is None:
                raise InputError(f"no provenance for {uri}", "give the path or URI of a published output")
            ok, problems = credentials
            return ok, [*problems, f"{uri}: no provenance record here (only its C2PA manifest was checked)"]
        if doc is None:
            bad.append(f"{uri}: no record in the database (only the manifest beside it)")
            doc = beside
        elif art is not None and beside is not None and beside != doc:
            bad.append(f"{uri}{MANIFEST_SUFFIX}: differs from the record in the database (artifact {art.id})")
        assert doc is not None
        seen: set[str] = set()

        def check(u: str, expected: str, what: str) -> None:
            if u in seen:
                return
            seen.add(u)
            got = hash_uri(u, settings)
            if got is None:
                bad.append(f"{what} {u}: missing")
            elif got[0] != expected:
                bad.append(f"{what} {u}: sha256 {got[0][:16]}... does not match the recorded {expected[:16]}...")
            else:
                checked.append(f"{what} {u}: ok")

        def walk(d: dict[str, Any], depth: int) -> None:
            check(d["artifact"]["uri"], d["artifact"]["sha256"], "artifact" if depth == 0 else "input artifact")
            for inp in d.get("inputs", []):
                check(inp["uri"], inp["sha256"], f"input ({inp['role']})")
                rec = s.scalars(
                    select(Artifact).where(Artifact.uri == inp["uri"], Artifact.sha256 == inp["sha256"])
                ).first()
                if rec is not None and rec.manifest and depth < 20:
                    walk(rec.manifest, depth + 1)
            for c in d.get("consents", []):
                row = s.get(Consent, c["id"])
                if row is None:
                    bad.append(f"consent {c['id']}: missing from the database")
                    continue
                if row.recording_sha256 != c.get("recording_sha256"):
                    bad.append(f"consent {c['id']}: its recording's recorded sha256 was changed")
                if row.recording_uri and row.recording_sha256:
                    check(row.recording_uri, row.recording_sha256, f"consent {c['id']} recording")

        walk(doc, 0)
    credentials = _credentials(settings, uri, doc.get("c2pa"))
    if credentials is not None:
        checked += credentials[0]
        bad += credentials[1]
    return checked, bad


def _credentials(settings: Settings, uri: str, recorded: dict[str, Any] | None) -> tuple[list[str], list[str]] | None:
    """The C2PA check of a media file: None where there is nothing to check (a format that cannot carry a
    manifest, or no manifest where none was signed)."""
    from pipeline.ledger import signing

    if Path(urlparse(uri).path).suffix.lower().lstrip(".") not in signing.SIGNABLE:
        return None
    path = local_path(normalise_uri(uri), settings)
    if path is None:
        return None  # the hash check already says it is missing
    check = signing.check_file(settings, path)
    if not check.found and not (recorded or {}).get("signed"):
        return None  # nothing was signed and nothing is there (or the file is not one c2pa can parse)
    return check.lines()
