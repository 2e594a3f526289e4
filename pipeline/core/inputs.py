"""A job's inputs as users name them: a path, a file:// URI or an s3:// URI, made a local path."""

from __future__ import annotations

import os
from pathlib import Path
from urllib.parse import unquote, urlparse

from pipeline.core.config import Settings
from pipeline.core.errors import InputError
from pipeline.core.storage import open_store


def resolve_input(uri: str, scratch: Path, settings: Settings | None = None) -> Path:
    """A local path for the job's input: a path, a file:// URI or an s3:// URI (downloaded with the S3
    settings of `settings`, default the current ones)."""
    parsed = urlparse(uri)
    if parsed.scheme in ("", "file"):
        given = Path(unquote(parsed.path) if parsed.scheme else uri).expanduser()
        if given.is_symlink() and not given.exists():
            raise InputError(
                f"input {given} is a link to {os.readlink(given)}, which does not exist",
                "fix the link or give the file itself",
            )
        return given.resolve()
    if parsed.scheme == "s3":
        bucket, _, key = (parsed.netloc + parsed.path).partition("/")
        if not bucket or not key.strip("/"):
            raise InputError(f"input {uri} names no object", "give s3://bucket/key")
        store = open_store(f"s3://{bucket}", settings)
        if not store.exists(key):
            raise InputError(f"input {uri} does not exist", "check the bucket and key")
        return store.local_path(key, scratch / "input")
    raise InputError(f"input {uri!r} has an unsupported scheme", "give a local path, file:// or s3:// URI")
