"""The project's database (SQLAlchemy 2): engines, sessions, Alembic migrations, and the job records.

SQLite under the data folder by default; PostgreSQL by URL (DUBLINE_DB_URL, `postgresql+psycopg://...`).
The schema (pipeline/ledger/tables.py) is made and changed only by the migrations in
pipeline/migrations: `dubline db upgrade`. The embedded default database migrates itself on first use;
any other database that is not at the latest revision is refused with a message saying so.
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event, select
from sqlalchemy.engine import make_url
from sqlalchemy.exc import InterfaceError, OperationalError
from sqlalchemy.orm import Session

from pipeline.core.config import Settings, get_settings
from pipeline.core.errors import DatabaseError, SetupError
from pipeline.ledger.tables import Base, Job

__all__ = ["Base", "Job", "get_engine", "session", "upgrade", "current_revision", "head_revision", "require_ready"]

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
_ready: set[str] = set()
_ready_lock = threading.Lock()


def safe_url(url: str) -> str:
    """The URL with its password masked, for messages."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # noqa: BLE001 - a malformed URL is shown as given, it holds no parsed password
        return url


PRIVATE_FILE_MODE = 0o600


def private_sqlite(path: Path) -> None:
    """The ledger (people, consents, voice embeddings) readable by its owner only: the file made 0600 before
    SQLite opens it (SQLite gives its journal and WAL files the database's mode), and an existing one, or its
    journal files, made so."""
    with contextlib.suppress(FileExistsError):  # an empty file is a new SQLite database
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE_FILE_MODE))
    for p in (path, *(path.with_name(path.name + s) for s in ("-journal", "-wal", "-shm"))):
        with contextlib.suppress(FileNotFoundError, PermissionError):  # another account's: left as it is
            if p.stat().st_mode & 0o077:
                p.chmod(PRIVATE_FILE_MODE)


@lru_cache(maxsize=8)
def get_engine(url: str) -> Engine:
    """An engine for `url` (cached per process). SQLite: a file under its folder, foreign keys on, and
    every transaction BEGIN IMMEDIATE so that concurrent writers queue instead of failing."""
    try:
        parsed = make_url(url)
    except Exception as e:  # noqa: BLE001 - sqlalchemy raises ArgumentError for a bad URL
        raise DatabaseError(f"database URL {url!r} is not valid: {e}", "check DUBLINE_DB_URL") from None
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            try:
                Path(parsed.database).expanduser().parent.mkdir(parents=True, exist_ok=True)
                private_sqlite(Path(parsed.database).expanduser())
            except OSError as e:
                raise DatabaseError(
                    f"the project's database {url} is not reachable: cannot make its folder ({e})",
                    "fix DUBLINE_DB_URL or DUBLINE_DATA_DIR",
                ) from None
        engine = create_engine(url, connect_args={"timeout": 60})

        @event.listens_for(engine, "connect")
        def _connect(dbapi_conn: Any, _record: Any) -> None:
            dbapi_conn.isolation_level = None  # let the "begin" hook below issue BEGIN itself
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA foreign_keys=ON")
            cur.close()

        @event.listens_for(engine, "begin")
        def _begin(conn: Any) -> None:
            conn.exec_driver_sql("BEGIN IMMEDIATE")

        return engine
    connect_args: dict[str, Any] = {}
    if parsed.get_backend_name() == "postgresql":
        connect_args["connect_timeout"] = 10
    return create_engine(url, pool_pre_ping=True, connect_args=connect_args)


def _unreachable(url: str, e: Exception) -> DatabaseError:
    detail = str(getattr(e, "orig", None) or e).strip().splitlines()
    return DatabaseError(
        f"the project's database {safe_url(url)} is not reachable: {detail[0] if detail else type(e).__name__}",
        "start the database server or fix DUBLINE_DB_URL, then run the command again",
    )


