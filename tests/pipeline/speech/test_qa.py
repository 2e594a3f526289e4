"""QA of synthesized lines: the WER normalisation, the checker's handling of short clips and missing
references, the retry loop, the job summary; one slow check with real Pico and Whisper."""

from __future__ import annotations

import shutil
import wave
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from models.base import AsrSegment, EngineError, EngineUnavailable, ModelInfo, Transcription, Word
from pipeline.core.config import Settings
from pipeline.core.script import LineQA
from pipeline.speech import qa

# --- WER normalisation ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("intended", "heard", "language"),
    [
        ("Hello, World!", "hello world", "en"),
        ("¿Cómo estás? ¡Bien!", "cómo estás bien", "es"),
        ("Tengo 20 años.", "Tengo veinte años.", "es"),
        ("It costs $25.", "It costs twenty-five dollars.", "en"),
        ("It costs 25 dollars", "It costs $25", "en"),
        ("Il a 21 ans.", "Il a vingt-et-un ans.", "fr"),
        ("Il a 71 ans.", "Il a soixante et onze ans.", "fr"),
        ("Er ist 21.", "Er ist einundzwanzig.", "de"),
        ("Un 20% más.", "Un 20 por ciento más.", "es"),
        ("Un 20 % más.", "Un veinte por ciento más.", "es"),
        ("One thousand people", "1,000 people", "en"),
        ("Mil quinientos euros", "1.500 €", "es"),
        ("Trois virgule cinq", "3,5", "fr"),
        ("l'homme est là", "L’homme est là.", "fr"),
        ("Tom & Jerry", "Tom and Jerry", "en"),
        ("<speed level='90'>Hola</speed> *mundo*", "Hola mundo", "es"),
        ("well-known", "well known", "en"),
        ("dich hier wiederzusehen", "dich hier wieder zu sehen", "de"),
        ("commence à 10 heures", "commence à 10h", "fr"),
        ("merci d'être venus", "merci d 'être venus", "fr"),
        ("every one of them", "everyone of them", "en"),
    ],
)
def test_spelling_case_and_punctuation_are_no_errors(intended: str, heard: str, language: str) -> None:
    assert qa.heard_wer(intended, heard, language) == 0.0


def test_asr_words_are_joined_as_written() -> None:
    assert qa.join_words([" The", " city", " is", " 3", ",000", " years", " old."]) == "The city is 3,000 years old."
    assert qa.join_words(["merci", "d", "'être", "", "venus"]) == "merci d'être venus"


def test_accents_count() -> None:
    assert qa.heard_wer("Cómo estás", "como estas", "es") == 1.0


def test_a_wrong_number_is_one_error_not_two() -> None:
    assert qa.heard_wer("Tengo 20 años", "tengo treinta años", "es") == pytest.approx(1 / 3)
    assert qa.heard_wer("I have 20 cats", "I have 30 cats", "en") == pytest.approx(1 / 4)


def test_empty_intended_is_zero_and_nothing_heard_is_one() -> None:
    assert qa.heard_wer("", "anything at all", "en") == 0.0
    assert qa.heard_wer(" ¿? ", "", "es") == 0.0
    assert qa.heard_wer("hola mundo", "", "es") == 1.0


def test_hallucinated_words_push_wer_past_one() -> None:
    assert qa.heard_wer("sí", "sí gracias por ver el vídeo", "es") == 5.0


def test_languages_without_a_speller_keep_digits() -> None:
    assert qa.heard_wer("Ho 20 anni", "ho 20 anni", "it") == 0.0
    assert qa.heard_wer("Ho 20 anni", "ho venti anni", "it") == pytest.approx(1 / 3)
    assert qa.spell_number(20, "it") is None


