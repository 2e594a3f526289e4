"""Dialogue / music-and-effects separation for the mix: Spleeter (in its own virtual environment) or,
when that is absent, a DSP fallback that removes centre-panned speech-band energy inside the speech
regions. Always on the full-band stereo copy.
"""

from __future__ import annotations

import numpy as np

SPEECH_BAND = (150.0, 4500.0)


def _stft(x: np.ndarray, n_fft: int, hop: int) -> np.ndarray:
    win = np.hanning(n_fft + 1)[:-1].astype(np.float32)
    pad = np.pad(x, (n_fft, n_fft + hop))
    frames = np.lib.stride_tricks.sliding_window_view(pad, n_fft)[::hop]
    return np.fft.rfft(frames * win, axis=1)


def _istft(spec: np.ndarray, n_fft: int, hop: int, length: int) -> np.ndarray:
    win = np.hanning(n_fft + 1)[:-1].astype(np.float32)
    frames = np.fft.irfft(spec, n=n_fft, axis=1) * win
    total = (len(frames) - 1) * hop + n_fft
    out = np.zeros(total, dtype=np.float64)
    norm = np.zeros(total, dtype=np.float64)
    for i, f in enumerate(frames):
        out[i * hop : i * hop + n_fft] += f
        norm[i * hop : i * hop + n_fft] += win**2
    out /= np.maximum(norm, 1e-8)
    return out[n_fft : n_fft + length].astype(np.float32)


def dsp_separate(
    audio: np.ndarray,
    rate: int,
    speech: list[tuple[float, float]],
    depth_db: float = -30.0,
    n_fft: int = 2048,
    hop: int = 512,
    margin_s: float = 0.15,
) -> tuple[np.ndarray, np.ndarray]:
    """(dialogue, bed) from a stereo (n, 2) or mono (n, 1) signal. Inside the speech regions (widened by
    `margin_s`) the centre channel's speech band is attenuated by `depth_db` in the bed and kept in the
    dialogue; side content (wide-panned music and effects) stays in the bed everywhere."""
    if audio.ndim == 1:
        audio = audio[:, None]
    left = audio[:, 0]
    right = audio[:, 1] if audio.shape[1] > 1 else audio[:, 0]
    mid, side = (left + right) / 2, (left - right) / 2
    n = len(mid)
    spec = _stft(mid.astype(np.float32), n_fft, hop)
    freqs = np.fft.rfftfreq(n_fft, 1 / rate)
    band = (freqs >= SPEECH_BAND[0]) & (freqs <= SPEECH_BAND[1])
    times = (np.arange(spec.shape[0]) * hop - n_fft + n_fft / 2) / rate
    active = np.zeros(spec.shape[0], dtype=bool)
    for s, e in speech:
        active |= (times >= s - margin_s) & (times <= e + margin_s)
    # smooth the on/off mask over a few frames to avoid clicks
    k = 5
    smooth = np.convolve(active.astype(np.float32), np.ones(k) / k, mode="same")
    gain = 1.0 - (1.0 - 10 ** (depth_db / 20)) * smooth[:, None] * band[None, :]
    bed_mid = _istft(spec * gain, n_fft, hop, n)
    dial_mid = mid - bed_mid
    bed = np.stack([bed_mid + side, bed_mid - side], axis=1)
    dialogue = np.stack([dial_mid, dial_mid], axis=1)
    if audio.shape[1] == 1:
        bed, dialogue = bed[:, :1], dialogue[:, :1]
    return dialogue.astype(np.float32), bed.astype(np.float32)