def _alembic_config(url: str) -> Any:
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def head_revision() -> str:
    from alembic.script import ScriptDirectory

    head = ScriptDirectory.from_config(_alembic_config("sqlite://")).get_current_head()
    assert head is not None
    return head


def current_revision(url: str) -> str | None:
    """The revision the database is at (None: never migrated). DatabaseError when unreachable."""
    from alembic.runtime.migration import MigrationContext

    try:
        with get_engine(url).connect() as conn:
            return MigrationContext.configure(conn).get_current_revision()
    except (OperationalError, InterfaceError) as e:
        raise _unreachable(url, e) from None


def upgrade(url: str, revision: str = "head") -> tuple[str | None, str]:
    """Migrate the database to `revision`. Returns (before, after)."""
    from alembic import command

    before = current_revision(url)
    cfg = _alembic_config(url)
    try:
        with get_engine(url).connect() as conn:
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, revision)
            conn.commit()
    except (OperationalError, InterfaceError) as e:
        raise _unreachable(url, e) from None
    after = current_revision(url)
    with _ready_lock:
        _ready.discard(url)
    return before, after or ""


def auto_migrates(url: str, settings: Settings | None = None) -> bool:
    """True for the embedded default database (no DUBLINE_DB_URL): it may be migrated on first use."""
    s = settings or get_settings()
    return not s.db_url and url == s.resolved_db_url


def require_ready(target: str | Settings) -> Engine:
    """The engine of a database at the latest revision. The embedded default is migrated here if need be;
    any other database raises SetupError naming `dubline db upgrade`; an unreachable one DatabaseError."""
    settings = target if isinstance(target, Settings) else None
    url = settings.resolved_db_url if settings else str(target)
    with _ready_lock:
        if url in _ready:
            return get_engine(url)
    current, head = current_revision(url), head_revision()
    if current != head:
        if auto_migrates(url, settings):
            upgrade(url)
        else:
            where = f"at revision {current}" if current else "not migrated"
            raise SetupError(
                f"the project's database {safe_url(url)} is {where} (this dubline needs revision {head})",
                "run `dubline db upgrade` first",
            )
    with _ready_lock:
        _ready.add(url)
    return get_engine(url)


@contextmanager
def session(target: str | Settings) -> Iterator[Session]:
    """A session on a ready database; commits when the block ends without error, else rolls back."""
    engine = require_ready(target)
    try:
        with Session(engine, expire_on_commit=False) as s:
            yield s
            s.commit()
    except (OperationalError, InterfaceError) as e:
        url = target.resolved_db_url if isinstance(target, Settings) else str(target)
        raise _unreachable(url, e) from None


# --- job records of `dubline dub` runs -------------------------------------------------------------


def start_job(url: str | Settings, dag_id: str, input: str, params: dict[str, Any]) -> int:
    from pipeline.ledger import audit

    with session(url) as s:
        job = Job(dag_id=dag_id, input=input, params=params, status="running", started_at=datetime.now(UTC))
        s.add(job)
        s.flush()
        audit.append(s, "job.start", "job", job.id, {"dag_id": dag_id, "input": input, "params": params})
        return job.id


def finish_job(
    url: str | Settings,
    job_id: int,
    status: str,
    *,
    run_id: str | None = None,
    wall_s: float | None = None,
    error: str | None = None,
    outputs: dict[str, Any] | None = None,
) -> None:
    from pipeline.ledger import audit

    with session(url) as s:
        job = s.get(Job, job_id)
        if job is None:
            return
        job.status, job.run_id, job.wall_s, job.error, job.outputs = status, run_id, wall_s, error, outputs
        job.finished_at = datetime.now(UTC)
        audit.append(s, "job.finish", "job", job_id, {"status": status, "run_id": run_id, "error": error})


def recent_jobs(url: str | Settings, limit: int = 20) -> list[Job]:
    with session(url) as s:
        return list(s.scalars(select(Job).order_by(Job.id.desc()).limit(limit)))
