"""ASR adapters on real Whisper base weights: faster-whisper (CTranslate2) and openai-whisper (converted)."""

from __future__ import annotations

import re
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from models.asr import FasterWhisperASR, OpenAIWhisperASR, make_asr
from models.base import ASR, EngineError, EngineUnavailable, Transcription

JFK = "And so my fellow Americans, ask not what your country can do for you, ask what you can do for your country."


def _norm(text: str) -> str:
    return " ".join(re.sub(r"[^\w\s']", " ", text.lower()).split())


def _text(t: Transcription) -> str:
    return " ".join(s.text for s in t.segments)


def _wer(reference: str, hypothesis: str) -> float:
    jiwer = pytest.importorskip("jiwer")
    return float(jiwer.wer(_norm(reference), _norm(hypothesis)))


def _check_words(t: Transcription) -> None:
    words = [w for s in t.segments for w in s.words]
    assert words, "no word timestamps"
    starts = [w.start for w in words]
    assert starts == sorted(starts), f"word starts go backwards: {starts}"
    for w in words:
        assert w.text == w.text.strip() and w.text
        assert 0.0 <= w.start <= w.end <= t.duration + 0.05, w
    for s in t.segments:
        assert s.text == s.text.strip()


def _fw(model_dir: Path) -> FasterWhisperASR:
    return FasterWhisperASR(model_dir, "whisper-base-ct2", "test", "")


def _ow(checkpoint: Path) -> OpenAIWhisperASR:
    return OpenAIWhisperASR(checkpoint, "whisper-base-pt", "test", "")


def _timed(asr: ASR, audio: Path, language: str | None = None) -> Transcription:
    t0 = time.perf_counter()
    out = asr.transcribe(audio, language)
    print(f"{type(asr).__name__} {audio.name}: {time.perf_counter() - t0:.2f} s -> {_text(out)!r}")
    return out


# --- no models needed ----------------------------------------------------------------------------


def test_make_asr_unknown_backend_lists_choices(tmp_path: Path) -> None:
    with pytest.raises(EngineError, match="faster-whisper.*whisper"):
        make_asr("vosk", tmp_path)


def test_make_asr_builds_adapters_without_loading(tmp_path: Path) -> None:
    (tmp_path / "base.pt").write_bytes(b"")
    fw = make_asr("faster-whisper", tmp_path, model_id="m", version="v", sha256="abc", compute_type="float32")
    ow = make_asr("whisper", tmp_path)  # a folder with exactly one checkpoint
    assert isinstance(fw, FasterWhisperASR) and isinstance(fw, ASR)
    assert fw.info.as_dict() == {"id": "m", "version": "v", "sha256": "abc"}
    assert isinstance(ow, OpenAIWhisperASR) and ow.checkpoint == tmp_path / "base.pt"
    assert ow.info.id == "base"


def test_missing_weights_are_engine_unavailable(tmp_path: Path) -> None:
    audio = tmp_path / "a.wav"
    audio.write_bytes(b"RIFF")
    with pytest.raises(EngineUnavailable, match="model.bin"):
        _fw(tmp_path / "nothing").transcribe(audio)
    with pytest.raises(EngineUnavailable, match="convert-whisper"):
        _ow(tmp_path / "nothing.pt").transcribe(audio)


def test_missing_audio_is_engine_error(tmp_path: Path) -> None:
    with pytest.raises(EngineError, match="does not exist"):
        _fw(tmp_path).transcribe(tmp_path / "missing.wav")


def test_no_heavy_imports_at_module_level() -> None:
    code = (
        "import sys, models.asr, models.whisper_convert; "
        "heavy = [m for m in ('torch', 'whisper', 'faster_whisper', 'ctranslate2') if m in sys.modules]; "
        "assert not heavy, heavy"
    )
    repo = Path(__file__).resolve().parents[2]
    subprocess.run([sys.executable, "-c", code], check=True, cwd=repo)


# --- synthetic speech (no fixtures) --------------------------------------------------------------


def test_espeak_counting_both_backends(base_ct2_dir: Path, base_pt: Path, espeak_wav: Path) -> None:
    for asr in (_fw(base_ct2_dir), _ow(base_pt)):
        t = _timed(asr, espeak_wav)
        words = [w.text.lower().strip(".,!?") for s in t.segments for w in s.words]
        assert t.language == "en", (type(asr).__name__, t.language)
        assert "three" in words or "3" in words, (type(asr).__name__, words)
        assert 1.0 < t.duration < 5.0
        _check_words(t)


def test_models_are_cached_per_process(base_ct2_dir: Path, espeak_wav: Path) -> None:
    a, b = _fw(base_ct2_dir), _fw(base_ct2_dir)
    a.transcribe(espeak_wav, "en")
    assert a._model() is b._model()


# --- real recordings -----------------------------------------------------------------------------


@pytest.mark.fixtures
def test_faster_whisper_jfk(base_ct2_dir: Path, fixtures_dir: Path, wav16k: Callable[[Path], Path]) -> None:
    t = _timed(_fw(base_ct2_dir), wav16k(fixtures_dir / "jfk.flac"))
    wer = _wer(JFK, _text(t))
    print(f"faster-whisper jfk WER {wer:.3f}")
    assert wer <= 0.1, _text(t)
    assert t.language == "en" and t.language_probability > 0.5
    assert t.duration == pytest.approx(11.0, abs=0.1)
    _check_words(t)


@pytest.mark.fixtures
def test_openai_whisper_converted_jfk(base_pt: Path, fixtures_dir: Path, wav16k: Callable[[Path], Path]) -> None:
    t = _timed(_ow(base_pt), wav16k(fixtures_dir / "jfk.flac"))
    wer = _wer(JFK, _text(t))
    print(f"openai-whisper jfk WER {wer:.3f}")
    assert wer <= 0.1, _text(t)
    assert t.language == "en" and t.language_probability > 0.5
    assert t.duration == pytest.approx(11.0, abs=0.1)
    _check_words(t)


@pytest.mark.fixtures
def test_given_language_is_kept(base_ct2_dir: Path, fixtures_dir: Path, wav16k: Callable[[Path], Path]) -> None:
    t = _fw(base_ct2_dir).transcribe(wav16k(fixtures_dir / "jfk.flac"), language="en")
    assert (t.language, t.language_probability) == ("en", 1.0)


@pytest.mark.fixtures
def test_faster_whisper_detects_french(base_ct2_dir: Path, fixtures_dir: Path, wav16k: Callable[[Path], Path]) -> None:
    t = _timed(_fw(base_ct2_dir), wav16k(fixtures_dir / "dictee_fr.aiff"))
    assert t.language == "fr", (t.language, t.language_probability, _text(t))
    assert "dict" in _norm(_text(t))


def test_empty_alignment_is_guarded() -> None:
    """faster-whisper 1.2.1 crashes with IndexError when one segment gets an empty alignment (a segment
    hallucinated past the end of the audio); the guard aligns segment by segment and leaves that one bare."""
    from models.asr import _guard_empty_alignment

    def find_alignment(tokenizer: object, text_tokens: list[list[int]], *rest: object) -> list[list[str]]:
        if any(t == [0] for t in text_tokens):
            raise IndexError("boolean index did not match indexed array")
        return [[f"w{t[0]}"] for t in text_tokens]

    guarded = _guard_empty_alignment(find_alignment)
    assert guarded(None, [[1], [2]], "enc", 10) == [["w1"], ["w2"]]
    assert guarded(None, [[1], [0], [3]], "enc", 10) == [["w1"], [], ["w3"]]
