"""The fairness evaluation's sentences (benchmarks/eval/data/fairness_sentences.json) and its pure parts: the
pooled WER and the known gaps it computes from the figures (no engine runs here)."""

from __future__ import annotations

import re

import numpy as np

from benchmarks.eval.fairness import LANGUAGES, VoiceRun, pooled_wer, sentences, voice_gaps
from benchmarks.eval.fairness_people import Pick, Recording, people_gaps


def _emb(*values: float) -> np.ndarray:
    v = np.asarray(values, dtype=np.float64)
    return v / np.linalg.norm(v)


def _run(lang: str, engine: str, voice: str, pres: str, wer: float, emb: np.ndarray | None = None) -> VoiceRun:
    e = _emb(1.0, 0.0, 0.0) if emb is None else emb
    return VoiceRun(lang, engine, voice, pres, wers=[wer, wer], words=[5, 5], embeddings=[e, e])


def test_every_language_has_the_same_six_sentences_without_digits() -> None:
    texts = sentences()
    assert set(LANGUAGES) <= set(texts)
    assert {len(v) for v in texts.values()} == {6}
    for lang, lines in texts.items():
        assert all(line.strip() for line in lines), lang
        assert not any(re.search(r"\d", line) for line in lines), lang
        assert len(set(lines)) == len(lines), lang


def test_pooled_wer_weighs_lines_by_their_words() -> None:
    assert pooled_wer([1.0, 0.0], [1, 9]) == 0.1
    assert pooled_wer([], []) == 0.0


def test_voice_gaps_name_missing_and_robotic_presentations_and_outliers() -> None:
    runs = [
        _run("en", "piper", "joe", "low", 0.02, _emb(1, 0, 0)),
        _run("en", "kokoro", "jf_alpha", "high", 0.03, _emb(0, 1, 0)),
        _run("en", "espeak", "en-us+f3", "high", 0.20, _emb(0, 0, 1)),
        _run("fr", "pico", "fr-FR", "high", 0.10, _emb(1, 0, 0)),
        _run("fr", "espeak", "fr-fr+m3", "low", 0.70, _emb(0, 1, 0)),
        _run("pt", "espeak", "pt+f3", "high", 0.30, _emb(0, 1, 0)),
    ]
    gaps = voice_gaps(runs, ["en", "fr", "pt", "de"])
    text = "\n".join(gaps)
    assert "de: no stock voice at all" in gaps
    assert "pt: no masculine voice" in text
    assert "fr: masculine speakers get only robotic espeak-ng" in text
    assert "en: WER over 2x the best (piper:joe 0.020, and 0.10 above it): espeak:en-us+f3 (feminine) 0.200" in gaps
    assert "fr: WER over 2x the best (pico:fr-FR 0.100, and 0.10 above it): espeak:fr-fr+m3 (masculine) 0.700" in gaps
    assert "fr: the best masculine voice (espeak:fr-fr+m3, WER 0.700)" in text
    assert "en: the best" not in text  # 0.02 vs 0.03: within 5 points
    assert "en: one masculine voice only (piper:joe)" in text


def test_voice_gaps_find_voices_that_sound_the_same() -> None:
    same = _emb(0.6, 0.8, 0.0)
    runs = [
        _run("fr", "espeak", "fr-fr+m3", "low", 0.7, same),
        _run("fr", "espeak", "fr-fr+f3", "high", 0.7, same),
    ]
    gaps = [g for g in voice_gaps(runs, ["fr"]) if "sound the same" in g]
    assert gaps == [
        "fr: espeak:fr-fr+f3 and espeak:fr-fr+m3 sound the same (centroid cosine 1.000), yet casting counts two voices"
    ]


def test_people_gaps_name_bad_recordings_unseen_speakers_and_crossed_casting() -> None:
    rec = Recording("dictee_fr.aiff", "fr", "unknown", "x", 2.5, "y", 0.5, 0.8, ("en", 0.6), 200.0, None)
    picks = [
        Pick("jfk.flac", "recording", "low", 224.0, "unknown", "es", "kokoro:jf_alpha", "high", "suited"),
        Pick("piper:joe", "voice", "low", 110.0, "low", "es", "kokoro:jm_kumo", "low", "suited (low voice)"),
    ]
    gaps = people_gaps([rec], picks)
    assert gaps[0] == "dictee_fr.aiff (fr, unknown): Whisper WER 0.500 > 0.10"
    assert gaps[1] == "dictee_fr.aiff: Whisper detects 'en' (0.60), not 'fr'"
    assert gaps[2].startswith("casting sees no presentation in 1 of 2 speakers of known presentation")
    assert gaps[2].endswith(": jfk.flac (masculine, 224 Hz)")
    assert any("gives jfk.flac (masculine) the feminine voice kokoro:jf_alpha" in g for g in gaps)
    assert not any("piper:joe" in g for g in gaps)
    assert len(gaps) == 4
