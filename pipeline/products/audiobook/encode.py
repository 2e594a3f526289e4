"""The book's deliverables from its mastered chapters: one m4b (AAC in MP4, chapter markers with titles, the
book's tags and cover) and one MP3 per chapter (192 kbit/s CBR, 44.1 kHz mono, ID3v2.3 tags and cover), as
ACX and the players expect them. Every file is written under a temporary name and renamed when complete.

Tags and chapters go to ffmpeg as an FFMETADATA1 file (an extra input given after the output, which ffmpeg
accepts, so that the graph's own inputs keep their indices); `-map_metadata`/`-map_chapters` take them from it.
The m4b uses ffmpeg's `ipod` muxer (brand M4A): it writes both the QuickTime chapter track that Apple's
players read and the Nero `chpl` chapters others read, and `media_type=2` marks it an audiobook (`stik`).
The narrator goes in the composer tag (©wrt / TCOM), where audiobook players look for it: MP4 has no
narrator atom that ffmpeg writes.
"""

from __future__ import annotations

import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import ffmpeg
import soundfile as sf
from pydantic import BaseModel

from models.files import atomic_path
from pipeline.audio import media
from pipeline.core.errors import StageError

RATE = 44100
MP3_BITRATE = "192k"  # ACX: 192 kbit/s or more, constant bit rate


class BookTags(BaseModel):
    """What the deliverables' tags say about the book."""

    title: str
    author: str = ""
    narrator: str = ""
    language: str = ""  # ISO 639-1; "" = undetermined
    year: str = ""
    cover: bytes | None = None
    cover_type: str = ""  # image/jpeg or image/png (the bytes themselves decide; other images become PNG)


def _escape(value: str) -> str:
    """A value as FFMETADATA1 takes it: '=', ';', '#', '\\' and newlines escaped with a backslash."""
    out = value.replace("\\", "\\\\")
    for ch in "=;#":
        out = out.replace(ch, "\\" + ch)
    return out.replace("\n", "\\\n")


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _ffmetadata(tags: dict[str, str], chapters: Sequence[tuple[str, int, int]] = ()) -> str:
    """An FFMETADATA1 document: global tags (empty ones left out), then chapters (title, start ms, end ms)."""
    lines = [";FFMETADATA1"]
    lines += [f"{key}={_escape(value)}" for key, value in tags.items() if value]
    for title, start, end in chapters:
        lines += ["[CHAPTER]", "TIMEBASE=1/1000", f"START={start}", f"END={end}", f"title={_escape(title)}"]
    return "\n".join(lines) + "\n"


def _common_tags(tags: BookTags) -> dict[str, str]:
    return {
        "album": tags.title,
        "artist": tags.author,
        "album_artist": tags.author,
        "composer": tags.narrator,
        "genre": "Audiobook",
        "date": tags.year,
    }


def _language(tags: BookTags) -> str:
    return media.iso639_2(tags.language) if tags.language else "und"


def _cover(tags: BookTags, work: Path) -> tuple[Any, str] | None:
    """The cover as an ffmpeg input and the codec to write it with: JPEG and PNG copied, anything else PNG."""
    if not tags.cover:
        return None
    data = tags.cover
    if data.startswith(b"\xff\xd8\xff"):
        name, codec = "cover.jpg", "copy"
    elif data.startswith(b"\x89PNG\r\n\x1a\n"):
        name, codec = "cover.png", "copy"
    else:
        ext = {"image/gif": "gif", "image/webp": "webp", "image/svg+xml": "svg", "image/bmp": "bmp"}
        name, codec = f"cover.{ext.get(tags.cover_type, 'img')}", "png"
    path = work / name
    path.write_bytes(data)
    return ffmpeg.input(str(path)).video, codec


def _run(out: Any, metadata: Path, what: str) -> None:
    """Run the graph with the FFMETADATA file as one more input, after the graph's own."""
    media.require_ffmpeg()
    media.run(out.global_args("-f", "ffmetadata", "-i", str(metadata)), what)


def _seconds(path: Path) -> float:
    """A chapter's exact length: its sample count over its rate."""
    try:
        info = sf.info(str(path))
    except (RuntimeError, OSError) as e:
        raise StageError(f"cannot read the chapter audio {path}: {e}") from None
    return info.frames / info.samplerate


def _parts(paths: list[Path]) -> tuple[list[Any], int]:
    """Each chapter's audio as a 44.1 kHz mono stream, and the number of inputs: a file given twice is one
    input split in two (ffmpeg-python merges identical inputs, and a stream feeds one filter only)."""
    unique = list(dict.fromkeys(paths))
    split: dict[Path, list[Any]] = {}
    for path in unique:
        audio = ffmpeg.input(str(path)).audio
        uses = paths.count(path)
        split[path] = [audio] if uses == 1 else [audio.filter_multi_output("asplit", uses)[i] for i in range(uses)]
    parts = [split[path].pop(0).filter("aresample", RATE).filter("aformat", channel_layouts="mono") for path in paths]
    return parts, len(unique)


