"""Embedding the spread-spectrum watermark (pipeline.ledger.watermark: the scheme, its pattern and readings).

Embedding is informed (improved spread spectrum): for each group the host's own reading is measured and
cancelled, so that after embedding every group reads +-alpha (0.8 dB), and a closed loop re-measures and
corrects four times (the STFT of a modified STFT is not the modification). The change goes more to a
group's quieter tiles (the same reading for less energy), capped per group and per tile. The detector
then hardly sees the host at all, only what an encoder did to the tiles.
"""

from __future__ import annotations

import numpy as np

from pipeline.ledger.watermark import (
    ALPHA_DB,
    BAND,
    CAP_DB,
    COLS,
    CONTEXT,
    GROUPS,
    HOP,
    ITERATIONS,
    KAPPA,
    NFFT,
    PILOTS,
    QUIET_BIAS,
    RATE,
    ROWS,
    SPAN_COLS,
    TILE_BINS,
    TILE_CAP_DB,
    TILE_FRAMES,
    TILES,
    WINDOW,
    Layout,
    WatermarkError,
    band_energies,
    band_stft,
    coded_bits,
    frame_count,
    group_sums,
    layout,
    mono,
    resample,
    row_energy,
    tile_energy,
    tile_readings,
)


def embed(audio: np.ndarray, rate: int, payload: int, key: str | bytes) -> np.ndarray:
    """`audio` (samples,) or (samples, channels) at `rate` with the mark carrying `payload` (32 bits).
    Returns float32 of the same shape. The same mark goes into every channel."""
    if rate < RATE:
        raise WatermarkError(f"the watermark needs audio at {RATE} Hz or more (got {rate} Hz)")
    a = np.asarray(audio, dtype=np.float32)
    up = mark_signal(mono(a), rate, payload, key)
    return (a + up[:, None]) if a.ndim == 2 else (a + up)


def mark_signal(x: np.ndarray, rate: int, payload: int, key: str | bytes) -> np.ndarray:
    """The mark alone for the float64 mono signal `x` at `rate`: float32, as long as `x`, to be added to every
    channel of the audio `x` was taken from (what `embed` adds)."""
    n = len(x)
    return upsample_mark(analysis_mark(resample(x, rate, RATE), payload, key), rate, n)


def analysis_mark(x: np.ndarray, payload: int, key: str | bytes) -> np.ndarray:
    """The mark for `x`, mono at the analysis rate (RATE), at that rate. A caller that streams a track passes
    only this copy of it (and adds upsample_mark's result block by block), so that no copy of a whole
    multichannel programme is held."""
    if frame_count(x) < TILE_FRAMES * SPAN_COLS:
        raise WatermarkError("audio too short for the watermark (under 0.3 s)")
    lay = layout(key)
    target = np.concatenate([np.ones(PILOTS), coded_bits(payload)]) * ALPHA_DB
    mark = np.zeros_like(x)
    total_cols = frame_count(x) // TILE_FRAMES
    loud = float(np.percentile(10 * np.log10(tile_energy(band_energies(x)) + 1e-20), 95))
    chunk = COLS * 8  # 33 s at a time, each with the columns around it as context
    for c0 in range(0, total_cols, chunk):
        _embed_chunk(x, mark, c0, min(total_cols, c0 + chunk), total_cols, lay, target, loud)
    return mark


def upsample_mark(mark: np.ndarray, rate: int, n: int) -> np.ndarray:
    """The analysis-rate `mark` at `rate`, `n` samples long, float32."""
    up = resample(mark, RATE, rate)
    if len(up) < n:
        up = np.pad(up, (0, n - len(up)))
    return up[:n].astype(np.float32)


