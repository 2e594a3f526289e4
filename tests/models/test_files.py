"""Atomic writes (models/files.py): ordinary permissions, and no partial file visible on a failure."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from models.files import atomic_dir, atomic_path, atomic_write_bytes


@pytest.fixture
def umask() -> Iterator[None]:
    """Run under umask 022, whatever the process had (restored afterwards)."""
    old = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(old)


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def _names(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


def test_written_file_has_ordinary_permissions(tmp_path: Path, umask: None) -> None:
    out = atomic_write_bytes(tmp_path / "talk.dub.mp4", b"data")
    assert out.read_bytes() == b"data"
    assert _mode(out) == 0o644  # not mkstemp's 0600
    with atomic_path(tmp_path / "talk.es.srt") as tmp:
        assert tmp.parent == tmp_path and tmp.name.startswith(".talk.es.srt.") and tmp.name.endswith(".part")
        tmp.write_text("1\n")
    assert _mode(tmp_path / "talk.es.srt") == 0o644
    assert _names(tmp_path) == ["talk.dub.mp4", "talk.es.srt"]


def test_permissions_follow_the_umask(tmp_path: Path) -> None:
    old = os.umask(0o027)
    try:
        out = atomic_write_bytes(tmp_path / "a.json", b"{}")
    finally:
        os.umask(old)
    assert _mode(out) == 0o640


def test_private_mode_is_kept(tmp_path: Path, umask: None) -> None:
    key = atomic_write_bytes(tmp_path / "signer.key", b"secret", mode=0o600)
    assert _mode(key) == 0o600


def test_a_replaced_file_gets_the_new_permissions(tmp_path: Path, umask: None) -> None:
    dest = tmp_path / "report.json"
    dest.write_bytes(b"old")
    dest.chmod(0o600)
    atomic_write_bytes(dest, b"new")
    assert dest.read_bytes() == b"new" and _mode(dest) == 0o644


def test_failure_leaves_no_partial_file(tmp_path: Path) -> None:
    dest = tmp_path / "out" / "clip.wav"
    with pytest.raises(RuntimeError, match="engine died"), atomic_path(dest, suffix=".wav") as tmp:
        assert tmp.suffix == ".wav"
        tmp.write_bytes(b"RIFF half")
        assert not dest.exists()  # nothing at the destination while writing
        raise RuntimeError("engine died")
    assert not dest.exists()
    assert _names(tmp_path / "out") == []  # the temporary file is gone too


def test_failure_keeps_the_previous_version(tmp_path: Path) -> None:
    dest = tmp_path / "manifest.json"
    atomic_write_bytes(dest, b"old")
    with pytest.raises(KeyboardInterrupt), atomic_path(dest) as tmp:
        tmp.write_bytes(b"new but incomplete")
        raise KeyboardInterrupt
    assert dest.read_bytes() == b"old"
    assert _names(tmp_path) == ["manifest.json"]


def test_a_program_may_replace_the_temporary_file(tmp_path: Path) -> None:
    dest = tmp_path / "download.bin"
    with atomic_path(dest) as tmp:
        other = tmp_path / "made-elsewhere"
        other.write_bytes(b"payload")
        os.replace(other, tmp)
    assert dest.read_bytes() == b"payload"
    assert _names(tmp_path) == ["download.bin"]


def test_fsync_writes_the_same(tmp_path: Path) -> None:
    assert atomic_write_bytes(tmp_path / "a.bin", b"x" * 10, fsync=True).read_bytes() == b"x" * 10


def test_atomic_dir_replaces_a_folder_or_leaves_it(tmp_path: Path, umask: None) -> None:
    dest = tmp_path / "model"
    dest.mkdir()
    (dest / "old.bin").write_bytes(b"old")
    with pytest.raises(OSError, match="disk full"), atomic_dir(dest) as tmp:
        (tmp / "new.bin").write_bytes(b"half")
        raise OSError("disk full")
    assert _names(dest) == ["old.bin"] and _names(tmp_path) == ["model"]
    with atomic_dir(dest) as tmp:
        (tmp / "new.bin").write_bytes(b"new")
    assert _names(dest) == ["new.bin"] and _names(tmp_path) == ["model"]
    assert _mode(dest) == 0o755