@pytest.mark.parametrize(
    ("n", "language", "words"),
    [
        (0, "en", "zero"),
        (21, "en", "twenty-one"),
        (105, "en", "one hundred five"),
        (2024, "en", "two thousand twenty-four"),
        (1, "es", "uno"),
        (16, "es", "dieciséis"),
        (31, "es", "treinta y uno"),
        (100, "es", "cien"),
        (115, "es", "ciento quince"),
        (500, "es", "quinientos"),
        (1000, "es", "mil"),
        (2024, "es", "dos mil veinticuatro"),
        (21000, "es", "veintiún mil"),
        (31000, "es", "treinta y un mil"),
        (21, "fr", "vingt et un"),
        (71, "fr", "soixante et onze"),
        (80, "fr", "quatre-vingts"),
        (81, "fr", "quatre-vingt-un"),
        (91, "fr", "quatre-vingt-onze"),
        (99, "fr", "quatre-vingt-dix-neuf"),
        (200, "fr", "deux cents"),
        (201, "fr", "deux cent un"),
        (80000, "fr", "quatre-vingt mille"),
        (1, "de", "eins"),
        (21, "de", "einundzwanzig"),
        (101, "de", "hunderteins"),
        (2024, "de", "zweitausendvierundzwanzig"),
        (1_000_000, "en", None),
    ],
)
def test_spell_number(n: int, language: str, words: str | None) -> None:
    assert qa.spell_number(n, language) == words


def test_normalise_for_speech() -> None:
    assert qa.normalise_for_speech("<b>Hola</b>, *mundo* [risas]", "es") == "Hola, mundo"
    assert qa.normalise_for_speech("Un 50% & más.", "es") == "Un cincuenta por ciento y más."
    assert qa.normalise_for_speech("Only $20!", "en") == "Only twenty dollars!"
    assert qa.normalise_for_speech("Es kostet 3,5 €.", "de") == "Es kostet drei komma fünf Euro."
    assert qa.normalise_for_speech("Costa 20 euro", "it") == "Costa 20 euro"


# --- LineChecker with fakes --------------------------------------------------------------------------------


class FakeASR:
    info = ModelInfo("fake-asr", "1")

    def __init__(self, text: str) -> None:
        self.text = text
        self.calls: list[tuple[float, int, str | None]] = []

    def transcribe(self, audio_path: Path, language: str | None = None) -> Transcription:
        with wave.open(str(audio_path)) as w:
            self.calls.append((w.getnframes() / w.getframerate(), w.getframerate(), language))
        return Transcription(language or "en", 1.0, (AsrSegment(0.0, 1.0, f" {self.text} "),), 1.0)


class FakeEncoder:
    info = ModelInfo("fake-encoder", "1")

    def __init__(self, error: Exception | None = None) -> None:
        self.error = error

    def embed(self, audio_path: Path) -> np.ndarray:
        if self.error is not None:
            raise self.error
        return np.array([1.0, 0.0])


def test_the_clip_is_padded_resampled_and_heard_in_its_language(sine_wav: Path) -> None:
    asr = FakeASR("hola mundo")
    checker = qa.LineChecker(asr, FakeEncoder(), max_wer=0.34)
    result = checker.check(sine_wav, "Hola, mundo.", "es-ES", np.array([1.0, 1.0]))
    ((seconds, rate, language),) = asr.calls
    assert rate == 16000 and language == "es"
    assert seconds == pytest.approx(2.0 + 2 * qa.PAD_S, abs=0.01)
    assert result.heard == "hola mundo" and result.wer == 0.0 and result.passed
    assert result.similarity == pytest.approx(2**-0.5, abs=1e-4)
    assert checker.audio_s == pytest.approx(2.0, abs=0.01)


def test_a_misheard_line_fails_with_a_reason(sine_wav: Path) -> None:
    checker = qa.LineChecker(FakeASR("adiós amigo"), None, max_wer=0.34)
    result = checker.check(sine_wav, "Hola mundo", "es", None)
    assert not result.passed and result.wer == 1.0
    assert "adiós amigo" in result.reason
    assert result.similarity is None


def test_too_little_speech_for_a_voice_is_no_similarity_but_a_missing_encoder_fails(sine_wav: Path) -> None:
    short = qa.LineChecker(FakeASR("sí"), FakeEncoder(EngineError("0.4 s of speech")))
    assert short.check(sine_wav, "sí", "es", np.array([1.0, 0.0])).similarity is None
    assert short.check(sine_wav, "sí", "es", None).similarity is None
    missing = qa.LineChecker(FakeASR("sí"), FakeEncoder(EngineUnavailable("resemblyzer is not installed")))
    with pytest.raises(EngineUnavailable):
        missing.check(sine_wav, "sí", "es", np.array([1.0, 0.0]))


