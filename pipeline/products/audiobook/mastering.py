"""A chapter's audio: its narration assembled from clips, mastered to ACX's submission rules, and measured
against them, pass or fail.

The measurements follow Audacity's ACX check (what ACX's reviewers use):

- RMS is unweighted over the whole file, 20*log10(sqrt(mean(x^2))) in dBFS: a full-scale square wave is
  0 dBFS, a full-scale sine -3.01 dBFS.
- Peak is the sample peak, 20*log10(max|x|) in dBFS (mastering leaves 0.5 dB below the limit for the peaks
  between samples).
- The noise floor is the RMS of the quietest 500 ms window (10 ms hop) holding no digital silence (a 10 ms
  frame below -110 dBFS, as inserted silence is): the room tone. When every window holds some, the quietest
  window of all.
- Head and tail are the time before the first and after the last 10 ms frame whose RMS is above -50 dBFS.

Every pass reads and writes in blocks: a chapter can be an hour (160 M samples), and nothing here holds it
whole. The same input gives byte-identical output.
"""

from __future__ import annotations

import math
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import ffmpeg
import numpy as np
import soundfile as sf
from pydantic import BaseModel, Field
from scipy.ndimage import minimum_filter1d, uniform_filter1d
from scipy.signal import lfilter, resample_poly

from models.files import atomic_path
from pipeline.audio import media
from pipeline.audio.loudness import profile
from pipeline.core.errors import StageError

RATE = 44100  # ACX's sample rate
SPEECH_DB = -50.0  # a 10 ms frame above this is sound: head and tail end where it starts and stops
DIGITAL_SILENCE_DB = -110.0  # a 10 ms frame below this is digital silence, not room tone
FLOOR_WINDOW_S = 0.5
_RMS_RANGE = profile("acx").rms_range or (-23.0, -18.0)

_BLOCK = 1 << 20  # samples per block read or written (~24 s)
_ATTACK = 353  # limiter: samples per smoothing box (8 ms; two in a row, so the gain falls over 16 ms)
_HOLD = 1324  # limiter: samples a reduction is held after the peak (30 ms) before it releases over 16 ms
_MARGIN = _HOLD + 2 * _ATTACK + 16  # context each side of a block that the limiter's gain depends on
_PRE_S, _POST_S = 0.04, 0.15  # kept around the narration when trimming: soft onsets, decays
_BED_CHUNK = 1 << 16  # room tone is made in chunks seeded by (seed, chunk index): the same at any block size
_BED_WARM = 512  # filter warm-up per chunk
_BED_POLE = math.exp(-2 * math.pi * 1000.0 / RATE)  # one-pole low-pass at 1 kHz: a room's dark hiss


class AcxLimits(BaseModel):
    """ACX's submission rules (https://www.acx.com/help/acx-audio-submission-requirements/201456300)."""

    rms_min_db: float = _RMS_RANGE[0]
    rms_max_db: float = _RMS_RANGE[1]
    peak_max_db: float = profile("acx").true_peak
    noise_floor_max_db: float = -60.0
    head_min_s: float = 0.5
    head_max_s: float = 1.0
    tail_min_s: float = 1.0
    tail_max_s: float = 5.0
    duration_max_s: float = 120 * 60.0
    sample_rate: int = RATE


class AcxReport(BaseModel):
    """One file measured against ACX's rules; `failures` says in words what is off ([] when it passes)."""

    rms_db: float
    peak_db: float
    noise_floor_db: float
    head_s: float
    tail_s: float
    duration_s: float
    sample_rate: int
    channels: int = 1
    digital_silence_s: float = 0.0  # 10 ms frames of digital silence (room tone is never that quiet)
    passed: bool
    failures: list[str] = Field(default_factory=list)
    limits: AcxLimits = Field(default_factory=AcxLimits)


def _db(mean_square: float) -> float:
    return 10 * math.log10(mean_square) if mean_square > 0 else -200.0


