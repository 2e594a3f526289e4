"""kNN voice conversion: the matching logic on made-up frames (content, pitch, fallback to the source), the
matching set's file, settings; the real parts (Whisper encoder, HiFi-GAN, CAM++) on a fixture."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from models.base import EngineError
from models.cloning.knnvc import KnnSettings, KnnVC, MatchSet, to_frames, unit_rows


class _NoModel:
    """Stands for the encoder and the vocoder where only the matching is under test."""

    version = "none"

    def __call__(self, x: np.ndarray) -> np.ndarray:
        raise AssertionError("not used")


def _vc(**kw: float | int | bool | tuple[int, ...]) -> KnnVC:
    """Plain matching unless told otherwise: no smoothing, nothing of the line's own spectrum kept."""
    plain: dict[str, object] = {"smooth": 1, "source_mix": 0.0, "poor_mix": 0.0, "shift_f0": False, "eq": False}
    return KnnVC(KnnSettings(**{**plain, **kw}), features=_NoModel(), vocoder=_NoModel())  # type: ignore[arg-type]


def _target(n: int = 12, d: int = 6, seed: int = 0) -> MatchSet:
    rng = np.random.default_rng(seed)
    feats = unit_rows(rng.standard_normal((n, d)).astype(np.float32))
    mels = np.arange(n, dtype=np.float32)[:, None] * np.ones((1, 80), np.float32)  # frame i's mel is all i
    log_f0 = np.log(np.linspace(100, 200, n)).astype(np.float32)
    return MatchSet(feats, mels, log_f0)


def test_to_frames_keeps_the_ends_and_interpolates() -> None:
    x = np.array([[0.0], [10.0]], np.float32)
    y = to_frames(x, 5)
    assert y.shape == (5, 1) and np.allclose(y[:, 0], [0, 2.5, 5, 7.5, 10])
    assert to_frames(x, 2) is not None and np.allclose(to_frames(np.ones((1, 3)), 4), 1)


def test_each_frame_takes_the_mel_of_its_nearest_reference_frames() -> None:
    t = _target()
    src = MatchSet(t.features[[3, 7, 3]], np.zeros((3, 80), np.float32), np.full(3, np.nan, np.float32))
    out = _vc(k=1, pool=1, pitch_weight=0.0).match(src, t)
    assert np.allclose(out.audio[:, 0], [3, 7, 3]) and out.mean_cosine == pytest.approx(1.0)
    two = _vc(k=2, pool=2, pitch_weight=0.0).match(src, t)
    assert not np.allclose(two.audio[:, 0], [3, 7, 3])  # the average of two frames


def test_pitch_chooses_among_equally_close_frames() -> None:
    feats = unit_rows(np.ones((4, 3), np.float32))  # four frames, same content
    mels = np.arange(4, dtype=np.float32)[:, None] * np.ones((1, 80), np.float32)
    log_f0 = np.log(np.array([100, 150, 200, 250], np.float32))
    t = MatchSet(feats, mels, log_f0)
    src = MatchSet(feats[:2], np.zeros((2, 80), np.float32), np.log(np.array([100, 300], np.float32)))
    # the line's F0 z-scores mapped onto the person's range: its low frame wants the person's low pitch
    out = _vc(k=1, pool=4, pitch_weight=4.0).match(src, t, src_f0_stats=(float(np.log(200)), 0.5))
    assert out.audio[0, 0] < out.audio[1, 0]
    up = _vc(k=1, pool=4, pitch_weight=4.0).match(src, t, src_f0_stats=(float(np.log(200)), 0.5), pitch=1.6)
    assert up.audio[0, 0] >= out.audio[0, 0]  # a higher delivery takes higher frames


def test_unvoiced_frames_prefer_unvoiced_reference() -> None:
    feats = unit_rows(np.ones((2, 3), np.float32))
    mels = np.array([[0.0] * 80, [1.0] * 80], np.float32)
    t = MatchSet(feats, mels, np.array([np.log(150), np.nan], np.float32))
    src = MatchSet(feats[:1], np.zeros((1, 80), np.float32), np.array([np.nan], np.float32))
    out = _vc(k=1, pool=2, pitch_weight=4.0).match(src, t)
    assert out.audio[0, 0] == 1.0


