"""The book's deliverables (pipeline/products/audiobook/encode.py): the m4b with chapters, tags and cover, and
the per-chapter MP3s, read back with ffprobe."""

from __future__ import annotations

from pathlib import Path

import ffmpeg
import numpy as np
import pytest
import soundfile as sf

from pipeline.core.errors import StageError
from pipeline.products.audiobook.encode import BookTags, _escape, read_chapters, write_m4b, write_mp3

RATE = 44100


def _chapter(path: Path, seconds: float, freq: float, rate: int = RATE) -> Path:
    t = np.arange(int(seconds * rate)) / rate
    sf.write(str(path), (0.1 * np.sin(2 * np.pi * freq * t)).astype(np.float32), rate, subtype="PCM_24")
    return path


def _image(path: Path) -> bytes:
    ffmpeg.input("color=c=blue:s=32x32", f="lavfi").output(str(path), vframes=1).overwrite_output().run(quiet=True)
    return path.read_bytes()


def _tags(cover: bytes | None = None, cover_type: str = "") -> BookTags:
    return BookTags(
        title="The Book; Part = One",
        author="Jane Doe",
        narrator="Sam Reader",
        language="en",
        year="1901",
        cover=cover,
        cover_type=cover_type,
    )


def test_ffmetadata_escapes_its_special_characters() -> None:
    assert _escape("a=b;c#d\\e\nf") == "a\\=b\\;c\\#d\\\\e\\\nf"


def test_m4b_chapters_tags_and_cover(tmp_path: Path) -> None:
    one = _chapter(tmp_path / "ch01.wav", 1.37, 440)
    two = _chapter(tmp_path / "ch02.wav", 0.91, 660, rate=24000)  # a rate other than 44.1 kHz too
    cover = _image(tmp_path / "cover.jpg")
    titles = ["Chapter 1: Where = begins; here", "Chapter 2 # the end"]
    dest = tmp_path / "out" / "book.m4b"
    markers = write_m4b(list(zip(titles, [one, two], strict=True)), dest, _tags(cover, "image/jpeg"))
    assert markers == [
        {"index": 1, "title": titles[0], "start_s": 0.0, "end_s": 1.37},
        {"index": 2, "title": titles[1], "start_s": 1.37, "end_s": 2.28},
    ]
    chapters = read_chapters(dest)
    assert [c["title"] for c in chapters] == titles
    for got, (start, end) in zip(chapters, [(0.0, 1.37), (1.37, 2.28)], strict=True):
        assert got["start_s"] == pytest.approx(start, abs=0.03) and got["end_s"] == pytest.approx(end, abs=0.03)
    info = ffmpeg.probe(str(dest))
    fmt = info["format"]
    assert fmt["tags"]["major_brand"].strip() == "M4A"
    assert float(fmt["duration"]) == pytest.approx(2.28, abs=0.03)
    tags = fmt["tags"]
    assert tags["title"] == tags["album"] == "The Book; Part = One"
    assert tags["artist"] == tags["album_artist"] == "Jane Doe"
    assert (tags["composer"], tags["genre"], tags["date"], tags["media_type"]) == (
        "Sam Reader",
        "Audiobook",
        "1901",
        "2",
    )
    audio = [s for s in info["streams"] if s["codec_type"] == "audio"]
    assert len(audio) == 1
    assert (audio[0]["codec_name"], int(audio[0]["sample_rate"]), audio[0]["channels"]) == ("aac", RATE, 1)
    assert audio[0]["tags"]["language"] == "eng"
    pictures = [s for s in info["streams"] if s["codec_type"] == "video"]
    assert len(pictures) == 1 and pictures[0]["codec_name"] == "mjpeg"
    assert pictures[0]["disposition"]["attached_pic"] == 1
    assert sorted(p.name for p in dest.parent.iterdir()) == ["book.m4b"]  # no temporary file left


def test_m4b_without_a_cover_and_an_unusual_cover_made_png(tmp_path: Path) -> None:
    one = _chapter(tmp_path / "ch01.wav", 0.5, 440)
    plain = tmp_path / "plain.m4b"
    write_m4b([("Only", one)], plain, _tags())
    assert not [s for s in ffmpeg.probe(str(plain))["streams"] if s["codec_type"] == "video"]
    assert [c["title"] for c in read_chapters(plain)] == ["Only"]
    bmp = tmp_path / "cover.bmp"
    _image(bmp)
    dest = tmp_path / "bmp.m4b"
    write_m4b([("Only", one)], dest, _tags(bmp.read_bytes(), "image/bmp"))
    pictures = [s for s in ffmpeg.probe(str(dest))["streams"] if s["codec_type"] == "video"]
    assert [p["codec_name"] for p in pictures] == ["png"]


