"""Speech synthesis adapters on the real engines: Pico, eSpeak NG and Piper (en_US-joe-medium) (models/pico.py,
models/espeak.py, models/piper.py, and what they share: models/tts.py)."""

from __future__ import annotations

import shutil
import socket
import subprocess
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import soundfile as sf

from models import registry
from models.base import TTS, EngineError, EngineUnavailable, ModelInfo, Prosody, Voice
from models.espeak import EspeakTTS, espeak_pitch_value, espeak_range_value, espeak_ssml
from models.pico import PicoTTS
from models.piper import PiperTTS, piper_length_scale
from models.tts import DEFAULT_TTS_PREFERENCE, choose_tts, split_text

SENTENCE = "The quick brown fox jumps over the lazy dog, and then it runs away into the forest."
SHORT = {
    "en": SENTENCE,
    "es": "El perro duerme en la casa y el gato come pescado.",
    "fr": "Le chat dort sur le canapé pendant que nous mangeons.",
    "de": "Der Hund schläft im Haus und die Katze frisst Fisch.",
    "it": "Il cane dorme in casa e il gatto mangia il pesce.",
    "pl": "Pies śpi w domu, a kot je rybę.",
}
MIN_RMS = 0.01


@pytest.fixture(scope="module")
def pico() -> PicoTTS:
    if shutil.which("pico2wave") is None:
        pytest.skip("pico2wave (libttspico-utils) is not installed")
    return PicoTTS()


@pytest.fixture(scope="module")
def espeak() -> EspeakTTS:
    if shutil.which("espeak-ng") is None:
        pytest.skip("espeak-ng is not installed")
    return EspeakTTS()


@pytest.fixture(scope="module")
def piper() -> PiperTTS:
    try:
        return PiperTTS.from_registry()
    except registry.WeightsError as e:
        pytest.skip(f"piper voice not installed: {e}")


@pytest.fixture(params=["pico", "espeak", "piper"])
def engine(request: pytest.FixtureRequest) -> TTS:
    e: TTS = request.getfixturevalue(request.param)
    return e


def _read(path: Path) -> tuple[np.ndarray, int]:
    info = sf.info(str(path))
    assert info.channels == 1, f"{path} is not mono"
    assert info.subtype == "PCM_16", f"{path} is {info.subtype}, not 16-bit PCM"
    audio, sr = sf.read(str(path), dtype="float32")
    return audio, sr


def _duration(path: Path) -> float:
    return float(sf.info(str(path)).duration)


def _rms(audio: np.ndarray) -> float:
    return float(np.sqrt(np.mean(np.square(audio, dtype=np.float64))))


# --- every engine ----------------------------------------------------------------------------------


def test_implements_protocol(engine: TTS) -> None:
    assert isinstance(engine, TTS)
    assert engine.name in ("pico", "espeak", "piper")
    assert isinstance(engine.info, ModelInfo)
    assert engine.info.version and engine.info.version != "unknown"
    assert "en" in engine.languages()


def test_short_sentence_is_plausible_speech(engine: TTS, tmp_path: Path) -> None:
    voice = engine.voice_for("en")
    assert voice.engine == engine.name and voice.language == "en"
    out = engine.synthesize(SENTENCE, voice, tmp_path / "out.wav")
    assert out == tmp_path / "out.wav" and out.is_file()
    audio, sr = _read(out)
    duration = len(audio) / sr
    assert 0.5 < duration < 10.0, duration
    assert _rms(audio) > MIN_RMS
    assert not list(tmp_path.glob(".*")), "temporary files left behind"


def test_faster_rate_is_shorter(engine: TTS, tmp_path: Path) -> None:
    voice = engine.voice_for("en")
    normal = _duration(engine.synthesize(SENTENCE, voice, tmp_path / "n.wav", Prosody(rate=1.0)))
    fast = _duration(engine.synthesize(SENTENCE, voice, tmp_path / "f.wav", Prosody(rate=1.3)))
    assert fast < normal * 0.95, (engine.name, normal, fast)


