"""WORLD post-processing of synthesized speech: F0 shifted and its range widened or narrowed, nothing else.

Engines that cannot move pitch themselves (Piper) or cannot change the F0 range (Pico) get what their
markup cannot do here, after synthesis. The WORLD vocoder (pyworld) splits a clip into F0, spectral envelope
(CheapTrick) and aperiodicity (D4C); only F0 is changed, in the log domain around the clip's own median (F0
found by Praat: see praat_f0_at), and the clip is resynthesized with the same frames, so its duration, its
words and the spectral envelope that carries speaker identity stay. Measured on Pico and Piper English
sentences: F0 median and range move by the ratio asked within 3 % (range within 5-15 %), the sample count
is unchanged, Resemblyzer cosine to the original 0.92-0.98, 0.1-0.16 x real time. pyworld and parselmouth
are imported lazily.

`apply_prosody_post(engine_name, wav, prosody)` decides, per engine, which part of a Prosody its synthesis
did not already apply and shapes the clip in place.
"""

from __future__ import annotations

import math
import shutil
from pathlib import Path
from typing import Any

import numpy as np

from models.base import EngineError, EngineUnavailable, Prosody
from models.files import atomic_path

# Within these of 1.0 a control is treated as "no change": WORLD resynthesis is not free (it costs about
# 0.1-0.3 x real time and a little buzz), so a no-op is a copy.
PITCH_TOLERANCE = 0.01  # 0.17 semitone
RANGE_TOLERANCE = 0.02
FRAME_PERIOD_MS = 5.0
F0_FLOOR = 55.0
F0_CEIL = 600.0  # Hz: the F0 search range (low male voices to children)

# What each engine's own controls do with a Prosody (models.pico, models.espeak, models.piper): the rest is
# WORLD's job here.
#   pico: <speed>, <pitch>, <volume> markup; no range control.
#   espeak: SSML <prosody rate pitch range volume>.
#   piper: length_scale and volume; no pitch control at all.
#   kokoro (models/kokoro.py): speed and a gain, and it runs its own WORLD pass for pitch and range.
NATIVE_CONTROLS: dict[str, frozenset[str]] = {
    "pico": frozenset({"rate", "pitch", "volume"}),
    "espeak": frozenset({"rate", "pitch", "pitch_range", "volume"}),
    "piper": frozenset({"rate", "volume"}),
    "kokoro": frozenset({"rate", "pitch", "pitch_range", "volume"}),
    # a cloned voice (models/cloning/profiles.py ProfileTTS) shapes F0 in its own WORLD conversion
    "clone-kokoro": frozenset({"rate", "pitch", "pitch_range", "volume"}),
    "clone-kokoro+world": frozenset({"rate", "pitch", "pitch_range", "volume"}),
    # knn-vc (models/cloning/knn_backend.py) moves the F0 its conversion aims at
    "clone-knn-vc": frozenset({"rate", "pitch", "pitch_range", "volume"}),
}
DEFAULT_NATIVE: frozenset[str] = frozenset({"rate", "volume"})  # an unknown engine: assume the least


def _pyworld() -> Any:
    try:
        import warnings

        with warnings.catch_warnings():  # pyworld imports pkg_resources, which warns
            warnings.simplefilter("ignore")
            import pyworld
    except ImportError as e:  # pragma: no cover - a dependency of the project
        raise EngineUnavailable("pyworld is not installed; run `make setup`") from e
    return pyworld


def _is_identity(pitch: float, pitch_range: float) -> bool:
    return abs(pitch - 1.0) < PITCH_TOLERANCE and abs(pitch_range - 1.0) < RANGE_TOLERANCE


def shape_contour(f0: np.ndarray, pitch: float, pitch_range: float) -> np.ndarray:
    """The new F0 contour: voiced frames scaled in log-frequency around their median by `pitch_range`, then
    moved by `pitch`; unvoiced frames (0) stay unvoiced. Pure numpy, so testable without audio."""
    out = np.array(f0, dtype=np.float64, copy=True)
    voiced = out > 0
    if not voiced.any():
        return out
    log_f0 = np.log(out[voiced])
    centre = float(np.median(log_f0))
    out[voiced] = np.exp(centre + math.log(pitch) + pitch_range * (log_f0 - centre))
    return out


def _read_mono(path: Path) -> tuple[np.ndarray, int, str]:
    import soundfile as sf

    try:
        info = sf.info(str(path))
        audio, sr = sf.read(str(path), dtype="float64", always_2d=True)
    except (RuntimeError, OSError) as e:  # soundfile raises LibsndfileError (a RuntimeError)
        raise EngineError(f"worldfx: cannot read {path}: {e}") from e
    return audio.mean(axis=1), int(sr), str(info.subtype)


def _write_atomic(path: Path, audio: np.ndarray, sr: int, subtype: str) -> None:
    import soundfile as sf

    with atomic_path(path, suffix=".wav") as tmp:
        sf.write(str(tmp), audio, sr, subtype=subtype if subtype.startswith("PCM") else "PCM_16")