def test_part_of_the_lines_own_spectrum_is_kept_moved_by_the_eq() -> None:
    t = _target()
    src = MatchSet(t.features[[3, 7]], np.full((2, 80), 100.0, np.float32), np.full(2, np.nan, np.float32))
    eq = np.full(80, -10.0, np.float32)
    kept = _vc(k=1, pool=1, source_mix=0.25).match(src, t, eq=eq)
    assert np.allclose(kept.audio[:, 0], [0.75 * 3 + 0.25 * 90, 0.75 * 7 + 0.25 * 90])
    assert np.allclose(_vc(k=1, pool=1, source_mix=0.25).match(src, t).audio[:, 0], [0.75 * 3 + 25, 0.75 * 7 + 25])


def test_poorly_matched_frames_keep_more_of_the_source() -> None:
    t = _target()
    t.features[:, 0] = 0.0
    t = MatchSet(unit_rows(t.features), t.mels, t.log_f0)
    far = np.zeros((2, 6), np.float32)
    far[:, 0] = 1.0  # orthogonal to every reference frame: cosine 0
    src = MatchSet(far, np.full((2, 80), 100.0, np.float32), np.full(2, np.nan, np.float32))
    plain = _vc(k=1, pool=1).match(src, t)
    mixed = _vc(k=1, pool=1, source_mix=0.2, poor_mix=0.3, poor_below=0.8).match(src, t)
    assert plain.poor_share == 1.0 and np.all(plain.audio < 20)
    assert np.all(mixed.audio > 45)  # 0.2 + 0.3 of the source's 100
    good = MatchSet(t.features[:2], src.mels, src.log_f0)
    assert np.all(_vc(k=1, pool=1, source_mix=0.2, poor_mix=0.3, poor_below=0.8).match(good, t).audio < 25)


def test_smoothing_averages_neighbouring_frames() -> None:
    t = _target()
    src = MatchSet(t.features[[0, 11, 0]], np.zeros((3, 80), np.float32), np.full(3, np.nan, np.float32))
    out = _vc(k=1, pool=1, pitch_weight=0.0, smooth=3).match(src, t)
    assert out.audio[1, 0] == pytest.approx((0 + 11 + 0) / 3)


def test_spectrum_eq_moves_the_base_voice_toward_the_person() -> None:
    from models.cloning.knnvc import spectrum_eq

    voiced = np.full(20, np.log(150), np.float32)
    person = MatchSet(np.ones((20, 3), np.float32), np.full((20, 80), 2.0, np.float32), voiced)
    base = MatchSet(np.ones((20, 3), np.float32), np.full((20, 80), -1.0, np.float32), voiced)
    assert np.allclose(spectrum_eq(person, [base]), 3.0)


def test_too_small_a_matching_set_is_refused() -> None:
    t = _target(n=2)
    with pytest.raises(EngineError, match="2 frames"):
        _vc(k=4).match(t, t)


def test_matching_set_round_trip_and_version(tmp_path: Path) -> None:
    t = _target()
    back = MatchSet.from_bytes(t.to_bytes())
    assert np.array_equal(back.features, t.features) and np.array_equal(back.mels, t.mels)
    assert back.seconds == pytest.approx(12 / (22050 / 256))
    import io

    buf = io.BytesIO()
    np.savez(buf, version=99, features=t.features, mels=t.mels, log_f0=t.log_f0)
    with pytest.raises(EngineError, match="version 99"):
        MatchSet.from_bytes(buf.getvalue())
    both = MatchSet.join([t, t])
    assert len(both.mels) == 24


def test_settings_round_trip() -> None:
    s = KnnSettings(blocks=(3, 4), k=8, source_mix=0.5)
    assert KnnSettings.from_dict({**s.as_dict(), "unknown": 1}) == s


