"""The project's database (SQLAlchemy 2): for now, the job records of `dubline dub` runs.

SQLite under the data folder by default; PostgreSQL by URL (DUBLINE_DB_URL). The consent and
provenance ledger, with Alembic migrations, builds on this module.
"""

from __future__ import annotations

from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

from sqlalchemy import JSON, DateTime, Engine, Float, Integer, String, Text, create_engine, select
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column


class Base(DeclarativeBase):
    pass


class Job(Base):
    __tablename__ = "jobs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    dag_id: Mapped[str] = mapped_column(String(100))
    run_id: Mapped[str | None] = mapped_column(String(250), nullable=True)
    input: Mapped[str] = mapped_column(Text)
    params: Mapped[dict[str, Any]] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(String(20))  # running | success | failed
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    wall_s: Mapped[float | None] = mapped_column(Float, nullable=True)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    outputs: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)


@lru_cache(maxsize=4)
def get_engine(url: str) -> Engine:
    if url.startswith("sqlite:///"):
        from pathlib import Path

        Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(url, future=True)
    Base.metadata.create_all(engine)
    return engine


def start_job(url: str, dag_id: str, input: str, params: dict[str, Any]) -> int:
    with Session(get_engine(url)) as s:
        job = Job(dag_id=dag_id, input=input, params=params, status="running", started_at=datetime.now(UTC))
        s.add(job)
        s.commit()
        return job.id


def finish_job(
    url: str,
    job_id: int,
    status: str,
    *,
    run_id: str | None = None,
    wall_s: float | None = None,
    error: str | None = None,
    outputs: dict[str, Any] | None = None,
) -> None:
    with Session(get_engine(url)) as s:
        job = s.get(Job, job_id)
        if job is None:
            return
        job.status, job.run_id, job.wall_s, job.error, job.outputs = status, run_id, wall_s, error, outputs
        job.finished_at = datetime.now(UTC)
        s.commit()


def recent_jobs(url: str, limit: int = 20) -> list[Job]:
    with Session(get_engine(url)) as s:
        return list(s.scalars(select(Job).order_by(Job.id.desc()).limit(limit)))
