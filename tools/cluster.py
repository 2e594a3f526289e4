"""A real dubline cluster on this machine, as processes bound to 127.0.0.1 on free ports (`make cluster-up`,
`make cluster-down`): fresh PostgreSQL databases for Airflow's metadata and the project's ledger (on the
PostgreSQL that scripts/start-postgres.sh starts), Redis as the Celery broker (no persistence), SeaweedFS as
the S3 store (tools/seaweed.py, the bucket created), Airflow 3's api-server, scheduler, dag-processor and
triggerer, and two Celery workers: `light` on the default queue and `heavy` on the heavy queue, whose
concurrency and the `heavy` pool are sized to the cores (`--workers N`: N alike workers w1..wN instead, each on
both queues; benchmarks/cluster_throughput.py compares 1 and 2). Every process reads docker/cluster.env with
the hosts, ports and generated secrets replaced (tools/cluster_env.py). Logs, pids and state live in the
cluster folder (default var/cluster/): logs/<service>.log, pids/<service>.pid, env (the variables, for a
shell), cluster.json.

    python -m tools.cluster up [--dir var/cluster] [--set KEY=VALUE ...] [--workers N]
    python -m tools.cluster down [--dir var/cluster]      # idempotent: stops what runs, drops the databases
    python -m tools.cluster env [--dir var/cluster]       # `export` lines for a shell
    python -m tools.cluster start SERVICE [--dir ...]     # start one service again (a supervisor's restart)
    python -m tools.cluster stop SERVICE [--dir ...]      # stop one service (SIGTERM, then SIGKILL)

`start` and `stop` take a service's name as pids/ has it (worker-heavy, scheduler, s3, ...): `start worker-heavy`
replaces a heavy worker that died (what a supervisor such as systemd or compose's `restart:` does), `start s3`
starts SeaweedFS again on the same data, ports and credentials.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import secrets
import shlex
import shutil
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from pipeline.core.errors import DublineError, SetupError
from tools import seaweed
from tools.cluster_env import REPO, Endpoints, caller_base, cluster_environ, exported, read_env_file

DEFAULT_DIR = REPO / "var" / "cluster"
ADMIN = "admin"
START_TIMEOUT_S = 240.0
# stop order: who takes work first, then who hands it out, then what they all use
STOP_ORDER = ["worker-light", "worker-heavy", "scheduler", "triggerer", "dag-processor", "api-server", "s3", "redis"]


@dataclass
class Worker:
    name: str  # also its Celery hostname: <name>@<host>; and the hostname its task instances record
    queues: list[str]
    concurrency: int


@dataclass
class Cluster:
    """A started cluster as cluster.json records it."""

    dir: Path
    url: str
    admin_user: str
    admin_password: str = field(repr=False)
    airflow_db: str
    project_db: str
    pg: dict[str, Any]
    workers: list[dict[str, Any]]
    heavy_pool: str
    heavy_slots: int
    started_s: float = 0.0
    s3_ports: dict[str, int] = field(default_factory=dict)  # SeaweedFS's: `start s3` binds the same ones

    @classmethod
    def load(cls, folder: Path) -> Cluster:
        doc = json.loads((folder / "cluster.json").read_text())
        doc["dir"] = Path(doc["dir"])
        return cls(**doc)

    def save(self) -> None:
        path = self.dir / "cluster.json"
        path.write_text(json.dumps({**asdict(self), "dir": str(self.dir)}, indent=2) + "\n")
        path.chmod(0o600)

    def env(self) -> dict[str, str]:
        return read_env_file(self.dir / "env")

    def api(self) -> Api:
        return Api(self.url, self.admin_user, self.admin_password)


class Api:
    """The api-server's REST API, signed in as the cluster's admin (a token fetched on first use)."""

    def __init__(self, url: str, user: str, password: str) -> None:
        self.url, self.user, self.password, self.token = url, user, password, ""

    def call(self, method: str, path: str, body: Any = None, auth: bool = True, timeout: float = 30) -> Any:
        if auth and not self.token:
            self.token = str(
                self.call("POST", "/auth/token", {"username": self.user, "password": self.password}, auth=False)[
                    "access_token"
                ]
            )
        req = urllib.request.Request(
            self.url + path, data=json.dumps(body).encode() if body is not None else None, method=method
        )
        req.add_header("Content-Type", "application/json")
        if auth:
            req.add_header("Authorization", f"Bearer {self.token}")
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            return json.loads(resp.read() or b"null")

    def health(self) -> dict[str, str]:
        """Each component's status ('healthy', 'unhealthy' or 'down' when the api-server does not answer)."""
        try:
            doc = self.call("GET", "/api/v2/monitor/health", auth=False, timeout=5)
        except (urllib.error.URLError, ConnectionError, TimeoutError, json.JSONDecodeError):
            return {"api-server": "down"}
        return {k: str((v or {}).get("status")) for k, v in doc.items()}

    def trigger(self, dag_id: str, conf: Mapping[str, Any]) -> str:
        doc = self.call("POST", f"/api/v2/dags/{dag_id}/dagRuns", {"logical_date": None, "conf": dict(conf)})
        return str(doc["dag_run_id"])

    def run(self, dag_id: str, run_id: str) -> dict[str, Any]:
        return dict(self.call("GET", f"/api/v2/dags/{dag_id}/dagRuns/{urllib.parse.quote(run_id, safe='')}"))

    def task_instances(self, dag_id: str, run_id: str) -> list[dict[str, Any]]:
        run = urllib.parse.quote(run_id, safe="")
        return list(self.call("GET", f"/api/v2/dags/{dag_id}/dagRuns/{run}/taskInstances?limit=500")["task_instances"])

    def wait_runs(self, dag_id: str, runs: Mapping[str, str], timeout: float, poll_s: float = 3.0) -> dict[str, float]:
        """Poll the runs ({name: run id}) until none is queued or running, or `timeout` seconds have passed;
        returns {name: seconds from this call until it was seen ended} for those that ended."""
        t0, ended = time.monotonic(), dict[str, float]()
        while len(ended) < len(runs) and time.monotonic() - t0 < timeout:
            for name, run_id in runs.items():
                try:
                    state = self.run(dag_id, run_id)["state"] if name not in ended else ""
                except (urllib.error.URLError, ConnectionError, TimeoutError, json.JSONDecodeError):
                    continue  # the api-server restarting or its database away: ask again at the next poll
                if state and state not in ("queued", "running"):
                    ended[name] = time.monotonic() - t0
            if len(ended) < len(runs):
                time.sleep(poll_s)
        return ended


