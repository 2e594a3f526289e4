"""Everything that touches ffmpeg: probing, extraction, stretching, muxing. All graphs via ffmpeg-python.

ffmpeg failures never surface as raw tracebacks: bad input becomes an InputError naming the file and the
fix; anything else becomes a StageError carrying the tail of ffmpeg's own message.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import ffmpeg
import numpy as np
import soundfile as sf

from pipeline.core.errors import InputError, SetupError, StageError

AUDIO_EXTS = {".wav", ".mp3", ".flac", ".m4a", ".aac", ".ogg", ".opus", ".aiff", ".aif"}
SILENCE_DBFS = -60.0

# ISO 639-1 -> ISO 639-2/B, for stream language tags
_ISO2 = {
    "en": "eng",
    "es": "spa",
    "fr": "fre",
    "de": "ger",
    "it": "ita",
    "ca": "cat",
    "pt": "por",
    "nl": "dut",
    "pl": "pol",
    "ru": "rus",
    "ja": "jpn",
    "zh": "chi",
    "ko": "kor",
    "ar": "ara",
    "tr": "tur",
    "sv": "swe",
    "da": "dan",
    "fi": "fin",
    "no": "nor",
    "cs": "cze",
    "el": "gre",
    "hu": "hun",
    "ro": "rum",
    "uk": "ukr",
    "hi": "hin",
    "he": "heb",
    "id": "ind",
    "vi": "vie",
    "th": "tha",
    "eu": "baq",
    "gl": "glg",
}


def iso639_2(code: str) -> str:
    """ISO 639-2 (bibliographic, as ffmpeg and players expect) for an ISO 639-1 code."""
    if code in _ISO2:
        return _ISO2[code]
    try:
        import langcodes

        return str(langcodes.Language.get(code).to_alpha3(variant="B"))
    except Exception:  # noqa: BLE001 - unknown codes are tagged 'und', never fatal
        return "und"


def require_ffmpeg() -> None:
    for tool in ("ffmpeg", "ffprobe"):
        if shutil.which(tool) is None:
            raise SetupError(f"{tool} is not installed", "run `make setup` (apt-get install ffmpeg)")


@dataclass(frozen=True)
class MediaInfo:
    path: str
    format_name: str
    duration: float
    has_video: bool
    video_codec: str | None
    audio_codec: str
    sample_rate: int
    channels: int
    audio_duration: float = 0.0  # the first audio stream's declared duration (the container's where it has none)
    audio_tracks: tuple[str, ...] = ()  # every audio stream's language tag ("und" where untagged), in order
    streams_duration: float = 0.0  # the longest audio or video stream's declared duration (0: none declares one)

    @property
    def is_audio_only(self) -> bool:
        return not self.has_video


def _ffmpeg_error(e: ffmpeg.Error) -> str:
    err = (e.stderr or b"").decode(errors="replace").strip().splitlines()
    return " | ".join(err[-3:]) if err else str(e)


def probe(path: Path) -> MediaInfo:
    """Facts about an input, or an InputError that says what is wrong with it and what to do."""
    require_ffmpeg()
    if not path.exists():
        raise InputError(f"input {path} does not exist", "check the path and try again")
    if not path.is_file():
        raise InputError(f"input {path} is not a file", "give a video or audio file")
    if path.stat().st_size == 0:
        raise InputError(f"input {path} is empty (0 bytes)", "give a complete video or audio file")
    try:
        info = ffmpeg.probe(str(path))
    except ffmpeg.Error as e:
        raise InputError(
            f"input {path} is not a media file ffmpeg can read ({_ffmpeg_error(e)})",
            "give a video (mp4, mkv, mov, webm) or audio (wav, mp3, flac, m4a) file",
        ) from None
    streams = info.get("streams", [])
    # attached pictures (cover art) are not video
    videos = [s for s in streams if s.get("codec_type") == "video" and not s.get("disposition", {}).get("attached_pic")]
    audios = [s for s in streams if s.get("codec_type") == "audio"]
    fmt = str(info.get("format", {}).get("format_name", ""))
    if not audios and (fmt == "image2" or fmt.endswith("_pipe")):
        raise InputError(
            f"input {path} is a still image ({fmt.removesuffix('_pipe')}), not a video or audio file",
            "give the video (mp4, mkv, mov, webm) or audio (wav, mp3, flac, m4a) to dub",
        )
    if not audios:
        what = "video" if videos else "file"
        raise InputError(
            f"input {path} has no audio stream (this {what} is silent)",
            "give a file with a soundtrack of the speech to dub",
        )
    a = audios[0]
    dur = float(info.get("format", {}).get("duration") or a.get("duration") or 0.0)
    if dur <= 0.05:
        raise InputError(f"input {path} has a zero-length audio track", "give a file with speech in it")
    return MediaInfo(
        audio_duration=float(a.get("duration") or dur),
        streams_duration=max([float(s.get("duration") or 0.0) for s in [*videos, *audios]] or [0.0]),
        audio_tracks=tuple(str((s.get("tags") or {}).get("language") or "und") for s in audios),
        path=str(path),
        format_name=info.get("format", {}).get("format_name", ""),
        duration=dur,
        has_video=bool(videos),
        video_codec=videos[0].get("codec_name") if videos else None,
        audio_codec=a.get("codec_name", ""),
        sample_rate=int(a.get("sample_rate", 0) or 0),
        channels=int(a.get("channels", 0) or 0),
    )


@dataclass(frozen=True)
class Decoded:
    """What one full read of an input found: its first audio stream decoded (8 kHz mono, never kept), the
    picture's packets read without decoding them."""

    seconds: float  # how much audio actually decoded
    peak_dbfs: float
    errors: int  # error lines ffmpeg printed (damaged packets, decode errors, a file cut short)
    first_errors: tuple[str, ...]


