"""The fairness evaluation's speakers (parts 3 and 4 of benchmarks.eval.fairness): Whisper on the real recordings
of ../shared/fixtures, and which stock voice casting gives speakers of each presentation."""

from __future__ import annotations

import statistics
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from benchmarks.eval.fairness import VoiceRun

REPO = Path(__file__).resolve().parents[2]
FIXTURES = REPO.parent / "shared" / "fixtures"
DETECT_MAX_S = 15.0  # Whisper's language detection is also run on recordings up to this long
WORD = {"low": "masculine", "high": "feminine", "unknown": "unknown"}

# (file, language, presentation as known, reference text from the fixtures' README or None)
RECORDINGS: tuple[tuple[str, str, str, str | None], ...] = (
    (
        "jfk.flac",
        "en",
        "low",
        "And so my fellow Americans, ask not what your country can do for you, ask what you can do for your country.",
    ),
    ("lecture_en_60s.wav", "en", "low", None),  # a man lecturing (pipeline/speech/casting.py: 179 Hz)
    ("one_two_three_en.wav", "en", "unknown", "one two three"),
    ("dictee_fr.aiff", "fr", "unknown", "et c'est la dictée numéro un"),
)


@dataclass
class Recording:
    name: str
    language: str
    known: str  # low | high | unknown
    reference: str | None
    duration_s: float
    heard: str
    wer: float | None
    word_probability: float | None  # Whisper's mean word probability
    detected: tuple[str, float] | None  # language Whisper detects without being told, and its probability
    f0_hz: float | None
    embedding: np.ndarray | None


@dataclass
class Pick:
    speaker: str
    source: str  # "recording" | "voice" (an English stock voice as a speaker)
    known: str
    f0_hz: float | None
    sees: str  # casting's presentation from the F0
    language: str
    voice: str  # engine:voice_id
    voice_presentation: str
    reason: str


def run_recordings(settings: Any, tmp: Path, fixtures: Path = FIXTURES) -> list[Recording]:
    """Part 3: each fixture heard by the configured Whisper (as transcription uses it), told its language."""
    print("\n-- 3. Whisper on real recordings (../shared/fixtures)")
    if not fixtures.is_dir():
        print(f"skipped: {fixtures} is absent")
        return []
    import soundfile as sf

    from models.speaker import ResemblyzerEncoder, decode_audio
    from models.text import heard_wer
    from pipeline.core.engines import get_asr
    from pipeline.speech.diarize import f0_stats

    asr = get_asr(settings)
    encoder = ResemblyzerEncoder()
    out: list[Recording] = []
    for name, lang, known, reference in RECORDINGS:
        path = fixtures / name
        if not path.is_file():
            print(f"{name}: absent, skipped")
            continue
        samples = decode_audio(path, 16000)
        wav = tmp / f"{path.stem}-16k.wav"
        sf.write(str(wav), samples, 16000, subtype="PCM_16")
        t = asr.transcribe(wav, language=lang)
        heard = " ".join(s.text.strip() for s in t.segments if s.text.strip())
        probs = [w.probability for s in t.segments for w in s.words]
        detected = None
        if len(samples) / 16000 <= DETECT_MAX_S:
            d = asr.transcribe(wav, language=None)
            detected = (d.language, d.language_probability)
        try:
            emb: np.ndarray | None = encoder.embed(wav)
        except Exception:  # noqa: BLE001 - too little speech for a voice
            emb = None
        out.append(
            Recording(
                name,
                lang,
                known,
                reference,
                len(samples) / 16000,
                heard,
                heard_wer(reference, heard, lang) if reference else None,
                statistics.fmean(probs) if probs else None,
                detected,
                f0_stats(samples[: 30 * 16000])[0],
                emb,
            )
        )
    print(f"{'recording':<22}{'lang':<6}{'presentation':<14}{'F0 Hz':>6}{'length':>8}{'WER':>7}{'word p':>8}  detected")
    for r in out:
        det = f"{r.detected[0]} ({r.detected[1]:.2f})" if r.detected else "-"
        print(
            f"{r.name:<22}{r.language:<6}{WORD[r.known]:<14}{r.f0_hz or 0:6.0f}{r.duration_s:7.1f}s"
            f"{'   n/a' if r.wer is None else f'{r.wer:7.3f}'}{r.word_probability or 0:8.2f}  {det}"
        )
        print(f"    heard: {r.heard[:150]!r}" + ("" if r.reference else " (no reference text: WER not measured)"))
    return out


