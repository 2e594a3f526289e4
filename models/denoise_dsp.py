"""The DSP denoiser: a spectral gate (numpy and scipy only), where DeepFilterNet is not installed or not wanted
(`DUBLINE_DENOISE_ENGINE=dsp`). Same interface as models.denoise's engines: mono float32 at 48 kHz in, as many
samples out, aligned (zero delay); `stream()` for files fed in blocks."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from scipy.ndimage import minimum_filter1d, uniform_filter

from models.base import ModelInfo

RATE = 48000


def mono(samples: np.ndarray) -> np.ndarray:
    x = np.asarray(samples, dtype=np.float32)
    if x.ndim != 1:
        raise ValueError(f"a denoiser takes mono samples (one dimension), not shape {x.shape}")
    return x


_N_FFT = 1920  # 40 ms at 48 kHz
_HOP = 480  # 10 ms; sqrt-Hann analysis and synthesis windows at 75 % overlap sum to 2
_POWER_SMOOTH = (9, 5)  # frames x bins the periodogram is averaged over before its minimum is taken
_MIN_WINDOW = 151  # frames (1.5 s, centred) the noise floor is the minimum of: minimum statistics
_FLOOR_SMOOTH_T = 51  # frames, then bins, the noise floor is smoothed over
_FLOOR_SMOOTH_F = 9
_BIAS = 2.0  # the minimum of the smoothed periodogram under-reads stationary noise by this factor (measured)
_SNR_SMOOTH = (3, 3)  # frames x bins the a-priori SNR's power is averaged over
_GAIN_SMOOTH = (3, 5)  # frames x bins the gains are averaged over: no isolated bins, no musical noise
_CONTEXT = 200 * _HOP  # samples each side that one output sample can depend on (about 110 frames), rounded up
_CHUNK = 2000 * _HOP  # samples processed at once in a stream (20 s)


def _spectral_gate(x: np.ndarray, floor_gain: float, over: float) -> np.ndarray:
    """The whole-array spectral gate (see SpectralGateDenoiser)."""
    n = len(x)
    if n == 0:
        return np.zeros(0, np.float32)
    lead = _N_FFT - _HOP
    frames = -(-(n + lead) // _HOP)
    padded = np.zeros((frames - 1) * _HOP + _N_FFT, np.float32)
    padded[lead : lead + n] = x
    win = np.sqrt(np.hanning(_N_FFT + 1)[:-1]).astype(np.float32)  # periodic
    idx = np.arange(_N_FFT)[None, :] + _HOP * np.arange(frames)[:, None]
    spec = np.fft.rfft(padded[idx] * win, axis=1).astype(np.complex64)
    power = (spec.real**2 + spec.imag**2).astype(np.float32)
    smooth = uniform_filter(power, _POWER_SMOOTH, mode="nearest")
    noise = minimum_filter1d(smooth, _MIN_WINDOW, axis=0, mode="nearest")
    noise = uniform_filter(noise, (_FLOOR_SMOOTH_T, _FLOOR_SMOOTH_F), mode="nearest") * (_BIAS * over)
    noise = np.maximum(noise, 1e-12)
    local = uniform_filter(power, _SNR_SMOOTH, mode="nearest")
    xi = np.maximum(local / noise - 1.0, 0.0)
    gain = np.maximum(xi / (1.0 + xi), floor_gain)
    gain = uniform_filter(gain, _GAIN_SMOOTH, mode="nearest")
    frames_out = np.fft.irfft(spec * gain, n=_N_FFT, axis=1).astype(np.float32) * win
    out = np.zeros_like(padded)
    for k in range(_N_FFT // _HOP):  # overlap-add, one hop-offset at a time
        part = frames_out[:, k * _HOP : (k + 1) * _HOP].reshape(-1)
        out[k * _HOP : k * _HOP + len(part)] += part
    return (out[lead : lead + n] / 2.0).astype(np.float32)


class _ChunkedStream:
    """Runs a whole-array function in chunks with enough context either side that the joined output equals
    the function of the whole array (chunks start on the hop grid)."""

    def __init__(self, fn: Callable[[np.ndarray], np.ndarray], chunk: int = _CHUNK, context: int = _CONTEXT) -> None:
        self._fn, self._chunk, self._context = fn, chunk, context
        self._buf = np.zeros(0, np.float32)
        self._buf_start = 0  # global index of _buf[0]
        self._pos = 0  # global index of the next output sample

    def _take(self, stop: int | None) -> np.ndarray:
        left = max(0, self._pos - self._context)
        x = self._buf[left - self._buf_start :]
        if stop is not None:
            x = x[: stop + self._context - left]
        y = self._fn(x)
        end = len(self._buf) + self._buf_start if stop is None else stop
        out = y[self._pos - left : end - left]
        self._pos = end
        keep = max(0, self._pos - self._context) - self._buf_start
        self._buf, self._buf_start = self._buf[keep:], self._buf_start + keep
        return out

    def feed(self, samples: np.ndarray) -> np.ndarray:
        self._buf = np.concatenate([self._buf, mono(samples)])
        outs = [np.zeros(0, np.float32)]
        while self._buf_start + len(self._buf) >= self._pos + self._chunk + self._context:
            outs.append(self._take(self._pos + self._chunk))
        return np.concatenate(outs)

    def end(self) -> np.ndarray:
        if self._buf_start + len(self._buf) <= self._pos:
            return np.zeros(0, np.float32)
        return self._take(None)


class SpectralGateDenoiser:
    """A DSP denoiser (numpy/scipy only) for where DeepFilterNet is not installed.

    STFT (40 ms sqrt-Hann frames, 10 ms hop). The noise floor per frequency bin is tracked by minimum
    statistics: the periodogram averaged over 9 frames x 5 bins, its minimum over a centred 1.5 s window (in speech,
    every bin finds a pause within that time), smoothed over 0.5 s and 9 bins and scaled up by the bias of a
    minimum. The gain is Wiener's, xi / (1 + xi), from an a-priori SNR xi read off the power averaged over
    3 frames x 3 bins, floored at `atten_lim_db` below unity, and averaged over 3 frames x 5 bins: smoothing
    over time and frequency is what keeps the residual noise from turning into "musical" tones. `over`
    above 1 subtracts more noise (cleaner pauses, thinner speech). Zero delay; stationary noise (hiss, hum,
    fans, traffic rumble) is what it removes; babble and music are mostly left."""

    def __init__(self, atten_lim_db: float = 18.0, over: float = 1.5) -> None:
        if atten_lim_db < 0 or over <= 0:
            raise ValueError("atten_lim_db must be 0 or more and over more than 0")
        self.rate = RATE
        self.atten_lim_db = float(atten_lim_db)
        self.over = float(over)
        self.info = ModelInfo(id="dsp-spectral-gate", version=f"1 (limit {atten_lim_db:g} dB, over {over:g})")

    def _gate(self, x: np.ndarray) -> np.ndarray:
        return _spectral_gate(x, 10 ** (-self.atten_lim_db / 20), self.over)

    def stream(self) -> _ChunkedStream:
        return _ChunkedStream(self._gate)

    def process(self, samples: np.ndarray) -> np.ndarray:
        return self._gate(mono(samples))
