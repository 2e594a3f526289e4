"""Object storage: a local folder (the embedded default) or S3, behind one small interface.

Keys are '/'-separated paths relative to the store root. Every put is atomic: a local put writes a
temporary file beside the target and renames it into place; an S3 PUT becomes visible whole or not at
all. Stages publish their result document last, so a half-written stage is never taken as done.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import unquote, urlparse

from pipeline.errors import ConfigError, StageError


class ObjectStore(Protocol):
    url: str

    def uri(self, key: str) -> str: ...
    def exists(self, key: str) -> bool: ...
    def put_file(self, key: str, path: Path) -> str: ...
    def put_bytes(self, key: str, data: bytes) -> str: ...
    def get_bytes(self, key: str) -> bytes: ...
    def local_path(self, key: str, cache_dir: Path) -> Path: ...
    def list(self, prefix: str) -> list[str]: ...
    def delete_prefix(self, prefix: str) -> None: ...


def _clean_key(key: str) -> str:
    key = key.strip("/")
    if not key or any(part in ("", ".", "..") for part in key.split("/")):
        raise StageError(f"invalid object key {key!r}")
    return key


class LocalStore:
    """A folder that behaves like a bucket."""

    def __init__(self, root: Path) -> None:
        self.root = root.resolve()
        self.root.mkdir(parents=True, exist_ok=True)
        self.url = self.root.as_uri()

    def _path(self, key: str) -> Path:
        return self.root / _clean_key(key)

    def uri(self, key: str) -> str:
        return self._path(key).as_uri()

    def exists(self, key: str) -> bool:
        return self._path(key).is_file()

    def _atomic_write(self, key: str, writer: Any) -> str:
        dest = self._path(key)
        dest.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=".part", dir=dest.parent)
        try:
            with os.fdopen(fd, "wb") as out:
                writer(out)
                out.flush()
                os.fsync(out.fileno())
            os.replace(tmp, dest)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return dest.as_uri()

    def put_file(self, key: str, path: Path) -> str:
        def write(out: Any) -> None:
            with open(path, "rb") as src:
                shutil.copyfileobj(src, out, 1 << 20)

        return self._atomic_write(key, write)

    def put_bytes(self, key: str, data: bytes) -> str:
        return self._atomic_write(key, lambda out: out.write(data))

    def get_bytes(self, key: str) -> bytes:
        p = self._path(key)
        if not p.is_file():
            raise StageError(f"object {self.uri(key)} is missing from the store")
        return p.read_bytes()

    def local_path(self, key: str, cache_dir: Path) -> Path:
        p = self._path(key)
        if not p.is_file():
            raise StageError(f"object {self.uri(key)} is missing from the store")
        return p

    def list(self, prefix: str) -> list[str]:
        base = self.root / prefix.strip("/")
        if not base.is_dir():
            return []
        return sorted(
            str(p.relative_to(self.root)) for p in base.rglob("*") if p.is_file() and not p.name.endswith(".part")
        )

    def delete_prefix(self, prefix: str) -> None:
        shutil.rmtree(self.root / _clean_key(prefix), ignore_errors=True)


class S3Store:
    """An S3 bucket (AWS or any S3-compatible server, chosen by DUBLINE_S3_ENDPOINT / AWS_* variables)."""

    def __init__(self, bucket: str, prefix: str = "", endpoint_url: str | None = None) -> None:
        import boto3  # lazy: not needed on the embedded default

        self.bucket = bucket
        self.prefix = prefix.strip("/")
        self.url = f"s3://{bucket}/{self.prefix}".rstrip("/")
        self._s3 = boto3.client("s3", endpoint_url=endpoint_url or os.environ.get("DUBLINE_S3_ENDPOINT") or None)

    def _key(self, key: str) -> str:
        key = _clean_key(key)
        return f"{self.prefix}/{key}" if self.prefix else key

    def uri(self, key: str) -> str:
        return f"s3://{self.bucket}/{self._key(key)}"

    def exists(self, key: str) -> bool:
        from botocore.exceptions import ClientError

        try:
            self._s3.head_object(Bucket=self.bucket, Key=self._key(key))
            return True
        except ClientError as e:
            if e.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
                return False
            raise StageError(f"cannot reach {self.uri(key)}: {e}") from e

    def put_file(self, key: str, path: Path) -> str:
        self._s3.upload_file(str(path), self.bucket, self._key(key))
        return self.uri(key)

    def put_bytes(self, key: str, data: bytes) -> str:
        self._s3.put_object(Bucket=self.bucket, Key=self._key(key), Body=data)
        return self.uri(key)

    def get_bytes(self, key: str) -> bytes:
        obj = self._s3.get_object(Bucket=self.bucket, Key=self._key(key))
        return bytes(obj["Body"].read())

    def local_path(self, key: str, cache_dir: Path) -> Path:
        dest = cache_dir / _clean_key(key)
        if not dest.is_file():
            dest.parent.mkdir(parents=True, exist_ok=True)
            tmp = dest.with_name(dest.name + ".part")
            self._s3.download_file(self.bucket, self._key(key), str(tmp))
            os.replace(tmp, dest)
        return dest

    def list(self, prefix: str) -> list[str]:
        out: list[str] = []
        full = self._key(prefix) if prefix.strip("/") else self.prefix
        paginator = self._s3.get_paginator("list_objects_v2")
        for page in paginator.paginate(Bucket=self.bucket, Prefix=full):
            for obj in page.get("Contents", []):
                k = obj["Key"]
                out.append(k[len(self.prefix) + 1 :] if self.prefix else k)
        return sorted(out)

    def delete_prefix(self, prefix: str) -> None:
        for k in self.list(prefix):
            self._s3.delete_object(Bucket=self.bucket, Key=self._key(k))


def open_store(url: str) -> ObjectStore:
    parsed = urlparse(url)
    if parsed.scheme in ("", "file"):
        return LocalStore(Path(unquote(parsed.path) if parsed.scheme else url))
    if parsed.scheme == "s3":
        if not parsed.netloc:
            raise ConfigError(f"store URL {url!r} names no bucket", "use s3://bucket[/prefix]")
        return S3Store(parsed.netloc, parsed.path)
    raise ConfigError(f"unsupported store URL {url!r}", "use file:///path or s3://bucket/prefix")


def put_json(store: ObjectStore, key: str, doc: Any) -> str:
    return store.put_bytes(key, json.dumps(doc, indent=1, sort_keys=True, default=str).encode())


def get_json(store: ObjectStore, key: str) -> Any:
    return json.loads(store.get_bytes(key))


def key_of(store: ObjectStore, uri: str) -> str:
    """The key of a URI that points into this store."""
    if store.url.startswith("file:"):
        root = unquote(urlparse(store.url).path).rstrip("/") + "/"
        path = unquote(urlparse(uri).path)
        if not path.startswith(root):
            raise StageError(f"{uri} is not inside the store {store.url}")
        return path[len(root) :]
    base = store.url.rstrip("/") + "/"
    if not uri.startswith(base):
        raise StageError(f"{uri} is not inside the store {store.url}")
    return uri[len(base) :]
