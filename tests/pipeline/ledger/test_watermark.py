"""The spread-spectrum watermark: round trip, robustness (AAC, MP3, resampling, gain, a cut start), no false
detections on unmarked material (synthetic here; the real recordings when ../shared/fixtures is present)."""

from __future__ import annotations

import subprocess
import tempfile
from math import erf, sqrt
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from pipeline.ledger import watermark as wm
from pipeline.ledger import watermark_detect as wmd
from pipeline.ledger import watermark_embed as wme

RATE = 48000
KEY = "test-key"
PAYLOAD = 0xC0FFEE42


def speechlike(seconds: float, seed: int) -> np.ndarray:
    """Voiced 'syllables' (a gliding pitch with harmonics under moving formants) separated by pauses."""
    rng = np.random.default_rng(seed)
    n = int(seconds * RATE)
    out = np.zeros(n)
    t = 0.2
    while t < seconds - 0.5:
        dur = rng.uniform(0.12, 0.35)
        i0, i1 = int(t * RATE), int((t + dur) * RATE)
        k = np.arange(i1 - i0) / RATE
        f0 = rng.uniform(95, 210) * (1 + 0.15 * np.sin(2 * np.pi * rng.uniform(1, 4) * k))
        phase = 2 * np.pi * np.cumsum(f0) / RATE
        formants = rng.uniform([300, 900, 2200], [800, 2200, 3200])
        syl = np.zeros_like(k)
        for h in range(1, 40):
            f = h * f0.mean()
            if f > 7500:
                break
            gain = sum(np.exp(-(((f - fm) / 180) ** 2)) for fm in formants) + 0.02
            syl += gain * np.sin(h * phase) / h**0.5
        syl *= np.sin(np.pi * k / dur) ** 0.5
        out[i0:i1] += syl
        t += dur + (rng.uniform(0.3, 0.9) if rng.random() < 0.25 else rng.uniform(0.02, 0.08))
    return out / max(float(np.max(np.abs(out))), 1e-9) * 0.3


def chords(seconds: float, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * RATE)) / RATE
    out = np.zeros_like(t)
    for i, root in enumerate(rng.choice([110.0, 130.81, 146.83, 196.0], size=int(seconds / 2) + 1)):
        seg = (t >= 2 * i) & (t < 2 * i + 2)
        local = t[seg] - 2 * i
        for ratio in (1.0, 1.25, 1.5):
            for h in range(1, 8):
                out[seg] += np.exp(-local * 0.8) * np.sin(2 * np.pi * root * ratio * h * local) / h**1.2
    return out / np.max(np.abs(out)) * 0.3


def stereo(x: np.ndarray) -> np.ndarray:
    return np.stack([x, x], axis=1).astype(np.float32)


def dub_track(seconds: float = 16.0, seed: int = 1) -> np.ndarray:
    """A dub-like track: synthetic speech over a quieter music bed, at about -20 dBFS RMS."""
    mix = speechlike(seconds, seed) + 0.25 * chords(seconds, seed + 100)
    return stereo(mix * (0.1 / np.sqrt(np.mean(mix**2))))


def codec(audio: np.ndarray, args: list[str], ext: str) -> np.ndarray:
    with tempfile.TemporaryDirectory() as d:
        src, enc = Path(d) / "in.wav", Path(d) / f"enc.{ext}"
        sf.write(str(src), audio, RATE, subtype="FLOAT")
        subprocess.run(["ffmpeg", "-v", "error", "-y", "-i", str(src), *args, str(enc)], check=True)
        raw = subprocess.run(
            ["ffmpeg", "-v", "error", "-i", str(enc), "-ac", "2", "-ar", str(RATE), "-f", "f32le", "-"],
            capture_output=True,
            check=True,
        ).stdout
    return np.frombuffer(raw, dtype=np.float32).reshape(-1, 2)


@pytest.fixture(scope="module")
def host() -> np.ndarray:
    return dub_track()


@pytest.fixture(scope="module")
def marked(host: np.ndarray) -> np.ndarray:
    return wme.embed(host, RATE, PAYLOAD, KEY)


def test_round_trip(host: np.ndarray, marked: np.ndarray) -> None:
    assert marked.shape == host.shape and marked.dtype == np.float32
    d = wmd.decode(marked, RATE, KEY)
    assert d.present and d.payload == PAYLOAD and d.crc_ok
    assert d.confidence > wm.Z_PRESENT
    assert wmd.detect(marked, RATE, KEY) == (True, PAYLOAD, d.confidence)


def test_inaudible_by_snr(host: np.ndarray, marked: np.ndarray) -> None:
    assert wme.mark_snr_db(host, marked) >= 25.0


def test_mono_input_gives_mono_output() -> None:
    x = dub_track(8.0, seed=5)[:, 0]
    y = wme.embed(x, RATE, 7, KEY)
    assert y.shape == x.shape


@pytest.mark.parametrize(
    ("name", "args", "ext"),
    [("aac 128k", ["-c:a", "aac", "-b:a", "128k"], "m4a"), ("mp3 128k", ["-c:a", "libmp3lame", "-b:a", "128k"], "mp3")],
)
def test_survives_lossy_encoding(marked: np.ndarray, name: str, args: list[str], ext: str) -> None:
    d = wmd.decode(codec(marked, args, ext), RATE, KEY)
    assert d.payload == PAYLOAD, (name, d)


def test_survives_resampling_to_44k1_then_16k(marked: np.ndarray) -> None:
    from scipy.signal import resample_poly

    a = resample_poly(marked, 147, 160, axis=0)
    b = resample_poly(a, 160, 441, axis=0)
    assert wmd.decode(a, 44100, KEY).payload == PAYLOAD
    assert wmd.decode(b, 16000, KEY).payload == PAYLOAD