def decode_check(path: Path, has_video: bool) -> Decoded:
    """Read the whole input once, as cheaply as ffmpeg allows: the audio decoded to 8 kHz mono 16-bit (streamed,
    a few seconds per hour of programme), the video stream copied to the null muxer (its packets read, frames
    not decoded), counting ffmpeg's errors and measuring the audio's length and peak."""
    require_ffmpeg()
    cmd = ["ffmpeg", "-hide_banner", "-nostdin", "-v", "error", "-i", str(path)]
    cmd += ["-map", "0:a:0", "-ac", "1", "-ar", "8000", "-f", "s16le", "pipe:1"]
    if has_video:
        cmd += ["-map", "0:v:0", "-c", "copy", "-f", "null", "-"]
    samples, peak = 0, 0
    with tempfile.TemporaryFile() as err:
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=err)
        assert proc.stdout is not None
        tail = b""
        while chunk := proc.stdout.read(1 << 20):
            chunk = tail + chunk
            cut = len(chunk) - len(chunk) % 2
            tail = chunk[cut:]
            x = np.frombuffer(chunk[:cut], dtype="<i2")
            if x.size:
                samples += x.size
                peak = max(peak, int(np.max(np.abs(x.astype(np.int32)))))
        proc.wait()
        err.seek(0)
        lines = [ln.strip() for ln in err.read().decode(errors="replace").splitlines() if ln.strip()]
    if proc.returncode != 0 and samples == 0:
        raise InputError(
            f"input {path} could not be decoded ({' | '.join(lines[-2:]) or f'ffmpeg exit {proc.returncode}'})",
            "re-export the file (e.g. to mp4 with AAC audio) and try again",
        )
    return Decoded(
        seconds=samples / 8000,
        peak_dbfs=20 * float(np.log10(peak / 32768)) if peak > 0 else -200.0,
        errors=len(lines),
        first_errors=tuple(lines[:2]),
    )


def run(stream: Any, what: str) -> None:
    """Run an ffmpeg-python graph quietly; a failure becomes a StageError naming `what`."""
    try:
        stream.overwrite_output().run(capture_stdout=True, capture_stderr=True)
    except ffmpeg.Error as e:
        raise StageError(f"ffmpeg failed to {what}: {_ffmpeg_error(e)}") from None
    except FileNotFoundError:
        raise SetupError("ffmpeg is not installed", "run `make setup` (apt-get install ffmpeg)") from None


def extract_audio(src: Path, dest: Path, sample_rate: int, channels: int, duration: float | None = None) -> Path:
    """Decode the first audio stream to PCM WAV at the given rate and channel count.

    With `duration`, the result is padded or cut to exactly that many seconds, so every derived track
    lines up with the container's duration.
    """
    stream = ffmpeg.input(str(src)).audio
    if duration is not None:
        stream = stream.filter("apad").filter("atrim", duration=duration)
    out = ffmpeg.output(stream, str(dest), ac=channels, ar=sample_rate, acodec="pcm_s16le", vn=None)
    run(out, f"decode the audio of {src.name}")
    return dest


def peak_dbfs(path: Path) -> float:
    data, _ = sf.read(str(path), dtype="float32", always_2d=True)
    peak = float(np.max(np.abs(data))) if data.size else 0.0
    return 20 * np.log10(peak) if peak > 0 else -200.0