def test_m4b_of_one_file_twice(tmp_path: Path) -> None:
    one = _chapter(tmp_path / "ch01.wav", 0.5, 440)
    dest = tmp_path / "twice.m4b"
    markers = write_m4b([("A", one), ("B", one)], dest, _tags(_image(tmp_path / "c.png"), "image/png"))
    assert [(m["start_s"], m["end_s"]) for m in markers] == [(0.0, 0.5), (0.5, 1.0)]
    assert [c["title"] for c in read_chapters(dest)] == ["A", "B"]
    assert float(ffmpeg.probe(str(dest))["format"]["duration"]) == pytest.approx(1.0, abs=0.03)


def test_m4b_errors_are_stage_errors_and_leave_nothing(tmp_path: Path) -> None:
    one = _chapter(tmp_path / "ch01.wav", 0.5, 440)
    dest = tmp_path / "out" / "book.m4b"
    with pytest.raises(StageError, match="ch09.wav"):
        write_m4b([("One", one), ("Nine", tmp_path / "ch09.wav")], dest, _tags())
    with pytest.raises(StageError, match="ffmpeg failed to encode book.m4b"):
        write_m4b([("One", one)], dest, _tags(b"\xff\xd8\xff this is not a JPEG", "image/jpeg"))
    assert not dest.parent.exists() or list(dest.parent.iterdir()) == []


def test_mp3_is_192k_cbr_44k_with_id3v23_tags_and_cover(tmp_path: Path) -> None:
    src = _chapter(tmp_path / "ch02.wav", 2.0, 440)
    cover = _image(tmp_path / "cover.png")
    dest = tmp_path / "book.ch02.mp3"
    write_mp3(src, dest, _tags(cover, "image/png"), 2, 5, "Chapter 2: Night = Day")
    assert dest.read_bytes()[:4] == b"ID3\x03"  # ID3v2.3
    info = ffmpeg.probe(str(dest))
    assert info["format"]["format_name"] == "mp3"
    audio = [s for s in info["streams"] if s["codec_type"] == "audio"]
    assert len(audio) == 1
    assert (audio[0]["codec_name"], int(audio[0]["sample_rate"]), audio[0]["channels"]) == ("mp3", RATE, 1)
    assert int(audio[0]["bit_rate"]) == 192000
    tags = info["format"]["tags"]
    assert tags["title"] == "Chapter 2: Night = Day"
    assert tags["album"] == "The Book; Part = One" and tags["artist"] == "Jane Doe"
    assert (tags["track"], tags["composer"], tags["genre"], tags["language"]) == (
        "2/5",
        "Sam Reader",
        "Audiobook",
        "eng",
    )
    pictures = [s for s in info["streams"] if s["codec_type"] == "video"]
    assert len(pictures) == 1 and pictures[0]["codec_name"] == "png"
    assert pictures[0]["disposition"]["attached_pic"] == 1
    assert pictures[0]["tags"]["comment"] == "Cover (front)"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["book.ch02.mp3", "ch02.wav", "cover.png"]


def test_mp3_is_constant_bit_rate(tmp_path: Path) -> None:
    """Every MPEG frame at 192 kbit/s: a loud passage and a silent one give frames of the same size."""
    t = np.arange(2 * RATE) / RATE
    x = np.where(t < 1, 0.5 * np.random.default_rng(0).standard_normal(len(t)), 0.0).astype(np.float32)
    src = tmp_path / "mixed.wav"
    sf.write(str(src), x, RATE, subtype="PCM_24")
    dest = tmp_path / "mixed.mp3"
    write_mp3(src, dest, _tags(), 1, 1, "One")
    packets = ffmpeg.probe(str(dest), show_packets=None)["packets"]
    assert len(packets) > 50
    assert {p["size"] for p in packets[1:-1]} <= {"626", "627"}  # 1152 * 192000 / 8 / 44100 = 626.9 bytes
