"""Migrations, the schema check, job records and a database that is down (SQLite and PostgreSQL)."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import inspect, text

from pipeline.core.config import Settings
from pipeline.core.errors import DatabaseError, SetupError
from pipeline.ledger import db

TABLES = {
    "people",
    "voice_references",
    "consents",
    "consent_references",
    "consent_events",
    "jobs",
    "artifacts",
    "artifact_inputs",
    "artifact_consents",
    "audit_log",
    "audit_head",
    "voice_profiles",
    "series_voices",
    "script_revisions",
    "alembic_version",
}


def test_upgrade_creates_the_schema_the_models_describe(empty_db_url: str) -> None:
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

    assert db.current_revision(empty_db_url) is None
    before, after = db.upgrade(empty_db_url)
    assert (before, after) == (None, db.head_revision())
    engine = db.get_engine(empty_db_url)
    assert set(inspect(engine).get_table_names()) == TABLES
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), db.Base.metadata)
    assert diff == [], f"migrations and models differ: {diff}"
    assert db.upgrade(empty_db_url) == (after, after)  # a second upgrade does nothing


def test_un_migrated_database_is_refused_with_the_command_to_run(empty_db_url: str) -> None:
    with pytest.raises(SetupError) as err:
        db.start_job(empty_db_url, "dub_video", "x.mp4", {})
    assert "not migrated" in err.value.one_line() and "dubline db upgrade" in err.value.one_line()
    assert "jobs" not in inspect(db.get_engine(empty_db_url)).get_table_names()


def test_embedded_default_migrates_itself(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path)
    job = db.start_job(settings, "dub_video", "x.mp4", {"target_languages": ["es"]})
    db.finish_job(settings, job, "success", run_id="r1", wall_s=1.5)
    [j] = db.recent_jobs(settings)
    assert (j.status, j.run_id, j.params) == ("success", "r1", {"target_languages": ["es"]})
    assert db.current_revision(settings.resolved_db_url) == db.head_revision()


def test_a_database_from_before_the_ledger_keeps_its_jobs(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'old.db'}"
    with db.get_engine(url).begin() as conn:
        conn.exec_driver_sql(
            "CREATE TABLE jobs (id INTEGER PRIMARY KEY, dag_id VARCHAR(100) NOT NULL, run_id VARCHAR(250), "
            "input TEXT NOT NULL, params JSON NOT NULL, status VARCHAR(20) NOT NULL, started_at DATETIME NOT NULL, "
            "finished_at DATETIME, wall_s FLOAT, error TEXT, outputs JSON)"
        )
        conn.exec_driver_sql(
            "INSERT INTO jobs (dag_id, input, params, status, started_at) "
            "VALUES ('dub_video', 'old.mp4', '{}', 'success', '2026-01-01 00:00:00')"
        )
    db.upgrade(url)
    assert [j.input for j in db.recent_jobs(url)] == ["old.mp4"]


def test_jobs_are_recorded_with_audit_rows(db_url: str) -> None:
    from pipeline.ledger import audit

    job = db.start_job(db_url, "dub_video", "in.mp4", {"target_languages": ["es", "ca"]})
    db.finish_job(db_url, job, "failed", error="bad input")
    [j] = db.recent_jobs(db_url)
    assert (j.status, j.error, j.finished_at is not None) == ("failed", "bad input", True)
    with db.session(db_url) as s:
        result = audit.verify(s)
    assert result.ok and result.rows == 2


@pytest.mark.parametrize("kind", ["sqlite", "postgresql"])
def test_database_down_when_a_job_starts(kind: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A clear error before anything runs, and no half-written job (nor Airflow started)."""
    from pipeline.cli import runner

    if kind == "sqlite":
        blocker = tmp_path / "file"
        blocker.write_text("a file where the database's folder should be")
        url = f"sqlite:///{blocker}/ledger.db"
    else:
        url = "postgresql+psycopg://postgres@127.0.0.1:1/dubline"  # nothing listens on port 1
    called: list[str] = []
    monkeypatch.setattr(runner, "prepare_airflow", lambda s: called.append("airflow"))
    monkeypatch.setattr(runner, "_run_dag", lambda *a, **k: called.append("run"))
    settings = Settings(data_dir=tmp_path / "data", db_url=url)
    with pytest.raises((DatabaseError, SetupError)) as err:
        runner.run_dag(settings, "dub_video", {"input": "x.mp4"})
    line = err.value.one_line()
    assert called == []
    assert "database" in line and ("not reachable" in line or "not valid" in line), line
    if kind == "postgresql":
        assert isinstance(err.value, DatabaseError) and "127.0.0.1:1" in line and "start the database" in line


def test_pg_down_then_up_leaves_no_job(pg_base_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The job that could not start is not in the database once it is back."""
    from pipeline.cli import runner

    db.upgrade(pg_base_url)
    with db.get_engine(pg_base_url).begin() as conn:
        before = conn.execute(text("SELECT count(*) FROM jobs")).scalar_one()
    down = pg_base_url.replace("127.0.0.1:5432", "127.0.0.1:1")
    monkeypatch.setattr(runner, "prepare_airflow", lambda s: None)
    with pytest.raises(DatabaseError):
        runner.run_dag(Settings(data_dir=tmp_path, db_url=down), "dub_video", {"input": "x.mp4"})
    with db.get_engine(pg_base_url).begin() as conn:
        assert conn.execute(text("SELECT count(*) FROM jobs")).scalar_one() == before


def test_cli_refuses_un_migrated_database(empty_db_url: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from pipeline.cli.app import app
    from pipeline.core.config import reset_settings

    monkeypatch.setenv("DUBLINE_DB_URL", empty_db_url)
    monkeypatch.setenv("DUBLINE_DATA_DIR", str(tmp_path))
    reset_settings()
    try:
        r = CliRunner().invoke(app, ["consent", "list"])
        assert r.exit_code == 4, r.output
        assert "not migrated" in r.output and "dubline db upgrade" in r.output and "Traceback" not in r.output
        r = CliRunner().invoke(app, ["db", "upgrade"])
        assert r.exit_code == 0 and "migrated" in r.output
        assert CliRunner().invoke(app, ["consent", "list"]).exit_code == 0
    finally:
        reset_settings()
