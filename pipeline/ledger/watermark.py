"""An inaudible spread-spectrum watermark for synthetic speech tracks, in numpy.

Where: the 1-4 kHz band of a 16 kHz analysis of the track (STFT, 512-point sine window, hop 256), cut
into tiles of 6 bins x 4 frames (187.5 Hz x 64 ms), 16 rows of them. 64 columns of tiles make a block of
4.1 s, repeated over the whole track. A block's 1024 tiles form 64 groups of 16 tiles, each group within
one span of 4 columns (so that a cut loses only the groups it goes through): 16 pilot groups that always
read +alpha (presence and alignment) and 48 that carry the coded bits, a 32-bit payload and its CRC-16,
every block carrying the whole payload again. Which tile belongs to which group, the order of the groups
and each tile's +-1 chip come from the key.

Reading: a tile's level (dB) is taken against the mean of its row over 5 columns and of the 3 rows
around it, which removes most of the host's own structure and makes the reading blind to gain and to a
slow EQ. A group reads the mean of chip x level over its tiles.

Embedding is informed (improved spread spectrum): for each group the host's own reading is measured and
cancelled, so that after embedding every group reads +-alpha (0.8 dB), and a closed loop re-measures and
corrects four times (the STFT of a modified STFT is not the modification). The change goes more to a
group's quieter tiles (the same reading for less energy), capped per group and per tile. The detector
then hardly sees the host at all, only what an encoder did to the tiles.

Detection searches every alignment (4 sub-hop offsets x 4 frame phases x 64 block columns), combines each
bit's readings over all blocks, and reads the payload (Chase decoding over the 3 least reliable bits
against the CRC). Presence rests on consistency: a marked track's groups read close to +-alpha, an
unmarked track's scatter around 0. The confidence is a binomial z-score of the share of groups within
[0.35, 1.65] x alpha (with the decoded sign) against P_NULL, the most any Gaussian scatter can put in that
window. A payload is reported when its CRC checks and the score passes Z_PAYLOAD; a mark whose payload
cannot be read is reported present above Z_PRESENT.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from math import gcd

import numpy as np

SCHEME = "dubline-ss1"
RATE = 16000  # analysis rate: the band below 4 kHz survives any resampling to >= 16 kHz
NFFT = 512
HOP = 256
BIN_LO = 32  # 1000 Hz
TILE_BINS = 6
ROWS = 16  # bins 32..127: 1000..3984 Hz
TILE_FRAMES = 4
COLS = 64  # tile columns per block: 4.096 s
SPAN_COLS = 4  # columns a group's tiles lie within (256 ms)
TILES = ROWS * COLS
GROUPS = 64
GROUP_TILES = TILES // GROUPS
PILOTS = 16
PAYLOAD_BITS = 32
CRC_BITS = 16
CODED_BITS = PAYLOAD_BITS + CRC_BITS
ALPHA_DB = 0.8  # each group's reading after embedding, in dB
CAP_DB = 6.0  # largest change of a group, in dB
TILE_CAP_DB = 9.0  # largest level change of a tile, in dB
QUIET_BIAS = 0.5  # a group's change goes more to its quieter tiles: weight ~ (tile energy / group mean) ** -bias
ITERATIONS = 4
SMOOTH_COLS = 5  # a tile is read against the mean of its row over 5 columns (320 ms) and of its column
SMOOTH_ROWS = 3  # ... and against the mean of the 3 rows around it (0: of its whole column)
CONTEXT = SMOOTH_COLS // 2  # columns at each end of the audio whose row means are cut short
KAPPA = 0.5  # how much of a tile's change its reading shows (the row and column means take some back)
FLOOR_DB = -80.0  # tiles quieter than this (dB re full scale) carry no mark
RANGE_DB = 45.0  # ... and tiles this far below the loud tiles of the track
MIN_TILES = 5  # a group is read only with at least this many usable tiles
HIT_LO, HIT_HI = 0.35, 1.65  # a group is consistent when it reads within these x alpha (with its sign)
P_NULL = 0.64  # max over sigma of P(|N(0, sigma)| in the window above) is 0.631 (tests/models/test_watermark.py)
Z_PRESENT = 7.0  # score above which the mark is present even if the payload does not check out
Z_PAYLOAD = 4.5  # score above which a payload whose CRC checks is reported
CHASE_BITS = 3  # least reliable bits tried flipped when the CRC does not check
SUB_OFFSETS = 4  # alignment search: sub-hop offsets tried
SEARCH_S = 60.0  # alignment is searched in the first minute, then read over the whole track


class WatermarkError(ValueError):
    """Audio the watermark cannot be put in or read from (too short, rate too low)."""


@dataclass(frozen=True)
class Detection:
    present: bool
    payload: int | None
    confidence: float  # the consistency z-score; above Z_PRESENT (or Z_PAYLOAD with a valid CRC) is a mark
    bits: tuple[int, ...]  # the 48 coded bits as read (payload then CRC), whatever the verdict
    crc_ok: bool
    groups: int  # group readings the verdict rests on
    consistent: float  # share of them within the expected band
    offset_s: float  # where the first whole block starts in the analysed audio


def key_id(key: str | bytes) -> str:
    """A short public fingerprint of a key, for provenance records (never the key itself)."""
    raw = key.encode() if isinstance(key, str) else key
    return hashlib.sha256(b"dubline-watermark-key-id|" + raw).hexdigest()[:12]


@dataclass(frozen=True)
class _Layout:
    group: np.ndarray  # (TILES,) group of each tile in a block (tile index = row * COLS + column)
    chip: np.ndarray  # (TILES,) +-1
    by_group: np.ndarray  # (TILES,) tile indices sorted by group: GROUP_TILES of group 0, then of group 1...

    def sums(self, a: np.ndarray, signed: bool = True) -> np.ndarray:
        """(..., TILES) -> (..., GROUPS): per group, the sum of chip x value (or of the values)."""
        if signed:
            a = a * self.chip
        return np.asarray(a[..., self.by_group].reshape(*a.shape[:-1], GROUPS, GROUP_TILES).sum(axis=-1))


def _layout(key: str | bytes) -> _Layout:
    """The keyed pattern of a block: which group each tile belongs to (a group's 16 tiles lie within one
    span of 4 columns, 4 groups per span, so that a cut loses at most the groups it goes through), the
    order of the groups in the block, and the chips (8 of each sign per group)."""
    raw = key.encode() if isinstance(key, str) else key
    seed = int.from_bytes(hashlib.sha256(b"dubline-watermark|" + SCHEME.encode() + b"|" + raw).digest()[:8], "big")
    rng = np.random.default_rng(seed)
    order = rng.permutation(GROUPS)  # order[slot]: the group in slot; slots 4k..4k+3 share span k
    per_span = GROUPS // (COLS // SPAN_COLS)
    group = np.empty(TILES, dtype=np.int64)
    for span in range(COLS // SPAN_COLS):
        cols = np.arange(span * SPAN_COLS, (span + 1) * SPAN_COLS)
        tiles = (np.arange(ROWS)[:, None] * COLS + cols[None, :]).ravel()
        slots = order[span * per_span : (span + 1) * per_span]
        group[rng.permutation(tiles)] = np.repeat(slots, GROUP_TILES)
    chip = np.empty(TILES, dtype=np.float64)
    for g in range(GROUPS):
        members = np.flatnonzero(group == g)
        chip[members] = rng.permutation(np.array([1.0, -1.0] * (GROUP_TILES // 2)))
    return _Layout(group, chip, np.argsort(group, kind="stable"))


def crc16(data: bytes) -> int:
    """CRC-16/CCITT-FALSE."""
    crc = 0xFFFF
    for byte in data:
        crc ^= byte << 8
        for _ in range(8):
            crc = ((crc << 1) ^ 0x1021) if crc & 0x8000 else crc << 1
            crc &= 0xFFFF
    return crc


def coded_bits(payload: int) -> np.ndarray:
    """The 48 bits a block carries, as +-1: the payload (MSB first) and its CRC-16."""
    if not 0 <= payload < 2**PAYLOAD_BITS:
        raise WatermarkError(f"payload {payload} does not fit in {PAYLOAD_BITS} bits")
    word = (payload << CRC_BITS) | crc16(payload.to_bytes(4, "big"))
    bits = [(word >> (CODED_BITS - 1 - i)) & 1 for i in range(CODED_BITS)]
    return np.array(bits, dtype=np.float64) * 2 - 1


def _word(bits: np.ndarray) -> tuple[int, bool]:
    word = 0
    for b in bits:
        word = (word << 1) | int(b > 0)
    payload, crc = word >> CRC_BITS, word & 0xFFFF
    return payload, crc16(payload.to_bytes(4, "big")) == crc


def _read_payload(soft: np.ndarray) -> tuple[np.ndarray, int, bool]:
    """Hard decisions from the soft bit values, then (Chase decoding) the least reliable CHASE_BITS flipped
    in every combination, most likely first, until the CRC checks. CRC-16/CCITT has Hamming distance 4 at
    this length, so at most one word within 3 flips of the hard decision can check."""
    hard = np.where(soft >= 0, 1.0, -1.0)
    weakest = np.argsort(np.abs(soft))[:CHASE_BITS]
    flips = sorted(
        (sum(abs(float(soft[weakest[i]])) for i in range(CHASE_BITS) if m >> i & 1), m) for m in range(2**CHASE_BITS)
    )
    for _, m in flips:
        bits = hard.copy()
        for i in range(CHASE_BITS):
            if m >> i & 1:
                bits[weakest[i]] *= -1
        payload, ok = _word(bits)
        if ok:
            return bits, payload, True
    payload, _ = _word(hard)
    return hard, payload, False


# --- signal helpers ---------------------------------------------------------------------------------

_WINDOW = np.sqrt(0.5 - 0.5 * np.cos(2 * np.pi * np.arange(NFFT) / NFFT))  # sine window: analysis x synthesis = Hann
_BAND = slice(BIN_LO, BIN_LO + ROWS * TILE_BINS)
_SCALE = 1.0 / float(np.sum(_WINDOW) / 2) ** 2  # a full-scale sine in one bin reads about 0 dB


def _resample(x: np.ndarray, src: int, dst: int) -> np.ndarray:
    if src == dst:
        return x
    from scipy.signal import resample_poly

    g = gcd(src, dst)
    return np.asarray(resample_poly(x, dst // g, src // g, axis=0))


def _mono(audio: np.ndarray) -> np.ndarray:
    a = np.asarray(audio, dtype=np.float64)
    return a.mean(axis=1) if a.ndim == 2 else a


def _frames(x: np.ndarray) -> int:
    return 0 if len(x) < NFFT else 1 + (len(x) - NFFT) // HOP


def _band_stft(x: np.ndarray, f0: int, f1: int) -> np.ndarray:
    """The band bins (frames f0..f1-1, 96 bins) of the STFT of x."""
    seg = x[f0 * HOP : (f1 - 1) * HOP + NFFT]
    frames = np.lib.stride_tricks.sliding_window_view(seg, NFFT)[::HOP] * _WINDOW
    return np.fft.rfft(frames, axis=1)[:, _BAND]


def _row_energy(spec: np.ndarray) -> np.ndarray:
    """(frames, 96) band spectrum -> (ROWS, frames) energies."""
    p = (np.abs(spec) ** 2).reshape(spec.shape[0], ROWS, TILE_BINS).sum(axis=2) * _SCALE
    return p.T


def _band_energies(x: np.ndarray, chunk: int = 4096) -> np.ndarray:
    """(ROWS, frames) band energies of the whole signal, computed in chunks of frames."""
    n = _frames(x)
    out = np.zeros((ROWS, n))
    for f0 in range(0, n, chunk):
        f1 = min(n, f0 + chunk)
        out[:, f0:f1] = _row_energy(_band_stft(x, f0, f1))
    return out


def _tile_energy(energy: np.ndarray, phase: int = 0) -> np.ndarray:
    e = energy[:, phase:]
    cols = e.shape[1] // TILE_FRAMES
    return np.asarray(e[:, : cols * TILE_FRAMES].reshape(ROWS, cols, TILE_FRAMES).sum(axis=2))


def _tiles(energy: np.ndarray, phase: int = 0, loud: float | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(ROWS, frames) energies -> tile readings v (level relative to the column's mean, dB) and usable mask
    (loud: the level of the track's loud tiles; default the 95th percentile of these)."""
    e = _tile_energy(energy, phase)
    cols = e.shape[1]
    level = 10 * np.log10(e + 1e-20)
    v = level - _moving_mean(level, SMOOTH_COLS)
    if SMOOTH_ROWS:
        v = v - _moving_mean(v.T, SMOOTH_ROWS).T
    else:
        v -= v.mean(axis=0, keepdims=True)
    if cols == 0:
        return v, np.zeros_like(v, dtype=bool)
    if loud is None:
        loud = float(np.percentile(level, 95))
    usable = (level > FLOOR_DB) & (level > loud - RANGE_DB)
    return v, usable