def test_lower_volume_is_quieter(engine: TTS, tmp_path: Path) -> None:
    voice = engine.voice_for("en")
    loud, _ = _read(engine.synthesize(SENTENCE, voice, tmp_path / "l.wav", Prosody(volume=1.0)))
    quiet, _ = _read(engine.synthesize(SENTENCE, voice, tmp_path / "q.wav", Prosody(volume=0.5)))
    assert _rms(quiet) < _rms(loud) * 0.75


@pytest.mark.parametrize("text", ["", "   \n\t "])
def test_empty_text_is_an_engine_error(engine: TTS, tmp_path: Path, text: str) -> None:
    with pytest.raises(EngineError, match=engine.name):
        engine.synthesize(text, engine.voice_for("en"), tmp_path / "e.wav")
    assert not (tmp_path / "e.wav").exists()


def test_out_path_without_wav_suffix_and_new_folder(engine: TTS, tmp_path: Path) -> None:
    out = tmp_path / "deep" / "folder" / "speech.audio"
    assert engine.synthesize("Hello there.", engine.voice_for("en"), out) == out
    audio, _ = _read(out)
    assert _rms(audio) > MIN_RMS


def test_unsupported_language_is_unavailable(engine: TTS) -> None:
    with pytest.raises(EngineUnavailable):
        engine.voice_for("xx")


def test_voice_of_another_engine_is_refused(engine: TTS, tmp_path: Path) -> None:
    other = Voice(engine="someother", id="en", language="en")
    with pytest.raises(EngineError):
        engine.synthesize("Hello.", other, tmp_path / "x.wav")


# --- Pico --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("lang", ["en", "es", "fr", "de", "it"])
def test_pico_languages(pico: PicoTTS, lang: str, tmp_path: Path) -> None:
    voice = pico.voice_for(lang)
    assert voice.language == lang
    audio, sr = _read(pico.synthesize(SHORT[lang], voice, tmp_path / f"{lang}.wav"))
    assert sr == 16000
    assert 0.5 < len(audio) / sr < 10.0
    assert _rms(audio) > MIN_RMS


def test_pico_voices(pico: PicoTTS) -> None:
    assert pico.voice_for("en").id == "en-US"
    assert pico.voice_for("en-GB").id == "en-GB"
    assert pico.voice_for("en_gb").id == "en-GB"
    assert pico.voice_for("es-MX").id == "es-ES"
    assert pico.info.id == "svox-pico"
    with pytest.raises(EngineUnavailable, match="pl"):
        pico.voice_for("pl")


def test_pico_markup() -> None:
    assert PicoTTS.markup(Prosody()) == ""
    m = PicoTTS.markup(Prosody(rate=1.2, pitch=0.9, volume=0.5))
    assert "<speed level='120'>" in m and "<pitch level='90'>" in m and "<volume level='25'>" in m
    assert "</" not in m  # closing tags add half a second of silence
    assert PicoTTS.markup(Prosody(rate=100.0)) == "<speed level='500'>"


def test_pico_markup_characters_are_removed(pico: PicoTTS, tmp_path: Path) -> None:
    text = "a <speed level='20'> b </pitch> c > d & \"e\""
    assert "<" not in PicoTTS.clean(text) and ">" not in PicoTTS.clean(text)
    plain = _duration(pico.synthesize(text, pico.voice_for("en"), tmp_path / "a.wav"))
    assert 0.5 < plain < 10.0  # a <speed level='20'> that got through would make it far longer


def test_pico_long_text_is_split_and_joined(pico: PicoTTS, tmp_path: Path) -> None:
    text = " ".join([SENTENCE] * 6)
    whole = _duration(pico.synthesize(text, pico.voice_for("en"), tmp_path / "whole.wav"))
    pieces = PicoTTS(max_chars=100).synthesize(text, pico.voice_for("en"), tmp_path / "pieces.wav")
    audio, sr = _read(pieces)
    assert abs(len(audio) / sr - whole) < 0.1 * whole
    assert _rms(audio) > MIN_RMS


