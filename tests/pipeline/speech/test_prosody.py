"""Prosody measurement on signals with known F0, level and syllable timing; transfer bounds and directions;
delivery styles; the voice baseline's cache."""

from __future__ import annotations

import math
import time
import wave
from pathlib import Path

import numpy as np
import pytest

from models.base import ModelInfo, Prosody, Voice
from pipeline.core.config import Settings
from pipeline.core.script import Segment, SegmentProsody, WordTiming
from pipeline.speech.prosody import (
    PITCH_MAX_ST,
    STYLES,
    VOLUME_MAX_DB,
    get_style,
    soft_limit,
    speaker_baseline,
    style_prosody,
    transfer,
    voice_baseline,
)
from pipeline.speech.prosody_measure import ProsodyError, find_pauses, measure_clip, measure_segments

SR = 16000


def voiced(f0_start: float, seconds: float, f0_end: float | None = None, amplitude: float = 0.3) -> np.ndarray:
    """A buzz with ten harmonics (speech-like for a pitch tracker); F0 glides exponentially to f0_end."""
    n = int(seconds * SR)
    f_end = f0_end or f0_start
    f = f0_start * (f_end / f0_start) ** (np.arange(n) / max(n - 1, 1))
    phase = 2 * np.pi * np.cumsum(f) / SR
    x = sum(np.sin(k * phase) / k for k in range(1, 11))
    x = np.asarray(x) / np.max(np.abs(x)) * amplitude
    ramp = min(n // 10, int(0.005 * SR))  # 5 ms fades: no clicks at the edges
    if ramp:
        x[:ramp] *= np.linspace(0, 1, ramp)
        x[-ramp:] *= np.linspace(1, 0, ramp)
    return np.asarray(x)


def silence(seconds: float) -> np.ndarray:
    return np.zeros(int(seconds * SR))


def seg(start: float, end: float, text: str, words: list[WordTiming] | None = None) -> Segment:
    return Segment(id=f"s{start}", start=start, end=end, text=text, words=words or [])


# --- measuring -----------------------------------------------------------------------------------


def test_f0_median_and_level_of_a_steady_voice() -> None:
    x = np.concatenate([silence(0.3), voiced(150.0, 1.5, amplitude=0.25), silence(0.3)])
    [p] = measure_segments(x, SR, [seg(0.0, 2.1, "ah")], "en")
    assert p.f0_median_hz == pytest.approx(150.0, rel=0.02)
    assert p.f0_range_st is not None and p.f0_range_st < 0.5
    burst = voiced(150.0, 1.5, amplitude=0.25)
    expected_db = 10 * math.log10(float(np.mean(burst**2)))
    assert p.energy_db == pytest.approx(expected_db, abs=1.0)
    assert p.voiced_ratio is not None and p.voiced_ratio > 0.9


def test_f0_range_of_a_glide_in_semitones() -> None:
    """120 -> 240 Hz, exponential: one octave; the 10th-90th percentiles span 80 % of it (9.6 st)."""
    x = np.concatenate([silence(0.2), voiced(120.0, 2.0, 240.0), silence(0.2)])
    [p] = measure_segments(x, SR, [seg(0.0, 2.4, "ah")], "en")
    assert p.f0_range_st == pytest.approx(9.6, abs=0.8)
    assert p.f0_median_hz == pytest.approx(120.0 * 2**0.5, rel=0.05)


def test_rate_counts_syllables_over_spoken_time_only() -> None:
    """Six 'ba' bursts of 0.15 s with 0.05 s gaps (shorter than a pause), a 0.5 s pause after the third,
    silence before and after: rate = 6 / (6 x 0.15 + 4 x 0.05) = 5.45 syllables/s."""
    half = [voiced(140.0, 0.15), silence(0.05), voiced(150.0, 0.15), silence(0.05), voiced(145.0, 0.15)]
    x = np.concatenate([silence(0.4), *half, silence(0.5), *half, silence(0.6)])
    [p] = measure_segments(x, SR, [seg(0.0, len(x) / SR, "ba ba ba ba ba ba")], "en")
    assert p.rate_sps == pytest.approx(6 / 1.1, rel=0.05)
    assert p.pauses_s == pytest.approx(0.5, abs=0.03)


def test_faster_speech_measures_faster() -> None:
    def line(burst: float) -> np.ndarray:
        parts = []
        for _ in range(8):
            parts += [voiced(150.0, burst), silence(0.04)]
        return np.concatenate(parts)

    slow, fast = line(0.25), line(0.12)
    x = np.concatenate([silence(0.3), slow, silence(0.8), fast, silence(0.3)])
    t_fast = 0.3 + len(slow) / SR + 0.8
    text = "ba ba ba ba ba ba ba ba"
    p_slow, p_fast = measure_segments(x, SR, [seg(0.0, t_fast - 0.4, text), seg(t_fast - 0.4, len(x) / SR, text)], "en")
    assert p_slow.rate_sps and p_fast.rate_sps
    assert p_fast.rate_sps > 1.7 * p_slow.rate_sps
    assert p_fast.pause_before_s == pytest.approx(0.8, abs=0.05)
    assert p_slow.pause_before_s == 0.0


def test_word_gaps_count_as_pauses_even_over_noise() -> None:
    """A breath or room noise in a gap between Whisper's words is still a pause."""
    rng = np.random.default_rng(0)
    x = np.concatenate([voiced(150.0, 0.6), rng.normal(0, 0.05, int(0.4 * SR)), voiced(150.0, 0.6)])
    words = [WordTiming(text="la", start=0.0, end=0.6), WordTiming(text="la", start=1.0, end=1.6)]
    [with_words] = measure_segments(x, SR, [seg(0.0, 1.6, "la la", words)], "en")
    [without] = measure_segments(x, SR, [seg(0.0, 1.6, "la la")], "en")
    assert with_words.pauses_s == pytest.approx(0.4, abs=0.03)
    assert without.pauses_s == 0.0
    assert with_words.rate_sps == pytest.approx(2 / 1.2, rel=0.05)


def test_find_pauses_inside_speech_only() -> None:
    x = np.concatenate([silence(0.5), voiced(150.0, 0.5), silence(0.3), voiced(150.0, 0.5), silence(0.1)])
    x = np.concatenate([x, voiced(150.0, 0.5), silence(0.5)])
    [(a, b)] = find_pauses(x, SR, 0.0, len(x) / SR)  # not the edges, not the 0.1 s gap
    assert a == pytest.approx(1.0, abs=0.02) and b == pytest.approx(1.3, abs=0.02)
    assert find_pauses(x, SR, 1.4, 1.6) == []


def test_silent_segment_and_unvoiced_noise() -> None:
    rng = np.random.default_rng(1)
    x = np.concatenate([silence(1.0), rng.normal(0, 0.1, SR)])
    empty, noise = measure_segments(x, SR, [seg(0.0, 1.0, "nothing"), seg(1.0, 2.0, "shh")], "en")
    assert empty == SegmentProsody()
    assert noise.f0_median_hz is None and noise.f0_range_st is None
    assert noise.energy_db is not None


def test_measure_rejects_stereo() -> None:
    with pytest.raises(ProsodyError):
        measure_segments(np.zeros((SR, 2)), SR, [seg(0.0, 1.0, "a")], "en")


def test_measure_clip_reads_a_file(tmp_path: Path) -> None:
    x = np.concatenate([silence(0.2), voiced(200.0, 1.0), silence(0.2)])
    path = tmp_path / "clip.wav"
    _write_wav(path, x)
    p = measure_clip(path, "hello", "en")
    assert p.f0_median_hz == pytest.approx(200.0, rel=0.02)
    assert p.rate_sps == pytest.approx(2 / 1.0, rel=0.05)


def test_measure_is_fast() -> None:
    """Well under 0.05 x real time (0.004-0.011 measured on 2 shared cores); the bound here is loose."""
    rng = np.random.default_rng(2)
    parts = [np.concatenate([voiced(float(rng.uniform(100, 250)), 1.5), silence(0.3)]) for _ in range(22)]
    x = np.concatenate(parts)
    segs = [seg(i * 1.8, i * 1.8 + 1.8, "one two three four") for i in range(22)]
    t0 = time.perf_counter()
    out = measure_segments(x, SR, segs, "en")
    rtf = (time.perf_counter() - t0) / (len(x) / SR)
    assert len(out) == 22
    assert rtf < 0.1


def test_speaker_baseline_medians_ignore_missing() -> None:
    ps = [
        SegmentProsody(rate_sps=4.0, f0_median_hz=100.0, energy_db=-20.0),
        SegmentProsody(rate_sps=6.0, f0_median_hz=None, energy_db=-30.0),
        SegmentProsody(rate_sps=5.0, f0_median_hz=120.0, f0_range_st=4.0),
    ]
    b = speaker_baseline(ps)
    assert b["rate_sps"] == 5.0 and b["f0_median_hz"] == 110.0 and b["f0_range_st"] == 4.0
    assert b["energy_db"] == -25.0
    assert speaker_baseline([])["rate_sps"] is None


# --- transfer ------------------------------------------------------------------------------------

BASE = {"rate_sps": 5.0, "f0_median_hz": 110.0, "f0_range_st": 5.0, "energy_db": -22.0}
VOICE = {"rate_sps": 5.5, "f0_median_hz": 200.0}


def test_a_line_like_its_speaker_gives_the_voice_its_own_delivery() -> None:
    p = transfer(SegmentProsody(**BASE), BASE, VOICE, None, Settings())
    assert p == Prosody()


def test_faster_higher_wider_louder_source_gives_the_same_in_the_dub() -> None:
    src = SegmentProsody(rate_sps=5.5, f0_median_hz=110.0 * 2 ** (2 / 12), f0_range_st=6.5, energy_db=-19.0)
    p = transfer(src, BASE, VOICE, None, Settings())
    assert p.rate == pytest.approx(1.1, rel=0.01)  # a little past the soft knee (1.072)
    assert p.pitch == pytest.approx(2 ** (2 / 12), rel=1e-3)  # at the knee: as measured
    assert p.pitch_range == pytest.approx(1.3, rel=0.005)
    assert p.volume == pytest.approx(10 ** (3 / 20), rel=1e-3)
    slow = transfer(SegmentProsody(rate_sps=4.5, f0_median_hz=100.0, energy_db=-25.0), BASE, VOICE, None, Settings())
    assert slow.rate < 1 and slow.pitch < 1 and slow.volume < 1


def test_deviations_are_relative_to_the_speaker_not_absolute() -> None:
    """A low male speaker at his usual pitch leaves a high voice where it is."""
    low = {**BASE, "f0_median_hz": 90.0}
    p = transfer(SegmentProsody(f0_median_hz=90.0), low, {"f0_median_hz": 220.0}, None, Settings())
    assert p.pitch == 1.0


def test_transfer_bounds() -> None:
    s = Settings()

    def near(value: float, bound: float) -> bool:
        """Between 95 % of the way to the bound (in log terms) and the bound itself."""
        return 0.95 <= math.log(value) / math.log(bound) <= 1.0

    wild = SegmentProsody(rate_sps=500.0, f0_median_hz=1e5, f0_range_st=1000.0, energy_db=200.0)
    p = transfer(wild, BASE, {}, None, s)
    assert near(p.rate, s.prosody_rate_max)
    assert near(p.pitch, 2 ** (PITCH_MAX_ST / 12))
    assert near(p.pitch_range, 1.6)
    assert near(p.volume, 10 ** (VOLUME_MAX_DB / 20))
    tame = SegmentProsody(rate_sps=0.05, f0_median_hz=0.1, f0_range_st=0.01, energy_db=-400.0)
    q = transfer(tame, BASE, {}, None, s)
    assert near(q.rate, s.prosody_rate_min)
    assert near(q.pitch, 2 ** (-PITCH_MAX_ST / 12))
    assert near(q.pitch_range, 0.6)
    assert near(q.volume, 10 ** (-VOLUME_MAX_DB / 20))


def test_soft_bounds_keep_the_order_of_lines() -> None:
    rates = [SegmentProsody(rate_sps=r) for r in np.linspace(2.5, 10.0, 30)]  # 0.5-2 x the speaker's
    cfg = Settings()
    asked = [transfer(p, BASE, {}, None, cfg).rate for p in rates]
    assert all(b > a for a, b in zip(asked, asked[1:], strict=False))
    assert cfg.prosody_rate_min < min(asked) and max(asked) < cfg.prosody_rate_max
    assert soft_limit(0.05, -1.0, 1.0) == 0.05  # below the knee: unchanged
    assert -1.0 < soft_limit(-3.0, -1.0, 2.0) < -0.9
    assert 1.0 < soft_limit(1.5, -1.0, 2.0) < 1.5


def test_rate_bounds_come_from_settings() -> None:
    s = Settings(prosody_rate_min=0.95, prosody_rate_max=1.05)
    assert 1.045 < transfer(SegmentProsody(rate_sps=9.0), BASE, {}, None, s).rate <= 1.05
    assert 0.95 <= transfer(SegmentProsody(rate_sps=2.0), BASE, {}, None, s).rate < 0.955


def test_a_fast_voice_is_not_pushed_past_an_intelligible_rate() -> None:
    p = transfer(SegmentProsody(rate_sps=7.0), BASE, {"rate_sps": 8.5}, None, Settings())
    assert 1.0 <= p.rate <= 9.0 / 8.5 + 1e-9


def test_missing_figures_leave_controls_alone() -> None:
    assert transfer(SegmentProsody(), BASE, VOICE, None, Settings()) == Prosody()
    assert transfer(SegmentProsody(rate_sps=6.0), {}, VOICE, None, Settings()) == Prosody()
    assert transfer(None, BASE, VOICE, None, Settings()) == Prosody()
    assert transfer(SegmentProsody(rate_sps=6.0), {"rate_sps": None}, VOICE, None, Settings()).rate == 1.0


def test_transfer_off_keeps_only_the_style() -> None:
    s = Settings(prosody_transfer=False)
    src = SegmentProsody(rate_sps=6.0, f0_median_hz=150.0)
    assert transfer(src, BASE, VOICE, None, s) == Prosody()
    assert transfer(src, BASE, VOICE, "calm", s) == style_prosody("calm")


def test_style_multiplies_on_top_of_transfer() -> None:
    src = SegmentProsody(rate_sps=5.5, f0_median_hz=110.0)
    plain = transfer(src, BASE, VOICE, None, Settings())
    excited = transfer(src, BASE, VOICE, "excited", Settings())
    assert excited.rate == pytest.approx(plain.rate * STYLES["excited"].rate, rel=1e-3)
    assert excited.pitch == pytest.approx(plain.pitch * STYLES["excited"].pitch, rel=1e-3)
    assert excited.pitch_range == pytest.approx(STYLES["excited"].pitch_range, rel=1e-3)


# --- styles --------------------------------------------------------------------------------------


def test_styles_table() -> None:
    assert set(STYLES) == {"neutral", "warm", "excited", "calm", "serious"}
    assert style_prosody("neutral") == Prosody()
    excited, calm = style_prosody("excited"), style_prosody("calm")
    assert excited.rate > 1 > calm.rate
    assert excited.pitch > 1 > calm.pitch
    assert excited.pitch_range > 1 > calm.pitch_range
    assert excited.volume > 1 > calm.volume
    assert get_style("calm").pause > 1 > get_style("excited").pause
    assert style_prosody(" Warm ") == style_prosody("warm")


def test_unknown_style_lists_the_choices() -> None:
    with pytest.raises(ProsodyError) as e:
        style_prosody("angry")
    msg = str(e.value)
    assert "'angry'" in msg
    for name in STYLES:
        assert name in msg
    with pytest.raises(ProsodyError):
        transfer(SegmentProsody(), BASE, VOICE, "shouty", Settings())


# --- the voice's baseline ------------------------------------------------------------------------


def _write_wav(path: Path, x: np.ndarray, sr: int = SR) -> None:
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(sr)
        w.writeframes((np.clip(x, -1, 1) * 32767).astype("<i2").tobytes())


class ToneTTS:
    """A fake engine: one 0.2 s buzz per syllable-ish (a fixed 30 bursts) at the voice's F0."""

    name = "tone"
    info = ModelInfo("tone-tts", "1")

    def __init__(self) -> None:
        self.calls = 0

    def languages(self) -> list[str]:
        return ["en", "es"]

    def voice_for(self, language: str) -> Voice:
        return Voice(engine="tone", id="low", language=language)

    def synthesize(self, text: str, voice: Voice, out_path: Path, prosody: Prosody = Prosody()) -> Path:
        self.calls += 1
        f0 = 100.0 if voice.id == "low" else 200.0
        _write_wav(Path(out_path), np.concatenate([voiced(f0, 2.0), silence(0.2)]))
        return Path(out_path)


def test_voice_baseline_is_measured_once_and_cached(tmp_path: Path) -> None:
    tts = ToneTTS()
    voice = tts.voice_for("en")
    first = voice_baseline(tts, voice, "en", tmp_path)
    assert tts.calls == 1
    assert first["f0_median_hz"] == pytest.approx(100.0, rel=0.02)
    assert first["rate_sps"] and first["rate_sps"] > 5  # the English sentence over 2 s
    again = voice_baseline(tts, voice, "en", tmp_path)
    assert again == first and tts.calls == 1
    high = voice_baseline(tts, Voice(engine="tone", id="high", language="en"), "en", tmp_path)
    assert tts.calls == 2 and high["f0_median_hz"] == pytest.approx(200.0, rel=0.02)
    voice_baseline(tts, voice, "es", tmp_path)
    assert tts.calls == 3
    assert not list(tmp_path.glob("*.wav"))  # only the JSON stays
