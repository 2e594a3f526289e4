"""The local object store and store URLs (pipeline/core/storage.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipeline.core.errors import ConfigError, StageError
from pipeline.core.storage import LocalStore, get_json, key_of, open_store, put_json


def test_put_get_exists_list(store: LocalStore, tmp_path: Path):
    src = tmp_path / "src.bin"
    src.write_bytes(b"\x00\x01payload")
    uri = store.put_file("jobs/a/in.bin", src)
    assert uri == (store.root / "jobs/a/in.bin").as_uri()
    assert store.put_bytes("/jobs/a/b/c.txt", b"hello") == store.uri("jobs/a/b/c.txt")  # slashes stripped
    assert store.get_bytes("jobs/a/in.bin") == b"\x00\x01payload"
    assert store.get_bytes("jobs/a/b/c.txt") == b"hello"
    assert store.exists("jobs/a/in.bin")
    assert not store.exists("jobs/a/nothing")
    assert not store.exists("jobs/a")  # a folder is not an object
    assert store.list("jobs") == ["jobs/a/b/c.txt", "jobs/a/in.bin"]
    assert store.list("jobs/a/b/") == ["jobs/a/b/c.txt"]
    assert store.list("elsewhere") == []
    assert store.local_path("jobs/a/in.bin", tmp_path / "cache") == store.root / "jobs/a/in.bin"


def test_put_overwrites(store: LocalStore):
    store.put_bytes("k", b"one")
    store.put_bytes("k", b"two")
    assert store.get_bytes("k") == b"two"


def test_json_helpers(store: LocalStore):
    put_json(store, "r/result.json", {"b": 1, "a": [1, 2]})
    assert get_json(store, "r/result.json") == {"a": [1, 2], "b": 1}


def test_missing_object_is_a_stage_error(store: LocalStore, tmp_path: Path):
    with pytest.raises(StageError, match="missing from the store"):
        store.get_bytes("no/such")
    with pytest.raises(StageError, match="missing from the store"):
        store.local_path("no/such", tmp_path)


def test_delete_prefix(store: LocalStore):
    for k in ("a/1", "a/x/2", "ab/3"):
        store.put_bytes(k, b"x")
    store.delete_prefix("a")
    assert store.list("") == ["ab/3"]
    store.delete_prefix("not/there")  # no error
    assert store.list("") == ["ab/3"]


@pytest.mark.parametrize("key", ["../x", "", "/", "a/../../x", "a//b", "./a", "a/.."])
def test_invalid_keys_rejected(store: LocalStore, key: str):
    with pytest.raises(StageError, match="invalid object key"):
        store.put_bytes(key, b"x")
    with pytest.raises(StageError, match="invalid object key"):
        store.uri(key)
    assert not (store.root.parent / "x").exists()


def test_delete_prefix_refuses_the_whole_store(store: LocalStore):
    store.put_bytes("keep", b"x")
    with pytest.raises(StageError):
        store.delete_prefix("")
    assert store.exists("keep")


def test_key_of_round_trip(store: LocalStore):
    for key in ("a.txt", "stages/mix/0123/out file.wav", "x/y/z%20.json"):
        uri = store.put_bytes(key, b"1")
        assert key_of(store, uri) == key


def test_key_of_rejects_foreign_uri(store: LocalStore, tmp_path: Path):
    with pytest.raises(StageError, match="is not inside the store"):
        key_of(store, (tmp_path / "elsewhere" / "a").as_uri())


def test_key_of_round_trip_with_a_space_in_the_store_root(tmp_path: Path):
    store = LocalStore(tmp_path / "my store")
    uri = store.put_bytes("a/b.txt", b"x")
    assert key_of(store, uri) == "a/b.txt"


def test_open_store_file_urls(tmp_path: Path):
    s = open_store((tmp_path / "s1").as_uri())
    assert isinstance(s, LocalStore)
    assert s.root == (tmp_path / "s1").resolve()
    s.put_bytes("k", b"v")
    assert (tmp_path / "s1" / "k").read_bytes() == b"v"
    spaced = open_store((tmp_path / "with space").as_uri())
    assert spaced.root == tmp_path / "with space"
    plain = open_store(str(tmp_path / "s2"))
    assert isinstance(plain, LocalStore) and plain.root == tmp_path / "s2"


@pytest.mark.parametrize("url", ["ftp://host/x", "gs://bucket/x", "http://example.com/store"])
def test_open_store_unsupported_scheme(url: str):
    with pytest.raises(ConfigError, match="unsupported store URL"):
        open_store(url)


def test_open_store_s3_without_bucket():
    with pytest.raises(ConfigError, match="names no bucket"):
        open_store("s3:///prefix")


def _leftovers(store: LocalStore) -> list[str]:
    return sorted(p.name for p in store.root.rglob("*") if p.is_file())


def test_failing_writer_leaves_nothing(store: LocalStore):
    def writer(out):
        out.write(b"half of it")
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        store._atomic_write("d/out.bin", writer)
    assert not store.exists("d/out.bin")
    assert _leftovers(store) == []


def test_failing_writer_keeps_the_previous_version(store: LocalStore):
    store.put_bytes("d/out.bin", b"old")

    def writer(out):
        out.write(b"new but incomplete")
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        store._atomic_write("d/out.bin", writer)
    assert store.get_bytes("d/out.bin") == b"old"
    assert _leftovers(store) == ["out.bin"]


def test_put_file_of_a_missing_source_leaves_nothing(store: LocalStore, tmp_path: Path):
    with pytest.raises(FileNotFoundError):
        store.put_file("d/copy.bin", tmp_path / "absent.bin")
    assert _leftovers(store) == []


def test_list_skips_part_files(store: LocalStore):
    store.put_bytes("d/a", b"1")
    (store.root / "d" / ".b.xyz.part").write_bytes(b"partial")
    assert store.list("d") == ["d/a"]
