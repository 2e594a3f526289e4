"""A stage's scratch folder (`<data dir>/work/<stage>-XXXX`), and the removal of those a killed run left.

A stage removes its scratch folder when it ends, failed or not; a process killed with `kill -9` (or a machine
that lost power) cannot, and its folder would stay for ever. So every scratch folder holds a lock file,
`.owner.lock`, that its process keeps locked (`flock`) as long as the stage runs; the kernel releases the
lock when the process dies, however it dies. At the start of every stage, the folders of `work/` whose lock
can be taken are removed: their owner is gone. A folder whose lock is held belongs to a live run (another
worker, another `dubline dub`) and is left alone. The lock is made under another name and renamed into the
folder once held, so no sweeper ever sees an unheld lock of a live stage.

A lock, not a pid, because a pid is reused and a pid file is unlocked in the window between a crash and its
removal; not an age alone, because a stage may rightly run for hours. A folder without a lock file (made by an
older dubline, or by a stage in its first instant) is removed only when it is older than `UNLOCKED_STALE_S`.
`flock` works between processes of one machine; a data folder shared by several machines over NFS should give
each worker its own `work/` (each worker's own DUBLINE_DATA_DIR, the store and database being shared anyway).
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
import tempfile
import time
from collections.abc import Iterable, Iterator
from pathlib import Path

LOCK = ".owner.lock"
UNLOCKED_STALE_S = 24 * 3600.0


@contextlib.contextmanager
def stage_scratch(root: Path, stage: str) -> Iterator[Path]:
    """A new scratch folder `root/<stage>-XXXX`, locked by this process while the block runs, then removed."""
    root.mkdir(parents=True, exist_ok=True)
    folder = Path(tempfile.mkdtemp(prefix=f"{stage}-", dir=root))
    fd = -1
    try:
        fd = os.open(folder / f"{LOCK}.new", os.O_RDWR | os.O_CREAT, 0o600)
        fcntl.flock(fd, fcntl.LOCK_EX)
        os.replace(folder / f"{LOCK}.new", folder / LOCK)  # in place only once held
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)  # removed while still locked: no sweeper races it
        if fd >= 0:
            os.close(fd)


def sweep(root: Path, stages: Iterable[str], now: float | None = None) -> list[Path]:
    """Remove the scratch folders under `root` of `stages` that no live process owns; return them."""
    if not root.is_dir():
        return []
    now = time.time() if now is None else now
    prefixes = tuple(f"{s}-" for s in stages)
    removed = []
    for folder in sorted(root.iterdir()):
        if not folder.name.startswith(prefixes) or folder.is_symlink() or not folder.is_dir():
            continue
        with contextlib.suppress(OSError):  # gone already (another sweeper), or not ours to remove
            if _remove_if_stale(folder, now):
                removed.append(folder)
    return removed


def _remove_if_stale(folder: Path, now: float) -> bool:
    lock = folder / LOCK
    try:
        fd = os.open(lock, os.O_RDWR)
    except FileNotFoundError:
        if now - folder.stat().st_mtime < UNLOCKED_STALE_S:
            return False
        shutil.rmtree(folder)
        return True
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False  # a live run's
        shutil.rmtree(folder)
        return True
    finally:
        os.close(fd)