def stretch(src: Path, dest: Path, tempo: float, engine: str = "rubberband") -> Path:
    """Pitch-preserving time-stretch: tempo 1.2 makes the clip 1.2 times shorter."""
    stream = ffmpeg.input(str(src)).audio
    if engine == "rubberband":
        stream = stream.filter("rubberband", tempo=tempo, pitchq="quality", window="standard")
    else:
        # atempo takes 0.5..2.0 per instance
        remaining = tempo
        while remaining > 2.0:
            stream = stream.filter("atempo", 2.0)
            remaining /= 2.0
        while remaining < 0.5:
            stream = stream.filter("atempo", 0.5)
            remaining /= 0.5
        stream = stream.filter("atempo", remaining)
    try:
        run(ffmpeg.output(stream, str(dest), acodec="pcm_s16le"), f"time-stretch {src.name}")
    except StageError:
        if engine == "rubberband":
            return stretch(src, dest, tempo, engine="atempo")
        raise
    return dest


def wav_duration(path: Path) -> float:
    return float(sf.info(str(path)).duration)


def description_disposition(container: str) -> str:
    """The disposition of an audio-description track: mp4 and m4a keep `visual_impaired` and `descriptions`,
    Matroska keeps `visual_impaired` only."""
    return "visual_impaired" if container.lower().lstrip(".") == "mkv" else "visual_impaired+descriptions"


def mux(
    video_src: Path | None,
    tracks: list[tuple[Path, str, str]],
    dest: Path,
    duration: float,
    audio_bitrate: str = "192k",
    subtitles: list[tuple[Path, str, str]] | None = None,
    *,
    dispositions: list[str] | None = None,
) -> Path:
    """Write `dest` (.mp4, .mkv or .m4a): the source's video stream copied, one AAC track per
    (wav, ISO 639-2 language, title), the first the default, and soft subtitles per (srt, language,
    title): mov_text in mp4, SubRip in mkv (m4a carries none).

    `dispositions`, one ffmpeg disposition per audio track (e.g. "default", "0", "visual_impaired",
    "visual_impaired+descriptions"), replaces the default-first rule; mkv keeps `visual_impaired`
    but not `descriptions`, mp4 keeps both."""
    if dispositions is not None and len(dispositions) != len(tracks):
        raise ValueError(f"mux: {len(dispositions)} dispositions for {len(tracks)} audio tracks")
    container = dest.suffix.lower().lstrip(".")
    subtitles = subtitles if container in ("mp4", "mkv") else []
    inputs = []
    maps: list[Any] = []
    if video_src is not None:
        maps.append(ffmpeg.input(str(video_src))["v:0"])
    for wav, _lang, _title in tracks:
        inputs.append(ffmpeg.input(str(wav)))
        maps.append(inputs[-1]["a:0"])
    for srt, _lang, _title in subtitles or []:
        maps.append(ffmpeg.input(str(srt))["s:0"])
    kwargs: dict[str, Any] = {"acodec": "aac", "audio_bitrate": audio_bitrate, "t": f"{duration:.3f}"}
    if container in ("mp4", "m4a"):
        kwargs["movflags"] = "+faststart"
    if video_src is not None:
        kwargs["vcodec"] = "copy"
    if subtitles:
        kwargs["scodec"] = "mov_text" if container == "mp4" else "srt"
    # ffmpeg-python can't repeat a keyword: per-stream metadata goes in as extra arguments
    extra: list[str] = []
    for i, (_wav, lang, title) in enumerate(tracks):
        extra += [
            f"-metadata:s:a:{i}",
            f"language={lang}",
            f"-metadata:s:a:{i}",
            f"title={title}",
            f"-disposition:a:{i}",
            dispositions[i] if dispositions is not None else ("default" if i == 0 else "0"),
        ]
        if container in ("mp4", "m4a"):
            # ffmpeg's mp4 muxer stores `title` where its own demuxer and many players never look;
            # the handler name is what they show as the track's name
            extra += [f"-metadata:s:a:{i}", f"handler_name={title}"]
    for i, (_srt, lang, title) in enumerate(subtitles or []):
        extra += [
            f"-metadata:s:s:{i}",
            f"language={lang}",
            f"-metadata:s:s:{i}",
            f"title={title}",
            f"-disposition:s:{i}",
            "0",
        ]
    args = ffmpeg.output(*maps, str(dest), **kwargs).get_args()
    args = args[:-1] + extra + args[-1:]
    proc = subprocess.run(["ffmpeg", "-hide_banner", "-nostdin", "-y", *args], capture_output=True)
    if proc.returncode != 0:
        tail = " | ".join(proc.stderr.decode(errors="replace").strip().splitlines()[-3:])
        raise StageError(f"ffmpeg failed to mux {dest.name}: {tail}")
    return dest


def streams(path: Path) -> list[dict[str, Any]]:
    return list(ffmpeg.probe(str(path)).get("streams", []))
