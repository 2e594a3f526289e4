"""Detecting the spread-spectrum watermark and reading its payload (pipeline.ledger.watermark: the scheme, its
pattern and readings).

Detection searches every alignment (4 sub-hop offsets x 4 frame phases x 64 block columns), combines each
bit's readings over all blocks, and reads the payload (Chase decoding over the 3 least reliable bits
against the CRC). Presence rests on consistency: a marked track's groups read close to +-alpha, an
unmarked track's scatter around 0. The confidence is a binomial z-score of the share of groups within
[0.35, 1.65] x alpha (with the decoded sign) against P_NULL, the most any Gaussian scatter can put in that
window. A payload is reported when its CRC checks and the score passes Z_PAYLOAD; a mark whose payload
cannot be read is reported present above Z_PRESENT.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from pipeline.ledger.watermark import (
    ALPHA_DB,
    CHASE_BITS,
    COLS,
    CONTEXT,
    CRC_BITS,
    HIT_HI,
    HIT_LO,
    HOP,
    MIN_TILES,
    NFFT,
    P_NULL,
    PILOTS,
    RATE,
    SEARCH_S,
    SUB_OFFSETS,
    TILE_FRAMES,
    Z_PAYLOAD,
    Z_PRESENT,
    WatermarkError,
    all_shifts,
    band_energies,
    crc16,
    group_sums,
    layout,
    mono,
    resample,
    tile_readings,
)


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


def detect(audio: np.ndarray, rate: int, key: str | bytes) -> tuple[bool, int | None, float]:
    """(present, payload or None, confidence z-score) for `audio` at `rate`."""
    d = decode(audio, rate, key)
    return d.present, d.payload, d.confidence


def decode(audio: np.ndarray, rate: int, key: str | bytes) -> Detection:
    """Search the alignment, read the coded bits, judge presence. See the module's docstring."""
    if rate < RATE:
        raise WatermarkError(f"the watermark is read from audio at {RATE} Hz or more (got {rate} Hz)")
    x = resample(mono(audio), rate, RATE)
    lay = layout(key)
    search = x[: int(SEARCH_S * RATE) + NFFT]
    best: tuple[float, int, int, int] | None = None
    for sub in range(0, HOP, HOP // SUB_OFFSETS):
        energy = band_energies(search[sub:])
        for phase in range(TILE_FRAMES):
            v, usable = tile_readings(energy, phase)
            if v.shape[1] == 0:
                continue
            sums, counts, whole = all_shifts(v, usable, lay, CONTEXT)
            for shift in range(COLS):
                z = _score(sums[shift], counts[shift], whole[shift])[0]
                if best is None or z > best[0]:
                    best = (z, sub, phase, shift)
    if best is None:
        return Detection(False, None, 0.0, (), False, 0, 0.0, 0.0)
    _, sub, phase, shift = best
    if len(x) > len(search):
        v, usable = tile_readings(band_energies(x[sub:]), phase)
    else:
        v, usable = tile_readings(band_energies(search[sub:]), phase)
    z, groups, share, soft = _score(*group_sums(v, usable, lay, shift, CONTEXT))
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
