"""The ledger's commands as a user runs them (SQLite and PostgreSQL)."""

from __future__ import annotations

import json
import re
from datetime import date
from typing import Any

import pytest
from sqlalchemy import text
from typer.testing import CliRunner

from pipeline.cli.app import app
from pipeline.core.config import Settings
from pipeline.ledger import db
from pipeline.ledger import statement as st

runner = CliRunner()


def test_request_prints_the_statement(settings: Settings) -> None:
    r = runner.invoke(
        app,
        ["consent", "request", "--person", "joe", "--name", "Joe Example", "--uses", "dubbing,audiobook",
         "--languages", "es,fr", "--until", "2099-12-31"],
    )  # fmt: skip
    assert r.exit_code == 0, r.output
    out = " ".join(r.output.split())
    assert "I, Joe Example, agree that my voice may be used for dubbing and audiobooks in Spanish and French" in out
    assert f"Today is {st.date_words(date.today())}." in out
    assert "until December thirty-first, two thousand ninety-nine" in out
    code = re.search(r"My code is ((?:\w+ ){4}\w+)\.", out)
    assert code and all(w in st._UNITS[1:] for w in code.group(1).split())
    r = runner.invoke(app, ["consent", "list"])
    assert r.exit_code == 0 and "requested" in r.output and "dubbing,audiobook" in r.output


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["--uses", "karaoke", "--languages", "es"], "unknown use karaoke"),
        (["--uses", "dubbing", "--languages", ""], "no language given"),
        (["--uses", "dubbing", "--languages", "es", "--until", "2001-01-01"], "is in the past"),
        (["--uses", "dubbing", "--languages", "es", "--until", "soon"], "is not a date"),
    ],
)
def test_request_refuses_bad_input(settings: Settings, args: list[str], says: str) -> None:
    r = runner.invoke(app, ["consent", "request", "--person", "joe", *args])
    assert r.exit_code == 2 and says in r.output and "Traceback" not in r.output, r.output


def test_grant_without_a_request_is_refused(settings: Settings, tmp_path: Any) -> None:
    rec = tmp_path / "rec.wav"
    rec.write_bytes(b"x")
    r = runner.invoke(app, ["consent", "grant", "--person", "joe", "--recording", str(rec), "--reference", str(rec)])
    assert r.exit_code == 6 and "no open consent request for person 'joe'" in r.output, r.output


def test_grant_of_a_stale_request_is_refused(settings: Settings, tmp_path: Any) -> None:
    from pipeline.core.errors import ConsentError
    from pipeline.voice.consent import grant_consent, request_consent

    request_consent(settings, "joe", ["dubbing"], ["es"], today=date(2026, 1, 1))
    rec = tmp_path / "rec.wav"
    rec.write_bytes(b"x")
    with pytest.raises(ConsentError, match="was made on 2026-01-01"):
        grant_consent(settings, "joe", rec, [rec], today=date(2026, 1, 3))


def test_show_revoke_and_events(settings: Settings, grant: Any) -> None:
    cid = grant(settings, languages=("es", "fr"))
    r = runner.invoke(app, ["consent", "revoke", "--person", "joe", "--reason", "changed their mind"])
    assert r.exit_code == 0 and f"revoked consent {cid}" in r.output
    r = runner.invoke(app, ["consent", "show", str(cid)])
    doc = json.loads(r.output)
    assert doc["status"] == "revoked" and [e["event"] for e in doc["events"]] == ["requested", "granted", "revoked"]
    assert doc["events"][-1]["reason"] == "changed their mind" and doc["events"][-1]["actor"] == "tester"
    r = runner.invoke(app, ["consent", "revoke", "--person", "joe", "--reason", "again"])
    assert r.exit_code == 2 and "no consent to revoke" in r.output


def test_expired_consents_are_marked_with_an_event(settings: Settings, grant: Any) -> None:
    cid = grant(settings, until=date(2026, 1, 31))
    r = runner.invoke(app, ["consent", "list", "--person", "joe"])
    assert "expired" in r.output
    doc = json.loads(runner.invoke(app, ["consent", "show", str(cid)]).output)
    assert doc["status"] == "expired" and doc["events"][-1]["event"] == "expired"


def test_audit_verify_command(settings: Settings, grant: Any) -> None:
    grant(settings)
    r = runner.invoke(app, ["audit", "verify"])
    assert r.exit_code == 0 and "chain intact" in r.output, r.output
    with db.get_engine(settings.resolved_db_url).begin() as conn:
        conn.execute(text("UPDATE audit_log SET data = '{}' WHERE id = 2"))
    r = runner.invoke(app, ["audit", "verify"])
    assert r.exit_code == 7 and "row 2: its content does not match its hash" in r.output, r.output


def test_db_commands(settings: Settings) -> None:
    r = runner.invoke(app, ["db", "current"])
    assert r.exit_code == 0 and "up to date" in r.output
    r = runner.invoke(app, ["db", "upgrade"])
    assert r.exit_code == 0 and "already at revision" in r.output


def test_database_down_is_one_line(monkeypatch: pytest.MonkeyPatch, tmp_path: Any) -> None:
    from pipeline.core.config import reset_settings

    monkeypatch.setenv("DUBLINE_DB_URL", "postgresql+psycopg://postgres:secret@127.0.0.1:1/dubline")
    monkeypatch.setenv("DUBLINE_DATA_DIR", str(tmp_path))
    reset_settings()
    try:
        r = runner.invoke(app, ["consent", "list"])
    finally:
        reset_settings()
    assert r.exit_code == 4 and "is not reachable" in r.output and "Traceback" not in r.output, r.output
    assert "secret" not in r.output  # the password is masked
