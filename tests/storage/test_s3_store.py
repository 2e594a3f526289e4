"""S3Store against a real S3 server (SeaweedFS): the ObjectStore contract, multipart uploads that are
aborted when they fail, atomic downloads, presigned links, the per-job manifest."""

from __future__ import annotations

import io
import os
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from pipeline.core.config import reset_settings
from pipeline.core.errors import ConfigError, StageError
from pipeline.core.s3store import S3Store
from pipeline.core.storage import LocalStore, copy_object, get_json, key_of, open_store, put_json

MB = 1 << 20


def _file(path: Path, size: int) -> Path:
    path.write_bytes(os.urandom(size))
    return path


def _raw_keys(store: S3Store) -> list[str]:
    """Every key of the bucket under the store's prefix, seen with a plain client."""
    pages = store._s3.get_paginator("list_objects_v2").paginate(Bucket=store.bucket, Prefix=store.prefix + "/")
    return sorted(o["Key"] for p in pages for o in p.get("Contents", []))


def _uploads(store: S3Store) -> list[str]:
    resp = store._s3.list_multipart_uploads(Bucket=store.bucket, Prefix=store.prefix + "/")
    return [u["Key"] for u in resp.get("Uploads", [])]


def test_contract_round_trip(s3_store: Any, tmp_path: Path) -> None:
    store = s3_store()
    src = _file(tmp_path / "src.bin", 1000)
    uri = store.put_file("jobs/a/in.bin", src)
    assert uri == f"{store.url}/jobs/a/in.bin"
    assert store.put_bytes("/jobs/a/b/c.txt", b"hello") == store.uri("jobs/a/b/c.txt")
    assert store.get_bytes("jobs/a/in.bin") == src.read_bytes()
    assert store.exists("jobs/a/in.bin") and not store.exists("jobs/a/nothing") and not store.exists("jobs/a")
    assert store.list("jobs") == ["jobs/a/b/c.txt", "jobs/a/in.bin"]
    assert store.list("jobs/a/b/") == ["jobs/a/b/c.txt"]
    assert store.list("job") == []  # a prefix is a folder, as in the local store
    put_json(store, "r/result.json", {"b": 1})
    assert get_json(store, "r/result.json") == {"b": 1}
    assert key_of(store, store.uri("stages/mix/01/out file.wav")) == "stages/mix/01/out file.wav"
    store.delete_prefix("jobs/a/b")
    assert store.list("") == ["jobs/a/in.bin", "r/result.json"]
    with pytest.raises(StageError, match="invalid object key"):
        store.delete_prefix("")
    with pytest.raises(StageError, match="missing from the store"):
        store.get_bytes("no/such")
    with pytest.raises(StageError, match="missing from the store"):
        store.local_path("no/such", tmp_path / "cache")


