"""Loudness measurement (ITU-R BS.1770-4 through ffmpeg's ebur128) and normalization to a delivery profile.

Integrated-loudness profiles use ffmpeg's loudnorm in two passes, linear where the true-peak ceiling
allows; the audiobook profile (ACX) sets the RMS and limits the peaks. Every result is measured again,
and the report says whether it meets the profile.
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass
from pathlib import Path

import ffmpeg
import numpy as np
import soundfile as sf

from pipeline.audio import media
from pipeline.core.errors import ConfigError, StageError


@dataclass(frozen=True)
class Profile:
    name: str
    integrated: float | None  # LUFS / LKFS target (None for ACX)
    true_peak: float  # ceiling, dBTP (ACX: sample peak, dBFS)
    tolerance: float = 0.5  # LU
    rms_range: tuple[float, float] | None = None  # ACX: dBFS


PROFILES = {
    "ebu_r128": Profile("ebu_r128", -23.0, -1.0),
    "atsc_a85": Profile("atsc_a85", -24.0, -2.0),
    "streaming": Profile("streaming", -27.0, -2.0),
    "acx": Profile("acx", None, -3.0, rms_range=(-23.0, -18.0)),
    "none": Profile("none", None, 0.0),
}


def profile(name: str) -> Profile:
    try:
        return PROFILES[name]
    except KeyError:
        raise ConfigError(f"unknown loudness profile {name!r}", f"use one of {', '.join(PROFILES)}") from None


@dataclass(frozen=True)
class Measurement:
    integrated_lufs: float
    lra_lu: float
    true_peak_dbtp: float
    rms_dbfs: float
    sample_peak_dbfs: float

    def meets(self, p: Profile) -> bool:
        if p.name == "none":
            return True
        if p.rms_range is not None:
            lo, hi = p.rms_range
            return lo <= self.rms_dbfs <= hi and self.sample_peak_dbfs <= p.true_peak + 1e-6
        assert p.integrated is not None
        return abs(self.integrated_lufs - p.integrated) <= p.tolerance and self.true_peak_dbtp <= p.true_peak + 0.05

    def as_dict(self) -> dict[str, float]:
        return {k: round(float(v), 2) for k, v in asdict(self).items()}


_SUMMARY = {
    "integrated": re.compile(r"I:\s+(-?[\d.]+|-inf) LUFS"),
    "lra": re.compile(r"LRA:\s+(-?[\d.]+) LU"),
    "peak": re.compile(r"Peak:\s+(-?[\d.]+|-inf) dBFS"),
}


def _rms_and_peak(path: Path, block: int = 1 << 18) -> tuple[float, float]:
    """RMS (over every sample of every channel) and sample peak, read in blocks: a programme's length of float
    samples is never held at once (a 10-minute stereo track at 48 kHz was 230 MB as float32, and its float64
    square another 460 MB)."""
    total, count, peak = 0.0, 0, 0.0
    for chunk in sf.blocks(str(path), blocksize=block, dtype="float32", always_2d=True):
        if chunk.size:
            total += float(np.dot(chunk.ravel().astype(np.float64), chunk.ravel().astype(np.float64)))
            count += chunk.size
            peak = max(peak, float(np.max(np.abs(chunk))))
    return (float(np.sqrt(total / count)) if count else 0.0), peak


def measure(path: Path) -> Measurement:
    stream = ffmpeg.input(str(path)).audio.filter("ebur128", peak="true")
    try:
        _, err = ffmpeg.output(stream, "-", f="null").run(capture_stdout=True, capture_stderr=True)
    except ffmpeg.Error as e:
        raise StageError(
            f"could not measure the loudness of {path.name}: {(e.stderr or b'').decode()[-200:]}"
        ) from None
    text = err.decode(errors="replace")
    summary = text[text.rfind("Summary:") :]

    def value(key: str) -> float:
        m = _SUMMARY[key].search(summary)
        if not m:
            raise StageError(f"ffmpeg's ebur128 gave no {key} figure for {path.name}")
        return float("-inf") if m.group(1) == "-inf" else float(m.group(1))

    rms, peak = _rms_and_peak(path)
    return Measurement(
        value("integrated"),
        value("lra"),
        value("peak"),
        20 * np.log10(rms) if rms > 0 else -200.0,
        20 * np.log10(peak) if peak > 0 else -200.0,
    )


def normalize(src: Path, dest: Path, p: Profile, rate: int) -> tuple[Measurement, Measurement]:
    """Write `src` normalized to the profile as PCM WAV at `rate`; returns (before, after)."""
    before = measure(src)
    if p.name == "none" or before.integrated_lufs == float("-inf"):
        media.run(
            ffmpeg.output(ffmpeg.input(str(src)).audio, str(dest), ar=rate, acodec="pcm_s16le"), f"copy {src.name}"
        )
        return before, measure(dest)
    if p.rms_range is not None:
        target_rms = sum(p.rms_range) / 2
        gain_db = target_rms - before.rms_dbfs
        limit = 10 ** ((p.true_peak - 0.5) / 20)
        stream = (
            ffmpeg.input(str(src))
            .audio.filter("volume", f"{gain_db:.3f}dB")
            .filter("alimiter", limit=limit, level="disabled", attack=5, release=50)
        )
        media.run(ffmpeg.output(stream, str(dest), ar=rate, acodec="pcm_s16le"), f"master {src.name} for ACX")
        return before, measure(dest)
    assert p.integrated is not None
    gain_db = p.integrated - before.integrated_lufs
    if before.true_peak_dbtp + gain_db <= p.true_peak - 0.3:  # a plain gain meets both targets
        stream = ffmpeg.input(str(src)).audio.filter("volume", f"{gain_db:.3f}dB")
        media.run(ffmpeg.output(stream, str(dest), ar=rate, acodec="pcm_s16le"), f"normalize {src.name}")
        return before, measure(dest)
    common = {"I": p.integrated, "TP": p.true_peak - 0.3, "LRA": 20}
    first = ffmpeg.input(str(src)).audio.filter("loudnorm", print_format="json", **common)
    try:
        _, err = ffmpeg.output(first, "-", f="null").run(capture_stdout=True, capture_stderr=True)
    except ffmpeg.Error as e:
        raise StageError(f"loudnorm could not analyse {src.name}: {(e.stderr or b'').decode()[-200:]}") from None
    text = err.decode(errors="replace")
    stats = json.loads(text[text.rfind("{") : text.rfind("}") + 1])
    second = ffmpeg.input(str(src)).audio.filter(
        "loudnorm",
        linear="true",
        print_format="summary",
        measured_I=stats["input_i"],
        measured_TP=stats["input_tp"],
        measured_LRA=stats["input_lra"],
        measured_thresh=stats["input_thresh"],
        offset=stats["target_offset"],
        **common,
    )
    media.run(ffmpeg.output(second, str(dest), ar=rate, acodec="pcm_s16le"), f"normalize {src.name}")
    return before, measure(dest)