def praat_f0_at(
    x: np.ndarray, sr: int, times: np.ndarray, floor: float = F0_FLOOR, ceil: float = F0_CEIL
) -> np.ndarray:
    """F0 (Hz, 0 = unvoiced) at each of `times` (seconds) by Praat's autocorrelation tracker (parselmouth),
    the nearest analysis frame within one step. Praat rather than WORLD's DIO or Harvest: on Piper's low
    male voice both of those put most frames an octave up (median 141-149 Hz against Praat's 87 Hz), and a
    resynthesis on their contour raised the voice by that much and lost its identity (cosine 0.82-0.86)."""
    times = np.asarray(times, dtype=np.float64)
    out = np.zeros(times.size)
    if times.size == 0 or x.size < sr * 0.05:
        return out
    try:
        import parselmouth
    except ImportError as e:  # pragma: no cover - a dependency of the project
        raise EngineUnavailable("praat-parselmouth is not installed; run `make setup`") from e
    step = float(times[1] - times[0]) if times.size > 1 else 0.01
    step = min(max(step, 0.001), 0.02)
    pitch = parselmouth.Sound(np.asarray(x, dtype=np.float64), sampling_frequency=float(sr)).to_pitch_ac(
        time_step=step, pitch_floor=floor, pitch_ceiling=ceil
    )
    values = np.nan_to_num(np.asarray(pitch.selected_array["frequency"], dtype=np.float64), nan=0.0)
    xs = np.asarray(pitch.xs(), dtype=np.float64)
    if values.size == 0:
        return out
    right = np.clip(np.searchsorted(xs, times), 0, xs.size - 1)
    left = np.clip(right - 1, 0, xs.size - 1)
    nearest = np.where(np.abs(xs[left] - times) <= np.abs(xs[right] - times), left, right)
    out = values[nearest]
    out[np.abs(xs[nearest] - times) > step] = 0.0
    return out


def shape_f0(in_wav: Path, out_wav: Path, pitch: float = 1.0, pitch_range: float = 1.0) -> Path:
    """Write `in_wav` with its F0 multiplied by `pitch` and its F0 spread (in semitones, around the median)
    multiplied by `pitch_range`; same sample rate, sample format and number of samples. When both are
    about 1 the file is copied unchanged. Returns out_wav."""
    if pitch <= 0 or pitch_range < 0:
        raise EngineError(f"worldfx: invalid pitch {pitch} / pitch_range {pitch_range} (pitch > 0, range >= 0)")
    in_wav, out_wav = Path(in_wav), Path(out_wav)
    if _is_identity(pitch, pitch_range):
        if in_wav.resolve() != out_wav.resolve():
            out_wav.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(in_wav, out_wav)
        return out_wav
    x, sr, subtype = _read_mono(in_wav)
    if x.size < sr * FRAME_PERIOD_MS / 1000 * 4:  # too short to analyse: nothing to shape
        _write_atomic(out_wav, x, sr, subtype)
        return out_wav
    pw = _pyworld()
    x = np.ascontiguousarray(x)
    t = np.arange(int(x.size / sr * 1000.0 / FRAME_PERIOD_MS) + 1) * (FRAME_PERIOD_MS / 1000.0)
    f0 = praat_f0_at(x, sr, t)
    if not (f0 > 0).any():  # nothing voiced (a whisper, noise): pitch does not apply
        _write_atomic(out_wav, x, sr, subtype)
        return out_wav
    sp = pw.cheaptrick(x, f0, t, sr)
    ap = pw.d4c(x, f0, t, sr)
    y = pw.synthesize(shape_contour(f0, pitch, pitch_range), sp, ap, sr, FRAME_PERIOD_MS)
    y = _fit_length(np.asarray(y, dtype=np.float64), x.size)
    y = _match_level(x, y)
    _write_atomic(out_wav, y, sr, subtype)
    return out_wav


def _fit_length(y: np.ndarray, n: int) -> np.ndarray:
    """WORLD's output is a few samples longer or shorter than its input (whole frames): trim or pad to n."""
    if y.size >= n:
        return y[:n]
    return np.pad(y, (0, n - y.size))


def _match_level(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """The resynthesis at the input's RMS level, never clipping."""
    rx, ry = float(np.sqrt(np.mean(x**2))), float(np.sqrt(np.mean(y**2)))
    if ry > 0:
        y = y * (rx / ry)
    peak = float(np.max(np.abs(y))) if y.size else 0.0
    if peak > 0.99:
        y = y * (0.99 / peak)
    return y


def post_controls(engine_name: str, prosody: Prosody) -> tuple[float, float]:
    """(pitch, pitch_range) that WORLD must still apply after `engine_name` synthesized with `prosody`:
    1.0 for whatever the engine's own controls already did."""
    native = NATIVE_CONTROLS.get(engine_name, DEFAULT_NATIVE)
    pitch = 1.0 if "pitch" in native else prosody.pitch
    pitch_range = 1.0 if "pitch_range" in native else prosody.pitch_range
    return pitch, pitch_range


def apply_prosody_post(engine_name: str, wav: Path, prosody: Prosody) -> Path:
    """Shape `wav` in place with the part of `prosody` its engine could not apply (see NATIVE_CONTROLS);
    a no-op when there is none. Returns wav. Call it right after `tts.synthesize(text, voice, wav, prosody)`.

    A person's (cloned) voice goes through here too: only F0 moves, the spectral envelope stays."""
    pitch, pitch_range = post_controls(engine_name, prosody)
    if _is_identity(pitch, pitch_range):
        return Path(wav)
    return shape_f0(Path(wav), Path(wav), pitch, pitch_range)