def _db_frames(power: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore"):
        return np.where(power > 0, 10 * np.log10(np.maximum(power, 1e-30)), -200.0)


@dataclass
class _Scan:
    rate: int
    channels: int
    samples: int
    hop: int  # samples per 10 ms frame
    sums: np.ndarray  # sum of squares per frame (all channels; the last frame may be partial)
    counts: np.ndarray  # samples per frame times channels
    peak: float

    @property
    def power(self) -> np.ndarray:
        return self.sums / np.maximum(self.counts, 1)


def _open(path: Path) -> sf.SoundFile:
    try:
        return sf.SoundFile(str(path))
    except (RuntimeError, OSError) as e:
        raise StageError(f"cannot read the audio {path}: {e}") from None


def _scan(path: Path) -> _Scan:
    """Per-10-ms-frame energies and the sample peak, read in blocks."""
    with _open(path) as f:
        rate, channels = f.samplerate, f.channels
        hop = max(1, round(rate / 100))
        sums: list[np.ndarray] = []
        counts: list[np.ndarray] = []
        peak, samples = 0.0, 0
        for block in f.blocks(blocksize=hop * max(1, _BLOCK // hop), dtype="float32", always_2d=True):
            sq = np.square(block, dtype=np.float64).sum(axis=1)
            samples += len(sq)
            peak = max(peak, float(np.max(np.abs(block))) if block.size else 0.0)
            whole = len(sq) // hop * hop
            sums.append(sq[:whole].reshape(-1, hop).sum(axis=1))
            counts.append(np.full(whole // hop, hop * channels))
            if whole < len(sq):
                sums.append(np.array([sq[whole:].sum()]))
                counts.append(np.array([(len(sq) - whole) * channels]))
    empty = [np.zeros(0)]
    return _Scan(rate, channels, samples, hop, np.concatenate(sums or empty), np.concatenate(counts or empty), peak)


def _noise_floor(scan: _Scan) -> float:
    """RMS (dBFS) of the quietest 500 ms window holding no digital silence (else of any window)."""
    width = max(1, round(FLOOR_WINDOW_S * scan.rate / scan.hop))
    if len(scan.sums) <= width:
        return _db(float(scan.sums.sum()) / max(1, int(scan.counts.sum())))
    cum_e = np.concatenate([[0.0], np.cumsum(scan.sums)])
    cum_n = np.concatenate([[0], np.cumsum(scan.counts)])
    silent = np.concatenate([[0], np.cumsum(_db_frames(scan.power) < DIGITAL_SILENCE_DB)])
    power = (cum_e[width:] - cum_e[:-width]) / (cum_n[width:] - cum_n[:-width])
    clean = (silent[width:] - silent[:-width]) == 0
    return _db(float(np.min(power[clean] if clean.any() else power)))


def measure_acx(path: Path, limits: AcxLimits | None = None) -> AcxReport:
    """Measure a file against ACX's rules (see the module's docstring for how each figure is taken)."""
    lim = limits or AcxLimits()
    scan = _scan(path)
    rate, n = scan.rate, scan.samples
    level = _db_frames(scan.power)
    loud = np.flatnonzero(level > SPEECH_DB)
    head = loud[0] * scan.hop / rate if loud.size else n / rate
    tail = max(0, n - (int(loud[-1]) + 1) * scan.hop) / rate if loud.size else n / rate
    rms = _db(float(scan.sums.sum()) / max(1, n * scan.channels))
    peak = 20 * math.log10(scan.peak) if scan.peak > 0 else -200.0
    floor = _noise_floor(scan) if n else -200.0
    duration = n / rate
    fails: list[str] = []
    if not loud.size:
        fails.append(f"no narration: nothing above {SPEECH_DB:g} dBFS")
    if rms < lim.rms_min_db:
        fails.append(f"RMS {rms:.1f} dBFS below {lim.rms_min_db:g} dBFS")
    elif rms > lim.rms_max_db:
        fails.append(f"RMS {rms:.1f} dBFS above {lim.rms_max_db:g} dBFS")
    if peak > lim.peak_max_db:
        fails.append(f"peak {peak:.1f} dBFS above {lim.peak_max_db:g} dBFS")
    if floor > lim.noise_floor_max_db:
        fails.append(f"noise floor {floor:.1f} dBFS above {lim.noise_floor_max_db:g} dBFS")
    for what, got, lo, hi in (
        ("head", head, lim.head_min_s, lim.head_max_s),
        ("tail", tail, lim.tail_min_s, lim.tail_max_s),
    ):
        if loud.size and not lo <= got <= hi:
            fails.append(f"{what} room tone {got:.2f} s outside {lo:g}-{hi:g} s")
    if duration > lim.duration_max_s:
        fails.append(
            f"length {duration / 60:.1f} min over ACX's {lim.duration_max_s / 60:g} min a file (the packager does "
            "not split chapters: split this chapter in the manuscript)"
        )
    if rate != lim.sample_rate:
        fails.append(f"sample rate {rate} Hz, not {lim.sample_rate} Hz")
    return AcxReport(
        rms_db=round(rms, 2),
        peak_db=round(peak, 2),
        noise_floor_db=round(floor, 2),
        head_s=round(head, 3),
        tail_s=round(tail, 3),
        duration_s=round(duration, 3),
        sample_rate=rate,
        channels=scan.channels,
        digital_silence_s=round(float(np.sum(scan.counts[level < DIGITAL_SILENCE_DB])) / scan.channels / rate, 2)
        if n
        else 0.0,
        passed=not fails,
        failures=fails,
        limits=lim,
    )


def _float_wav(path: Path, rate: int) -> sf.SoundFile:
    """A mono 32-bit float WAV for writing, without libsndfile's PEAK chunk (it stamps the time of day into
    the header, and the same audio would give different bytes)."""
    f = sf.SoundFile(str(path), "w", rate, 1, subtype="FLOAT", format="WAV")
    try:
        sf._snd.sf_command(f._file, 0x1050, sf._ffi.NULL, 0)  # SFC_SET_ADD_PEAK_CHUNK, SF_FALSE
    except AttributeError:  # pragma: no cover - a soundfile without its cffi handles: keep the chunk
        pass
    return f


def _clip(path: Path, rate: int) -> np.ndarray:
    try:
        data, sr = sf.read(str(path), dtype="float32", always_2d=True)
    except (RuntimeError, OSError) as e:
        raise StageError(f"cannot read the narration clip {path}: {e}") from None
    mono = data.mean(axis=1, dtype=np.float32)
    if sr != rate and mono.size:
        g = math.gcd(rate, sr)
        mono = resample_poly(mono, rate // g, sr // g).astype(np.float32)
    return mono


def assemble(parts: Sequence[tuple[Path, float]], dest: Path, rate: int = RATE) -> float:
    """Write a chapter's raw narration to `dest` (mono float WAV at `rate`): each clip (any WAV, any rate or
    channels), resampled and downmixed, then its pause in seconds of digital silence. Returns the seconds
    written. Clip by clip: only one clip is ever in memory."""
    total = 0
    with atomic_path(dest, suffix=".wav") as tmp, _float_wav(tmp, rate) as out:
        for clip, pause in parts:
            audio = _clip(Path(clip), rate)
            out.write(audio)
            gap = max(0, round(pause * rate))
            out.write(np.zeros(gap, dtype=np.float32))
            total += len(audio) + gap
    return total / rate


@dataclass(frozen=True)
class _Plan:
    start: int  # the narration kept: src samples [start, end)
    end: int
    head: int  # samples of room tone before it and after it
    tail: int
    ceiling: float  # linear
    room_rms: float  # linear
    seed: int

    @property
    def total(self) -> int:
        return self.head + (self.end - self.start) + self.tail


def _trim_and_gain(scan: _Scan, head: int, tail: int, target_db: float, room_db: float) -> tuple[int, int, float]:
    """The narration's extent (sound above -50 dBFS once the gain is applied, with a little before and after)
    and the linear gain that puts the whole file's RMS, room tone included, at the target."""
    level = _db_frames(scan.power)
    pre, post = round(_PRE_S * scan.rate), round(_POST_S * scan.rate)
    threshold = DIGITAL_SILENCE_DB
    start = end = 0
    gain = 1.0
    for _ in range(3):
        loud = np.flatnonzero(level > threshold)
        if not loud.size:
            raise StageError("the chapter's narration is silent: there is nothing to master")
        start = max(0, int(loud[0]) * scan.hop - pre)
        end = min(scan.samples, (int(loud[-1]) + 1) * scan.hop + post)
        energy = float(scan.sums[start // scan.hop : (end - 1) // scan.hop + 1].sum())
        total = head + (end - start) + tail
        gain = math.sqrt(total * (10 ** (target_db / 10) - 10 ** (room_db / 10)) / energy)
        threshold = SPEECH_DB - 20 * math.log10(gain)
    return start, end, gain


def _limit(x: np.ndarray, ceiling: float) -> np.ndarray:
    """Look-ahead peak limiter: the gain each sample needs to stay under the ceiling, held for _HOLD samples
    after a peak and reached _ATTACK*2 samples ahead of it (a running minimum, then two moving averages, which
    never rise above the running minimum's window); |result| <= ceiling. The first and last _MARGIN samples
    lack context (the caller discards them)."""
    mag = np.abs(x)
    over = mag > ceiling
    if not over.any():
        return x
    need = np.ones_like(mag)
    np.divide(np.float32(ceiling), mag, out=need, where=over)
    # min over [n - _HOLD, n + 2*_ATTACK - 2]: every sample the two causal boxes below average over sees n
    held = minimum_filter1d(need, _HOLD + 2 * _ATTACK - 1, mode="nearest", origin=(_HOLD - 2 * _ATTACK + 2) // 2)
    smooth = uniform_filter1d(held, _ATTACK, mode="nearest", origin=(_ATTACK - 1) // 2)
    smooth = uniform_filter1d(smooth, _ATTACK, mode="nearest", origin=(_ATTACK - 1) // 2)
    return x * np.minimum(smooth, need)  # the minimum only removes rounding


def _bed_chunk(seed: int, index: int, rms: float) -> np.ndarray:
    white = np.random.default_rng([seed % 2**32, index]).standard_normal(_BED_CHUNK + _BED_WARM)
    shaped = lfilter([1 - _BED_POLE], [1, -_BED_POLE], white)[_BED_WARM:]
    return (shaped * (rms * math.sqrt((1 + _BED_POLE) / (1 - _BED_POLE)))).astype(np.float32)


def _bed(plan: _Plan, start: int, end: int) -> np.ndarray:
    """Room tone for output samples [start, end): the same samples whatever the blocks."""
    first, last = start // _BED_CHUNK, (end - 1) // _BED_CHUNK
    noise = np.concatenate([_bed_chunk(plan.seed, k, plan.room_rms) for k in range(first, last + 1)])
    return noise[start - first * _BED_CHUNK : end - first * _BED_CHUNK]


def _speech(src: sf.SoundFile, plan: _Plan, start: int, end: int) -> np.ndarray:
    """Output samples [start, end) of the narration alone (zero in the head and tail and outside the file)."""
    out = np.zeros(end - start, dtype=np.float32)
    offset = plan.start - plan.head  # output sample n is src sample n + offset
    lo, hi = max(start + offset, plan.start), min(end + offset, plan.end)
    if hi > lo:
        src.seek(lo)
        out[lo - offset - start : hi - offset - start] = src.read(hi - lo, dtype="float32")
    return out


def _render(src: Path, dest: Path, plan: _Plan, gain: float, block: int = _BLOCK) -> float:
    """Write the mastered chapter (24-bit PCM) and return its RMS in dBFS."""
    sum_sq = 0.0
    g = np.float32(gain)
    with sf.SoundFile(str(src)) as inp, sf.SoundFile(str(dest), "w", RATE, 1, subtype="PCM_24", format="WAV") as out:
        for start in range(0, plan.total, block):
            end = min(plan.total, start + block)
            voice = _speech(inp, plan, start - _MARGIN, end + _MARGIN) * g
            y = _limit(voice, plan.ceiling)[_MARGIN : _MARGIN + end - start] + _bed(plan, start, end)
            out.write(y)
            sum_sq += float(np.square(y, dtype=np.float64).sum())
    return _db(sum_sq / max(1, plan.total))


def _mono_44k(src: Path, work: Path) -> Path:
    """`src` itself when it is 44.1 kHz mono, else a float copy resampled (soxr) and downmixed by ffmpeg."""
    with _open(src) as f:
        if f.samplerate == RATE and f.channels == 1:
            return src
    dest = work / "mono.wav"
    stream = ffmpeg.input(str(src)).audio.filter("aresample", RATE, resampler="soxr")
    media.run(ffmpeg.output(stream, str(dest), ac=1, ar=RATE, acodec="pcm_f32le"), f"resample {src.name}")
    return dest


def master(
    src: Path,
    dest: Path,
    *,
    head_s: float = 0.75,
    tail_s: float = 2.5,
    rms_target_db: float = -20.0,
    peak_ceiling_db: float = -3.5,
    room_tone_db: float = -72.0,
    seed: int = 0,
) -> AcxReport:
    """Master a chapter's narration to ACX's rules and write `dest` (44.1 kHz mono 24-bit WAV, atomically):
    leading and trailing silence trimmed; `head_s` and `tail_s` of room tone added; a room-tone bed (shaped
    noise at `room_tone_db` RMS, seeded) under the whole file, so the pauses carry the same floor as the head;
    the gain that puts the RMS at `rms_target_db`; peaks limited to `peak_ceiling_db` (look-ahead limiter; the
    gain is raised again, up to three times, when the limiter lowers the RMS). Returns dest measured. A
    chapter over 120 minutes is mastered but fails (the packager does not split chapters)."""
    if room_tone_db >= rms_target_db - 20:
        raise ValueError(f"room tone {room_tone_db} dB must lie well below the RMS target {rms_target_db} dB")
    head, tail = round(head_s * RATE), round(tail_s * RATE)
    with tempfile.TemporaryDirectory(prefix="dubline-master-") as work:
        mono = _mono_44k(Path(src), Path(work))
        start, end, gain = _trim_and_gain(_scan(mono), head, tail, rms_target_db, room_tone_db)
        plan = _Plan(start, end, head, tail, 10 ** (peak_ceiling_db / 20), 10 ** (room_tone_db / 20), seed)
        with atomic_path(Path(dest), suffix=".wav") as tmp:
            for _ in range(4):
                rms = _render(mono, tmp, plan, gain)
                if abs(rms - rms_target_db) <= 0.1:
                    break
                gain *= 10 ** ((rms_target_db - rms) / 20)
    return measure_acx(Path(dest))
