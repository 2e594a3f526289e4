"""The key of the inaudible mark: one per installation, kept with the C2PA signing keys.

Whoever holds the key can read the mark and forge it, so it must not be a value anyone can look up. Unless
an operator sets DUBLINE_WATERMARK_KEY, the key is `watermark.key` in the signing folder
(DUBLINE_C2PA_CERT_DIR, default <data dir>/c2pa): 32 random bytes, made on first use or by
`dubline provenance init-signer` (which `make models` and the compose's init service run), readable by its
owner only (0600). The workers of a cluster share that folder (or the operator's key), as they share the
signing key.

The built-in key that dubline used before (`BUILTIN_KEY`, public: it is in this file) is honoured only when an
operator sets it explicitly (the test suite does, so its figures stay reproducible); each use is then said in
the log, in the mark's record (`public_key`) and in the job report's warnings. `dubline detect` also tries it
on a stream its own key finds no mark in, so the marks made with it stay readable.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from models.files import atomic_write_bytes
from pipeline.core.config import Settings
from pipeline.core.errors import SetupError

BUILTIN_KEY = "dubline-watermark-v1"  # public: never a production key
KEY_FILE = "watermark.key"
PUBLIC_KEY_WARNING = (
    "the watermark key is dubline's public built-in key: anyone can read and forge the mark; "
    "unset DUBLINE_WATERMARK_KEY to use this installation's own key, or set a secret one"
)

log = logging.getLogger(__name__)
_warned: set[str] = set()


def key_path(settings: Settings) -> Path:
    return settings.resolved_c2pa_cert_dir / KEY_FILE


def init_key(settings: Settings) -> tuple[Path, bool]:
    """This installation's key file, made when missing (0600, in a folder of its owner's). Returns (path,
    made now). Idempotent: two workers starting at once make one key (the signing folder's lock)."""
    from pipeline.ledger.certificates import _locked

    path = key_path(settings)
    try:
        with _locked(path.parent):
            if path.is_file() and path.read_text().strip():
                return path, False
            atomic_write_bytes(path, secrets.token_hex(32).encode() + b"\n", mode=0o600)
    except OSError as e:
        raise SetupError(
            f"cannot write the watermark key {path}: {e}", "set DUBLINE_C2PA_CERT_DIR to a writable folder"
        ) from None
    return path, True


def watermark_key(settings: Settings) -> str:
    """The key marks are made and read with: the operator's DUBLINE_WATERMARK_KEY, else this installation's
    key file (made on first use). The public built-in key, where configured, is used with a warning."""
    configured = settings.watermark_key.get_secret_value()
    if configured:
        if configured == BUILTIN_KEY and BUILTIN_KEY not in _warned:
            _warned.add(BUILTIN_KEY)
            log.warning(PUBLIC_KEY_WARNING)
        return configured
    path, _ = init_key(settings)
    key = path.read_text().strip()
    if not key:
        raise SetupError(f"the watermark key {path} is empty", "delete it and run `dubline provenance init-signer`")
    return key


def public_key_warnings(marks: Iterable[Mapping[str, Any] | None]) -> list[str]:
    """A job report's warning when any of its marks (the marks' records) was made with the public key."""
    return [PUBLIC_KEY_WARNING] if any((m or {}).get("public_key") for m in marks) else []


def is_public(key: str) -> bool:
    """Whether `key` is the public built-in key (a mark made with it proves nothing)."""
    return key == BUILTIN_KEY
