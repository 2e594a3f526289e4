"""Dialogue / music-and-effects separation for the mix: Spleeter (in its own virtual environment) or,
when that is absent, a DSP fallback that removes centre-panned speech-band energy inside the speech
regions. Always on the full-band stereo copy.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

SPEECH_BAND = (150.0, 4500.0)


def _filter(
    x: np.ndarray, gain: Callable[[int, int], np.ndarray], n_fft: int, hop: int, chunk: int = 512
) -> np.ndarray:
    """`x` through a short-time Fourier transform (Hann window, `hop`), each frame's spectrum multiplied by its
    row of the gain (`gain(f0, f1)`: frames f0..f1-1 x bins), and overlap-added back: `chunk` frames at a time,
    so neither a programme's whole spectrogram nor its whole gain is held (a 10-minute stereo input took about
    4 GB at once)."""
    win = np.hanning(n_fft + 1)[:-1].astype(np.float32)
    pad = np.pad(x, (n_fft, n_fft + hop))
    view = np.lib.stride_tricks.sliding_window_view(pad, n_fft)[::hop]
    total = (len(view) - 1) * hop + n_fft
    out = np.zeros(total, dtype=np.float64)
    norm = np.zeros(total, dtype=np.float64)
    for c0 in range(0, len(view), chunk):
        spec = np.fft.rfft(view[c0 : c0 + chunk] * win, axis=1)
        frames = np.fft.irfft(spec * gain(c0, c0 + len(spec)), n=n_fft, axis=1) * win
        for j, f in enumerate(frames):
            i = (c0 + j) * hop
            out[i : i + n_fft] += f
            norm[i : i + n_fft] += win**2
    out /= np.maximum(norm, 1e-8)
    return out[n_fft : n_fft + len(x)].astype(np.float32)


def _frames(n: int, n_fft: int, hop: int) -> int:
    """How many frames _filter makes of `n` samples."""
    return (n + 2 * n_fft + hop - n_fft) // hop + 1


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
    n_frames = _frames(n, n_fft, hop)
    freqs = np.fft.rfftfreq(n_fft, 1 / rate)
    band = (freqs >= SPEECH_BAND[0]) & (freqs <= SPEECH_BAND[1])
    times = (np.arange(n_frames) * hop - n_fft + n_fft / 2) / rate
    active = np.zeros(n_frames, dtype=bool)
    for s, e in speech:
        active |= (times >= s - margin_s) & (times <= e + margin_s)
    # smooth the on/off mask over a few frames to avoid clicks
    k = 5
    smooth = np.convolve(active.astype(np.float32), np.ones(k) / k, mode="same")
    cut = 1.0 - 10 ** (depth_db / 20)

    def gain(f0: int, f1: int) -> np.ndarray:
        return np.asarray(1.0 - cut * smooth[f0:f1, None] * band[None, :])

    bed_mid = _filter(mid.astype(np.float32, copy=False), gain, n_fft, hop)
    dial_mid = mid - bed_mid
    bed = np.stack([bed_mid + side, bed_mid - side], axis=1)
    dialogue = np.stack([dial_mid, dial_mid], axis=1)
    if audio.shape[1] == 1:
        bed, dialogue = bed[:, :1], dialogue[:, :1]
    return dialogue.astype(np.float32, copy=False), bed.astype(np.float32, copy=False)