def _embed_chunk(
    x: np.ndarray, mark: np.ndarray, c0: int, c1: int, total: int, lay: Layout, target: np.ndarray, loud: float
) -> None:
    """Add to `mark` the change of tile columns c0..c1-1 (c0 on a block boundary), read as the detector
    reads them: with up to CONTEXT columns on either side, and the marks already made around them."""
    left, right = min(CONTEXT, c0), min(CONTEXT, total - c1)
    f0, f1 = (c0 - left) * TILE_FRAMES, (c1 + right) * TILE_FRAMES
    cols = c1 - c0
    start, length = f0 * HOP, (f1 - f0 - 1) * HOP + NFFT
    host = band_stft(x[start : start + length] + mark[start : start + length], 0, f1 - f0)
    energy = row_energy(host)
    inner = slice(left, left + cols)
    _, usable_ext = tile_readings(energy, 0, loud)
    usable = usable_ext[:, inner]
    weight = _weights(10 * np.log10(tile_energy(energy)[:, inner] + 1e-20), usable, lay)
    nb = -(-cols // COLS)
    delta = np.zeros((nb, GROUPS))
    add = np.zeros(length)
    for i in range(ITERATIONS):
        seg = x[start : start + length] + mark[start : start + length] + add
        spec = host if i == 0 else band_stft(seg, 0, f1 - f0)
        v, _ = tile_readings(row_energy(spec), 0, loud)
        sums, counts, _ = group_sums(v[:, inner], usable, lay, 0)
        reading = np.divide(sums, counts, out=np.zeros_like(sums), where=counts > 0)
        delta = np.clip(delta + (target[None, :] - reading) / KAPPA, -CAP_DB, CAP_DB)
        delta[counts < 1] = 0.0
        gains = np.zeros((ROWS, left + cols + right))
        gains[:, inner] = np.clip(_tile_gains(delta, lay, cols) * weight, -TILE_CAP_DB, TILE_CAP_DB)
        add = _modification(host, gains)
    mark[start : start + length] += add


def _blocks(grid: np.ndarray) -> np.ndarray:
    """(ROWS, cols) -> (blocks, TILES), the missing end of the last block zero."""
    rows, cols = grid.shape
    nb = -(-cols // COLS)
    out = np.zeros((rows, nb * COLS))
    out[:, :cols] = grid
    return out.reshape(rows, nb, COLS).transpose(1, 0, 2).reshape(nb, TILES)


def _grid(blocks: np.ndarray, cols: int) -> np.ndarray:
    """(blocks, TILES) -> (ROWS, cols)."""
    nb = blocks.shape[0]
    return np.asarray(blocks.reshape(nb, ROWS, COLS).transpose(1, 0, 2).reshape(ROWS, nb * COLS)[:, :cols])


def _weights(level: np.ndarray, usable: np.ndarray, lay: Layout) -> np.ndarray:
    """(ROWS, cols) share of its group's change each tile takes: more on the group's quieter tiles (the
    same reading for less energy), mean 1 over the group's usable tiles, none on unusable ones."""
    cols = level.shape[1]
    lv, us = _blocks(level), _blocks(usable.astype(float))
    counts = lay.sums(us, signed=False)
    mean = np.divide(lay.sums(lv * us, signed=False), counts, out=np.zeros_like(counts), where=counts > 0)
    rel = lv - mean[:, lay.group]
    w = np.clip(10 ** (-QUIET_BIAS * rel / 10), 0.25, 4.0) * us
    norm = np.divide(lay.sums(w, signed=False), counts, out=np.ones_like(counts), where=counts > 0)
    return _grid(w / np.maximum(norm[:, lay.group], 1e-9), cols)


def _tile_gains(delta: np.ndarray, lay: Layout, cols: int) -> np.ndarray:
    """(blocks, GROUPS) group changes -> (ROWS, cols) tile level changes in dB."""
    nb = delta.shape[0]
    per_tile = delta[:, lay.group] * lay.chip[None, :]  # (nb, TILES), tile index = row * COLS + col
    grid = per_tile.reshape(nb, ROWS, COLS).transpose(1, 0, 2).reshape(ROWS, nb * COLS)
    return np.asarray(grid[:, :cols])


def _modification(host: np.ndarray, gains_db: np.ndarray) -> np.ndarray:
    """The time signal that changes the band of `host` (frames, 96) by the tile gains (overlap-add)."""
    frames = host.shape[0]
    per_frame = np.repeat(gains_db, TILE_FRAMES, axis=1)[:, :frames]  # (ROWS, frames)
    factor = 10 ** (np.repeat(per_frame.T, TILE_BINS, axis=1) / 20) - 1.0  # (frames, 96)
    full = np.zeros((frames, NFFT // 2 + 1), dtype=complex)
    full[:, BAND] = host * factor
    pieces = np.fft.irfft(full, n=NFFT, axis=1) * WINDOW
    out = np.zeros((frames + 1, HOP))  # hop = NFFT / 2: each frame adds its halves to two hop slots
    out[:-1] += pieces[:, :HOP]
    out[1:] += pieces[:, HOP:]
    return out.ravel()


def mark_snr_db(original: np.ndarray, marked: np.ndarray) -> float:
    """Energy of the track over energy of the mark (marked - original), in dB."""
    num = den = 0.0
    step = 1 << 18  # blocks of samples: no float64 copy of a whole programme (a 10-minute stereo mix: 0.46 GB)
    for i in range(0, len(original), step):
        o = np.asarray(original[i : i + step], dtype=np.float64)
        d = np.asarray(marked[i : i + step], dtype=np.float64) - o
        num, den = num + float(np.sum(o**2)), den + float(np.sum(d**2))
    return float("inf") if den == 0 else 10 * np.log10(num / den)
