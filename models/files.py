"""Writing files atomically: a temporary file beside the destination, renamed over it only when complete.

A reader never sees a half-written file: until the rename the destination holds its previous version (or
nothing), and a failure removes the temporary file. The temporary file lies in the destination's own folder,
so the rename stays on one filesystem and is atomic; its name starts with a dot and the destination's name.

Permissions are those of an ordinary `open(path, "w")`: the temporary file is created with mode 0o666 (or
the mode asked for, e.g. 0o600 for a private key), which the kernel reduces by the process umask, so a
written file ends up 0o666 & ~umask (0644 under the usual 022) rather than the 0600 of `tempfile.mkstemp`.
Leaving the umask to the kernel also avoids reading it with `os.umask`, which sets it for every thread
while it is being read.
"""

from __future__ import annotations

import os
import secrets
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

ORDINARY_FILE_MODE = 0o666  # before the umask, as open() creates files
ORDINARY_DIR_MODE = 0o777  # before the umask, as mkdir() creates folders
_TRIES = 100


def _temp_name(dest: Path, suffix: str) -> Path:
    return dest.with_name(f".{dest.name}.{secrets.token_hex(4)}{suffix}")


def _new_file(dest: Path, suffix: str, mode: int) -> Path:
    """Create an empty, uniquely named file beside dest with `mode` (less the umask)."""
    for _ in range(_TRIES):
        tmp = _temp_name(dest, suffix)
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
        except FileExistsError:
            continue
        os.close(fd)
        return tmp
    raise FileExistsError(f"no free temporary name beside {dest}")


def _new_dir(dest: Path, suffix: str) -> Path:
    """Create an empty, uniquely named folder beside dest with ordinary permissions (less the umask)."""
    for _ in range(_TRIES):
        tmp = _temp_name(dest, suffix)
        try:
            tmp.mkdir(ORDINARY_DIR_MODE)
        except FileExistsError:
            continue
        return tmp
    raise FileExistsError(f"no free temporary name beside {dest}")


@contextmanager
def atomic_path(
    dest: Path, *, suffix: str = ".part", mode: int = ORDINARY_FILE_MODE, exact_mode: int | None = None
) -> Iterator[Path]:
    """A new empty temporary file beside dest (its folder is made if needed), renamed over dest when the
    block succeeds and removed when it fails. Write to it, or let a program replace it. `suffix` ends its
    name (some programs want '.wav'); `mode` is its permission bits before the umask; `exact_mode`, where
    given, the bits it gets whatever the umask (a deliverable another account must read: 0o644)."""
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = _new_file(dest, suffix, mode)
    try:
        yield tmp
        if exact_mode is not None:
            os.chmod(tmp, exact_mode)  # the file a program put in its place too
        os.replace(tmp, dest)
    finally:
        tmp.unlink(missing_ok=True)


def atomic_write_bytes(
    dest: Path,
    data: bytes,
    *,
    fsync: bool = False,
    suffix: str = ".part",
    mode: int = ORDINARY_FILE_MODE,
    exact_mode: int | None = None,
) -> Path:
    """Write data to dest atomically (see atomic_path); `fsync` flushes it to disk before the rename."""
    dest = Path(dest)
    with atomic_path(dest, suffix=suffix, mode=mode, exact_mode=exact_mode) as tmp, open(tmp, "wb") as f:
        f.write(data)
        if fsync:
            f.flush()
            os.fsync(f.fileno())
    return dest


@contextmanager
def atomic_dir(dest: Path, *, suffix: str = "") -> Iterator[Path]:
    """A new empty temporary folder beside dest, put in dest's place (a folder already there is removed
    first) when the block succeeds, and removed with its contents when it fails."""
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = _new_dir(dest, suffix)
    try:
        yield tmp
        if dest.exists():
            shutil.rmtree(dest)
        os.replace(tmp, dest)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
