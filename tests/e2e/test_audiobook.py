"""`dubline audiobook` end to end: a two-chapter EPUB narrated through the audiobook DAG (real Airflow run, real
voice, Whisper QA, ffmpeg, C2PA, watermark), then a re-run that reuses everything, an edit that re-narrates one
sentence, and bad manuscripts refused with one line and nothing published."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any

import pytest

DUBLINE = [sys.executable, "-m", "pipeline.cli.app"]
CHAPTERS = [
    ("Chapter I", ["The sun rose over the quiet village.", "A dog barked twice and then was still."]),
    ("Chapter II", ["Mr. Green opened his shop at 9 o'clock.", "He sold 12 loaves of bread before noon."]),
]


def _run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*DUBLINE, *args], capture_output=True, text=True, env={**os.environ, **(env or {})}, timeout=900
    )


def _epub(path: Path, chapters: list[tuple[str, list[str]]]) -> Path:
    from ebooklib import epub

    book = epub.EpubBook()
    book.set_identifier("dubline-test-book")
    book.set_title("The Village")
    book.set_language("en")
    book.add_author("A. Writer")
    items = []
    for n, (title, paragraphs) in enumerate(chapters, start=1):
        item = epub.EpubHtml(title=title, file_name=f"ch{n}.xhtml", lang="en")
        item.content = f"<html><body><h1>{title}</h1>" + "".join(f"<p>{p}</p>" for p in paragraphs) + "</body></html>"
        book.add_item(item)
        items.append(item)
    book.toc = items
    book.add_item(epub.EpubNcx())
    book.add_item(epub.EpubNav())
    book.spine = ["nav", *items]
    epub.write_epub(str(path), book)
    return path


def _probe(path: Path, *what: str) -> dict[str, Any]:
    out = subprocess.run(
        ["ffprobe", "-v", "error", *what, "-of", "json", str(path)], capture_output=True, text=True, check=True
    )
    return dict(json.loads(out.stdout))


ARGS = ("--voice", "piper:en_US-joe-medium", "--ident", "calm")  # a composed ident and closing bed (issue 19)


@pytest.fixture(scope="module")
def narrated(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    root = tmp_path_factory.mktemp("book")
    book = _epub(root / "village.epub", CHAPTERS)
    out = root / "out"
    proc = _run("audiobook", str(book), *ARGS, "--out", str(out))
    assert proc.returncode == 0, proc.stderr[-3000:] + proc.stdout[-3000:]
    report = json.loads((out / "village.report.json").read_text())
    return {"root": root, "book": book, "out": out, "stdout": proc.stdout, "report": report}


@pytest.mark.slow
def test_the_book_is_delivered_named_after_the_manuscript(narrated: dict[str, Any]) -> None:
    out: Path = narrated["out"]
    names = sorted(p.name for p in out.iterdir() if not p.name.endswith(".provenance.json"))
    assert names == ["village.ch01.mp3", "village.ch02.mp3", "village.m4b", "village.report.json"]
    manifests = sorted(p.name for p in out.iterdir() if p.name.endswith(".provenance.json"))
    assert len(manifests) == 4
    assert "finished" in narrated["stdout"] and "chapters" in narrated["stdout"]


@pytest.mark.slow
def test_m4b_has_titled_chapters_tags_and_aac(narrated: dict[str, Any]) -> None:
    m4b = narrated["out"] / "village.m4b"
    info = _probe(m4b, "-show_chapters", "-show_streams", "-show_format")
    titles = [c["tags"]["title"] for c in info["chapters"]]
    assert titles == ["Chapter I", "Chapter II"]
    audio = [s for s in info["streams"] if s["codec_type"] == "audio"]
    assert audio[0]["codec_name"] == "aac" and audio[0]["sample_rate"] == "44100"
    tags = {k.lower(): v for k, v in info["format"]["tags"].items()}
    assert tags["title"] == "The Village" and tags["artist"] == "A. Writer"
    report = narrated["report"]
    starts = [float(c["start_time"]) for c in info["chapters"]]
    first = report["chapters"][0]["duration_s"]
    assert starts[0] == 0.0 and abs(starts[1] - first) < 0.05


@pytest.mark.slow
def test_mp3s_are_acx_format_and_chapters_pass_acx(narrated: dict[str, Any]) -> None:
    for n in (1, 2):
        info = _probe(narrated["out"] / f"village.ch{n:02d}.mp3", "-show_streams", "-show_format")
        audio = info["streams"][0]
        assert audio["codec_name"] == "mp3" and audio["sample_rate"] == "44100"
        assert int(audio["bit_rate"]) == 192000
    report = narrated["report"]
    assert report["acx"]["pass_rate"] == 1.0, [c["acx"] for c in report["chapters"]]
    for c in report["chapters"]:
        acx = c["acx"]
        assert -23.0 <= acx["rms_db"] <= -18.0 and acx["peak_db"] <= -3.0 and acx["noise_floor_db"] <= -60.0
        assert c["qa"]["lines"] == c["chunks"] == 3  # the title and two sentences, every one heard again


@pytest.mark.slow
def test_a_composed_ident_opens_the_book_and_a_bed_closes_it(narrated: dict[str, Any]) -> None:
    first, last = (c["music"] for c in narrated["report"]["chapters"])
    assert set(first) == {"mood", "below_narration_db", "opening"} and first["opening"]["generated"] is True
    assert set(last) == {"mood", "below_narration_db", "closing"} and last["closing"]["generated"] is True
    assert "fluidsynth" in first["opening"]["origin"]


@pytest.mark.slow
def test_every_file_is_marked_and_signed(narrated: dict[str, Any]) -> None:
    report = narrated["report"]
    mark = report["watermark"]
    assert mark["payload"] is not None and mark["unmarked_chapters"] == []
    signed = report["content_credentials"]["signed"]
    assert sorted(signed) == ["village.ch01.mp3", "village.ch02.mp3", "village.m4b"]
    # the m4b joins the chapters: its mark must read as one (each chapter marked on the book's grid)
    proc = _run("detect", str(narrated["out"] / "village.m4b"))
    assert proc.returncode == 0, proc.stderr
    assert f"marked: payload {mark['payload']:08x}" in proc.stdout, proc.stdout


@pytest.mark.slow
def test_rerun_reuses_everything_and_an_edit_renarrates_one_sentence(narrated: dict[str, Any]) -> None:
    again = _run("audiobook", str(narrated["book"]), *ARGS, "--out", str(narrated["out"]))
    assert again.returncode == 0, again.stderr[-2000:]
    report = json.loads((narrated["out"] / "village.report.json").read_text())
    assert all(s["cached"] for s in report["stages"]), report["stages"]
    edited = [CHAPTERS[0], ("Chapter II", ["Mr. Green opened his shop at 9 o'clock.", "He sold 13 loaves of bread."])]
    book = _epub(narrated["root"] / "village.epub", edited)
    proc = _run("audiobook", str(book), *ARGS, "--out", str(narrated["out"]))
    assert proc.returncode == 0, proc.stderr[-2000:]
    report = json.loads((narrated["out"] / "village.report.json").read_text())
    by_index = {c["index"]: c for c in report["chapters"]}
    assert by_index[2]["synthesized"] == 1 and by_index[2]["chunks"] == 3
    narrate = {s["label"]: s["cached"] for s in report["stages"] if s["stage"] == "narrate"}
    assert narrate == {"ch01": True, "ch02": False}


def _assert_clean_failure(proc: subprocess.CompletedProcess[str], needle: str, out: Path) -> None:
    assert proc.returncode == 2, proc.stderr
    lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("error:") and needle in lines[0], proc.stderr
    assert "Traceback" not in proc.stderr + proc.stdout
    assert not out.exists() or not any(out.iterdir()), "something was published"


@pytest.mark.parametrize(
    "name, make, needle",
    [
        ("notzip.epub", lambda p: p.write_bytes(b"this is not a zip"), "notzip.epub"),
        ("latin.txt", lambda p: p.write_bytes("CHAPTER I\n\nCaf\xe9 cr\xe8me.\n".encode("latin-1")), "UTF-8"),
        ("empty.md", lambda p: p.write_text(""), "empty.md"),
    ],
)
def test_bad_manuscripts_are_refused_with_one_line(tmp_path: Path, name: str, make: Any, needle: str) -> None:
    path = tmp_path / name
    make(path)
    out = tmp_path / "out"
    _assert_clean_failure(_run("audiobook", str(path), "--out", str(out)), needle, out)


def test_drm_epub_is_refused_with_one_line(tmp_path: Path) -> None:
    book = _epub(tmp_path / "locked.epub", CHAPTERS)
    with zipfile.ZipFile(book, "a") as z:
        z.writestr(
            "META-INF/encryption.xml",
            '<encryption xmlns="urn:oasis:names:tc:opendocument:xmlns:container" '
            'xmlns:enc="http://www.w3.org/2001/04/xmlenc#"><enc:EncryptedData>'
            '<enc:EncryptionMethod Algorithm="http://www.w3.org/2001/04/xmlenc#aes128-cbc"/>'
            '<enc:CipherData><enc:CipherReference URI="EPUB/ch1.xhtml"/></enc:CipherData>'
            "</enc:EncryptedData></encryption>",
        )
    out = tmp_path / "out"
    _assert_clean_failure(_run("audiobook", str(book), "--out", str(out)), "locked.epub", out)


def test_a_language_without_a_voice_is_refused_with_one_line(tmp_path: Path) -> None:
    book = _epub(tmp_path / "village.epub", CHAPTERS)
    out = tmp_path / "out"
    proc = _run("audiobook", str(book), "--language", "zz", "--out", str(out))
    assert proc.returncode == 3, proc.stderr
    lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and "village.epub: no installed voice reads 'zz'" in lines[0], proc.stderr
    assert not out.exists()
