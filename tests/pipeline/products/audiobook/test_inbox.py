"""The audiobook inbox: which files are manuscripts, their hashes, claims (never twice for the same content,
again for an edited one), the DAG runs it gives, and what it says about an unusable inbox."""

from __future__ import annotations

import hashlib
import json
import os
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from pipeline.core.config import Settings
from pipeline.core.errors import ConfigError, InputError
from pipeline.products.audiobook import inbox
from pipeline.products.audiobook.contracts import BookRequest


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(data_dir=tmp_path / "data")


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _fill(folder: Path, files: dict[str, bytes]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, data in files.items():
        (folder / name).write_bytes(data)
    return folder


def test_scan_lists_manuscripts_only_with_their_hashes(tmp_path: Path, settings: Settings) -> None:
    folder = _fill(
        tmp_path / "in",
        {
            "Moby.EPUB": b"PK epub bytes",
            "notes.md": b"# Notes\n",
            "tale.markdown": b"# Tale\n",
            "plain.txt": b"CHAPTER I\n\nIt was.\n",
            "cover.jpg": b"jpeg",
            "draft.docx": b"docx",
            ".hidden.md": b"dotfile",
            "~lock.txt": b"editor lock",
            "upload.epub.part": b"half an upload",
            "backup.txt~": b"editor backup",
        },
    )
    (folder / "sub.md").mkdir()  # a folder with a manuscript's name is not one
    _fill(folder / "deeper", {"nested.md": b"# not scanned\n"})

    items = inbox.scan(settings, str(folder))

    assert [i.name for i in items] == ["Moby.EPUB", "notes.md", "plain.txt", "tale.markdown"]
    plain = next(i for i in items if i.name == "plain.txt")
    assert plain.sha256 == _sha(b"CHAPTER I\n\nIt was.\n")
    assert plain.size == len(b"CHAPTER I\n\nIt was.\n")
    assert plain.uri == (folder / "plain.txt").resolve().as_uri()
    # a file:// URI names the same folder
    assert inbox.scan(settings, folder.resolve().as_uri()) == items


def test_scan_leaves_a_file_still_being_written_for_later(tmp_path: Path, settings: Settings) -> None:
    folder = _fill(tmp_path / "in", {"old.md": b"# Old\n", "new.md": b"# New\n"})
    an_hour_ago = time.time() - 3600
    os.utime(folder / "old.md", (an_hour_ago, an_hour_ago))

    assert [i.name for i in inbox.scan(settings, str(folder), settle_s=60)] == ["old.md"]
    assert [i.name for i in inbox.scan(settings, str(folder))] == ["new.md", "old.md"]


def test_an_unusable_inbox_is_an_input_error_naming_it(tmp_path: Path, settings: Settings) -> None:
    missing = tmp_path / "nowhere"
    with pytest.raises(InputError) as err:
        inbox.scan(settings, str(missing))
    assert str(missing) in err.value.message and "does not exist" in err.value.message
    assert "DUBLINE_AUDIOBOOK_INBOX" in err.value.hint

    a_file = tmp_path / "book.md"
    a_file.write_text("# Book\n")
    with pytest.raises(InputError, match="is not a folder"):
        inbox.scan(settings, str(a_file))
    with pytest.raises(InputError, match="not a folder, file:// or s3://"):
        inbox.scan(settings, "ftp://host/inbox")
    with pytest.raises(InputError, match="no audiobook inbox"):
        inbox.scan(settings, "  ")


def test_scan_of_an_s3_prefix_goes_through_the_store(
    tmp_path: Path, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An S3 inbox: the prefix's objects (one level), each downloaded into the inbox cache and hashed."""
    objects = {"book.epub": b"epub", "notes.txt": b"text", "sub/nested.md": b"nested", "pic.png": b"png"}
    opened: list[str] = []

    class FakeS3:
        url = "s3://bucket/inbox"

        def uri(self, key: str) -> str:
            return f"{self.url}/{key}"

        def list(self, prefix: str) -> list[str]:
            return sorted(objects)

        def local_path(self, key: str, cache_dir: Path) -> Path:
            assert cache_dir.is_relative_to(settings.data_dir / "work" / "inbox")
            dest = cache_dir / key
            dest.parent.mkdir(parents=True, exist_ok=True)
            dest.write_bytes(objects[key])
            return dest

    def fake_open_store(url: str, s: Settings | None = None) -> Any:
        opened.append(url)
        return FakeS3()

    monkeypatch.setattr(inbox, "open_store", fake_open_store)
    items = inbox.scan(settings, "s3://bucket/inbox")
    assert opened == ["s3://bucket/inbox"]
    assert [(i.name, i.uri, i.sha256, i.size) for i in items] == [
        ("book.epub", "s3://bucket/inbox/book.epub", _sha(b"epub"), 4),
        ("notes.txt", "s3://bucket/inbox/notes.txt", _sha(b"text"), 4),
    ]


def test_a_content_is_claimed_once_whatever_its_name(tmp_path: Path, settings: Settings) -> None:
    folder = _fill(tmp_path / "in", {"book.md": b"# Book\n\nText.\n"})
    (item,) = inbox.scan(settings, str(folder))
    conf = {"book": item.uri}

    assert inbox.claim(settings, item, conf) is True
    assert inbox.claim(settings, item, conf) is False

    # the same content under another name is not started again
    _fill(folder, {"copy of book.md": b"# Book\n\nText.\n"})
    copy = next(i for i in inbox.scan(settings, str(folder)) if i.name == "copy of book.md")
    assert inbox.claim(settings, copy, {"book": copy.uri}) is False

    # the claim records the item, when and the run conf, in the project's store
    doc = json.loads((settings.data_dir / "store" / "inbox" / "claims" / f"{item.sha256}.json").read_text())
    assert doc["item"] == item.to_xcom() and doc["conf"] == conf and doc["run_id"] == f"inbox__{item.sha256[:16]}"
    assert doc["claimed_at"]

    # an edited manuscript is another content: started again
    (folder / "book.md").write_bytes(b"# Book\n\nText, edited.\n")
    edited = next(i for i in inbox.scan(settings, str(folder)) if i.name == "book.md")
    assert edited.sha256 != item.sha256
    assert inbox.claim(settings, edited, {"book": edited.uri}) is True


def test_concurrent_claimers_of_one_content_one_wins(tmp_path: Path, settings: Settings) -> None:
    folder = _fill(tmp_path / "in", {"book.md": b"# Book\n"})
    (item,) = inbox.scan(settings, str(folder))
    results: list[bool] = []
    start = threading.Barrier(8)

    def claimer() -> None:
        start.wait()
        results.append(inbox.claim(settings, item, {"book": item.uri}))

    threads = [threading.Thread(target=claimer) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == [False] * 7 + [True]
    claims = settings.data_dir / "store" / "inbox" / "claims"
    assert [p.name for p in claims.iterdir()] == [f"{item.sha256}.json"]  # no temporary file left behind


def test_pending_gives_valid_book_runs_once(tmp_path: Path, settings: Settings) -> None:
    folder = _fill(
        tmp_path / "in",
        {"Moby Dick.epub": b"epub", "tale.md": b"# Tale\n", "same tale.md": b"# Tale\n", "x.pdf": b"pdf"},
    )
    defaults = {"voice": "kokoro:jm_kumo", "style": "Warm", "language": "EN", "narrator": None}

    starts = inbox.pending(settings, str(folder), "s3://books/out/", defaults)

    assert len(starts) == 2  # the copy of tale.md has tale.md's content: one run for both
    by_book = {s["conf"]["book"]: s for s in starts}
    epub = by_book[(folder / "Moby Dick.epub").resolve().as_uri()]
    assert epub["trigger_run_id"] == f"inbox__{_sha(b'epub')[:16]}"
    request = BookRequest.from_params(epub["conf"])
    assert request.output == "s3://books/out/Moby Dick"
    assert (request.voice, request.style, request.language) == ("kokoro:jm_kumo", "warm", "en")
    for s in starts:
        assert BookRequest.from_params(s["conf"]).to_xcom() == s["conf"]
        assert json.loads(json.dumps(s)) == s  # XCom carries JSON

    assert inbox.pending(settings, str(folder), "s3://books/out/", defaults) == []

    # no output: the books go to the store
    (folder / "tale.md").write_bytes(b"# Tale\n\nEdited.\n")
    (again,) = inbox.pending(settings, str(folder), "", {})
    assert again["conf"]["book"].endswith("/tale.md") and again["conf"]["output"] == ""


def test_pending_refuses_bad_defaults_before_claiming_anything(tmp_path: Path, settings: Settings) -> None:
    folder = _fill(tmp_path / "in", {"book.md": b"# Book\n"})
    with pytest.raises(ConfigError, match="style"):
        inbox.pending(settings, str(folder), "", {"style": "shouty"})
    with pytest.raises(ConfigError, match="voice"):
        inbox.pending(settings, str(folder), "", {"voice": "george"})
    # nothing was claimed: with good defaults the book is started
    assert len(inbox.pending(settings, str(folder), "", {"style": "calm"})) == 1


def test_is_manuscript() -> None:
    assert inbox.is_manuscript("A.Md") and inbox.is_manuscript("b.TXT") and inbox.is_manuscript("c.markdown")
    for name in ("", ".a.md", "~a.md", "a.md.part", "a.md~", "a.pdf", "a.epub.tmp", "md"):
        assert not inbox.is_manuscript(name), name