def _moving_mean(a: np.ndarray, width: int) -> np.ndarray:
    """Centred moving mean along the columns (edges repeated)."""
    half = width // 2
    padded = np.pad(a, ((0, 0), (half, half)), mode="edge")
    c = np.cumsum(np.pad(padded, ((0, 0), (1, 0))), axis=1)
    return np.asarray((c[:, width:] - c[:, :-width]) / width)


def _group_sums(
    v: np.ndarray, usable: np.ndarray, lay: _Layout, shift: int, edge: int = 0
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per block and group: the sum of chip x reading over usable tiles, their count, and whether the whole
    group lies inside the audio (leaving out `edge` columns at each end, where the row means are cut
    short). Column c of v sits at block position (c + shift) % COLS."""
    rows, cols = v.shape
    nb = -(-(cols + shift) // COLS)
    vv = np.zeros((rows, nb * COLS))
    uu = np.zeros((rows, nb * COLS))
    inside = np.zeros((rows, nb * COLS))
    vv[:, shift : shift + cols] = np.where(usable, v, 0.0)
    uu[:, shift : shift + cols] = usable
    inside[:, shift + edge : shift + cols - edge] = 1.0

    def per_block(a: np.ndarray) -> np.ndarray:
        return a.reshape(rows, nb, COLS).transpose(1, 0, 2).reshape(nb, TILES)

    whole = lay.sums(per_block(inside), signed=False) >= GROUP_TILES - 0.5
    return lay.sums(per_block(vv)), lay.sums(per_block(uu), signed=False), whole


def _all_shifts(
    v: np.ndarray, usable: np.ndarray, lay: _Layout, edge: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """_group_sums for every shift 0..COLS-1 at once: arrays (COLS, blocks, GROUPS)."""
    rows, cols = v.shape
    nb = -(-(cols + COLS - 1) // COLS)
    width = nb * COLS

    def stack(a: np.ndarray) -> np.ndarray:
        pad = np.zeros((rows, COLS + width))
        pad[:, COLS : COLS + cols] = a
        win = np.lib.stride_tricks.sliding_window_view(pad, width, axis=1)  # win[:, k, j] = pad[:, k + j]
        sel = win[:, COLS - np.arange(COLS), :]  # shift s: column c lands at c + s
        return sel.reshape(rows, COLS, nb, COLS).transpose(1, 2, 0, 3).reshape(COLS, nb, TILES)

    inside = np.zeros((rows, cols))
    inside[:, edge : cols - edge] = 1.0
    whole = lay.sums(stack(inside), signed=False) >= GROUP_TILES - 0.5
    return lay.sums(stack(np.where(usable, v, 0.0))), lay.sums(stack(usable.astype(float)), signed=False), whole


# --- embedding --------------------------------------------------------------------------------------


def embed(audio: np.ndarray, rate: int, payload: int, key: str | bytes) -> np.ndarray:
    """`audio` (samples,) or (samples, channels) at `rate` with the mark carrying `payload` (32 bits).
    Returns float32 of the same shape. The same mark goes into every channel."""
    if rate < RATE:
        raise WatermarkError(f"the watermark needs audio at {RATE} Hz or more (got {rate} Hz)")
    a = np.asarray(audio, dtype=np.float32)
    x = _resample(_mono(a), rate, RATE)
    if _frames(x) < TILE_FRAMES * SPAN_COLS:
        raise WatermarkError("audio too short for the watermark (under 0.3 s)")
    lay = _layout(key)
    target = np.concatenate([np.ones(PILOTS), coded_bits(payload)]) * ALPHA_DB
    mark = np.zeros_like(x)
    total_cols = _frames(x) // TILE_FRAMES
    loud = float(np.percentile(10 * np.log10(_tile_energy(_band_energies(x)) + 1e-20), 95))
    chunk = COLS * 8  # 33 s at a time, each with the columns around it as context
    for c0 in range(0, total_cols, chunk):
        _embed_chunk(x, mark, c0, min(total_cols, c0 + chunk), total_cols, lay, target, loud)
    up = _resample(mark, RATE, rate)
    if len(up) < len(a):
        up = np.pad(up, (0, len(a) - len(up)))
    up = up[: len(a)].astype(np.float32)
    return (a + up[:, None]) if a.ndim == 2 else (a + up)


def _embed_chunk(
    x: np.ndarray, mark: np.ndarray, c0: int, c1: int, total: int, lay: _Layout, target: np.ndarray, loud: float
) -> None:
    """Add to `mark` the change of tile columns c0..c1-1 (c0 on a block boundary), read as the detector
    reads them: with up to CONTEXT columns on either side, and the marks already made around them."""
    left, right = min(CONTEXT, c0), min(CONTEXT, total - c1)
    f0, f1 = (c0 - left) * TILE_FRAMES, (c1 + right) * TILE_FRAMES
    cols = c1 - c0
    start, length = f0 * HOP, (f1 - f0 - 1) * HOP + NFFT
    host = _band_stft(x[start : start + length] + mark[start : start + length], 0, f1 - f0)
    energy = _row_energy(host)
    inner = slice(left, left + cols)
    _, usable_ext = _tiles(energy, 0, loud)
    usable = usable_ext[:, inner]
    weight = _weights(10 * np.log10(_tile_energy(energy)[:, inner] + 1e-20), usable, lay)
    nb = -(-cols // COLS)
    delta = np.zeros((nb, GROUPS))
    add = np.zeros(length)
    for i in range(ITERATIONS):
        seg = x[start : start + length] + mark[start : start + length] + add
        spec = host if i == 0 else _band_stft(seg, 0, f1 - f0)
        v, _ = _tiles(_row_energy(spec), 0, loud)
        sums, counts, _ = _group_sums(v[:, inner], usable, lay, 0)
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


def _weights(level: np.ndarray, usable: np.ndarray, lay: _Layout) -> np.ndarray:
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


def _tile_gains(delta: np.ndarray, lay: _Layout, cols: int) -> np.ndarray:
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
    full[:, _BAND] = host * factor
    pieces = np.fft.irfft(full, n=NFFT, axis=1) * _WINDOW
    out = np.zeros((frames + 1, HOP))  # hop = NFFT / 2: each frame adds its halves to two hop slots
    out[:-1] += pieces[:, :HOP]
    out[1:] += pieces[:, HOP:]
    return out.ravel()


# --- detection --------------------------------------------------------------------------------------


def detect(audio: np.ndarray, rate: int, key: str | bytes) -> tuple[bool, int | None, float]:
    """(present, payload or None, confidence z-score) for `audio` at `rate`."""
    d = decode(audio, rate, key)
    return d.present, d.payload, d.confidence


def decode(audio: np.ndarray, rate: int, key: str | bytes) -> Detection:
    """Search the alignment, read the coded bits, judge presence. See the module's docstring."""
    if rate < RATE:
        raise WatermarkError(f"the watermark is read from audio at {RATE} Hz or more (got {rate} Hz)")
    x = _resample(_mono(audio), rate, RATE)
    lay = _layout(key)
    search = x[: int(SEARCH_S * RATE) + NFFT]
    best: tuple[float, int, int, int] | None = None
    for sub in range(0, HOP, HOP // SUB_OFFSETS):
        energy = _band_energies(search[sub:])
        for phase in range(TILE_FRAMES):
            v, usable = _tiles(energy, phase)
            if v.shape[1] == 0:
                continue
            sums, counts, whole = _all_shifts(v, usable, lay, CONTEXT)
            for shift in range(COLS):
                z = _score(sums[shift], counts[shift], whole[shift])[0]
                if best is None or z > best[0]:
                    best = (z, sub, phase, shift)
    if best is None:
        return Detection(False, None, 0.0, (), False, 0, 0.0, 0.0)
    _, sub, phase, shift = best
    if len(x) > len(search):
        v, usable = _tiles(_band_energies(x[sub:]), phase)
    else:
        v, usable = _tiles(_band_energies(search[sub:]), phase)
    z, groups, share, soft = _score(*_group_sums(v, usable, lay, shift, CONTEXT))
    if groups == 0:
        return Detection(False, None, 0.0, (), False, 0, 0.0, 0.0)
    bits, payload, crc_ok = _read_payload(soft)
    present = z >= Z_PRESENT or (crc_ok and z >= Z_PAYLOAD)
    first_col = (COLS - shift) % COLS
    offset = (sub + (phase + first_col * TILE_FRAMES) * HOP) / RATE
    return Detection(
        present=bool(present),
        payload=payload if (present and crc_ok) else None,
        confidence=round(float(z), 2),
        bits=tuple(int(b > 0) for b in bits),
        crc_ok=crc_ok,
        groups=groups,
        consistent=round(share, 3),
        offset_s=round(offset, 4),
    )


def _score(sums: np.ndarray, counts: np.ndarray, whole: np.ndarray) -> tuple[float, int, float, np.ndarray]:
    """(z, groups read, share consistent, soft values of the coded bits) for one alignment."""
    ok = whole & (counts >= MIN_TILES)
    reading = np.divide(sums, counts, out=np.zeros_like(sums), where=ok)
    limit = 2 * ALPHA_DB  # one wild group does not outvote the others
    soft = np.where(ok[:, PILOTS:], np.clip(reading[:, PILOTS:], -limit, limit), 0.0).sum(axis=0)
    bits = np.where(soft >= 0, 1.0, -1.0)
    signed = reading.copy()
    signed[:, PILOTS:] *= bits[None, :]
    hit = ok & (signed >= HIT_LO * ALPHA_DB) & (signed <= HIT_HI * ALPHA_DB)
    n = int(ok.sum())
    if n == 0:
        return -1e9, 0, 0.0, soft
    hits = int(hit.sum())
    z = (hits - P_NULL * n) / np.sqrt(n * P_NULL * (1 - P_NULL))
    return float(z), n, hits / n, soft


def mark_snr_db(original: np.ndarray, marked: np.ndarray) -> float:
    """Energy of the track over energy of the mark (marked - original), in dB."""
    o = np.asarray(original, dtype=np.float64)
    d = np.asarray(marked, dtype=np.float64) - o
    num, den = float(np.sum(o**2)), float(np.sum(d**2))
    return float("inf") if den == 0 else 10 * np.log10(num / den)
