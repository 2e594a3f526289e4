"""The append-only, tamper-evident audit log: a hash chain.

Row n stores sha256(canonical JSON of its own fields + the hash of row n-1); ids run 1, 2, 3, ... with
no gaps; the one-row table audit_head holds the last id and hash. An append locks the head row (SELECT
... FOR UPDATE on PostgreSQL; SQLite transactions are BEGIN IMMEDIATE), so the chain stays linear under
concurrent writers. `verify` recomputes every hash and finds an edited row (its hash), a deleted or
inserted row (a broken link or a gap in the ids) and rows cut off or added at the end (the head).

What a hash chain cannot do alone: someone able to rewrite the whole table and the head together can
forge a consistent chain. Record the head hash `dubline audit verify` prints somewhere else (a ticket, a
signed mail) and pass it back with --expect-head to detect that too.
"""

from __future__ import annotations

import getpass
import hashlib
import json
import os
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, insert, select
from sqlalchemy.orm import Session

from pipeline.ledger.tables import AuditEntry, AuditHead

GENESIS = "0" * 64


def actor() -> str:
    """Who is acting: DUBLINE_ACTOR, else the login name and host."""
    if os.environ.get("DUBLINE_ACTOR"):
        return os.environ["DUBLINE_ACTOR"]
    try:
        user = getpass.getuser()
    except Exception:  # noqa: BLE001 - no login name in some containers
        user = str(os.getuid())
    return f"{user}@{os.uname().nodename}"


def _iso(at: datetime | str) -> str:
    if isinstance(at, str):  # a raw SQLite value
        at = datetime.fromisoformat(at)
    if at.tzinfo is None:  # SQLite gives back naive datetimes; everything is stored in UTC
        at = at.replace(tzinfo=UTC)
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _plain(data: Any) -> Any:
    """`data` as it will read back from a JSON column."""
    return json.loads(json.dumps(data, default=str))


def row_hash(
    id: int, at: datetime | str, actor: str, action: str, entity: str, entity_id: str, data: Any, prev_hash: str
) -> str:
    doc = {
        "id": int(id),
        "at": _iso(at),
        "actor": actor,
        "action": action,
        "entity": entity,
        "entity_id": str(entity_id),
        "data": data,
        "prev_hash": prev_hash,
    }
    text = json.dumps(doc, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def _lock_head(s: Session) -> AuditHead:
    head = s.execute(select(AuditHead).where(AuditHead.id == 1).with_for_update()).scalar_one_or_none()
    if head is None:  # the migration makes this row; a hand-made schema may lack it
        head = AuditHead(id=1, seq=0, hash=GENESIS)
        s.add(head)
        s.flush()
    return head


def append(
    s: Session, action: str, entity: str, entity_id: object, data: dict[str, Any], who: str | None = None
) -> AuditEntry:
    """Add one row to the chain, in the caller's transaction (it commits or rolls back with the change)."""
    head = _lock_head(s)
    seq = head.seq + 1
    at = datetime.now(UTC)
    plain = _plain(data)
    who = who or actor()
    h = row_hash(seq, at, who, action, entity, str(entity_id), plain, head.hash)
    row = AuditEntry(
        id=seq,
        at=at,
        actor=who,
        action=action,
        entity=entity,
        entity_id=str(entity_id),
        data=plain,
        prev_hash=head.hash,
        hash=h,
    )
    s.add(row)
    head.seq, head.hash = seq, h
    s.flush()
    return row


def append_many(
    s: Session, rows: Iterable[tuple[str, str, object, dict[str, Any]]], batch: int = 5000, who: str | None = None
) -> int:
    """Append many (action, entity, entity_id, data) rows at once (bulk inserts). Returns how many."""
    head = _lock_head(s)
    who = who or actor()
    seq, prev = head.seq, head.hash
    buf: list[dict[str, Any]] = []
    n = 0
    for action, entity, entity_id, data in rows:
        seq += 1
        at = datetime.now(UTC)
        plain = _plain(data)
        h = row_hash(seq, at, who, action, entity, str(entity_id), plain, prev)
        buf.append(
            {
                "id": seq,
                "at": at,
                "actor": who,
                "action": action,
                "entity": entity,
                "entity_id": str(entity_id),
                "data": plain,
                "prev_hash": prev,
                "hash": h,
            }
        )
        prev = h
        n += 1
        if len(buf) >= batch:
            s.execute(insert(AuditEntry), buf)
            buf = []
    if buf:
        s.execute(insert(AuditEntry), buf)
    head.seq, head.hash = seq, prev
    s.flush()
    return n


@dataclass
class Verification:
    rows: int = 0
    head_seq: int = 0
    head_hash: str = GENESIS
    problems: list[str] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return not self.problems


def verify(conn: Connection | Session, expect_head: str | None = None, max_problems: int = 50) -> Verification:
    """Recompute the whole chain. Each problem names the row and what is wrong with it."""
    t0 = time.perf_counter()
    out = Verification()
    t = AuditEntry.__table__
    cols = (t.c.id, t.c.at, t.c.actor, t.c.action, t.c.entity, t.c.entity_id, t.c.data, t.c.prev_hash, t.c.hash)
    stmt = select(*cols).order_by(t.c.id).execution_options(yield_per=10000)
    prev, expected = GENESIS, 1
    problems = out.problems

    def note(text: str) -> None:
        if len(problems) < max_problems:
            problems.append(text)
        elif len(problems) == max_problems:
            problems.append("... more problems not shown")

    for rid, at, who, action, entity, entity_id, data, prev_hash, h in conn.execute(stmt):
        out.rows += 1
        if rid != expected:
            if rid > expected:
                gap = f"row {expected}" if rid == expected + 1 else f"rows {expected}-{rid - 1}"
                note(f"{gap} missing: deleted (the ids have a gap before row {rid})")
            else:
                note(f"row {rid}: id out of sequence after row {expected - 1} (inserted?)")
        if prev_hash != prev:
            note(f"row {rid}: its prev_hash does not match the row before it (a row was deleted or inserted there)")
        if row_hash(rid, at, who, action, entity, entity_id, data, prev_hash) != h:
            note(f"row {rid}: its content does not match its hash (edited: {action} {entity} {entity_id})")
        prev, expected = h, rid + 1
    head = conn.execute(select(AuditHead.seq, AuditHead.hash).where(AuditHead.id == 1)).first()
    last = expected - 1
    if head is None:
        note("the audit head row is missing")
    else:
        out.head_seq, out.head_hash = int(head[0]), str(head[1])
        if out.head_seq != last or out.head_hash != prev:
            if out.head_seq > last:
                note(f"the chain ends at row {last} but the head records row {out.head_seq}: rows deleted at the end")
            elif out.head_seq < last:
                note(
                    f"the chain runs to row {last} but the head records row {out.head_seq}: "
                    "rows appended outside dubline"
                )
            else:
                note(f"the last row's hash differs from the head's (row {last} edited or replaced)")
    if expect_head and expect_head != out.head_hash:
        note(f"the head hash is {out.head_hash}, not the expected {expect_head}: the log was rewritten")
    out.seconds = time.perf_counter() - t0
    return out