# ---------------------------------------------------------------------------------------------------- processes


def _pid_file(folder: Path, name: str) -> Path:
    return folder / "pids" / f"{name}.pid"


def _record(folder: Path, name: str, pid: int) -> None:
    import psutil

    _pid_file(folder, name).write_text(f"{pid} {psutil.Process(pid).create_time()}\n")


def _recorded(folder: Path, name: str) -> Any:
    """The recorded process if it still runs (the same process: its start time matches), else None."""
    import psutil

    try:
        pid, created = _pid_file(folder, name).read_text().split()
        proc = psutil.Process(int(pid))
        if abs(proc.create_time() - float(created)) > 0.01:
            return None
        return proc
    except (OSError, ValueError, psutil.NoSuchProcess):
        return None


def _spawn(
    folder: Path, name: str, argv: list[str], env: Mapping[str, str], restart: bool = False
) -> subprocess.Popen[bytes]:
    """Start a service in a process group of its own, its output to logs/NAME.log; restart: under
    tools/supervise.py, which starts it again whenever it exits (compose's `restart: unless-stopped`)."""
    if restart:
        argv = [sys.executable, str(REPO / "tools" / "supervise.py"), "--name", name, "--", *argv]
    log = folder / "logs" / f"{name}.log"
    with log.open("ab") as out:
        proc = subprocess.Popen(
            argv,
            env=dict(env),
            cwd=folder,
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,  # a process group of its own: cluster-down ends all of it
        )
    _record(folder, name, proc.pid)
    return proc


