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

Embedding (pipeline.ledger.watermark_embed) and detection (pipeline.ledger.watermark_detect) share this
module: the scheme's parameters, the keyed pattern, the payload's coding and the tile readings.
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
P_NULL = 0.64  # max over sigma of P(|N(0, sigma)| in the window above) is 0.631 (test_watermark.py)
Z_PRESENT = 7.0  # score above which the mark is present even if the payload does not check out
Z_PAYLOAD = 4.5  # score above which a payload whose CRC checks is reported
CHASE_BITS = 3  # least reliable bits tried flipped when the CRC does not check
SUB_OFFSETS = 4  # alignment search: sub-hop offsets tried
SEARCH_S = 60.0  # alignment is searched in the first minute, then read over the whole track


class WatermarkError(ValueError):
    """Audio the watermark cannot be put in or read from (too short, rate too low)."""


def key_id(key: str | bytes) -> str:
    """A short public fingerprint of a key, for provenance records (never the key itself)."""
    raw = key.encode() if isinstance(key, str) else key
    return hashlib.sha256(b"dubline-watermark-key-id|" + raw).hexdigest()[:12]


@dataclass(frozen=True)
class Layout:
    group: np.ndarray  # (TILES,) group of each tile in a block (tile index = row * COLS + column)
    chip: np.ndarray  # (TILES,) +-1
    by_group: np.ndarray  # (TILES,) tile indices sorted by group: GROUP_TILES of group 0, then of group 1...

    def sums(self, a: np.ndarray, signed: bool = True) -> np.ndarray:
        """(..., TILES) -> (..., GROUPS): per group, the sum of chip x value (or of the values)."""
        if signed:
            a = a * self.chip
        return np.asarray(a[..., self.by_group].reshape(*a.shape[:-1], GROUPS, GROUP_TILES).sum(axis=-1))


def layout(key: str | bytes) -> Layout:
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
    return Layout(group, chip, np.argsort(group, kind="stable"))


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


# --- signal helpers ---------------------------------------------------------------------------------

WINDOW = np.sqrt(0.5 - 0.5 * np.cos(2 * np.pi * np.arange(NFFT) / NFFT))  # sine window: analysis x synthesis = Hann
BAND = slice(BIN_LO, BIN_LO + ROWS * TILE_BINS)
_SCALE = 1.0 / float(np.sum(WINDOW) / 2) ** 2  # a full-scale sine in one bin reads about 0 dB


def resample(x: np.ndarray, src: int, dst: int) -> np.ndarray:
    if src == dst:
        return x
    from scipy.signal import resample_poly

    g = gcd(src, dst)
    return np.asarray(resample_poly(x, dst // g, src // g, axis=0))


def mono(audio: np.ndarray) -> np.ndarray:
    """float64 mono; a multichannel array is averaged in float64 without a float64 copy of all its channels."""
    a = np.asarray(audio)
    return a.mean(axis=1, dtype=np.float64) if a.ndim == 2 else a.astype(np.float64, copy=False)


def frame_count(x: np.ndarray) -> int:
    return 0 if len(x) < NFFT else 1 + (len(x) - NFFT) // HOP


def band_stft(x: np.ndarray, f0: int, f1: int) -> np.ndarray:
    """The band bins (frames f0..f1-1, 96 bins) of the STFT of x."""
    seg = x[f0 * HOP : (f1 - 1) * HOP + NFFT]
    frames = np.lib.stride_tricks.sliding_window_view(seg, NFFT)[::HOP] * WINDOW
    return np.fft.rfft(frames, axis=1)[:, BAND]


def row_energy(spec: np.ndarray) -> np.ndarray:
    """(frames, 96) band spectrum -> (ROWS, frames) energies."""
    p = (np.abs(spec) ** 2).reshape(spec.shape[0], ROWS, TILE_BINS).sum(axis=2) * _SCALE
    return p.T


def band_energies(x: np.ndarray, chunk: int = 4096) -> np.ndarray:
    """(ROWS, frames) band energies of the whole signal, computed in chunks of frames."""
    n = frame_count(x)
    out = np.zeros((ROWS, n))
    for f0 in range(0, n, chunk):
        f1 = min(n, f0 + chunk)
        out[:, f0:f1] = row_energy(band_stft(x, f0, f1))
    return out


def tile_energy(energy: np.ndarray, phase: int = 0) -> np.ndarray:
    e = energy[:, phase:]
    cols = e.shape[1] // TILE_FRAMES
    return np.asarray(e[:, : cols * TILE_FRAMES].reshape(ROWS, cols, TILE_FRAMES).sum(axis=2))


def tile_readings(energy: np.ndarray, phase: int = 0, loud: float | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(ROWS, frames) energies -> tile readings v (level relative to the column's mean, dB) and usable mask
    (loud: the level of the track's loud tiles; default the 95th percentile of these)."""
    e = tile_energy(energy, phase)
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


def group_sums(
    v: np.ndarray, usable: np.ndarray, lay: Layout, shift: int, edge: int = 0
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


def all_shifts(v: np.ndarray, usable: np.ndarray, lay: Layout, edge: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """group_sums for every shift 0..COLS-1 at once: arrays (COLS, blocks, GROUPS)."""
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
