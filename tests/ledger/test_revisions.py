"""The revision history of a Script under review (SQLite and PostgreSQL): recorded once, audited, in order."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import func, select

from pipeline.core.config import Settings
from pipeline.core.errors import InputError
from pipeline.ledger import audit, db
from pipeline.ledger.revisions import record_revision, revision_history
from pipeline.ledger.tables import AuditEntry, ScriptRevision

SHA = "ab" * 32


def _edit(**over: Any) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "input_sha256": SHA,
        "language": "es",
        "kind": "translation",
        "revision": 7,
        "edit_name": "episode.es.srt",
        "edit_sha256": "e1" * 32,
        "edit_format": "srt",
        "before_sha256": "b0" * 32,
        "after_sha256": "a1" * 32,
        "changes": [{"id": "s2", "field": "translation", "language": "es", "before": "Hola.", "after": "¡Hola!"}],
        "stale": {"es": {"s2": "translation edited: its clip"}},
        "script_uri": "file:///store/revisions/es/script.json",
    }
    doc.update(over)
    return doc


def _counts(settings: Settings) -> tuple[int, int]:
    with db.session(settings) as s:
        rows = s.scalar(select(func.count()).select_from(ScriptRevision)) or 0
        audits = s.scalar(select(func.count()).select_from(AuditEntry).where(AuditEntry.action == "script.revise"))
    return int(rows), int(audits or 0)


def test_a_revision_is_recorded_once_with_one_audit_row(settings: Settings) -> None:
    first = record_revision(settings, **_edit())
    again = record_revision(settings, **_edit(revision=8, after_sha256="ff" * 32))  # a re-run of the same edit
    assert again == first
    assert _counts(settings) == (1, 1)
    with db.session(settings) as s:
        [entry] = s.scalars(select(AuditEntry).where(AuditEntry.action == "script.revise")).all()
        assert (entry.entity, entry.entity_id, entry.actor) == ("script_revision", str(first), "tester")
        assert entry.data["edit"] == {"name": "episode.es.srt", "sha256": "e1" * 32, "format": "srt"}
        assert entry.data["lines"] == ["s2"] and entry.data["stale"] == {"es": 1}
        result = audit.verify(s)
    assert result.ok, result.problems


def test_the_same_edit_on_another_script_or_language_is_a_new_revision(settings: Settings) -> None:
    a = record_revision(settings, **_edit())
    b = record_revision(settings, **_edit(before_sha256="a1" * 32, after_sha256="c2" * 32, revision=8))
    c = record_revision(settings, **_edit(language="fr"))
    d = record_revision(settings, **_edit(input_sha256="cd" * 32))
    assert len({a, b, c, d}) == 4
    assert _counts(settings) == (4, 4)
    with db.session(settings) as s:
        assert audit.verify(s).ok


def test_history_is_oldest_first_with_every_field(settings: Settings) -> None:
    review = {"approved_by": "ana", "at": "2026-12-01T10:00:00Z", "timed_out": False}
    first = record_revision(settings, **_edit(kind="transcript", language="en", changes=[], stale={}))
    second = record_revision(settings, **_edit(editor="ana@studio", review=review))
    record_revision(settings, **_edit(input_sha256="cd" * 32))  # another input's
    rows = revision_history(settings, SHA)
    assert [r["id"] for r in rows] == [first, second]
    last = rows[-1]
    assert last["editor"] == "ana@studio" and last["review"] == review and last["revision"] == 7
    assert last["changes"] == _edit()["changes"] and last["stale"] == _edit()["stale"]
    assert last["at"].tzinfo is not None and rows[0]["editor"] == "tester"
    assert [r["id"] for r in revision_history(settings, SHA, "es")] == [second]
    assert revision_history(settings, "00" * 32) == []


def test_an_unknown_kind_is_refused(settings: Settings) -> None:
    with pytest.raises(InputError, match="kind 'subtitles'"):
        record_revision(settings, **_edit(kind="subtitles"))
    assert _counts(settings) == (0, 0)