def _stop(folder: Path, names: list[str], grace_s: float = 20.0) -> list[str]:
    """End recorded services together: SIGTERM to each one's process group (or, where it leads none, to it) and
    every descendant; SIGKILL to what is left after grace_s. Returns the names that were running."""
    import psutil

    targets: list[tuple[str, Any, bool]] = []
    family: list[Any] = []
    for name in names:
        proc = _recorded(folder, name)
        _pid_file(folder, name).unlink(missing_ok=True)
        try:
            if proc is not None:
                family += [proc, *proc.children(recursive=True)]
                targets.append((name, proc, os.getpgid(proc.pid) == proc.pid))
        except (psutil.NoSuchProcess, ProcessLookupError):
            continue
    end_family([proc.pid for _, proc, leads_group in targets if leads_group], family, grace_s)
    return [name for name, _, _ in targets]


def end_family(group_leaders: list[int], family: list[Any], grace_s: float = 20.0) -> None:
    """SIGTERM to the process groups led by `group_leaders` and to every process of `family` (psutil.Process);
    SIGKILL to what is left after grace_s; waits up to 10 s more for that."""
    import psutil

    for sig, wait in ((signal.SIGTERM, grace_s), (signal.SIGKILL, 10.0)):
        for pid in group_leaders:
            try:
                os.killpg(pid, sig)
            except ProcessLookupError:
                pass
        for p in family:
            try:
                p.send_signal(sig)
            except psutil.NoSuchProcess:
                pass
        _, family = psutil.wait_procs(family, timeout=wait)
        if not family:
            break


def _tail(path: Path, n: int = 30) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-n:])
    except OSError:
        return ""


def _wait(what: str, probe: Callable[[], Any], timeout: float, folder: Path, services: list[str]) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for name in services:
            if _recorded(folder, name) is None:
                raise SetupError(f"{name} exited while waiting for {what}:\n{_tail(folder / 'logs' / f'{name}.log')}")
        found = probe()
        if found:
            return found
        time.sleep(2)
    logs = "\n".join(f"--- {n}\n{_tail(folder / 'logs' / f'{n}.log', 15)}" for n in services)
    raise SetupError(f"timed out after {timeout:.0f} s waiting for {what}\n{logs}")


# ---------------------------------------------------------------------------------------------------- pieces


def _pg() -> dict[str, Any]:
    return {
        "host": os.environ.get("DUBLINE_TEST_PG_HOST", "127.0.0.1"),
        "port": int(os.environ.get("DUBLINE_TEST_PG_PORT", "5432")),
        "user": os.environ.get("DUBLINE_TEST_PG_USER", "postgres"),
    }


def _pg_admin(pg: Mapping[str, Any], statements: list[str]) -> None:
    import psycopg

    with psycopg.connect(
        host=pg["host"], port=pg["port"], user=pg["user"], dbname="postgres", autocommit=True, connect_timeout=5
    ) as conn:
        for sql in statements:
            conn.execute(sql)  # type: ignore[arg-type]  # names made here, from a hex digest


def _db_names(folder: Path) -> tuple[str, str]:
    tag = hashlib.sha256(str(folder.resolve()).encode()).hexdigest()[:10]
    return f"dubline_cluster_{tag}_airflow", f"dubline_cluster_{tag}_ledger"


def _redis(folder: Path, env: Mapping[str, str], port: int) -> None:
    (folder / "redis").mkdir()
    redis = shutil.which("redis-server") or "/usr/bin/redis-server"
    argv = [redis, "--bind", "127.0.0.1", "--port", str(port), "--save", "", "--appendonly", "no"]
    _spawn(folder, "redis", [*argv, "--dir", str(folder / "redis"), "--daemonize", "no"], env)


