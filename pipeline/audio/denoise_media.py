"""`clean_media`: a video or audio file with its speech denoised (pipeline.audio.denoise), in the same
container, the picture and the other streams copied, the cleaned track kept in sync to the sample."""

from __future__ import annotations

import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

import ffmpeg

from models.files import atomic_path
from pipeline.audio.denoise import (
    _FFMPEG,
    Cleaned,
    Progress,
    _cleaned,
    _denoise_to_wav,
    _denoiser,
    _pcm,
    _Source,
    _source,
)
from pipeline.core.errors import InputError, StageError

# container (by suffix) -> the codec its cleaned audio is re-encoded with ("pcm": as deep as the source)
CONTAINER_CODECS = {
    ".mp4": "aac", ".m4v": "aac", ".m4a": "aac", ".mov": "aac", ".3gp": "aac", ".mkv": "aac", ".mka": "aac",
    ".ts": "aac", ".m2ts": "aac", ".aac": "aac",
    ".webm": "libopus", ".ogg": "libopus", ".opus": "libopus",
    ".mp3": "libmp3lame", ".avi": "libmp3lame",
    ".wav": "pcm", ".aiff": "pcm", ".aif": "pcm", ".flac": "flac",
}  # fmt: skip
_OPUS_RATES = (8000, 12000, 16000, 24000, 48000)


def _codec_args(source: _Source, container: str) -> dict[str, Any]:
    """ffmpeg output options for the cleaned audio (output audio stream 0) in `container`."""
    codec = CONTAINER_CODECS[container]
    rate = source.info.sample_rate
    if codec == "pcm":
        return {"c:a:0": _pcm(source, big_endian=container in (".aiff", ".aif"))}
    args: dict[str, Any] = {"c:a:0": codec}
    if codec == "flac":
        if int(source.audio.get("bits_per_raw_sample") or 0) > 16 or "24" in str(source.audio.get("codec_name")):
            args["sample_fmt:a:0"] = "s32"
        return args
    lo, hi, default = (32_000, 256_000, 128_000) if codec == "libopus" else (64_000, 320_000, 192_000)
    bit_rate = int(source.audio.get("bit_rate") or 0)
    args["b:a:0"] = str(min(hi, max(lo, bit_rate)) if bit_rate else default)
    if (codec == "libopus" and rate not in _OPUS_RATES) or (codec == "libmp3lame" and rate > 48000):
        args["ar:a:0"] = 48000
    return args


def _disposition(source: _Source) -> str:
    flags = [k for k, v in (source.audio.get("disposition") or {}).items() if v == 1]
    return "+".join(flags) or "0"


def _mux(src: Path, wav: Path, dest: Path, source: _Source, container: str) -> None:
    """dest: src's streams copied, its first audio stream replaced by `wav` re-encoded for the container. Other
    streams (subtitles, data, attachments) are kept where the container takes them, else dropped."""
    base = ffmpeg.input(str(src))
    # timestamps copied as they are (-copyts), and the cleaned audio's first sample put where the source's
    # first decoded sample was: the cleaned track keeps the original's sync to the picture to the sample
    clean = ffmpeg.input(str(wav), **({"itsoffset": f"{source.start:.6f}"} if source.start else {}))
    kwargs: dict[str, Any] = {"c": "copy", "disposition:a:0": _disposition(source), **_codec_args(source, container)}
    if container in (".mp4", ".m4v", ".m4a", ".mov", ".3gp"):
        kwargs["movflags"] = "+faststart"
    others = [base[f"a:{i}"] for i in range(1, source.audio_streams)]
    # the source track's tags (language, title...) on the cleaned one; not those that described the old
    # encoding (a stale DURATION or encoder would be wrong)
    stale = {"duration", "encoder", "bps", "number_of_frames", "number_of_bytes", "_statistics_tags"}
    source_tags = (source.audio.get("tags") or {}).items()
    tags = [a for k, v in source_tags if k.lower().split("-")[0] not in stale for a in ("-metadata:s:a:0", f"{k}={v}")]
    ladder = [["s?", "d?", "t?"], ["s?"], []] + ([] if source.info.has_video else [None])
    message = ""
    for extra in ladder:
        video = [] if extra is None else [base["v?"]]
        maps = [*video, clean["a:0"], *others, *(base[k] for k in extra or [])]
        args = ffmpeg.output(*maps, str(dest), **kwargs).get_args()
        proc = subprocess.run([*_FFMPEG, "-copyts", *args[:-1], *tags, args[-1]], capture_output=True)
        if proc.returncode == 0:
            return
        message = " | ".join(proc.stderr.decode(errors="replace").strip().splitlines()[-3:])
    raise StageError(f"ffmpeg failed to write {dest.name} with the cleaned audio of {src.name}: {message}")


def clean_media(
    src: Path,
    dest: Path,
    engine: str = "auto",
    *,
    atten_lim_db: float | None = None,
    progress: Progress | None = None,
) -> Cleaned:
    """A copy of `src` (video or audio) at `dest`, in the same container (by suffix: dest must keep src's),
    with its first audio stream denoised and re-encoded with a codec the container takes (CONTAINER_CODECS),
    the video stream copied bit for bit, other audio, subtitle and data streams copied where the container
    takes them, and the cleaned audio's first sample placed where the source's first decoded sample was (the
    sync to the picture kept as ffmpeg's own re-encode keeps it). Written atomically. `engine` and
    `atten_lim_db` as for clean_audio."""
    started = time.perf_counter()
    src, dest = Path(src), Path(dest)
    container = src.suffix.lower()
    if dest.suffix.lower() != container:
        raise InputError(
            f"output {dest} is not in the container of input {src} ({container or 'no suffix'})",
            f"name the output with the suffix {container}, or write a WAV of the cleaned audio instead",
        )
    if container not in CONTAINER_CODECS:
        raise InputError(
            f"input {src} is in a container ({container or 'no suffix'}) that cleaning does not rewrite",
            f"use one of {', '.join(sorted(CONTAINER_CODECS))}, or write a WAV of the cleaned audio",
        )
    source = _source(src)
    den = _denoiser(engine, atten_lim_db)
    with tempfile.TemporaryDirectory(prefix="dubline-clean-") as work:
        wav = Path(work) / "clean.wav"
        snrs = _denoise_to_wav(src, wav, source, den, "pcm_f32le", progress)
        with atomic_path(dest, suffix=dest.suffix) as tmp:
            _mux(src, wav, tmp, source, container)
    return _cleaned(dest, den, snrs, started, source.info.duration)
