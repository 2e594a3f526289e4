"""Cleaning a noisy recording: when to (a blind SNR estimate), and how (a denoiser over the whole file).

`clean_audio` writes the first audio stream of any file ffmpeg reads, denoised, as a WAV at the source's
sample rate and channel count; `clean_media` (pipeline.audio.denoise_media) writes a copy of a video or audio
file with that stream cleaned and every other stream copied untouched. Both stream the audio through ffmpeg
pipes in 10 s blocks (decoded and resampled to the denoiser's 48 kHz by ffmpeg's soxr, and back), so an
hour-long file never sits in memory, and both publish their output atomically. The denoiser keeps the audio
aligned to the sample and exactly as long as the source's (where the container states its length in
samples), so a cleaned soundtrack stays in sync with its picture.

The SNR estimate (`estimate_snr_db`) needs no voice-activity detector: the mean power of 20 ms frames is
taken over the whole recording (frames of digital silence left out); the noise floor is the mean power of
its quietest 10 % of frames (the pauses between words); the SNR is (mean power - floor) / floor in dB.
On the project's recordings with white noise added it reads within 1 dB of the true global SNR from 0 to
20 dB; clean speech reads 25-60 dB (a hissy archive recording such as jfk.flac, 26 dB). It assumes at
least a tenth of the recording is pauses: continuous speech, music or babble with no pause reads low.

What denoising buys (benchmarks/eval/denoise.py: jfk and a lecture with white noise, babble and music at
0-10 dB): a speaker embedding closer to the clean voice in white noise (Resemblyzer cosine 0.76 noisy, 0.82
DeepFilterNet, 0.85 DSP), but no better Whisper base WER (white: 0.03 noisy, 0.13 DeepFilterNet, 0.05 DSP;
babble: 0.44, 0.78, 0.39; music: 0.05, 0.02, 0.04): Whisper hears noisy speech about as well as denoised
speech, and DeepFilterNet, which cannot tell the voice from babble, makes that worse. Clean speech denoised
keeps its WER but loses some likeness (cosine 0.87 DeepFilterNet, 0.94 DSP). Limiting DeepFilterNet's
attenuation (`atten_lim_db` about 24) narrowed its WER loss in a side run.
"""

from __future__ import annotations

import subprocess
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import IO, Any

import ffmpeg
import numpy as np

from models.base import EngineError, EngineUnavailable
from models.denoise import ENGINES, RATE, Denoiser, make_denoiser
from models.files import atomic_path
from pipeline.audio import media
from pipeline.core.errors import ConfigError, InputError, SetupError, StageError

LOW_SNR_DB = 15.0  # below this estimated SNR a recording is worth denoising before ASR or dubbing
FRAME_S = 0.02
NOISE_SHARE = 0.10  # the quietest share of frames taken as the noise floor
_SILENT_POWER = 1e-10  # -100 dBFS: frames this quiet are digital silence (padding), not room noise
_BLOCK_S = 10.0
_FFMPEG = ["ffmpeg", "-nostdin", "-hide_banner", "-loglevel", "error", "-y"]

Progress = Callable[[float, float], None]  # (seconds of audio done, seconds in all)


# --- when ------------------------------------------------------------------------------------------------