def _workers(slots: int, shared: Mapping[str, str], count: int = 0) -> list[Worker]:
    """count 0: `light` on the default queue and `heavy` on the heavy queue; count N: N alike workers w1..wN,
    each on both queues with the larger of the two concurrencies (the heavy pool still caps the heavy tasks)."""
    default = shared.get("AIRFLOW__OPERATORS__DEFAULT_QUEUE") or "default"
    heavy = shared.get("DUBLINE_HEAVY_QUEUE") or "heavy"
    light = int(shared.get("AIRFLOW__CELERY__WORKER_CONCURRENCY") or 2)
    if count:
        queues = list(dict.fromkeys([default, heavy]))
        return [Worker(f"w{i}", queues, max(light, slots)) for i in range(1, count + 1)]
    return [Worker("light", [default], light), Worker("heavy", [heavy], slots)]


WORKER_READY = re.compile(rb"\S+@\S+ ready\.")  # what a Celery worker logs once it takes tasks
AIRFLOW_SERVICES = ("api-server", "scheduler", "dag-processor", "triggerer")


def _cluster_ports(c: Cluster, env: Mapping[str, str]) -> set[int]:
    """The ports the cluster's services were given (a service that is down now, restarting, still owns its)."""
    urls = (c.url, env.get("AIRFLOW__CELERY__BROKER_URL", ""))
    ports = {urllib.parse.urlsplit(u).port or 0 for u in urls if u}
    ports |= set(c.s3_ports.values())
    trigger_log = env.get("AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT", "")
    if trigger_log.isdigit():
        ports.add(int(trigger_log))
    return ports - {0}


def _spawn_worker(folder: Path, w: Worker, env: Mapping[str, str], log_port: int) -> None:
    wenv = {**env, "DUBLINE_WORKER_NAME": w.name, "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": str(log_port)}
    _spawn(folder, f"worker-{w.name}", worker_argv(w), wenv, restart=True)


def _spawn_airflow(folder: Path, name: str, env: Mapping[str, str], api_port: int) -> None:
    """One of AIRFLOW_SERVICES, under its supervisor (the api-server on 127.0.0.1:api_port)."""
    serve = ["--host", "127.0.0.1", "--port", str(api_port)] if name == "api-server" else []
    _spawn(folder, name, [sys.executable, "-m", "airflow", name, *serve], env, restart=True)


def worker_argv(w: Worker) -> list[str]:
    return [
        sys.executable, "-m", "airflow", "celery", "worker",
        "--queues", ",".join(w.queues), "--concurrency", str(w.concurrency), "--celery-hostname", f"{w.name}@%h",
    ]  # fmt: skip


# ---------------------------------------------------------------------------------------------------- up, down


def up(
    folder: Path = DEFAULT_DIR, extra: Mapping[str, str] | None = None, out: Any = None, workers: int = 0
) -> Cluster:
    """Start a fresh cluster in `folder`; return once every service is healthy and the DAGs are parsed.
    workers: 0 for the light and heavy workers, N for N alike workers on both queues (see _workers)."""
    out = out or sys.stdout
    t0 = time.monotonic()
    folder = folder.resolve()
    running = [n for n in _services(folder) if _recorded(folder, n) is not None]
    if running:
        raise SetupError(f"a cluster already runs in {folder} ({', '.join(running)})", "run `make cluster-down` first")
    if workers < 0:
        raise SetupError(f"--workers {workers}: give 0 (light and heavy) or a number of workers")
    try:
        cluster = _start(folder, extra or {}, out, t0, workers)
    except BaseException:
        down(folder, quiet=True)  # nothing half-started stays behind
        raise
    _announce(cluster, out)
    return cluster


