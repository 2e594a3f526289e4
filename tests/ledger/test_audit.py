"""The audit log's hash chain finds an edited, an inserted and a deleted row (SQLite and PostgreSQL)."""

from __future__ import annotations

import threading
import time

import pytest
from sqlalchemy import text

from pipeline.ledger import audit, db


def _fill(url: str, n: int) -> None:
    with db.session(url) as s:
        for i in range(n):
            audit.append(s, "test.event", "thing", i, {"i": i, "note": f"row {i}", "x": i / 3})


def _verify(url: str) -> audit.Verification:
    with db.session(url) as s:
        return audit.verify(s)


def test_intact_chain_verifies(db_url: str) -> None:
    _fill(db_url, 20)
    result = _verify(db_url)
    assert result.ok, result.problems
    assert result.rows == 20 and result.head_seq == 20 and len(result.head_hash) == 64


def test_edited_row_is_found(db_url: str) -> None:
    _fill(db_url, 10)
    with db.get_engine(db_url).begin() as conn:
        conn.execute(text("UPDATE audit_log SET actor = 'mallory' WHERE id = 4"))
    problems = _verify(db_url).problems
    assert any(p.startswith("row 4: its content does not match its hash") for p in problems), problems


def test_edited_row_with_recomputed_hash_is_found(db_url: str) -> None:
    """Recomputing the edited row's own hash breaks the next row's link instead."""
    _fill(db_url, 10)
    with db.get_engine(db_url).begin() as conn:
        row = conn.execute(
            text("SELECT id, at, actor, action, entity, entity_id, prev_hash FROM audit_log WHERE id=5")
        ).one()
        forged = audit.row_hash(row[0], row[1], row[2], row[3], row[4], row[5], {"i": 999}, row[6])
        conn.execute(text("UPDATE audit_log SET data = :d, hash = :h WHERE id = 5"), {"d": '{"i": 999}', "h": forged})
    problems = _verify(db_url).problems
    assert any(p.startswith("row 6: its prev_hash does not match") for p in problems), problems


def test_deleted_row_is_found(db_url: str) -> None:
    _fill(db_url, 10)
    with db.get_engine(db_url).begin() as conn:
        conn.execute(text("DELETE FROM audit_log WHERE id = 3"))
    problems = _verify(db_url).problems
    assert any("row 3 missing" in p for p in problems), problems
    assert any(p.startswith("row 4: its prev_hash does not match") for p in problems), problems


def test_deleted_last_rows_are_found(db_url: str) -> None:
    _fill(db_url, 10)
    with db.get_engine(db_url).begin() as conn:
        conn.execute(text("DELETE FROM audit_log WHERE id >= 9"))
    problems = _verify(db_url).problems
    assert any("chain ends at row 8 but the head records row 10" in p for p in problems), problems


def test_inserted_row_is_found(db_url: str) -> None:
    """A row slipped in between 5 and 6 (the later rows renumbered to make room)."""
    _fill(db_url, 10)
    with db.get_engine(db_url).begin() as conn:
        for i in range(10, 5, -1):
            conn.execute(text("UPDATE audit_log SET id = :n WHERE id = :o"), {"n": i + 1, "o": i})
        src = conn.execute(text("SELECT at, actor, action, entity, entity_id, hash FROM audit_log WHERE id=5")).one()
        h = audit.row_hash(6, src[0], "mallory", "consent.granted", "consent", "1", {}, src[5])
        conn.execute(
            text(
                "INSERT INTO audit_log (id, at, actor, action, entity, entity_id, data, prev_hash, hash) "
                "VALUES (6, :at, 'mallory', 'consent.granted', 'consent', '1', '{}', :p, :h)"
            ),
            {"at": src[0], "p": src[5], "h": h},
        )
    problems = _verify(db_url).problems
    assert any(p.startswith("row 7: its prev_hash does not match") for p in problems), problems
    assert any(p.startswith("row 7: its content does not match") for p in problems), problems


def test_row_appended_behind_dubline_s_back_is_found(db_url: str) -> None:
    _fill(db_url, 3)
    with db.get_engine(db_url).begin() as conn:
        src = conn.execute(text("SELECT at, hash FROM audit_log WHERE id=3")).one()
        h = audit.row_hash(4, src[0], "mallory", "x", "x", "1", {}, src[1])
        conn.execute(
            text(
                "INSERT INTO audit_log (id, at, actor, action, entity, entity_id, data, prev_hash, hash) "
                "VALUES (4, :at, 'mallory', 'x', 'x', '1', '{}', :p, :h)"
            ),
            {"at": src[0], "p": src[1], "h": h},
        )
    problems = _verify(db_url).problems
    assert any("head records row 3" in p and "appended outside dubline" in p for p in problems), problems


def test_whole_rewrite_is_found_with_the_recorded_head(db_url: str) -> None:
    _fill(db_url, 5)
    head = _verify(db_url).head_hash
    with db.get_engine(db_url).begin() as conn:
        conn.execute(text("DELETE FROM audit_log"))
        conn.execute(text("UPDATE audit_head SET seq = 0, hash = :g"), {"g": audit.GENESIS})
    with db.session(db_url) as s:
        result = audit.verify(s, expect_head=head)
    assert any("the log was rewritten" in p for p in result.problems), result.problems


def test_concurrent_appends_keep_one_chain(db_url: str) -> None:
    errors: list[BaseException] = []

    def writer(k: int) -> None:
        try:
            for i in range(15):
                with db.session(db_url) as s:
                    audit.append(s, "test.concurrent", "writer", k, {"i": i})
        except BaseException as e:  # noqa: BLE001 - reported below
            errors.append(e)

    threads = [threading.Thread(target=writer, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    result = _verify(db_url)
    assert result.ok and result.rows == 60, result.problems


@pytest.mark.slow
def test_verify_100k_rows_time(db_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    n = 100_000
    with db.session(db_url) as s:
        audit.append_many(s, (("bench.event", "thing", i, {"i": i, "note": "x" * 40}) for i in range(n)))
    t0 = time.perf_counter()
    result = _verify(db_url)
    wall = time.perf_counter() - t0
    assert result.ok and result.rows == n
    kind = db_url.split(":")[0].split("+")[0]
    with capsys.disabled():
        print(f"\naudit verify, {n} rows, {kind}: {wall:.2f} s")
    assert wall < 60
