"""Helpers the stages share: reading and writing Scripts, hashing files, resolving inputs."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import unquote, urlparse

from pipeline.core.config import Settings
from pipeline.core.errors import InputError
from pipeline.core.script import Script
from pipeline.core.stagerun import StageRun
from pipeline.core.storage import ObjectStore, key_of, open_store


def load_script(store: ObjectStore, uri: str) -> Script:
    return Script.from_json(store.get_bytes(key_of(store, uri)))


def save_script(run: StageRun, script: Script, name: str = "script.json") -> str:
    return run.put_bytes(name, script.to_json())


def resolve_input(uri: str, scratch: Path, settings: Settings | None = None) -> Path:
    """A local path for the job's input: a path, a file:// URI or an s3:// URI (downloaded with the S3
    settings of `settings`, default the current ones)."""
    parsed = urlparse(uri)
    if parsed.scheme in ("", "file"):
        return Path(unquote(parsed.path) if parsed.scheme else uri).expanduser().resolve()
    if parsed.scheme == "s3":
        bucket, _, key = (parsed.netloc + parsed.path).partition("/")
        if not bucket or not key.strip("/"):
            raise InputError(f"input {uri} names no object", "give s3://bucket/key")
        store = open_store(f"s3://{bucket}", settings)
        if not store.exists(key):
            raise InputError(f"input {uri} does not exist", "check the bucket and key")
        return store.local_path(key, scratch / "input")
    raise InputError(f"input {uri!r} has an unsupported scheme", "give a local path, file:// or s3:// URI")