def _start(folder: Path, extra: Mapping[str, str], out: Any, t0: float, count: int = 0) -> Cluster:
    from cryptography.fernet import Fernet

    down(folder, quiet=True)  # what a crashed `up` left: databases, stale pid files
    for sub in ("logs", "pids", "redis", "s3", "airflow", "data"):
        shutil.rmtree(folder / sub, ignore_errors=True)
    for sub in ("logs", "pids", "airflow", "data"):
        (folder / sub).mkdir(parents=True)
    folder.chmod(0o700)

    shared = read_env_file()
    slots = os.cpu_count() or 1
    pg = _pg()
    airflow_db, project_db = _db_names(folder)
    subprocess.run(["bash", str(REPO / "scripts" / "start-postgres.sh")], check=True, stdout=subprocess.DEVNULL)
    _pg_admin(pg, [f'DROP DATABASE IF EXISTS "{d}" WITH (FORCE)' for d in (airflow_db, project_db)])
    _pg_admin(pg, [f'CREATE DATABASE "{d}"' for d in (airflow_db, project_db)])

    password = secrets.token_urlsafe(18)
    passwords = folder / "passwords.json"
    passwords.write_text(json.dumps({ADMIN: password}) + "\n")
    passwords.chmod(0o600)
    bucket = (shared.get("DUBLINE_STORE_URL") or "s3://dubline/").removeprefix("s3://").split("/")[0]
    s3 = seaweed.start(folder / "s3", bucket=bucket)  # listening once it returns: its ports are taken
    _record(folder, "s3", s3.process.pid)
    workers = _workers(slots, shared, count)
    # every other port in one call: ports chosen in two calls can be the same one, when the service given it
    # first has not bound it yet (a worker's log server once took the api-server's port, which never started)
    ports = seaweed.free_ports(3 + len(workers))
    ep = Endpoints(
        pg_host=pg["host"], pg_port=pg["port"], pg_user=pg["user"], airflow_db=airflow_db, project_db=project_db,
        redis_port=ports[0], api_port=ports[1], s3_endpoint=s3.endpoint, s3_access_key=s3.access_key,
        s3_secret_key=s3.secret_key, home=folder / "airflow", data_dir=folder / "data", passwords_file=passwords,
        admin_user=ADMIN, jwt_secret=secrets.token_urlsafe(32), api_secret_key=secrets.token_urlsafe(32),
        fernet_key=Fernet.generate_key().decode(), trigger_log_port=ports[2],
    )  # fmt: skip
    env = cluster_environ(ep, extra)
    env_file = folder / "env"
    env_file.write_text("".join(f"{k}={v}\n" for k, v in exported(env).items()))
    env_file.chmod(0o600)
    _redis(folder, env, ep.redis_port)

    # the two databases' schemas and the C2PA signer, side by side
    airflow = [sys.executable, "-m", "airflow"]
    dubline = [sys.executable, "-m", "pipeline.cli.app"]
    jobs = {
        "airflow-db-migrate": [*airflow, "db", "migrate"],
        "dubline-db-upgrade": [*dubline, "db", "upgrade"],
    }
    procs = {n: _spawn(folder, n, argv, env) for n, argv in jobs.items()}
    for n, p in procs.items():
        if p.wait(timeout=600) != 0:
            raise SetupError(f"{n} failed (exit {p.returncode}):\n{_tail(folder / 'logs' / f'{n}.log')}")
        _pid_file(folder, n).unlink(missing_ok=True)
    signer = subprocess.run([*dubline, "provenance", "init-signer"], env=env, capture_output=True, text=True)
    if signer.returncode != 0:
        raise SetupError(f"dubline provenance init-signer failed:\n{signer.stdout}{signer.stderr}")

    for n in AIRFLOW_SERVICES:
        _spawn_airflow(folder, n, env, ep.api_port)
    for w, port in zip(workers, ports[3:], strict=True):
        _spawn_worker(folder, w, env, port)
    names = ["redis", "s3", *AIRFLOW_SERVICES, *(f"worker-{w.name}" for w in workers)]

    cluster = Cluster(
        dir=folder, url=ep.api_url, admin_user=ADMIN, admin_password=password, airflow_db=airflow_db,
        project_db=project_db, pg=pg, workers=[asdict(w) for w in workers],
        heavy_pool=shared.get("DUBLINE_HEAVY_POOL") or "", heavy_slots=slots, s3_ports=dict(s3.ports),
    )  # fmt: skip
    cluster.save()
    api = cluster.api()
    want = ("metadatabase", "scheduler", "triggerer", "dag_processor")
    _wait("the services' health", lambda: all(api.health().get(c) == "healthy" for c in want), START_TIMEOUT_S,
          folder, names)  # fmt: skip

    def workers_ready() -> bool:
        return all(WORKER_READY.search((folder / "logs" / f"worker-{w.name}.log").read_bytes()) for w in workers)

    _wait("the workers", workers_ready, START_TIMEOUT_S, folder, names)
    if cluster.heavy_pool:
        pool = {"name": cluster.heavy_pool, "slots": slots, "description": "heavy stages: one per core"}
        try:
            api.call("POST", "/api/v2/pools", pool)
        except urllib.error.HTTPError as e:
            if e.code != 409:
                raise
            api.call("PATCH", f"/api/v2/pools/{cluster.heavy_pool}", pool)

    def parsed() -> list[dict[str, Any]]:
        dags = list(api.call("GET", "/api/v2/dags?limit=100")["dags"])
        return dags if any(d["dag_id"] == "dub_video" for d in dags) else []

    dags = _wait("the DAG processor to parse the DAGs", parsed, START_TIMEOUT_S, folder, names)
    for dag in dags:  # the on-demand DAGs take runs at once; a scheduled one stays paused until an operator says
        if dag.get("timetable_summary") in (None, "", "None") and dag.get("is_paused"):
            api.call("PATCH", f"/api/v2/dags/{dag['dag_id']}", {"is_paused": False})
    errors = api.call("GET", "/api/v2/importErrors")["import_errors"]
    cluster.started_s = round(time.monotonic() - t0, 1)
    cluster.save()
    for err in errors:
        print(f"warning: DAG import error in {err.get('filename')}: {str(err.get('stack_trace'))[-300:]}", file=out)
    return cluster


