"""The ledger's tests run once on SQLite (a file in tmp) and once on the real PostgreSQL at 127.0.0.1:5432.

A fresh PostgreSQL database is made for the test session and dropped after it; each test starts from an
empty schema. Where PostgreSQL cannot be reached those tests skip with the reason, except in CI
(CI=true), where they fail: CI's .ci/run starts the server.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest

PG_HOST = os.environ.get("DUBLINE_TEST_PG_HOST", "127.0.0.1")
PG_PORT = int(os.environ.get("DUBLINE_TEST_PG_PORT", "5432"))
PG_USER = os.environ.get("DUBLINE_TEST_PG_USER", "postgres")


def _admin():  # type: ignore[no-untyped-def]
    import psycopg

    return psycopg.connect(
        host=PG_HOST, port=PG_PORT, user=PG_USER, dbname="postgres", connect_timeout=5, autocommit=True
    )


@pytest.fixture(scope="session")
def pg_base_url() -> Iterator[str]:
    try:
        conn = _admin()
    except Exception as e:  # noqa: BLE001 - any failure to connect means: no server here
        reason = f"PostgreSQL is not reachable on {PG_HOST}:{PG_PORT} ({str(e).strip().splitlines()[0]})"
        if os.environ.get("CI") == "true":
            pytest.fail(f"{reason}; .ci/run should have started it")
        pytest.skip(f"{reason}; `.ci/run` starts it")
    name = f"dubline_test_{os.getpid()}_{secrets.token_hex(3)}"
    with conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"postgresql+psycopg://{PG_USER}@{PG_HOST}:{PG_PORT}/{name}"
    finally:
        from pipeline.ledger import db

        for url in list(db._ready):
            db._ready.discard(url)
        db.get_engine.cache_clear()
        with _admin() as conn:
            conn.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()",
                (name,),
            )
            conn.execute(f'DROP DATABASE IF EXISTS "{name}"')


def _reset_pg(url: str) -> None:
    from pipeline.ledger import db

    db._ready.discard(url)
    engine = db.get_engine(url)
    engine.dispose()
    with engine.begin() as conn:
        conn.exec_driver_sql("DROP SCHEMA public CASCADE")
        conn.exec_driver_sql("CREATE SCHEMA public")


@pytest.fixture(params=["sqlite", "postgresql"])
def empty_db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """An empty database (not migrated) of each kind."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'ledger.db'}"
    url: str = request.getfixturevalue("pg_base_url")
    _reset_pg(url)
    return url


@pytest.fixture
def db_url(empty_db_url: str) -> str:
    """A migrated database of each kind."""
    from pipeline.ledger import db

    db.upgrade(empty_db_url)
    return empty_db_url


@pytest.fixture
def settings(db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    """Settings on that database and a private data folder; also what get_settings() returns (the CLI)."""
    from pipeline.core.config import Settings, reset_settings

    for name in list(os.environ):
        if name.startswith("DUBLINE_") and not name.startswith("DUBLINE_TEST_"):
            monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("DUBLINE_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("DUBLINE_DB_URL", db_url)
    monkeypatch.setenv("DUBLINE_ACTOR", "tester")
    monkeypatch.setenv("DUBLINE_WATERMARK_KEY", "dubline-watermark-v1")  # the public key, as tests/conftest.py says
    reset_settings()
    yield Settings(data_dir=tmp_path / "data", db_url=db_url)
    reset_settings()


@pytest.fixture
def grant():  # type: ignore[no-untyped-def]
    """grant(settings, person=..., uses=..., ...) -> consent id, recorded straight in the ledger."""
    return _granted


def _granted(
    settings,  # type: ignore[no-untyped-def]
    person: str = "joe",
    uses: tuple[str, ...] = ("dubbing",),
    languages: tuple[str, ...] = ("en",),
    projects: list[str] | None = None,
    valid_from: date | None = None,
    until: date | None = None,
    status: str = "granted",
) -> int:
    """A consent recorded straight in the ledger (no recording checks): what a successful grant leaves."""
    from pipeline.ledger import consents as ledger
    from pipeline.ledger import db

    with db.session(settings) as s:
        p = ledger.ensure_person(s, person, person.title())
        c = ledger.request(
            s, p, list(uses), list(languages), projects, valid_from or date(2026, 1, 1), until, "statement", "12345"
        )
        if status != "requested":
            import hashlib

            from pipeline.core.stagerun import open_settings_store

            evidence = f"recording of {person}, consent {c.id}".encode()
            uri = open_settings_store(settings).put_bytes(f"consent/recordings/test-{c.id}.wav", evidence)
            sha = hashlib.sha256(evidence).hexdigest()
            ledger.record_grant(s, c, uri, sha, {"words": {}, "voice": {}}, [])
        if status in ("revoked",):
            ledger.revoke(s, c, "test")
        if status == "expired":
            c.status = "expired"
        return c.id


@pytest.fixture
def dub_job():  # type: ignore[no-untyped-def]
    """dub_job(ingested, muxed, model=..., consents=..., mix_uri=..., watermark=...) -> DubOutcome: the stage
    results of a one-language (es) dub of an English input, as the DAG's publish task gathers them. What the
    ledger reads (the models, the consents, the mix and its mark, the muxed outputs) comes from the test;
    the rest are stand-ins."""
    return _dub_job


def _dub_job(  # type: ignore[no-untyped-def]
    ingested,
    muxed,
    *,
    model: dict[str, str],
    consents: list[int],
    mix_uri: str,
    watermark: dict[str, object] | None = None,
):
    from pipeline.products.dubbing.contracts import Synthesized, Translated
    from pipeline.products.dubbing.publish import DubOutcome
    from pipeline.stages.contracts import Mixed, Separated, Transcribed

    heard = Transcribed(
        stage="transcribe",
        key="k-asr",
        script_uri=muxed.script_uri,
        language="en",
        language_probability=1.0,
        segments=1,
        words=1,
        model=model,
    )
    diarized = heard.model_copy(update={"stage": "diarize", "key": "k-diarize"})
    transcribed = heard.model_copy(update={"stage": "cast", "key": "k-cast"})
    translated = Translated(
        stage="translate",
        key="k-mt",
        label="es",
        language="es",
        script_uri=muxed.script_uri,
        engine=model,
        lines=1,
        lines_by_engine={model["id"]: 1},
        fallbacks=0,
        unvalidated=0,
        cached_lines=0,
        glossary_entries=0,
    )
    synthesized = Synthesized(
        stage="synthesize",
        key="k-tts",
        label="es",
        language="es",
        script_uri=muxed.script_uri,
        engine=model,
        voice="es-ES",
        voices=[],
        consents=consents,
        lines=1,
        speech_s=1.0,
        rate_changed=0,
        shortened=0,
        delivery={},
    )
    mixed = Mixed(
        stage="mix",
        key="k-mix",
        label="es",
        language="es",
        mix_uri=mix_uri,
        peak_scale=1.0,
        loudness={},
        watermark=watermark,
        mode="replace",
        base="original",
        duck_db=-12.0,
        attack=0.1,
        release=0.3,
        dub_gain_db=0.0,
        loudness_profile="ebu_r128",
    )
    return DubOutcome(
        ingested=ingested,
        heard=heard,
        diarized=diarized,
        transcribed=transcribed,
        separated=Separated(stage="separate", method="none"),
        translated=[translated],
        synthesized=[synthesized],
        fits=[],
        mixes=[mixed],
        muxed=muxed,
    )