def write_m4b(chapters: Sequence[tuple[str, Path]], dest: Path, tags: BookTags, bitrate: str = "128k") -> list[dict]:
    """Concatenate the chapters' audio (title, path) into one AAC m4b (44.1 kHz mono) with a chapter marker
    per chapter, the book's tags and the cover; returns the markers [{index, title, start_s, end_s}] (index
    from 1) from the inputs' exact sample counts."""
    if not chapters:
        raise ValueError("an m4b needs at least one chapter")
    markers: list[dict] = []
    at = 0.0
    for i, (title, path) in enumerate(chapters, 1):
        length = _seconds(Path(path))
        markers.append({"index": i, "title": _one_line(title), "start_s": at, "end_s": at + length})
        at += length
    for m in markers:
        m["start_s"], m["end_s"] = round(m["start_s"], 3), round(m["end_s"], 3)
    dest = Path(dest)
    with tempfile.TemporaryDirectory(prefix="dubline-m4b-") as tmpdir:
        work = Path(tmpdir)
        meta = work / "meta.txt"
        marks = [(m["title"], round(m["start_s"] * 1000), round(m["end_s"] * 1000)) for m in markers]
        meta.write_text(
            _ffmetadata({"title": tags.title, **_common_tags(tags), "media_type": "2"}, marks), encoding="utf-8"
        )
        parts, files = _parts([Path(path) for _title, path in chapters])
        audio = parts[0] if len(parts) == 1 else ffmpeg.concat(*parts, v=0, a=1)
        streams: list[Any] = [audio]
        kwargs: dict[str, Any] = {
            "f": "ipod",
            "acodec": "aac",
            "audio_bitrate": bitrate,
            "ar": RATE,
            "ac": 1,
            "movflags": "+faststart",
            "metadata:s:a:0": f"language={_language(tags)}",
        }
        cover = _cover(tags, work)
        if cover is not None:
            streams.append(cover[0])
            kwargs.update({"vcodec": cover[1], "disposition:v:0": "attached_pic"})
        inputs = files + (cover is not None)
        kwargs.update({"map_metadata": inputs, "map_chapters": inputs})
        with atomic_path(dest, suffix=dest.suffix or ".m4b") as tmp:
            _run(ffmpeg.output(*streams, str(tmp), **kwargs), meta, f"encode {dest.name}")
    return markers


def read_chapters(path: Path) -> list[dict]:
    """The chapters of a media file as ffprobe reads them: [{title, start_s, end_s}]."""
    try:
        info = ffmpeg.probe(str(path), show_chapters=None)
    except ffmpeg.Error as e:
        tail = (e.stderr or b"").decode(errors="replace").strip().splitlines()
        raise StageError(f"cannot read the chapters of {path}: {tail[-1] if tail else e}") from None
    return [
        {
            "title": str(c.get("tags", {}).get("title", "")),
            "start_s": float(c["start_time"]),
            "end_s": float(c["end_time"]),
        }
        for c in info.get("chapters", [])
    ]


def write_mp3(src: Path, dest: Path, tags: BookTags, track: int, tracks: int, chapter_title: str) -> None:
    """One chapter as MP3: 192 kbit/s CBR (libmp3lame), 44.1 kHz mono, ID3v2.3 tags (title = the chapter's,
    album = the book's, artist, composer = narrator, track n/N, genre, language) and the cover as APIC."""
    dest = Path(dest)
    with tempfile.TemporaryDirectory(prefix="dubline-mp3-") as tmpdir:
        work = Path(tmpdir)
        meta = work / "meta.txt"
        fields = {"title": _one_line(chapter_title), **_common_tags(tags)}
        fields.update({"track": f"{track}/{tracks}", "language": _language(tags)})
        meta.write_text(_ffmetadata(fields), encoding="utf-8")
        streams: list[Any] = [ffmpeg.input(str(src)).audio]
        kwargs: dict[str, Any] = {
            "f": "mp3",
            "acodec": "libmp3lame",
            "audio_bitrate": MP3_BITRATE,
            "ar": RATE,
            "ac": 1,
            "id3v2_version": 3,
        }
        cover = _cover(tags, work)
        if cover is not None:
            streams.append(cover[0])
            # the APIC's picture type comes from the stream's comment
            kwargs.update({"vcodec": cover[1], "metadata:s:v:0": "comment=Cover (front)"})
        inputs = 1 + (cover is not None)
        kwargs["map_metadata"] = inputs
        with atomic_path(dest, suffix=dest.suffix or ".mp3") as tmp:
            _run(ffmpeg.output(*streams, str(tmp), **kwargs), meta, f"encode {dest.name}")