def _announce(c: Cluster, out: Any) -> None:
    rel = os.path.relpath(c.dir, Path.cwd())
    conf = '{"input": "/abs/talk.mp4", "target_languages": ["es"], "output": "/abs/out"}'
    stop = "make cluster-down" if c.dir == DEFAULT_DIR.resolve() else f"python -m tools.cluster down --dir {rel}"
    print(
        f"cluster up in {c.started_s:.0f} s: {c.url} (user {c.admin_user}, password in {rel}/passwords.json)\n"
        f"  workers: "
        + ", ".join(f"{w['name']} (queues {','.join(w['queues'])}, concurrency {w['concurrency']})" for w in c.workers)
        + f"; pool {c.heavy_pool or '-'}: {c.heavy_slots} slots\n"
        f"  logs: {rel}/logs/   pids: {rel}/pids/\n"
        f"  trigger a dub:\n"
        f"    set -a; . {rel}/env; set +a\n"
        f"    .venv/bin/airflow dags trigger dub_video --conf {shlex.quote(conf)}\n"
        f"  stop: {stop}",
        file=out,
    )


def _environ(c: Cluster) -> dict[str, str]:
    """A service's environment as `up` made it: what the caller keeps (caller_base), then the cluster's
    variables (its env file)."""
    return {**caller_base(), **c.env()}


def start_service(folder: Path, name: str, out: Any = None) -> None:
    """Start one service of a running cluster again (after it died or was stopped): a worker with a fresh log
    server port, an Airflow service, or SeaweedFS on the same data, ports and credentials. Returns once it is
    up (a worker: ready; s3: taking writes)."""
    out = out or sys.stdout
    folder = folder.resolve()
    c = Cluster.load(folder)
    if _recorded(folder, name) is not None:
        raise SetupError(f"{name} already runs in {folder}", f"stop it first: python -m tools.cluster stop {name}")
    workers = {f"worker-{w['name']}": Worker(**w) for w in c.workers}
    env = _environ(c)
    t0 = time.monotonic()
    if name == "s3":
        if not c.s3_ports:
            raise SetupError("this cluster did not record SeaweedFS's ports", "start a new one: make cluster-up")
        bucket = env["DUBLINE_STORE_URL"].removeprefix("s3://").split("/")[0]
        keys = env["DUBLINE_S3_ACCESS_KEY"], env["DUBLINE_S3_SECRET_KEY"]
        server = seaweed.relaunch(folder / "s3", *keys, c.s3_ports, bucket=bucket)
        _record(folder, name, server.process.pid)
    elif name in workers:
        log = folder / "logs" / f"{name}.log"
        seen = len(WORKER_READY.findall(log.read_bytes())) if log.is_file() else 0
        _spawn_worker(folder, workers[name], env, seaweed.free_ports(1, avoid=_cluster_ports(c, env))[0])
        _wait(f"{name} to be ready", lambda: len(WORKER_READY.findall(log.read_bytes())) > seen, START_TIMEOUT_S,
              folder, [name])  # fmt: skip
    elif name in AIRFLOW_SERVICES:
        _spawn_airflow(folder, name, env, urllib.parse.urlsplit(c.url).port or 0)
    else:
        known = ["s3", *AIRFLOW_SERVICES, *workers]
        raise SetupError(f"no service {name!r} in this cluster", f"name one of {', '.join(known)}")
    print(f"{name} started in {time.monotonic() - t0:.0f} s", file=out)


