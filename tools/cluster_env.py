"""The environment of a local dubline cluster: docker/cluster.env (the settings the compose file uses too) with
its hosts and ports replaced by this machine's, plus the generated secrets.

`read_env_file` reads the KEY=VALUE file as compose does (no quotes, no interpolation); `cluster_environ`
layers: the caller's environment without its AIRFLOW_* and DUBLINE_* variables (DUBLINE_MODEL_DIR kept: where
the weights are), then docker/cluster.env, then the local hosts, ports, folders and secrets. A value still
naming a compose service host after that is an error: a setting added to cluster.env that this module does not
place on 127.0.0.1 would send a local service looking for `redis` or `postgres`.
"""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from pipeline.core.errors import ConfigError

REPO = Path(__file__).resolve().parents[1]
CLUSTER_ENV = REPO / "docker" / "cluster.env"
# the compose file's service names; no value of a local cluster may still point at one of them
COMPOSE_HOSTS = ("redis", "postgres", "s3", "api-server", "scheduler", "triggerer", "dag-processor")
_COMPOSE_HOST_RE = re.compile(r"://(?:[^@/\s]*@)?(" + "|".join(map(re.escape, COMPOSE_HOSTS)) + r")(?=[:/]|$)")
KEEP_FROM_CALLER = ("DUBLINE_MODEL_DIR",)


def read_env_file(path: Path = CLUSTER_ENV) -> dict[str, str]:
    """KEY=VALUE lines; blank lines and lines starting with # are skipped."""
    if not path.is_file():
        raise ConfigError(f"{path} is missing", "it holds the cluster's shared settings: restore it from git")
    values: dict[str, str] = {}
    for n, raw in enumerate(path.read_text().splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        key, sep, value = line.partition("=")
        if not sep or not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", key.strip()):
            raise ConfigError(f"{path}:{n} is not KEY=VALUE: {raw!r}", "write one KEY=VALUE a line")
        values[key.strip()] = value.strip()
    return values


@dataclass(frozen=True)
class Endpoints:
    """Where this machine's cluster services listen, and its folders and secrets."""

    pg_host: str
    pg_port: int
    pg_user: str
    airflow_db: str
    project_db: str
    redis_port: int
    api_port: int
    s3_endpoint: str
    s3_access_key: str
    s3_secret_key: str
    home: Path  # AIRFLOW_HOME
    data_dir: Path  # DUBLINE_DATA_DIR of every service and worker
    passwords_file: Path
    admin_user: str
    jwt_secret: str
    api_secret_key: str
    fernet_key: str
    trigger_log_port: int

    def pg_url(self, db: str) -> str:
        return f"postgresql+psycopg://{self.pg_user}@{self.pg_host}:{self.pg_port}/{db}"

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.api_port}"


def local_overrides(ep: Endpoints) -> dict[str, str]:
    """The settings that differ from compose's: hosts, ports, folders, secrets; and light-weight local choices."""
    return {
        "AIRFLOW_HOME": str(ep.home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(REPO / "dags"),
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": ep.pg_url(ep.airflow_db),
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN_ASYNC": ep.pg_url(ep.airflow_db),  # psycopg 3 is async too (no asyncpg)
        "AIRFLOW__CELERY__BROKER_URL": f"redis://127.0.0.1:{ep.redis_port}/0",
        "AIRFLOW__CELERY__RESULT_BACKEND": "db+" + ep.pg_url(ep.airflow_db),
        "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"{ep.api_url}/execution/",
        "AIRFLOW__API__HOST": "127.0.0.1",
        "AIRFLOW__API__PORT": str(ep.api_port),
        "AIRFLOW__API__BASE_URL": ep.api_url,
        "AIRFLOW__API__WORKERS": "1",  # one uvicorn process: this is a small machine
        "AIRFLOW__API_AUTH__JWT_SECRET": ep.jwt_secret,  # one secret: services accept each other's tokens
        "AIRFLOW__API__SECRET_KEY": ep.api_secret_key,
        "AIRFLOW__CORE__FERNET_KEY": ep.fernet_key,
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": f"{ep.admin_user}:admin",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(ep.passwords_file),
        "AIRFLOW__CORE__UNIT_TEST_MODE": "False",
        "AIRFLOW__CORE__HOSTNAME_CALLABLE": "tools.cluster_env.worker_hostname",  # PYTHONPATH has the checkout
        "AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT": str(ep.trigger_log_port),
        "AIRFLOW__DAG_PROCESSOR__MIN_FILE_PROCESS_INTERVAL": "300",  # parse, then leave the cores to the tasks
        "DUBLINE_DATA_DIR": str(ep.data_dir),
        "DUBLINE_DB_URL": ep.pg_url(ep.project_db),
        "DUBLINE_S3_ENDPOINT": ep.s3_endpoint,
        "DUBLINE_S3_ACCESS_KEY": ep.s3_access_key,
        "DUBLINE_S3_SECRET_KEY": ep.s3_secret_key,
        "AWS_EC2_METADATA_DISABLED": "true",
    }


def caller_base(caller: Mapping[str, str] | None = None) -> dict[str, str]:
    """The caller's environment a cluster process keeps: none of its Airflow, dubline or AWS settings (but
    KEEP_FROM_CALLER), the venv first on PATH, the repository on PYTHONPATH."""
    caller = os.environ if caller is None else caller
    base = {k: v for k, v in caller.items() if not k.startswith(("AIRFLOW_", "AIRFLOW__", "DUBLINE_", "AWS_"))}
    base.update({k: caller[k] for k in KEEP_FROM_CALLER if caller.get(k)})
    base["PATH"] = str(Path(sys.executable).parent) + os.pathsep + caller.get("PATH", "/usr/bin:/bin")
    base["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), caller.get("PYTHONPATH", "")]))
    return base


def cluster_environ(
    ep: Endpoints,
    extra: Mapping[str, str] | None = None,
    caller: Mapping[str, str] | None = None,
    shared: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """The full environment of every cluster process (see the module's docstring for the layers)."""
    base = caller_base(caller)
    env = {**base, **(read_env_file() if shared is None else shared), **local_overrides(ep), **(extra or {})}
    stale = sorted(k for k, v in env.items() if _COMPOSE_HOST_RE.search(v))
    if stale:
        raise ConfigError(
            f"{', '.join(stale)} still name a compose service host after the local overrides",
            "add the setting to tools/cluster_env.py's local_overrides (127.0.0.1 and the local port)",
        )
    return env


def worker_hostname() -> str:
    """Airflow's `core.hostname_callable` on the cluster: a worker's task instances record its name
    (DUBLINE_WORKER_NAME), so the runs show which worker ran what even with both workers on one machine."""
    import socket

    return os.environ.get("DUBLINE_WORKER_NAME") or socket.getfqdn()


def exported(env: Mapping[str, str]) -> dict[str, str]:
    """The cluster's own variables (what a shell needs to run `airflow` or `dubline` against the cluster), and
    PYTHONPATH: Airflow's hostname callable lives in this checkout's tools/."""
    own = ("AIRFLOW_", "AIRFLOW__", "DUBLINE_", "AWS_")
    return {k: v for k, v in sorted(env.items()) if k.startswith(own) or k == "PYTHONPATH"}  # the hostname callable
