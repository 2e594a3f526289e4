"""The local cluster's environment (tools/cluster_env.py): docker/cluster.env, the file compose reads, kept as it
is but for its hosts, ports and secrets; a setting that would still send a local service to a compose host is
refused, so the two cannot drift apart silently."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipeline.core.errors import ConfigError
from tools.cluster_env import CLUSTER_ENV, Endpoints, cluster_environ, exported, read_env_file


def _endpoints(tmp_path: Path) -> Endpoints:
    return Endpoints(
        pg_host="127.0.0.1", pg_port=5432, pg_user="postgres", airflow_db="af", project_db="ledger",
        redis_port=40001, api_port=40002, s3_endpoint="http://127.0.0.1:40003", s3_access_key="AK",
        s3_secret_key="SK", home=tmp_path / "airflow", data_dir=tmp_path / "data",
        passwords_file=tmp_path / "passwords.json", admin_user="admin", jwt_secret="jwt", api_secret_key="key",
        fernet_key="fernet", trigger_log_port=40004,
    )  # fmt: skip


def test_the_compose_settings_are_kept_and_only_hosts_ports_and_secrets_replaced(tmp_path: Path) -> None:
    shared = read_env_file()
    env = cluster_environ(_endpoints(tmp_path), caller={"PATH": "/usr/bin", "DUBLINE_STORE_URL": "file:///x"})
    assert shared["AIRFLOW__CORE__EXECUTOR"] == env["AIRFLOW__CORE__EXECUTOR"] == "CeleryExecutor"
    for key in ("AIRFLOW__OPERATORS__DEFAULT_QUEUE", "DUBLINE_HEAVY_QUEUE", "DUBLINE_HEAVY_POOL", "DUBLINE_STORE_URL"):
        assert env[key] == shared[key], key  # the caller's DUBLINE_STORE_URL does not win over the cluster's
    assert env["AIRFLOW__CELERY__BROKER_URL"] == "redis://127.0.0.1:40001/0"
    assert env["AIRFLOW__CORE__EXECUTION_API_SERVER_URL"] == "http://127.0.0.1:40002/execution/"
    assert env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"] == "postgresql+psycopg://postgres@127.0.0.1:5432/af"
    assert env["DUBLINE_DB_URL"] == "postgresql+psycopg://postgres@127.0.0.1:5432/ledger"
    assert env["DUBLINE_S3_ENDPOINT"] == "http://127.0.0.1:40003"
    assert env["AIRFLOW__API_AUTH__JWT_SECRET"] == "jwt" and env["AIRFLOW__CORE__FERNET_KEY"] == "fernet"
    assert set(shared) <= set(exported(env))
    assert not any(v for k, v in env.items() if "://redis" in v or "@postgres" in v or "://s3:" in v), env


def test_a_new_compose_host_setting_without_a_local_override_is_refused(tmp_path: Path) -> None:
    shared = {**read_env_file(), "AIRFLOW__CELERY__FLOWER_URL": "http://api-server:5555/"}
    with pytest.raises(ConfigError, match="AIRFLOW__CELERY__FLOWER_URL"):
        cluster_environ(_endpoints(tmp_path), caller={}, shared=shared)
    with_user = {"DUBLINE_X_URL": "postgresql://someone@postgres/db"}
    with pytest.raises(ConfigError, match="DUBLINE_X_URL"):
        cluster_environ(_endpoints(tmp_path), caller={}, shared=with_user)
    harmless = {"DUBLINE_X_URL": "http://redis-cache.example.org/", "DUBLINE_Y": "s3://dubline/"}
    assert (
        cluster_environ(_endpoints(tmp_path), caller={}, shared=harmless)["DUBLINE_X_URL"] == harmless["DUBLINE_X_URL"]
    )


def test_the_env_file_is_read_as_compose_reads_it(tmp_path: Path) -> None:
    path = tmp_path / "c.env"
    path.write_text("# a comment\n\nA=1\nB=\nC=x=y\n  D = spaced  \n")
    assert read_env_file(path) == {"A": "1", "B": "", "C": "x=y", "D": "spaced"}
    path.write_text("A=1\nnot a setting\n")
    with pytest.raises(ConfigError, match="c.env:2"):
        read_env_file(path)
    with pytest.raises(ConfigError, match="missing"):
        read_env_file(tmp_path / "none.env")
    assert CLUSTER_ENV.is_file()