def run_casting(runs: list[VoiceRun], recordings: list[Recording], languages: list[str]) -> list[Pick]:
    """Part 4: casting.assign for one speaker at a time, into each language, with the voices of part 1 as the
    catalogue (their presentation and Resemblyzer centroid)."""
    from pipeline.core.config import Settings
    from pipeline.core.script import SpeakerInfo
    from pipeline.speech import casting

    print("\n-- 4. casting per speaker presentation (casting.assign, one speaker per job)")
    settings = Settings()
    speakers: list[tuple[str, str, str, float | None, np.ndarray | None]] = [
        (r.name, "recording", r.known, r.f0_hz, r.embedding) for r in recordings
    ]
    speakers += [(r.label, "voice", r.presentation, r.f0_hz, r.centroid()) for r in runs if r.language == "en"]
    picks: list[Pick] = []
    for lang in languages:
        order = settings.tts_order(lang)
        catalogue = [
            casting.StockVoice(
                r.engine,
                r.voice_id,
                r.presentation,
                order.index(r.engine) if r.engine in order else len(order),
                tuple(float(x) for x in c) if (c := r.centroid()) is not None else None,
            )
            for r in runs
            if r.language == lang
        ]
        if not catalogue:
            continue
        for name, source, known, f0, emb in speakers:
            si = SpeakerInfo(
                id="S1",
                seconds=10.0,
                f0_median_hz=f0,
                presentation=casting.presentation_of(f0),
                embedding=[float(x) for x in emb] if emb is not None else None,
            )
            choice = casting.assign(["S1"], {"S1": si}, lang, catalogue).voices["S1"]
            sv = next(v for v in catalogue if (v.engine, v.voice_id) == (choice.engine, choice.voice_id))
            picks.append(
                Pick(
                    name,
                    source,
                    known,
                    f0,
                    si.presentation,
                    lang,
                    f"{sv.engine}:{sv.voice_id}",
                    sv.presentation,
                    choice.reason,
                )
            )
    if not picks:
        print("skipped: no speakers (recordings or English voices) or no es/fr voices were measured")
        return picks
    header = "".join(f"{lang + ' pick':<36}" for lang in languages)
    print(f"{'speaker':<26}{'presentation':<14}{'F0 Hz':>6}  {'casting sees':<14}{header}".rstrip())
    for name, _source, known, f0, _emb in speakers:
        mine = {p.language: p for p in picks if p.speaker == name}
        cells = "".join(
            f"{mine[lang].voice + ' (' + WORD[mine[lang].voice_presentation] + ')':<36}" if lang in mine else " " * 36
            for lang in languages
        )
        sees = casting.presentation_of(f0)
        print(f"{name:<26}{WORD[known]:<14}{f0 or 0:6.0f}  {WORD[sees]:<14}{cells}".rstrip())
    for lang in languages:
        for pres in ("high", "low"):
            got = Counter(
                f"{p.voice} ({WORD[p.voice_presentation]})" for p in picks if p.language == lang and p.known == pres
            )
            if got:
                print(f"{lang}: {WORD[pres]} speakers got " + ", ".join(f"{v} x{n}" for v, n in got.most_common()))
    print(
        f"(casting sees a presentation only below {casting.LOW_BELOW_HZ:.0f} Hz (masculine) or from "
        f"{casting.HIGH_FROM_HZ:.0f} Hz (feminine); between, the most alike voice wins, whatever its presentation)"
    )
    return picks


def people_gaps(recordings: list[Recording], picks: list[Pick], max_wer: float = 0.10) -> list[str]:
    """The gaps parts 3 and 4 show (pure: unit-tested)."""
    gaps: list[str] = []
    for r in recordings:
        if r.wer is not None and r.wer > max_wer:
            gaps.append(f"{r.name} ({r.language}, {WORD[r.known]}): Whisper WER {r.wer:.3f} > {max_wer:.2f}")
        if r.detected and r.detected[0] != r.language:
            gaps.append(f"{r.name}: Whisper detects '{r.detected[0]}' ({r.detected[1]:.2f}), not '{r.language}'")
    known = {p.speaker: p for p in picks if p.known != "unknown"}
    unseen = [p for p in known.values() if p.sees == "unknown"]
    if unseen:
        gaps.append(
            f"casting sees no presentation in {len(unseen)} of {len(known)} speakers of known presentation (F0 "
            "between its thresholds; likeness alone decides): "
            + ", ".join(f"{p.speaker} ({WORD[p.known]}, {p.f0_hz or 0:.0f} Hz)" for p in unseen)
        )
    for p in picks:
        if p.known != "unknown" and p.voice_presentation not in (p.known, "unknown"):
            gaps.append(
                f"casting into {p.language} gives {p.speaker} ({WORD[p.known]}) the {WORD[p.voice_presentation]} "
                f"voice {p.voice} ({p.reason})"
            )
    return gaps