def frame_powers(samples: np.ndarray, rate: int) -> np.ndarray:
    """Mean power of each whole 20 ms frame (DC removed); (frames, channels) samples are mixed to mono."""
    n = max(1, int(round(rate * FRAME_S)))
    x = np.asarray(samples, dtype=np.float64)
    if x.ndim == 2:
        x = x.mean(axis=1)
    frames = x[: len(x) // n * n].reshape(-1, n)
    frames = frames - frames.mean(axis=1, keepdims=True)
    return np.asarray((frames**2).mean(axis=1))


def snr_from_powers(powers: np.ndarray) -> float:
    """The SNR in dB that `estimate_snr_db` reads off frame powers (100 dB for a noiseless recording)."""
    p = np.asarray(powers, dtype=np.float64)
    p = p[p > _SILENT_POWER]
    if len(p) < 10:
        return 100.0 if len(p) == 0 else 0.0
    floor_level = np.quantile(p, NOISE_SHARE)
    noise = float(p[p <= floor_level].mean())
    signal = float(p.mean()) - noise
    if noise <= 0:
        return 100.0
    return float(np.clip(10 * np.log10(max(signal, 1e-30) / noise), -30.0, 100.0))


def estimate_snr_db(samples: np.ndarray, rate: int) -> float:
    """A blind estimate of the SNR of a speech recording, dB (see the module's notes for the method)."""
    return snr_from_powers(frame_powers(samples, rate))


def needs_denoise(snr_db: float, threshold: float = LOW_SNR_DB) -> bool:
    """Whether a recording with this estimated SNR should be cleaned automatically."""
    return snr_db < threshold


# --- how -------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Cleaned:
    path: Path
    engine: dict[str, str]  # the denoiser's ModelInfo.as_dict()
    snr_before_db: float  # estimate_snr_db of the source (channels mixed)
    snr_after_db: float
    seconds: float  # wall time of the whole cleaning
    realtime_factor: float  # seconds / duration_s
    duration_s: float = 0.0  # of the audio cleaned

    def as_dict(self) -> dict[str, Any]:
        doc = asdict(self)
        doc["path"] = str(self.path)
        return doc


@dataclass(frozen=True)
class _Source:
    """The facts of a file's first audio stream that cleaning needs."""

    info: media.MediaInfo
    audio: dict[str, Any]  # ffprobe's entry for the stream
    audio_streams: int
    start: float  # time of the first decoded sample (after any priming the decoder drops), as ffmpeg reads it
    samples: int | None  # its length in samples, where the container states it exactly


def _source(src: Path) -> _Source:
    info = media.probe(src)  # InputError for a missing, empty, unreadable or silent file
    doc = ffmpeg.probe(str(src))
    audios = [s for s in doc.get("streams", []) if s.get("codec_type") == "audio"]
    a = audios[0]
    samples = None
    if a.get("duration_ts") and a.get("time_base") == f"1/{info.sample_rate}":
        samples = int(a["duration_ts"])
    if info.sample_rate <= 0 or info.channels <= 0:
        raise InputError(f"input {src} has an audio stream without a sample rate or channels", "re-encode it")
    return _Source(info, a, len(audios), _first_sample_time(src, float(a.get("start_time") or 0.0)), samples)


def _first_sample_time(src: Path, fallback: float) -> float:
    """The time of the first sample ffmpeg decodes from the first audio stream: the stream's start, plus the
    encoder delay its decoder drops (an Opus pre-skip, a LAME delay, an AAC priming frame)."""
    try:
        frames = ffmpeg.probe(
            str(src),
            select_streams="a:0",
            show_frames=None,
            read_intervals="%+#8",
            show_entries="frame=best_effort_timestamp_time,pts_time",
        ).get("frames", [])
    except ffmpeg.Error:
        return fallback
    for frame in frames:
        for key in ("best_effort_timestamp_time", "pts_time"):
            if frame.get(key) not in (None, "N/A"):
                return float(frame[key])
    return fallback


def _denoiser(engine: str, atten_lim_db: float | None) -> Denoiser:
    if engine not in ENGINES:
        raise ConfigError(f"unknown denoise engine {engine!r}", f"choose one of {', '.join(ENGINES)}")
    if atten_lim_db is not None and atten_lim_db < 0:
        raise ConfigError(f"attenuation limit {atten_lim_db} dB is negative", "give 0 dB or more (e.g. 24)")
    try:
        return make_denoiser(engine, atten_lim_db=atten_lim_db)
    except EngineUnavailable as e:
        raise SetupError(
            f"the {engine} denoiser is not usable here: {e}", "run `make setup`, or use --engine dsp"
        ) from None


def _pcm(src: _Source, big_endian: bool = False) -> str:
    """A PCM codec as deep as the source: 16-bit, 24-bit or float."""
    codec = str(src.audio.get("codec_name", ""))
    bits = int(src.audio.get("bits_per_raw_sample") or src.audio.get("bits_per_sample") or 0)
    if codec.startswith("pcm_f") or (codec.startswith("pcm_s32") and not bits):
        kind = "f32"
    elif bits > 16 or "24" in codec:
        kind = "s24"
    else:
        kind = "s16"
    return f"pcm_{kind}{'be' if big_endian else 'le'}"


class _Powers:
    """Frame powers of a signal that arrives in blocks."""

    def __init__(self) -> None:
        self._n = int(round(RATE * FRAME_S))
        self._pending = np.zeros(0, np.float32)
        self._parts: list[np.ndarray] = []

    def add(self, x: np.ndarray) -> None:
        x = np.concatenate([self._pending, x])
        whole = len(x) // self._n * self._n
        self._parts.append(frame_powers(x[:whole], RATE))
        self._pending = x[whole:]

    def snr_db(self) -> float:
        return snr_from_powers(np.concatenate(self._parts) if self._parts else np.zeros(0))


def _tail(f: IO[bytes]) -> str:
    f.seek(0)
    lines = f.read().decode(errors="replace").strip().splitlines()
    return " | ".join(lines[-3:]) or "no message"


def _denoise_to_wav(
    src: Path, dest: Path, source: _Source, den: Denoiser, codec: str, progress: Progress | None
) -> tuple[float, float]:
    """Stream the first audio stream of src through `den` into dest (a WAV at the source's rate and channel
    count, `codec`); returns the SNR estimates (before, after)."""
    rate, channels = source.info.sample_rate, source.info.channels
    decode = ffmpeg.input(str(src))["a:0"].filter("aresample", RATE, resampler="soxr")
    decode = decode.output("pipe:", format="f32le", acodec="pcm_f32le", ac=channels, ar=RATE)
    encode = ffmpeg.input("pipe:", format="f32le", ar=RATE, ac=channels)
    if rate != RATE:
        encode = encode.filter("aresample", rate, resampler="soxr")
    if source.samples is not None:  # exactly the source's length, not one resampler's rounding more or less
        encode = encode.filter("apad", whole_len=source.samples).filter("atrim", end_sample=source.samples)
    encode = encode.output(str(dest), format="wav", acodec=codec, ar=rate, ac=channels, rf64="auto")
    streams = [den.stream() for _ in range(channels)]
    pending = [np.zeros(0, np.float32) for _ in range(channels)]
    before, after = _Powers(), _Powers()
    block = int(_BLOCK_S * RATE) * channels * 4
    done = 0

    with tempfile.TemporaryFile() as dec_err, tempfile.TemporaryFile() as enc_err:
        dec = subprocess.Popen([*_FFMPEG, *decode.get_args()], stdout=subprocess.PIPE, stderr=dec_err)
        enc = subprocess.Popen([*_FFMPEG, *encode.get_args()], stdin=subprocess.PIPE, stderr=enc_err)
        assert dec.stdout is not None and enc.stdin is not None

        def write(outs: list[np.ndarray]) -> None:
            for c in range(channels):
                pending[c] = np.concatenate([pending[c], outs[c]])
            n = min(len(p) for p in pending)
            if n:
                y = np.stack([p[:n] for p in pending], axis=1)
                after.add(y.mean(axis=1))
                enc.stdin.write(np.ascontiguousarray(y, dtype=np.float32).tobytes())  # type: ignore[union-attr]
                for c in range(channels):
                    pending[c] = pending[c][n:]

        try:
            rest = b""
            while True:
                buf = dec.stdout.read(block)
                if not buf:
                    break
                buf = rest + buf
                cut = len(buf) - len(buf) % (4 * channels)
                buf, rest = buf[:cut], buf[cut:]
                x = np.frombuffer(buf, np.float32).reshape(-1, channels)
                before.add(x.mean(axis=1))
                write([s.feed(x[:, c]) for c, s in enumerate(streams)])
                done += len(x)
                if progress is not None:
                    progress(done / RATE, source.info.duration)
            write([s.end() for s in streams])
            enc.stdin.close()
        except BrokenPipeError:
            pass  # the encoder stopped: its message is read below
        except EngineError as e:
            raise StageError(f"the denoiser failed on {src.name}: {e}") from None
        finally:
            if not enc.stdin.closed:
                try:
                    enc.stdin.close()
                except BrokenPipeError:
                    pass
            dec.stdout.close()
            dec_rc, enc_rc = dec.wait(), enc.wait()
        if dec_rc != 0 or done == 0:
            raise InputError(
                f"the audio of {src} could not be decoded ({_tail(dec_err) if dec_rc else 'no samples'})",
                "check that the file plays, or re-encode it",
            )
        if enc_rc != 0:
            raise StageError(f"ffmpeg failed to write the cleaned audio of {src.name}: {_tail(enc_err)}")
    return before.snr_db(), after.snr_db()


def _cleaned(dest: Path, den: Denoiser, snrs: tuple[float, float], started: float, duration: float) -> Cleaned:
    seconds = time.perf_counter() - started
    return Cleaned(
        path=dest,
        engine=den.info.as_dict(),
        snr_before_db=round(snrs[0], 2),
        snr_after_db=round(snrs[1], 2),
        seconds=round(seconds, 3),
        realtime_factor=round(seconds / max(duration, 1e-9), 4),
        duration_s=round(duration, 3),
    )


def clean_audio(
    src: Path,
    dest: Path,
    engine: str = "auto",
    *,
    atten_lim_db: float | None = None,
    progress: Progress | None = None,
) -> Cleaned:
    """Denoise the first audio stream of `src` (any file ffmpeg reads) into `dest`, a WAV at the source's
    sample rate and channel count (16-bit, 24-bit or float as the source), written atomically. `engine`:
    auto, deepfilternet or dsp (models.denoise.make_denoiser). InputError for a missing, unreadable or
    silent input. `atten_lim_db` caps how much the denoiser takes off (None: the engine's own limit; a
    limited DeepFilterNet, about 24 dB, leaves speech that ASR hears better and a voice closer to the
    speaker's: see benchmarks/eval/denoise.py)."""
    started = time.perf_counter()
    src, dest = Path(src), Path(dest)
    source = _source(src)
    den = _denoiser(engine, atten_lim_db)
    with atomic_path(dest, suffix=".wav") as tmp:
        snrs = _denoise_to_wav(src, tmp, source, den, _pcm(source), progress)
    return _cleaned(dest, den, snrs, started, source.info.duration)
