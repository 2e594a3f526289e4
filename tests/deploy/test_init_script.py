"""docker/init.sh, the compose's init service, run for real outside a container: against the PostgreSQL of
.ci/run (a role of its own with a password given as PGPASSWORD, the URLs of docker/cluster.env with the host
moved to 127.0.0.1) and a throwaway SeaweedFS whose admin identity comes from AWS_* variables, as the compose's
s3 service gets it. It migrates both databases, makes the heavy pool, the signing and watermark keys and the
bucket; a second run changes nothing; a secret left at the example's placeholder stops it before any work."""

from __future__ import annotations

import os
import re
import secrets
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tools import seaweed

REPO = Path(__file__).resolve().parents[2]
INIT = REPO / "docker" / "init.sh"
PG_HOST = os.environ.get("DUBLINE_TEST_PG_HOST", "127.0.0.1")
PG_PORT = int(os.environ.get("DUBLINE_TEST_PG_PORT", "5432"))
PG_ADMIN = os.environ.get("DUBLINE_TEST_PG_USER", "postgres")

pytestmark = pytest.mark.slow


def _cluster_env() -> dict[str, str]:
    """docker/cluster.env's KEY=VALUE lines."""
    lines = (REPO / "docker" / "cluster.env").read_text().splitlines()
    return dict(line.split("=", 1) for line in lines if line.strip() and not line.startswith("#"))


def _admin():  # type: ignore[no-untyped-def]
    import psycopg

    return psycopg.connect(host=PG_HOST, port=PG_PORT, user=PG_ADMIN, dbname="postgres", autocommit=True)


@pytest.fixture(scope="module")
def pg_role() -> Iterator[tuple[str, str]]:
    """A login role with a password, owning an `airflow` and a `project` database of its own."""
    try:
        conn = _admin()
    except Exception as e:  # noqa: BLE001 - any failure to connect means: no server here
        reason = f"PostgreSQL is not reachable on {PG_HOST}:{PG_PORT} ({str(e).strip().splitlines()[0]})"
        if os.environ.get("CI") == "true":
            pytest.fail(f"{reason}; .ci/run should have started it")
        pytest.skip(f"{reason}; `.ci/run` starts it")
    role, password = f"init_{secrets.token_hex(4)}", secrets.token_urlsafe(16)
    with conn:
        conn.execute(f"CREATE ROLE \"{role}\" LOGIN PASSWORD '{password}'")
        for db in ("airflow", "project"):
            conn.execute(f'CREATE DATABASE "{role}_{db}" OWNER "{role}"')
    try:
        yield role, password
    finally:
        with _admin() as conn:
            for db in ("airflow", "project"):
                conn.execute(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s", (f"{role}_{db}",)
                )
                conn.execute(f'DROP DATABASE IF EXISTS "{role}_{db}"')
            conn.execute(f'DROP ROLE IF EXISTS "{role}"')


@pytest.fixture(scope="module")
def s3(tmp_path_factory: pytest.TempPathFactory) -> Iterator[seaweed.SeaweedS3]:
    with seaweed.running(tmp_path_factory.mktemp("seaweed"), bucket="other") as server:
        yield server


def _environ(role: str, password: str, s3: seaweed.SeaweedS3, home: Path) -> dict[str, str]:
    """What the init container's environment holds: cluster.env, then the secrets, hosts made local."""
    shared = _cluster_env()

    def local(url: str) -> str:
        return (
            url.replace("@postgres:5432/airflow", f"@{PG_HOST}:{PG_PORT}/{role}_airflow")
            .replace("@postgres:5432/dubline", f"@{PG_HOST}:{PG_PORT}/{role}_project")
            .replace("dubline@", f"{role}@")
        )

    env = {
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}/usr/bin:/bin",
        "HOME": str(home),
        **shared,
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": local(shared["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"]),
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN_ASYNC": local(shared["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"]),
        "AIRFLOW__CELERY__RESULT_BACKEND": local(shared["AIRFLOW__CELERY__RESULT_BACKEND"]),
        "DUBLINE_DB_URL": local(shared["DUBLINE_DB_URL"]),
        "DUBLINE_S3_ENDPOINT": s3.endpoint,
        "DUBLINE_STORE_URL": "s3://made-by-init/",
        "AIRFLOW_HOME": str(home / "airflow"),
        "AIRFLOW__CORE__DAGS_FOLDER": str(REPO / "dags"),
        "DUBLINE_DATA_DIR": str(home / "data"),
        "DUBLINE_C2PA_CERT_DIR": str(home / "keys" / "c2pa"),
        # the secrets of docker/dubline.env
        "PGPASSWORD": password,
        "AWS_ACCESS_KEY_ID": s3.access_key,
        "AWS_SECRET_ACCESS_KEY": s3.secret_key,
        "AIRFLOW__API_AUTH__JWT_SECRET": secrets.token_urlsafe(16),
        "AIRFLOW__API__SECRET_KEY": secrets.token_urlsafe(16),
        "AIRFLOW__CORE__FERNET_KEY": "",
    }
    assert not [k for k, v in env.items() if "postgres:" in v or "//s3:" in v], "a compose host was left"
    return env


def _run(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["bash", str(INIT)], env=env, capture_output=True, text=True, timeout=300, cwd=REPO)


def test_init_prepares_a_fresh_cluster_and_is_idempotent(
    pg_role: tuple[str, str], s3: seaweed.SeaweedS3, tmp_path: Path
) -> None:
    role, password = pg_role
    env = _environ(role, password, s3, tmp_path)
    first = _run(env)
    assert first.returncode == 0, first.stdout + first.stderr
    assert "migrated from (empty)" in first.stdout
    assert "bucket made-by-init created" in first.stdout

    import psycopg

    with psycopg.connect(host=PG_HOST, port=PG_PORT, user=role, password=password, dbname=f"{role}_airflow") as c:
        slots = c.execute("SELECT slots FROM slot_pool WHERE pool = %s", (env["DUBLINE_HEAVY_POOL"],)).fetchone()
    assert slots == (int(env["DUBLINE_HEAVY_POOL_SLOTS"]),)
    keys = Path(env["DUBLINE_C2PA_CERT_DIR"])
    private = [p for p in keys.iterdir() if p.suffix == ".key"]
    assert private and all(p.stat().st_mode & 0o077 == 0 for p in private), "the keys are readable by others"
    s3.client().head_bucket(Bucket="made-by-init")

    second = _run(env)
    assert second.returncode == 0, second.stdout + second.stderr
    assert "already at revision" in second.stdout
    assert "present and usable" in second.stdout
    assert "bucket made-by-init present" in second.stdout
    fingerprint = re.compile(r"fingerprint (\w+)")
    assert fingerprint.findall(second.stdout) == fingerprint.findall(first.stdout) != [], "the signer was remade"


def test_init_refuses_a_placeholder_secret(tmp_path: Path) -> None:
    env = {"PATH": f"{Path(sys.executable).parent}{os.pathsep}/usr/bin:/bin", "HOME": str(tmp_path)}
    env |= {**_cluster_env(), "PGPASSWORD": "change-me", "AIRFLOW__API_AUTH__JWT_SECRET": "a-real-one"}
    done = _run(env)
    assert done.returncode == 1
    assert "still change-me in docker/dubline.env: PGPASSWORD;" in done.stderr
    assert "init: Airflow's database" not in done.stdout, "nothing may start with a placeholder secret"
