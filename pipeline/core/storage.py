"""Object storage: a local folder (the embedded default) or S3, behind one small interface.

Keys are '/'-separated paths relative to the store root. Every put is atomic: a local put writes a
temporary file beside the target and renames it into place; an S3 put is one PUT or a multipart upload
that becomes visible only when complete and is aborted on failure (pipeline/core/s3store.py). Stages publish
their result document last, so a half-written stage is never taken as done.

Layout of a store (see README, "Object storage"):
  stages/<stage>/<key>/...   a stage's outputs, key = sha256 of its inputs, parameters and models;
                             result.json last
  clips/<sha256>.wav         synthesized lines, shared by every job that speaks the same line
  jobs/<job id>/manifest.json  per job: the result of each stage and the published outputs
  outputs/<source sha256>/   the delivered files when no output location is given
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, Protocol
from urllib.parse import unquote, urlparse

from models.files import atomic_path
from pipeline.core.errors import ConfigError, StageError

if TYPE_CHECKING:
    from pipeline.core.config import Settings


class ObjectStore(Protocol):
    url: str

    def uri(self, key: str) -> str: ...
    def exists(self, key: str) -> bool: ...
    def put_file(self, key: str, path: Path) -> str: ...
    def put_bytes(self, key: str, data: bytes) -> str: ...
    def put_fileobj(self, key: str, fileobj: IO[bytes]) -> str: ...
    def get_bytes(self, key: str) -> bytes: ...
    def local_path(self, key: str, cache_dir: Path) -> Path: ...
    def list(self, prefix: str) -> list[str]: ...
    def delete_prefix(self, prefix: str) -> None: ...
    def presign(self, key: str, expires_s: int | None = None) -> str: ...


def clean_key(key: str) -> str:
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
        return self.root / clean_key(key)

    def uri(self, key: str) -> str:
        return self._path(key).as_uri()

    def exists(self, key: str) -> bool:
        return self._path(key).is_file()

    def _atomic_write(self, key: str, writer: Any) -> str:
        dest = self._path(key)
        with atomic_path(dest, suffix=".part") as tmp, open(tmp, "wb") as out:
            writer(out)
            out.flush()
            os.fsync(out.fileno())
        return dest.as_uri()

    def put_file(self, key: str, path: Path) -> str:
        def write(out: Any) -> None:
            with open(path, "rb") as src:
                shutil.copyfileobj(src, out, 1 << 20)

        return self._atomic_write(key, write)

    def put_bytes(self, key: str, data: bytes) -> str:
        return self._atomic_write(key, lambda out: out.write(data))

    def put_fileobj(self, key: str, fileobj: IO[bytes]) -> str:
        return self._atomic_write(key, lambda out: shutil.copyfileobj(fileobj, out, 1 << 20))

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
        shutil.rmtree(self.root / clean_key(prefix), ignore_errors=True)

    def presign(self, key: str, expires_s: int | None = None) -> str:
        """A local folder has no signed links: the file:// URI of the object (readable on this machine
        only, no expiry). Raises if the object is missing, like S3 would on use."""
        if not self.exists(key):
            raise StageError(f"object {self.uri(key)} is missing from the store")
        return self.uri(key)


def open_store(url: str, settings: Settings | None = None) -> ObjectStore:
    """The store at `url`: file:///path (or a plain path) or s3://bucket[/prefix]. S3 endpoint, credentials,
    retries and multipart sizes come from `settings` (default: the current settings)."""
    parsed = urlparse(url)
    if parsed.scheme in ("", "file"):
        return LocalStore(Path(unquote(parsed.path) if parsed.scheme else url))
    if parsed.scheme == "s3":
        if not parsed.netloc:
            raise ConfigError(f"store URL {url!r} names no bucket", "use s3://bucket[/prefix]")
        from pipeline.core.config import get_settings
        from pipeline.core.s3store import S3Options, S3Store

        return S3Store(parsed.netloc, parsed.path, options=S3Options.from_settings(settings or get_settings()))
    raise ConfigError(f"unsupported store URL {url!r}", "use file:///path or s3://bucket/prefix")


def copy_object(src: ObjectStore, src_key: str, dest: ObjectStore, dest_key: str, cache_dir: Path) -> str:
    """Copy one object between stores: server-side between S3 stores on the same server, else through
    a local copy (none is made for a local source). Returns the destination URI."""
    from pipeline.core.s3store import S3Store

    if isinstance(src, S3Store) and isinstance(dest, S3Store) and src.options == dest.options:
        return dest.copy_from(src, src_key, dest_key)
    return dest.put_file(dest_key, src.local_path(src_key, cache_dir))


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


def is_local_location(location: str) -> bool:
    """Whether a delivery location is a local folder (a path or file:// URI) rather than a store URI."""
    return urlparse(location).scheme in ("", "file")


def local_dir(location: str) -> Path:
    """The folder a local location names (a path or file:// URI), absolute."""
    p = urlparse(location)
    return Path(unquote(p.path) if p.scheme else location).expanduser().resolve()