class WindowASR:
    """Hears a window of joined clips: one word per clip, at the middle of where each clip lies (the
    clips are found as the non-silent runs of the window), or nothing for clips listed in `mute`."""

    info = ModelInfo("fake-window-asr", "1")

    def __init__(self, words: list[str], mute: frozenset[int] = frozenset()) -> None:
        self.words = words
        self.mute = mute
        self.windows = 0
        self.seen = 0

    def transcribe(self, audio_path: Path, language: str | None = None) -> Transcription:
        import soundfile as sf

        samples, rate = sf.read(str(audio_path))
        frame = rate // 100  # 10 ms frames: a sine's zero crossings are no silence
        n = len(samples) // frame
        loud = np.abs(samples[: n * frame]).reshape(n, frame).max(axis=1) > 1e-3
        edges = np.flatnonzero(np.diff(np.concatenate([[0], loud.astype(int), [0]])))
        runs = [(edges[k] / 100, edges[k + 1] / 100) for k in range(0, len(edges) - 1, 2)]
        self.windows += 1
        out = []
        for start, end in runs:
            index = self.seen
            self.seen += 1
            if index in self.mute:
                continue
            mid = (start + end) / 2
            out.append(AsrSegment(start, end, self.words[index], (Word(self.words[index], mid - 0.1, mid + 0.1, 1.0),)))
        return Transcription(language or "es", 1.0, tuple(out), len(samples) / rate)


def test_many_lines_are_heard_together_and_a_failing_one_again_alone(sine_wav: Path) -> None:
    # clips 0, 1, 2 go in one window; clip 1 is not heard there, so it is heard again alone (the 4th call)
    asr = WindowASR(["uno", "dos", "tres", "dos"], mute=frozenset({1}))
    checker = qa.LineChecker(asr, None, max_wer=0.34)
    items = [(sine_wav, word, None) for word in ("uno", "dos", "tres")]
    results = checker.check_many(items, "es")
    assert [r.heard for r in results] == ["uno", "dos", "tres"]
    assert all(r.passed for r in results)
    assert asr.windows == 2  # one window of three clips, one clip alone
    assert checker.audio_s == pytest.approx(4 * 2.0, abs=0.05)


def test_a_clip_longer_than_the_window_is_heard_alone(sine_wav: Path) -> None:
    asr = WindowASR(["uno", "dos"])
    checker = qa.LineChecker(asr, None)
    assert checker.hear_many([sine_wav, sine_wav], "es", window_s=2.5) == ["uno", "dos"]
    assert asr.windows == 2


# --- the retry loop ----------------------------------------------------------------------------------------


class ScriptedChecker:
    """Answers each check with the next (wer, similarity) of a script; passes at wer <= 0.34."""

    def __init__(self, results: list[tuple[float, float | None]]) -> None:
        self.results = list(results)
        self.paths: list[Path] = []

    def check(self, clip_path: Path, text: str, language: str, reference_embedding: np.ndarray | None) -> LineQA:
        self.paths.append(clip_path)
        wer, sim = self.results.pop(0)
        return LineQA(
            heard=f"heard {clip_path.name}",
            wer=wer,
            similarity=sim,
            passed=wer <= 0.34,
            reason="" if wer <= 0.34 else f"WER {wer}",
        )


def _maker(made: list[int]) -> Callable[[int], tuple[Path, str]]:
    def make(attempt: int) -> tuple[Path, str]:
        made.append(attempt)
        return Path(f"attempt{attempt}.wav"), qa.variant(attempt)["name"]

    return make


def test_the_first_pass_stops_the_loop(tmp_path: Path) -> None:
    made: list[int] = []
    checker = ScriptedChecker([(0.1, 0.8), (0.0, 0.9)])
    path, result = qa.synthesize_checked(_maker(made), "x", "es", checker, Settings(data_dir=tmp_path, qa_retries=2))
    assert made == [0] and path == Path("attempt0.wav")
    assert result.attempts == 1 and result.passed and result.tried == ["as written: WER 0.10"]


def test_a_failing_line_is_tried_again_and_the_best_attempt_kept(tmp_path: Path) -> None:
    made: list[int] = []
    checker = ScriptedChecker([(0.6, 0.9), (0.5, 0.7), (0.5, 0.8), (0.0, 0.9)])
    path, result = qa.synthesize_checked(_maker(made), "x", "es", checker, Settings(data_dir=tmp_path, qa_retries=2))
    assert made == [0, 1, 2]  # at most qa_retries re-syntheses
    assert path == Path("attempt2.wav")  # lowest WER, then the higher similarity
    assert result.wer == 0.5 and result.similarity == 0.8 and not result.passed
    assert result.attempts == 3 and len(result.tried) == 3
    assert result.tried[1] == "slower: WER 0.50"
    assert "best of 3 attempts" in result.reason