def stop_service(folder: Path, name: str, out: Any = None) -> None:
    """Stop one service of a running cluster (SIGTERM to its process group, SIGKILL after 20 s)."""
    stopped = _stop(folder.resolve(), [name])
    print(f"{name}: {'stopped' if stopped else 'was not running'}", file=out or sys.stdout)


def _services(folder: Path) -> Iterator[str]:
    pids = folder / "pids"
    found = {p.stem for p in pids.glob("*.pid")} if pids.is_dir() else set()
    yield from [n for n in STOP_ORDER if n in found]
    yield from sorted(found - set(STOP_ORDER))


def down(folder: Path = DEFAULT_DIR, quiet: bool = False, out: Any = None) -> None:
    """Stop every service of the cluster in `folder` and drop its databases; nothing running is no error."""
    out = out or sys.stdout
    folder = folder.resolve()
    services = list(_services(folder))
    stores = [n for n in services if n in ("s3", "redis")]  # what the others use goes last
    stopped = _stop(folder, [n for n in services if n not in stores]) + _stop(folder, stores, grace_s=5.0)
    dropped = False
    if (folder / "cluster.json").is_file():
        c = Cluster.load(folder)
        _pg_admin(c.pg, [f'DROP DATABASE IF EXISTS "{d}" WITH (FORCE)' for d in (c.airflow_db, c.project_db)])
        (folder / "cluster.json").unlink()
        dropped = True
    if not quiet:
        what = f"stopped {', '.join(stopped)}" if stopped else "nothing was running"
        print(f"cluster in {folder}: {what}" + ("; databases dropped" if dropped else ""), file=out)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m tools.cluster", description=__doc__.split("\n\n")[0])
    ap.add_argument("command", choices=["up", "down", "env", "start", "stop"])
    ap.add_argument("service", nargs="?", help="start, stop: the service (its name in pids/, e.g. worker-heavy)")
    ap.add_argument("--dir", type=Path, default=DEFAULT_DIR, help="the cluster's folder (default var/cluster)")
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="one more setting (up)")
    ap.add_argument(
        "--workers", type=int, default=0, metavar="N",
        help="up: N alike workers, each on the default and heavy queues (default 0: the light and heavy workers)",
    )  # fmt: skip
    args = ap.parse_args(argv)
    try:
        if args.command == "up":
            extra = dict(s.split("=", 1) for s in args.set)
            up(args.dir, extra, workers=args.workers)
        elif args.command == "down":
            down(args.dir)
        elif args.command in ("start", "stop"):
            if not args.service or not (args.dir / "cluster.json").is_file():
                raise SetupError(f"{args.command} needs a service of a running cluster", "e.g. start worker-heavy")
            (start_service if args.command == "start" else stop_service)(args.dir, args.service)
        else:
            if not (args.dir / "cluster.json").is_file():
                raise SetupError(f"no cluster runs in {args.dir}", "start one with `make cluster-up`")
            for k, v in Cluster.load(args.dir.resolve()).env().items():
                print(f"export {k}={shlex.quote(v)}")
    except DublineError as e:
        print(e.one_line(), file=sys.stderr)
        return e.exit_code
    return 0


if __name__ == "__main__":
    sys.exit(main())