def test_open_store_takes_s3_settings_from_the_environment(
    s3_server: Any, s3_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """open_store(url) alone uses the current settings: DUBLINE_S3_* variables."""
    for k, v in s3_server.env().items():
        monkeypatch.setenv(k, v)
    reset_settings()
    try:
        store = open_store(s3_url)
        assert isinstance(store, S3Store)
        store.put_bytes("k", b"v")
        assert store.get_bytes("k") == b"v"
    finally:
        monkeypatch.undo()
        reset_settings()


def test_aws_variables_are_the_fallback(s3_server: Any, s3_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """No DUBLINE_S3_ACCESS_KEY/SECRET_KEY: boto3's chain (AWS_ACCESS_KEY_ID, ...) supplies them."""
    from pipeline.core.config import Settings

    monkeypatch.setenv("AWS_ACCESS_KEY_ID", s3_server.access_key)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", s3_server.secret_key)
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    store = open_store(s3_url, Settings(s3_endpoint=s3_server.endpoint, s3_max_attempts=1))
    store.put_bytes("k", b"aws")
    assert store.get_bytes("k") == b"aws"


def test_large_file_goes_up_in_parts(s3_store: Any, calls: Any, tmp_path: Path) -> None:
    store = s3_store()
    seen = calls(store._s3)
    src = _file(tmp_path / "big.bin", 12 * MB)  # threshold and parts are 5 MB in the test settings
    store.put_file("big.bin", src)
    assert seen.count("CreateMultipartUpload") == 1
    assert seen.count("UploadPart") == 3
    assert seen.count("CompleteMultipartUpload") == 1
    small = _file(tmp_path / "small.bin", 1 * MB)
    store.put_file("small.bin", small)
    assert seen.count("PutObject") == 1
    got = store.local_path("big.bin", tmp_path / "cache")
    assert got.read_bytes() == src.read_bytes()
    assert _uploads(store) == []


class _FailingReader(io.RawIOBase):
    """A source that breaks after `limit` bytes, like a disk error halfway through a file (and not
    before `ready` is set: once a part has gone up)."""

    def __init__(self, limit: int, ready: threading.Event) -> None:
        self.limit = limit
        self.pos = 0
        self.ready = ready

    def readable(self) -> bool:
        return True

    def readinto(self, buf: Any) -> int:
        if self.pos >= self.limit:
            self.ready.wait(10)
            raise OSError("read error halfway through the source")
        n = min(len(buf), self.limit - self.pos + 1)
        buf[:n] = b"x" * n
        self.pos += n
        return n


def test_source_failing_midway_aborts_the_multipart_upload(s3_store: Any, calls: Any) -> None:
    store = s3_store()
    seen = calls(store._s3)
    part_sent = threading.Event()
    store._s3.meta.events.register("after-call.s3.UploadPart", lambda **kw: part_sent.set())
    with pytest.raises(OSError, match="halfway"):
        store.put_fileobj("broken.bin", _FailingReader(11 * MB, part_sent))
    assert seen.count("CreateMultipartUpload") == 1 and seen.count("UploadPart") >= 1
    assert seen.count("AbortMultipartUpload") == 1
    assert not store.exists("broken.bin")
    assert _uploads(store) == [] and _raw_keys(store) == []


def _fail_part(store: S3Store, part: int, status: int = 500) -> None:
    """Make the server's answer to UploadPart number `part` an HTTP error, every time it is tried."""
    from botocore.awsrequest import AWSResponse

    class Raw:
        def stream(self, **kwargs: Any) -> Any:
            yield b"<Error><Code>InternalError</Code><Message>injected</Message></Error>"

    def handler(request: Any, **kwargs: Any) -> Any:
        if f"partNumber={part}&" in request.url or request.url.endswith(f"partNumber={part}"):
            return AWSResponse(request.url, status, {}, Raw())
        return None

    store._s3.meta.events.register_first("before-send.s3.UploadPart", handler)


def test_server_failing_a_part_aborts_the_upload_and_keeps_the_old_version(
    s3_store: Any, calls: Any, tmp_path: Path
) -> None:
    store = s3_store()
    old = _file(tmp_path / "old.bin", 1000)
    store.put_file("out.bin", old)
    seen = calls(store._s3)
    _fail_part(store, 2)
    with pytest.raises(StageError, match=r"kept failing.*after 3 attempts") as err:
        store.put_file("out.bin", _file(tmp_path / "new.bin", 12 * MB))
    assert store.endpoint in err.value.one_line()
    assert seen.count("UploadPart") >= 3 + 1  # part 2 tried 3 times (s3_max_attempts), part 1 once
    assert seen.count("AbortMultipartUpload") == 1 and seen.count("CompleteMultipartUpload") == 0
    assert _uploads(store) == []
    assert store.get_bytes("out.bin") == old.read_bytes()  # the previous version is untouched


def test_download_is_atomic_and_cached_while_unchanged(s3_store: Any, calls: Any, tmp_path: Path) -> None:
    store = s3_store()
    store.put_bytes("d/a.wav", b"one")
    cache = tmp_path / "cache"
    seen = calls(store._s3)
    p = store.local_path("d/a.wav", cache)
    assert p == cache / "d" / "a.wav" and p.read_bytes() == b"one"
    assert store.local_path("d/a.wav", cache) == p
    assert seen.count("GetObject") == 1  # the second call found the cached copy
    store.put_bytes("d/a.wav", b"two")  # replaced: the cached copy is stale
    assert store.local_path("d/a.wav", cache).read_bytes() == b"two"
    assert not [q for q in cache.rglob("*") if q.name.endswith(".part")]


def test_failed_download_leaves_no_partial_file(s3_store: Any, tmp_path: Path) -> None:
    store = s3_store()
    store.put_file("big.bin", _file(tmp_path / "big.bin", 12 * MB))

    def cut(**kwargs: Any) -> None:
        raise ConnectionResetError("connection reset while downloading")

    store._s3.meta.events.register("before-send.s3.GetObject", cut)
    cache = tmp_path / "cache"
    with pytest.raises(StageError, match="could not download") as err:
        store.local_path("big.bin", cache)
    print(err.value.one_line())
    assert [q.name for q in cache.rglob("*") if q.is_file()] == []


def test_presigned_link_works_then_expires(s3_store: Any) -> None:
    store = s3_store()
    store.put_bytes("out/talk.dub.mp4", b"media")
    url = store.presign("out/talk.dub.mp4")
    assert "X-Amz-Expires=86400" in url and "X-Amz-Signature=" in url
    with urllib.request.urlopen(url, timeout=10) as resp:
        assert resp.read() == b"media"
    short = store.presign("out/talk.dub.mp4", expires_s=1)
    time.sleep(2.1)
    with pytest.raises(urllib.error.HTTPError) as err:
        urllib.request.urlopen(short, timeout=10)
    assert err.value.code == 403
    with pytest.raises(ConfigError, match="cannot last"):
        store.presign("out/talk.dub.mp4", expires_s=8 * 24 * 3600)


def test_local_store_presign_is_the_file_uri(tmp_path: Path) -> None:
    store = LocalStore(tmp_path / "store")
    uri = store.put_bytes("a/b.txt", b"x")
    assert store.presign("a/b.txt", 60) == uri
    with pytest.raises(StageError, match="missing"):
        store.presign("a/none")


def test_server_side_copy_between_prefixes(s3_store: Any, s3_server: Any, calls: Any, tmp_path: Path) -> None:
    src = s3_store()
    dest = s3_store(f"s3://{s3_server.bucket}/{src.prefix}-out")
    big = _file(tmp_path / "big.bin", 12 * MB)
    src.put_file("m/dub.mp4", big)
    src.put_bytes("m/a.srt", b"1\n")
    seen = calls(dest._s3)
    copy_object(src, "m/dub.mp4", dest, "talk.dub.mp4", tmp_path / "cache")
    copy_object(src, "m/a.srt", dest, "talk.en.srt", tmp_path / "cache")
    assert "GetObject" not in seen.sent and ("UploadPartCopy" in seen.sent or "CopyObject" in seen.sent)
    assert dest.get_bytes("talk.dub.mp4") == big.read_bytes()
    assert dest.get_bytes("talk.en.srt") == b"1\n"
    assert not (tmp_path / "cache").exists()


def test_abandoned_multipart_uploads_are_found_and_aborted(s3_store: Any) -> None:
    """A process killed mid-upload leaves an incomplete upload: invisible, and removable."""
    store = s3_store()
    store._s3.create_multipart_upload(Bucket=store.bucket, Key=store._key("crashed.bin"))
    assert not store.exists("crashed.bin") and store.list("") == []
    assert [u["Key"] for u in store.incomplete_uploads()] == [store._key("crashed.bin")]
    assert store.abort_incomplete_uploads(older_than_s=3600) == 0  # too recent: may still be running
    assert store.abort_incomplete_uploads(older_than_s=0) == 1
    assert store.incomplete_uploads() == []