def test_weights_with_another_sha256_are_refused(tmp_path: Path) -> None:
    from models.cloning.vocoder import verified
    from models.registry import WeightsError

    f = tmp_path / "w.pt"
    f.write_bytes(b"not the weights")
    with pytest.raises(WeightsError, match="expected"):
        verified(f, "0" * 64, "reinstall it")
    with pytest.raises(WeightsError, match="missing"):
        verified(tmp_path / "none.pt", "0" * 64, "reinstall it")


# --- real parts ---------------------------------------------------------------------------------


def _parts_or_skip() -> None:
    from models import registry

    pytest.importorskip("whisper")
    pytest.importorskip("kaldi_native_fbank")
    try:
        registry.require("whisper-base-pt")
    except registry.WeightsError as e:
        pytest.skip(f"weights not installed: {e}")


def test_log_mel_has_one_frame_per_hop() -> None:
    from models.cloning.vocoder import HOP, log_mel

    mel = log_mel(np.sin(np.arange(22050) / 10).astype(np.float32))
    assert mel.shape == (22050 // HOP, 80) and np.isfinite(mel).all()


def test_a_real_conversion_speaks_for_as_long(fixtures_dir: Path) -> None:
    _parts_or_skip()
    from models.cloning.embedding import EMBED_RATE
    from models.speaker import decode_audio

    lecture = decode_audio(fixtures_dir / "lecture_en_60s.wav", EMBED_RATE)
    jfk = decode_audio(fixtures_dir / "jfk.flac", EMBED_RATE)
    vc = KnnVC(KnnSettings(), threads=2)
    person = vc.matchset([(lecture[: 20 * EMBED_RATE], EMBED_RATE)])
    assert person.features.shape[1] == 512 and person.seconds == pytest.approx(20, abs=0.1)
    assert np.isfinite(person.log_f0).mean() > 0.3  # speech is largely voiced
    out = vc.convert(jfk[: 4 * EMBED_RATE], EMBED_RATE, person)
    assert len(out.audio) == 4 * 22050
    assert float(np.sqrt(np.mean(out.audio**2))) > 0.01 and 0.3 < out.mean_cosine <= 1.0


def test_campp_tells_two_people_apart(fixtures_dir: Path) -> None:
    _parts_or_skip()
    from models.cloning.campp import CamppEncoder
    from models.cloning.embedding import EMBED_RATE
    from models.speaker import decode_audio

    enc = CamppEncoder(threads=2)
    lecture = decode_audio(fixtures_dir / "lecture_en_60s.wav", EMBED_RATE)
    jfk = decode_audio(fixtures_dir / "jfk.flac", EMBED_RATE)
    a, b = enc.embed(lecture[: 15 * EMBED_RATE], EMBED_RATE), enc.embed(lecture[30 * EMBED_RATE :], EMBED_RATE)
    c = enc.embed(jfk, EMBED_RATE)
    assert a.shape == (192,) and abs(float(np.linalg.norm(a)) - 1) < 1e-6
    assert float(a @ b) > float(a @ c) + 0.2
    assert enc.info.sha256 and "CAM++" in enc.info.version
    with pytest.raises(EngineError, match="too little"):
        enc.embed(np.zeros(800, np.float32), EMBED_RATE)


def test_follow_pitch_moves_a_line_only_when_it_is_off() -> None:
    """A converted line whose F0 missed the delivery's pitch is moved onto it (WORLD); one within 5 % is kept."""
    from models.cloning.knn_backend import follow_pitch
    from models.cloning.world import f0_track

    rate = 22050
    t = np.arange(int(rate * 1.5)) / rate
    tone = sum(np.sin(2 * np.pi * 150.0 * k * t) / k for k in range(1, 8)).astype(np.float32) * 0.2
    kept = follow_pitch(tone, rate, float(np.log(153.0)))
    assert kept is tone
    moved = follow_pitch(tone, rate, float(np.log(200.0)))
    assert len(moved) == len(tone)
    assert float(np.median(f0_track(moved, rate))) == pytest.approx(200.0, rel=0.05)