def test_pico_failure_names_engine_and_stderr(pico: PicoTTS, tmp_path: Path) -> None:
    bad = PicoTTS()
    # a voice id pico2wave itself rejects (bypassing the adapter's own check) -> its stderr is reported
    bad.ALL_VOICE_IDS = (*PicoTTS.ALL_VOICE_IDS, "xx-XX")
    with pytest.raises(EngineError) as info:
        bad.synthesize("Hello.", Voice("pico", "xx-XX", "xx"), tmp_path / "x.wav")
    assert not isinstance(info.value, subprocess.CalledProcessError)
    assert "pico" in str(info.value) and "Unknown language" in str(info.value)


def test_missing_binary_is_unavailable(tmp_path: Path) -> None:
    p = PicoTTS()
    p.binary = str(tmp_path / "no-such-pico2wave")
    with pytest.raises(EngineUnavailable, match="not installed"):
        p.synthesize("Hello.", Voice("pico", "en-US", "en"), tmp_path / "x.wav")


def test_split_text() -> None:
    text = " ".join(f"Sentence number {i} is here, with a clause." for i in range(40))
    chunks = split_text(text, 120)
    assert all(0 < len(c) <= 120 for c in chunks)
    assert " ".join(chunks).split() == text.split()
    long_word_run = "word " * 100
    assert all(len(c) <= 50 for c in split_text(long_word_run, 50))
    assert split_text("  ", 10) == []
    assert split_text("Short.", 10) == ["Short."]


# --- eSpeak NG ----------------------------------------------------------------------------------------


def test_espeak_languages_are_iso639_1(espeak: EspeakTTS) -> None:
    langs = espeak.languages()
    assert len(langs) > 80
    for code in ("en", "es", "fr", "de", "pl", "pt", "zh", "ru", "ca"):
        assert code in langs
    assert "en-us" not in langs and "cmn" not in langs  # mapped to 2-letter codes where they exist
    assert espeak.voice_for("en").id == "en-us"
    assert espeak.voice_for("en-GB").id == "en-gb"
    assert espeak.voice_for("fr").id == "fr-fr"
    assert espeak.voice_for("pt-BR").id == "pt-br"
    assert espeak.voice_for("pl") == Voice("espeak", "pl", "pl")
    assert espeak.info.id == "espeak-ng"


def test_espeak_polish(espeak: EspeakTTS, tmp_path: Path) -> None:
    audio, sr = _read(espeak.synthesize(SHORT["pl"], espeak.voice_for("pl"), tmp_path / "pl.wav"))
    assert 0.5 < len(audio) / sr < 10.0 and _rms(audio) > MIN_RMS


def test_espeak_failure_names_engine_and_stderr(espeak: EspeakTTS, tmp_path: Path) -> None:
    with pytest.raises(EngineError) as info:
        espeak.synthesize("Hello.", Voice("espeak", "zz", "zz"), tmp_path / "x.wav")
    msg = str(info.value)
    assert "espeak" in msg and "voice does not exist" in msg
    assert not (tmp_path / "x.wav").exists()


def test_espeak_text_starting_with_dash(espeak: EspeakTTS, tmp_path: Path) -> None:
    out = espeak.synthesize("-5 degrees outside", espeak.voice_for("en"), tmp_path / "d.wav")
    assert _duration(out) > 0.5


# --- Piper --------------------------------------------------------------------------------------------


def test_piper_identity(piper: PiperTTS) -> None:
    spec = registry.SPECS["piper-en_US-joe-medium"]
    assert piper.info.id == "piper-en_US-joe-medium"
    assert piper.info.sha256 == spec.main_sha256 and len(spec.main_sha256) == 64
    assert piper.languages() == ["en"]
    assert piper.voice_for("en-US") == Voice("piper", "en_US-joe-medium", "en")
    with pytest.raises(EngineUnavailable):
        piper.voice_for("es")


