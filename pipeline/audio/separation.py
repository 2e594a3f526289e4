"""Dialogue / music-and-effects separation for the mix: Spleeter (in its own virtual environment) or,
when that is absent, a DSP fallback that removes centre-panned speech-band energy inside the speech
regions. Always on the full-band stereo copy.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import soundfile as sf

SPEECH_BAND = (150.0, 4500.0)


def _filter(
    x: np.ndarray, gain: Callable[[int, int], np.ndarray], n_fft: int, hop: int, chunk: int = 512
) -> np.ndarray:
    """`x` through a short-time Fourier transform (Hann window, `hop`), each frame's spectrum multiplied by its
    row of the gain (`gain(f0, f1)`: frames f0..f1-1 x bins), and overlap-added back (_filter_stream on the
    whole of `x`)."""
    parts = list(_filter_stream(iter([x]), len(x), gain, n_fft, hop, chunk))
    return np.concatenate(parts) if parts else np.zeros(0, dtype=np.float32)


def _filter_stream(
    blocks: Iterator[np.ndarray],
    n: int,
    gain: Callable[[int, int], np.ndarray],
    n_fft: int,
    hop: int,
    chunk: int = 512,
) -> Iterator[np.ndarray]:
    """_filter streamed: `blocks` (float32, `n` samples in all, any block sizes) in, the filtered samples out
    (float32, in order, `n` in all) as soon as no later frame can change them. `chunk` frames are transformed
    at a time, so neither a programme's spectrogram, nor its gain, nor the programme itself is held (a
    10-minute stereo input took about 4 GB at once, then 2 GB). The frames, their order and every sum are
    those of one pass over the whole signal, zero-padded by `n_fft` before and `n_fft + hop` after, so the
    output does not depend on the block sizes."""
    win = np.hanning(n_fft + 1)[:-1].astype(np.float32)
    win2 = win**2
    total_in = n + 2 * n_fft + hop  # the padded signal's length
    n_frames = (total_in - n_fft) // hop + 1
    source = itertools.chain([np.zeros(n_fft, dtype=np.float32)], blocks, [np.zeros(n_fft + hop, dtype=np.float32)])
    inp, in0 = np.zeros(0, dtype=np.float32), 0  # padded input held: positions in0 .. in0 + len(inp)
    acc = np.zeros(0, dtype=np.float64)  # overlap-added output from position out0 on, and its window sum
    norm = np.zeros(0, dtype=np.float64)
    out0 = 0
    for c0 in range(0, n_frames, chunk):
        c1 = min(n_frames, c0 + chunk)
        need = (c1 - 1) * hop + n_fft
        while in0 + len(inp) < need:
            inp = np.concatenate([inp, np.asarray(next(source), dtype=np.float32)])
        view = np.lib.stride_tricks.sliding_window_view(inp[c0 * hop - in0 : need - in0], n_fft)[::hop]
        spec = np.fft.rfft(view * win, axis=1)
        frames = np.fft.irfft(spec * gain(c0, c1), n=n_fft, axis=1) * win
        end = need - out0
        if len(acc) < end:
            acc = np.concatenate([acc, np.zeros(end - len(acc))])
            norm = np.concatenate([norm, np.zeros(end - len(norm))])
        for j, f in enumerate(frames):
            i = (c0 + j) * hop - out0
            acc[i : i + n_fft] += f
            norm[i : i + n_fft] += win2
        # no frame after c1 starts before c1 * hop: everything before it is final
        final = (c1 * hop if c1 < n_frames else need) - out0
        done = acc[:final] / np.maximum(norm[:final], 1e-8)
        lo = max(0, n_fft - out0)
        hi = min(final, n_fft + n - out0)
        if hi > lo:
            yield done[lo:hi].astype(np.float32)  # positions n_fft .. n_fft + n of the padded signal are x's
        acc, norm, out0 = acc[final:], norm[final:], out0 + final
        drop = c1 * hop - in0  # input before the next chunk's first frame is not needed again
        inp, in0 = inp[drop:], in0 + drop


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
    parts = list(
        _separation(lambda: iter([audio]), len(audio), audio.shape[1], rate, speech, depth_db, n_fft, hop, margin_s)
    )
    if not parts:
        width = 1 if audio.shape[1] == 1 else 2
        empty = np.zeros((0, width), dtype=np.float32)
        return empty, empty
    return np.concatenate([d for d, _ in parts]), np.concatenate([b for _, b in parts])


def dsp_separate_file(
    src: Path, dialogue: Path, bed: Path, speech: list[tuple[float, float]], block: int = 1 << 18
) -> None:
    """dsp_separate from the WAV `src` to the 32-bit float WAVs `dialogue` and `bed`, streamed `block` samples
    at a time: the same samples, without holding the programme (a 10-minute stereo separation held whole peaked
    over 2 GB)."""
    info = sf.info(str(src))
    rate, n = int(info.samplerate), int(info.frames)

    def blocks() -> Iterator[np.ndarray]:
        with sf.SoundFile(str(src)) as f:
            yield from f.blocks(blocksize=block, dtype="float32", always_2d=True)

    width = 1 if info.channels == 1 else 2
    with (
        sf.SoundFile(str(dialogue), "w", rate, width, "FLOAT") as wd,
        sf.SoundFile(str(bed), "w", rate, width, "FLOAT") as wb,
    ):
        for d, b in _separation(blocks, n, info.channels, rate, speech):
            wd.write(d)
            wb.write(b)


def _separation(
    blocks: Callable[[], Iterator[np.ndarray]],
    n: int,
    channels: int,
    rate: int,
    speech: list[tuple[float, float]],
    depth_db: float = -30.0,
    n_fft: int = 2048,
    hop: int = 512,
    margin_s: float = 0.15,
) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """(dialogue, bed) blocks of dsp_separate for the (samples, channels) float32 blocks that `blocks()` gives
    (`n` samples in all; called twice: once for the filter, once for the mid and side the output is built on)."""
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

    def mid_side(a: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        left = a[:, 0]
        right = a[:, 1] if a.shape[1] > 1 else a[:, 0]
        return (left + right) / 2, (left - right) / 2

    mids = (mid_side(a)[0].astype(np.float32, copy=False) for a in blocks())
    again = blocks()
    held = np.zeros((0, channels), dtype=np.float32)
    for bed_mid in _filter_stream(mids, n, gain, n_fft, hop):
        while len(held) < len(bed_mid):
            held = np.concatenate([held, next(again)])
        part, held = held[: len(bed_mid)], held[len(bed_mid) :]
        mid, side = mid_side(part)
        dial_mid = mid - bed_mid
        bed = np.stack([bed_mid + side, bed_mid - side], axis=1)
        dialogue = np.stack([dial_mid, dial_mid], axis=1)
        if channels == 1:
            bed, dialogue = bed[:, :1], dialogue[:, :1]
        yield dialogue.astype(np.float32, copy=False), bed.astype(np.float32, copy=False)
