"""Faults of the S3 server, against real SeaweedFS servers: refused credentials, no credentials, a server
that is down or unreachable, a server answering 5xx. Each ends in a clear error (after retries where
retrying can help) and leaves no result document without its objects."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from pipeline.core.errors import ConfigError, StageError
from pipeline.core.s3store import S3Options, S3Store, make_client
from pipeline.core.stagerun import StageResult, StageRun, run_stage
from tools import seaweed


class Out(StageResult):
    """A stage result naming one stored object (or none)."""

    out_uri: str = ""


def test_wrong_secret_is_refused_with_a_clear_error(s3_store: Any, calls: Any, tmp_path: Path) -> None:
    good = s3_store()
    good.put_bytes("there.txt", b"x")
    bad = s3_store(s3_secret_key="not-the-secret")
    seen = calls(bad._s3)
    big = tmp_path / "big.bin"
    big.write_bytes(b"\0" * (6 << 20))
    attempts: list[Any] = [
        lambda: bad.put_bytes("a.txt", b"x"),
        lambda: bad.put_file("big.bin", big),  # multipart
        lambda: bad.exists("there.txt"),
        lambda: bad.get_bytes("there.txt"),
        lambda: bad.local_path("there.txt", tmp_path / "cache"),
        lambda: bad.list(""),
    ]
    for attempt in attempts:
        with pytest.raises(ConfigError) as err:
            attempt()
        line = err.value.one_line()
        assert "refused the credentials" in line and bad.endpoint in line and good.url in line
        assert "DUBLINE_S3_SECRET_KEY" in line
    assert len(seen.sent) == len(attempts)  # not retried: retrying cannot fix a wrong secret
    assert good.list("") == ["there.txt"]  # nothing was written
    assert good.incomplete_uploads() == []


def test_unknown_access_key_is_refused(s3_store: Any) -> None:
    with pytest.raises(ConfigError, match="refused the credentials"):
        s3_store(s3_access_key="NOSUCHKEY").put_bytes("a.txt", b"x")


def test_no_credentials_at_all(s3_store: Any) -> None:
    """Nothing in the settings and nothing in the AWS_* chain (the fixture empties it)."""
    store = s3_store(s3_access_key="", s3_secret_key="")
    with pytest.raises(ConfigError, match="no S3 credentials") as err:
        store.put_bytes("a.txt", b"x")
    assert "AWS_ACCESS_KEY_ID" in err.value.one_line()


def test_missing_bucket_is_a_configuration_error(s3_store: Any, s3_server: Any) -> None:
    store = s3_store("s3://no-such-bucket-here/p")
    with pytest.raises(ConfigError, match="bucket 'no-such-bucket-here' does not exist"):
        store.put_bytes("a.txt", b"x")


def test_unreachable_endpoint_is_retried_with_backoff_then_fails(s3_store: Any, calls: Any) -> None:
    port = seaweed.free_ports(1)[0]  # nothing listens there
    store = s3_store(s3_endpoint=f"http://127.0.0.1:{port}", s3_max_attempts=4, s3_backoff_s=0.2, s3_backoff_max_s=1)
    seen = calls(store._s3)
    t0 = time.monotonic()
    with pytest.raises(StageError) as err:
        store.put_bytes("a.txt", b"x")
    elapsed = time.monotonic() - t0
    line = err.value.one_line()
    assert f"could not reach the S3 server at http://127.0.0.1:{port}" in line and "after 4 attempts" in line
    assert "DUBLINE_S3_ENDPOINT" in line
    assert seen.count("PutObject") == 4
    # waits of 0.2, 0.4, 0.8 s, each 50-100 % (jitter): 0.7 to 1.4 s in all
    assert 0.65 <= elapsed < 5


def test_server_answering_5xx_is_retried_then_fails(s3_store: Any, calls: Any) -> None:
    from botocore.awsrequest import AWSResponse

    class Raw:
        def stream(self, **kwargs: Any) -> Any:
            yield b"<Error><Code>ServiceUnavailable</Code><Message>down for maintenance</Message></Error>"

    store = s3_store()
    store._s3.meta.events.register_first(
        "before-send.s3.PutObject", lambda request, **kw: AWSResponse(request.url, 503, {}, Raw())
    )
    seen = calls(store._s3)
    with pytest.raises(StageError, match=r"kept failing to write .*ServiceUnavailable after 3 attempts"):
        store.put_bytes("a.txt", b"x")
    assert seen.count("PutObject") == 3
    assert not store.exists("a.txt")


def test_transient_5xx_is_absorbed_by_the_retries(s3_store: Any) -> None:
    from botocore.awsrequest import AWSResponse

    class Raw:
        def stream(self, **kwargs: Any) -> Any:
            yield b"<Error><Code>InternalError</Code><Message>blip</Message></Error>"

    store = s3_store()
    failures = iter([True, True])  # the first two tries fail, the third (s3_max_attempts=3) succeeds

    def flaky(request: Any, **kw: Any) -> Any:
        return AWSResponse(request.url, 500, {}, Raw()) if next(failures, False) else None

    store._s3.meta.events.register_first("before-send.s3.PutObject", flaky)
    store.put_bytes("a.txt", b"ok")
    assert store.get_bytes("a.txt") == b"ok"


@pytest.fixture
def doomed_server(tmp_path: Path) -> Iterator[seaweed.SeaweedS3]:
    """A second SeaweedFS of its own, for a test to stop."""
    server = seaweed.start(tmp_path / "doomed", bucket="doomed")
    try:
        yield server
    finally:
        server.stop()


def _opts(server: seaweed.SeaweedS3, **kw: Any) -> S3Options:
    base = {
        "endpoint": server.endpoint,
        "region": "us-east-1",
        "access_key": server.access_key,
        "secret_key": server.secret_key,
        "max_attempts": 3,
        "backoff_s": 0.05,
        "backoff_max_s": 0.2,
        "connect_timeout_s": 2.0,
        "read_timeout_s": 5.0,
        "multipart_threshold_mb": 5,
        "multipart_chunk_mb": 5,
    }
    return S3Options(**{**base, **kw})


def test_server_dying_mid_upload_fails_the_stage_and_publishes_nothing(
    doomed_server: seaweed.SeaweedS3, s3_settings: Any, tmp_path: Path
) -> None:
    """The server dies after the first part of a multipart upload: the stage fails with a clear error
    after the retries, and neither the object nor the result document (what marks a stage done) is
    ever visible. The upload the server could not be told to abort is found and aborted later."""
    settings = s3_settings(
        store_url=f"s3://{doomed_server.bucket}/p",
        s3_endpoint=doomed_server.endpoint,
        s3_access_key=doomed_server.access_key,
        s3_secret_key=doomed_server.secret_key,
    )
    opts = S3Options.from_settings(settings)
    probe = S3Store(doomed_server.bucket, "p", options=opts, client=make_client(opts))
    probe.put_bytes("before.txt", b"x")

    from pipeline.core.s3store import _shared_client

    def kill_server(**kwargs: Any) -> None:
        doomed_server.stop(grace_s=0)

    _shared_client(opts).meta.events.register("after-call.s3.UploadPart", kill_server, unique_id="kill")
    parts: list[int] = []

    def work(run: StageRun) -> Out:
        src = run.scratch / "out.wav"
        src.write_bytes(b"\0" * (16 << 20))
        parts.append(1)
        return Out(out_uri=run.put("out.wav", src))

    t0 = time.monotonic()
    try:
        with pytest.raises(StageError, match="could not reach the S3 server") as err:
            run_stage(settings, "mix", {"x": 1}, work, Out)
    finally:
        _shared_client(opts).meta.events.unregister("after-call.s3.UploadPart", unique_id="kill")
    assert parts == [1] and time.monotonic() - t0 < 30
    assert doomed_server.endpoint in err.value.one_line() and "after 3 attempts" in err.value.one_line()
    # the server back up on the same data: no result document, no object; the orphaned upload is removable
    revived = seaweed.restart(doomed_server)
    try:
        again = S3Store(revived.bucket, "p", options=_opts(revived), client=make_client(_opts(revived)))
        assert again.list("") == ["before.txt"]
        orphans = again.incomplete_uploads()
        # the abort could not reach the dead server: one invisible, incomplete upload is left behind
        assert len(orphans) == 1 and orphans[0]["Key"].startswith("p/stages/mix/")
        assert orphans[0]["Key"].endswith("/out.wav")
        again.abort_incomplete_uploads(older_than_s=0)
        assert again.incomplete_uploads() == []
    finally:
        revived.stop()


def test_wrong_credentials_fail_a_stage_before_it_works(s3_settings: Any, s3_url: str) -> None:
    settings = s3_settings(store_url=s3_url, s3_secret_key="wrong")
    ran: list[bool] = []

    def work(run: StageRun) -> Out:
        ran.append(True)
        return Out()

    with pytest.raises(ConfigError, match="refused the credentials"):
        run_stage(settings, "mix", {"x": 2}, work, Out)
    assert ran == []
