"""Provenance read back: the manifest of a published output (`show`), and `verify`, which recomputes the hashes
of the output and, through the chain of inputs (and the inputs' own records), of everything it was made from,
checks the C2PA manifest of signed media, and reports each mismatch. The records and manifests are written at
publish by pipeline.ledger.provenance.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from sqlalchemy import select
from sqlalchemy.orm import Session

from pipeline.core.config import Settings
from pipeline.core.errors import InputError
from pipeline.ledger.provenance import MANIFEST_SUFFIX, hash_uri, normalise_uri
from pipeline.ledger.tables import Artifact, Consent


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