def test_a_retry_that_passes_is_kept(tmp_path: Path) -> None:
    made: list[int] = []
    checker = ScriptedChecker([(0.5, 0.9), (0.2, None)])
    path, result = qa.synthesize_checked(
        _maker(made), "x", "es", checker, Settings(data_dir=tmp_path, qa_retries=2), np.array([1.0])
    )
    assert made == [0, 1] and path == Path("attempt1.wav")
    assert result.passed and result.attempts == 2 and result.reason == ""


def test_a_first_attempt_checked_elsewhere_is_not_made_again(tmp_path: Path) -> None:
    made: list[int] = []
    checker = ScriptedChecker([(0.0, None)])
    first = (Path("batch0.wav"), LineQA(heard="x", wer=0.8, passed=False, reason="WER 0.8"))
    path, result = qa.synthesize_checked(
        _maker(made), "x", "es", checker, Settings(data_dir=tmp_path, qa_retries=2), first=first
    )
    assert made == [1] and path == Path("attempt1.wav")
    assert result.attempts == 2 and result.tried == ["as written: WER 0.80", "slower: WER 0.00"]


def test_no_retries_means_one_attempt(tmp_path: Path) -> None:
    made: list[int] = []
    checker = ScriptedChecker([(0.9, None)])
    _, result = qa.synthesize_checked(_maker(made), "x", "es", checker, Settings(data_dir=tmp_path, qa_retries=0))
    assert made == [0] and result.attempts == 1 and not result.passed


def test_variants_go_on_with_the_last() -> None:
    assert qa.variant(0)["rate"] == 1.0 and not qa.variant(0)["normalise"]
    assert qa.variant(2)["normalise"] and qa.variant(7) == qa.VARIANTS[-1]


# --- the job report ----------------------------------------------------------------------------------------


def test_summarize() -> None:
    lines = [
        LineQA(heard="a", wer=0.0, similarity=0.8),
        LineQA(heard="b", wer=0.5, similarity=None, passed=False, attempts=3),
        LineQA(heard="c", wer=0.2, similarity=0.6, attempts=2),
        LineQA(),  # not checked
    ]
    s = qa.summarize(lines)
    assert s == {
        "lines": 3,
        "passed": 2,
        "failed": 1,
        "retried": 2,
        "mean_wer": pytest.approx(0.2333, abs=1e-4),
        "max_wer": 0.5,
        "mean_similarity": pytest.approx(0.7),
        "min_similarity": 0.6,
    }
    assert qa.summarize([])["mean_wer"] is None


# --- real engines ------------------------------------------------------------------------------------------


@pytest.mark.slow
def test_real_pico_line_passes_and_a_wrong_text_fails(tmp_path: Path) -> None:
    if shutil.which("pico2wave") is None:
        pytest.skip("pico2wave (libttspico-utils) is not installed")
    from models import registry
    from models.tts import PicoTTS

    settings = Settings(data_dir=tmp_path)
    try:
        registry.require(settings.asr_model, settings.model_dir)
    except registry.WeightsError as e:
        pytest.skip(f"Whisper weights not installed: {e}")
    tts = PicoTTS()
    voice = tts.voice_for("es")
    checker = qa.LineChecker.from_settings(settings)
    text = "Mañana por la mañana vamos a visitar a mis abuelos en el pueblo."
    clip = tts.synthesize(text, voice, tmp_path / "line.wav")
    reference = checker.encoder.embed(clip) if checker.encoder is not None else None
    good = checker.check(clip, text, "es", reference)
    assert good.passed, good
    assert good.similarity is not None and good.similarity > 0.99
    other = tts.synthesize("El gato duerme tranquilo encima del sofá rojo.", voice, tmp_path / "other.wav")
    bad = checker.check(other, text, "es", reference)
    assert not bad.passed and bad.wer is not None and bad.wer > 0.5, bad
    short = tts.synthesize("Sí.", voice, tmp_path / "short.wav")
    brief = checker.check(short, "Sí.", "es", reference)
    assert brief.similarity is None  # under the encoder's 1 s of speech: no figure, no failure
    assert brief.passed, brief
    together = checker.check_many([(clip, text, reference), (other, text, None), (short, "Sí.", None)], "es")
    assert [r.passed for r in together] == [True, False, True], together