def test_piper_makes_no_network_access(piper: PiperTTS, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import models.piper as piper_mod

    def refuse(*args: Any, **kwargs: Any) -> None:
        raise AssertionError(f"network access attempted: {args}")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)
    monkeypatch.setattr(piper_mod, "_PIPER_CACHE", {})  # load afresh, under the block
    fresh = PiperTTS(piper.model_path, piper.config_path)
    out = fresh.synthesize("No network here. Two sentences.", fresh.voice_for("en"), tmp_path / "n.wav")
    audio, sr = _read(out)
    assert sr == 22050 and _rms(audio) > MIN_RMS


def test_piper_voice_is_cached(piper: PiperTTS, tmp_path: Path) -> None:
    import models.piper as piper_mod

    piper.synthesize("Hello.", piper.voice_for("en"), tmp_path / "a.wav")
    cached = dict(piper_mod._PIPER_CACHE)
    PiperTTS(piper.model_path, piper.config_path).synthesize("Hello again.", piper.voice_for("en"), tmp_path / "b.wav")
    assert piper_mod._PIPER_CACHE == cached and len(cached) >= 1


def test_piper_punctuation_only_is_an_engine_error(piper: PiperTTS, tmp_path: Path) -> None:
    try:
        piper.synthesize("...", piper.voice_for("en"), tmp_path / "p.wav")
    except EngineError as e:
        assert "piper" in str(e)
    else:  # espeak may voice it; then it must be a valid file
        assert _duration(tmp_path / "p.wav") > 0


# --- choosing ---------------------------------------------------------------------------------------


def test_choose_tts(pico: PicoTTS, espeak: EspeakTTS, piper: PiperTTS) -> None:
    """With the default preference (DUBLINE_TTS_PREFERENCE's default)."""
    engines: list[TTS] = [espeak, pico, piper]
    en, other = DEFAULT_TTS_PREFERENCE["en"], DEFAULT_TTS_PREFERENCE["*"]
    assert choose_tts("en", engines, en) is piper
    assert choose_tts("es", engines, other) is pico
    assert choose_tts("pl", engines, other) is espeak
    assert choose_tts("en", [pico, espeak], en) is pico
    with pytest.raises(EngineUnavailable) as info:
        choose_tts("xx", engines, other)
    assert "pico" in str(info.value) and "espeak" in str(info.value)
    with pytest.raises(EngineUnavailable, match="piper"):
        choose_tts("pl", [piper], ["piper", "pico"])


# --- pitch and F0 range (issue 5: expressive synthesis) ---------------------------------------------


def _f0(path: Path) -> tuple[float, float]:
    """(median Hz, 10th-90th percentile range in semitones) of a clip's voiced frames (Praat)."""
    import math

    from models.worldfx import praat_f0_at

    x, sr = sf.read(str(path), dtype="float64")
    f0 = praat_f0_at(x, sr, np.arange(0.0, len(x) / sr, 0.01), 50.0, 500.0)
    v = f0[f0 > 0]
    p10, p90 = np.percentile(v, [10, 90])
    return float(np.median(v)), 12 * math.log2(float(p90 / p10))


def test_espeak_pitch_and_range_values() -> None:
    assert espeak_pitch_value(1.0) == 50 and espeak_range_value(1.0, 1.0) == 50
    up = 2 ** (5.35 / 12)
    assert espeak_pitch_value(up, 1 / up) == 80  # the measured table (range level 50: no median shift)
    assert espeak_pitch_value(100.0) == 99 and espeak_pitch_value(0.01) == 0
    assert espeak_range_value(1.0, 1.5) == 75 and espeak_range_value(1.0, 5.0) == 100
    assert espeak_range_value(1.2, 1.0) == 60  # a higher voice needs more Hz for the same semitones
    assert espeak_pitch_value(1.0, 1.5) < 50  # a wider range lifts the median: -p makes up for it
    ssml = espeak_ssml("Tom & <Jerry>", 75)
    assert ssml == '<speak><prosody range="75">Tom &amp; &lt;Jerry&gt;</prosody></speak>'