@pytest.mark.parametrize("gain_db", [6.0, -6.0, -20.0])
def test_survives_gain(marked: np.ndarray, gain_db: float) -> None:
    a = np.clip(marked * 10 ** (gain_db / 20), -1, 1)
    assert wmd.decode(a, RATE, KEY).payload == PAYLOAD


@pytest.mark.parametrize("cut_s", [0.0107, 1.234, 5.5])
def test_survives_a_cut_start(marked: np.ndarray, cut_s: float) -> None:
    assert wmd.decode(marked[int(cut_s * RATE) :], RATE, KEY).payload == PAYLOAD


def test_other_key_reads_nothing(marked: np.ndarray) -> None:
    d = wmd.decode(marked, RATE, "another key")
    assert not d.present and d.payload is None


def test_unmarked_host_reads_nothing(host: np.ndarray) -> None:
    d = wmd.decode(host, RATE, KEY)
    assert not d.present and d.payload is None and d.confidence < wm.Z_PAYLOAD


def _unmarked() -> dict[str, np.ndarray]:
    rng = np.random.default_rng(9)
    t = np.arange(10 * RATE) / RATE
    return {
        "speech": stereo(speechlike(12, 21)),
        "music": stereo(chords(12, 22)),
        "white noise": stereo(rng.standard_normal(8 * RATE) * 0.1),
        "tone in the band": stereo(0.3 * np.sin(2 * np.pi * 2000 * t) * (1 + 0.5 * np.sin(2 * np.pi * 4 * t))),
        "silence": np.zeros((5 * RATE, 2), dtype=np.float32),
        "too short": stereo(speechlike(0.4, 3)),
    }


@pytest.mark.parametrize("name", list(_unmarked()))
def test_no_false_detection_on_synthetic_material(name: str) -> None:
    d = wmd.decode(_unmarked()[name], RATE, KEY)
    assert not d.present and d.payload is None, (name, d)


@pytest.mark.fixtures
def test_no_false_detection_on_real_recordings(fixtures_dir: Path) -> None:
    for f in sorted(fixtures_dir.iterdir()):
        if f.suffix.lower() not in (".wav", ".flac", ".mp3", ".aiff"):
            continue
        raw = subprocess.run(
            ["ffmpeg", "-v", "error", "-i", str(f), "-ac", "2", "-ar", str(RATE), "-f", "f32le", "-"],
            capture_output=True,
            check=True,
        ).stdout
        audio = np.frombuffer(raw, dtype=np.float32).reshape(-1, 2)
        d = wmd.decode(audio, RATE, KEY)
        assert not d.present and d.payload is None, (f.name, d)


@pytest.mark.fixtures
def test_real_speech_over_a_song_round_trip_through_aac(fixtures_dir: Path) -> None:
    def load(name: str, seconds: float) -> np.ndarray:
        raw = subprocess.run(
            ["ffmpeg", "-v", "error", "-t", str(seconds), "-i", str(fixtures_dir / name)]
            + ["-ac", "2", "-ar", str(RATE), "-f", "f32le", "-"],
            capture_output=True,
            check=True,
        ).stdout
        return np.frombuffer(raw, dtype=np.float32).reshape(-1, 2)

    speech = load("lecture_en_60s.wav", 16)
    song = np.tile(load("song_with_vocals.mp3", 11), (2, 1))[: len(speech)]
    track = (0.8 * speech + 0.2 * song).astype(np.float32)
    m = wme.embed(track, RATE, 12345, KEY)
    assert wme.mark_snr_db(track, m) >= 25.0
    assert wmd.decode(codec(m, ["-c:a", "aac", "-b:a", "128k"], "m4a"), RATE, KEY).payload == 12345


def test_p_null_bounds_gaussian_scatter() -> None:
    """No Gaussian scatter of unmarked readings, whatever its width, puts more than P_NULL of the groups in
    the consistency window: the z-score's null hypothesis holds for any host."""

    def share(sigma: float) -> float:
        lo, hi = wm.HIT_LO * wm.ALPHA_DB, wm.HIT_HI * wm.ALPHA_DB
        cdf = lambda x: 0.5 * (1 + erf(x / (sigma * sqrt(2))))  # noqa: E731
        return 2 * (cdf(hi) - cdf(lo))

    assert max(share(s) for s in np.linspace(0.01, 10, 5000)) <= wm.P_NULL


def test_payload_and_crc() -> None:
    bits = wm.coded_bits(0xDEADBEEF)
    assert len(bits) == wm.CODED_BITS and set(bits) <= {-1.0, 1.0}
    soft = bits * 0.8
    soft[[3, 17, 40]] *= -0.1  # three weak, wrong bits: Chase decoding puts them right
    _, payload, ok = wmd._read_payload(soft)
    assert ok and payload == 0xDEADBEEF
    with pytest.raises(wm.WatermarkError):
        wm.coded_bits(2**32)


def test_refuses_what_it_cannot_mark() -> None:
    with pytest.raises(wm.WatermarkError, match="16000 Hz"):
        wme.embed(np.zeros(8000, dtype=np.float32), 8000, 1, KEY)
    with pytest.raises(wm.WatermarkError, match="too short"):
        wme.embed(np.zeros(1000, dtype=np.float32), RATE, 1, KEY)


def test_key_id_is_stable_and_not_the_key() -> None:
    assert wm.key_id("k") == wm.key_id(b"k") != wm.key_id("other")
    assert "k" not in wm.key_id("k") or len(wm.key_id("k")) == 12
