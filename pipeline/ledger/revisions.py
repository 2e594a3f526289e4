"""The revision history of a job's Script under review: each reviewer's edit of a transcript or a translation,
applied as a new revision, is one `script_revisions` row (what changed, what it made stale, who edited it,
what the review gate recorded, where the new Script is).

Recording is idempotent: the same edit (its bytes' sha256) applied to the same script (its hash before)
for the same input, language and kind is recorded once, so a re-run of the job adds nothing. Each new row
adds an audit entry ("script.revise") in the same transaction.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from pipeline.core.config import Settings
from pipeline.core.errors import InputError
from pipeline.ledger import audit, db
from pipeline.ledger.tables import ScriptRevision

KINDS = ("transcript", "translation")

__all__ = ["KINDS", "record_revision", "revision_history"]


def _same(
    s: Session, input_sha256: str, language: str, kind: str, edit_sha256: str, before_sha256: str
) -> ScriptRevision | None:
    return s.scalars(
        select(ScriptRevision).where(
            ScriptRevision.input_sha256 == input_sha256,
            ScriptRevision.language == language,
            ScriptRevision.kind == kind,
            ScriptRevision.edit_sha256 == edit_sha256,
            ScriptRevision.before_sha256 == before_sha256,
        )
    ).first()


def record_revision(
    settings: Settings | str,
    *,
    input_sha256: str,
    language: str,
    kind: str,
    revision: int,
    editor: str | None = None,
    edit_name: str,
    edit_sha256: str,
    edit_format: str,
    before_sha256: str,
    after_sha256: str,
    changes: list[dict[str, Any]],
    stale: dict[str, dict[str, str]],
    script_uri: str,
    review: dict[str, Any] | None = None,
) -> int:
    """Record one applied edit; returns the row's id. An edit already recorded against the same script (same
    input, language, kind, edit sha256 and script hash before) returns the existing row's id and adds nothing.
    `editor` defaults to the acting user (`audit.actor()`)."""
    if kind not in KINDS:
        raise InputError(f"script revision kind {kind!r} is not one of {', '.join(KINDS)}")
    key = (input_sha256, language, kind, edit_sha256, before_sha256)
    who = editor or audit.actor()
    try:
        with db.session(settings) as s:
            old = _same(s, *key)
            if old is not None:
                return old.id
            row = ScriptRevision(
                input_sha256=input_sha256,
                language=language,
                kind=kind,
                revision=int(revision),
                editor=who,
                at=datetime.now(UTC),
                edit_name=edit_name,
                edit_sha256=edit_sha256,
                edit_format=edit_format,
                before_sha256=before_sha256,
                after_sha256=after_sha256,
                changes=[dict(c) for c in changes],
                stale={lang: dict(lines) for lang, lines in stale.items()},
                review=dict(review) if review is not None else None,
                script_uri=script_uri,
            )
            s.add(row)
            s.flush()
            data = {
                "input_sha256": input_sha256,
                "language": language,
                "kind": kind,
                "revision": int(revision),
                "edit": {"name": edit_name, "sha256": edit_sha256, "format": edit_format},
                "before": before_sha256,
                "after": after_sha256,
                "changes": len(changes),
                "lines": sorted({str(c.get("id")) for c in changes}),
                "stale": {lang: len(lines) for lang, lines in sorted(stale.items())},
                "review": review,
                "script_uri": script_uri,
            }
            audit.append(s, "script.revise", "script_revision", row.id, data, who=who)
            return row.id
    except IntegrityError:
        # another process recorded the same edit between our look and our insert: that row is the answer
        with db.session(settings) as s:
            old = _same(s, *key)
            if old is None:
                raise
            return old.id


def _aware(at: datetime) -> datetime:
    return at if at.tzinfo is not None else at.replace(tzinfo=UTC)  # SQLite gives back naive UTC datetimes


def _as_dict(r: ScriptRevision) -> dict[str, Any]:
    return {
        "id": r.id,
        "input_sha256": r.input_sha256,
        "language": r.language,
        "kind": r.kind,
        "revision": r.revision,
        "editor": r.editor,
        "at": _aware(r.at),
        "edit_name": r.edit_name,
        "edit_sha256": r.edit_sha256,
        "edit_format": r.edit_format,
        "before_sha256": r.before_sha256,
        "after_sha256": r.after_sha256,
        "changes": list(r.changes or []),
        "stale": dict(r.stale or {}),
        "review": r.review,
        "script_uri": r.script_uri,
    }


def revision_history(settings: Settings | str, input_sha256: str, language: str | None = None) -> list[dict[str, Any]]:
    """Every revision recorded for an input (or for one of its languages), oldest first, as plain dicts
    (the table's columns; `at` timezone-aware)."""
    q = select(ScriptRevision).where(ScriptRevision.input_sha256 == input_sha256).order_by(ScriptRevision.id)
    if language is not None:
        q = q.where(ScriptRevision.language == language)
    with db.session(settings) as s:
        return [_as_dict(r) for r in s.scalars(q)]