def test_pico_markup_has_no_range() -> None:
    """Pico has no F0-range tag: pitch_range leaves its markup alone (WORLD does it: models.worldfx)."""
    assert PicoTTS.markup(Prosody(pitch_range=1.5)) == ""


def test_espeak_pitch_and_range_are_measured_as_asked(espeak: EspeakTTS, tmp_path: Path) -> None:
    voice = espeak.voice_for("en")
    med0, rng0 = _f0(espeak.synthesize(SENTENCE, voice, tmp_path / "0.wav"))
    med, rng = _f0(espeak.synthesize(SENTENCE, voice, tmp_path / "1.wav", Prosody(pitch=1.2)))
    assert med == pytest.approx(1.2 * med0, rel=0.04)
    assert rng == pytest.approx(rng0, rel=0.15)  # a higher pitch keeps its range in semitones
    med, rng = _f0(espeak.synthesize(SENTENCE, voice, tmp_path / "2.wav", Prosody(pitch_range=1.5)))
    assert rng == pytest.approx(1.5 * rng0, rel=0.15)
    assert med == pytest.approx(med0, rel=0.04)
    med, rng = _f0(espeak.synthesize(SENTENCE, voice, tmp_path / "3.wav", Prosody(pitch=0.8, pitch_range=0.6)))
    assert med == pytest.approx(0.8 * med0, rel=0.04)
    assert rng == pytest.approx(0.6 * rng0, rel=0.2)


def test_espeak_range_keeps_text_with_markup_characters(espeak: EspeakTTS, tmp_path: Path) -> None:
    text = "Tom & Jerry <are> friends, said -- the cat."
    plain = _duration(espeak.synthesize(text, espeak.voice_for("en"), tmp_path / "a.wav"))
    ranged = _duration(espeak.synthesize(text, espeak.voice_for("en"), tmp_path / "b.wav", Prosody(pitch_range=1.3)))
    assert ranged == pytest.approx(plain, rel=0.15)


def test_pico_pitch_level_is_exact(pico: PicoTTS, tmp_path: Path) -> None:
    voice = pico.voice_for("en")
    med0, _ = _f0(pico.synthesize(SENTENCE, voice, tmp_path / "0.wav"))
    med, _ = _f0(pico.synthesize(SENTENCE, voice, tmp_path / "1.wav", Prosody(pitch=1.25)))
    assert med == pytest.approx(1.25 * med0, rel=0.03)


def test_piper_length_scale_table() -> None:
    assert piper_length_scale(1.0) == pytest.approx(1.0)
    values = [piper_length_scale(r) for r in (0.5, 0.7, 0.85, 1.0, 1.15, 1.3, 1.6, 2.5)]
    assert all(b < a for a, b in zip(values, values[1:], strict=False))  # faster -> shorter phonemes
    assert piper_length_scale(1.15) < 1 / 1.15  # Piper follows length_scale only partly: ask for more
    assert 0.25 <= piper_length_scale(100.0) and piper_length_scale(0.01) <= 4.0


def test_piper_rate_changes_duration_in_proportion(piper: PiperTTS, tmp_path: Path) -> None:
    """rate 1.25 gives 0.8 x the duration (a plain length_scale = 1/rate gave about 0.87 x); Piper's
    durations vary by a few percent from run to run, so over three sentences."""
    voice = piper.voice_for("en")
    texts = [SENTENCE, "In this lecture we will look at how neural networks learn from data.", SHORT["en"][:40]]
    normal = sum(_duration(piper.synthesize(t, voice, tmp_path / f"n{i}.wav")) for i, t in enumerate(texts))
    fast = sum(
        _duration(piper.synthesize(t, voice, tmp_path / f"f{i}.wav", Prosody(rate=1.25))) for i, t in enumerate(texts)
    )
    assert fast / normal == pytest.approx(0.8, abs=0.05)
