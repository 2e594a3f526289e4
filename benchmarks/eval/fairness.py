"""Fairness evaluation (`python -m benchmarks.eval fairness [--languages en,es] [--no-recordings]`): where the
pipeline serves some languages, voices and speakers worse than others.

1. Synthesized voices: six everyday sentences with the same meaning in en, es, fr, de, it and pt
   (benchmarks/eval/data/fairness_sentences.json) are spoken by every stock voice casting knows for the
   language (pipeline.speech.casting.stock_catalogue over the installed engines, in the language's engine
   order, with casting's own presentation of each voice: low = masculine, high = feminine), then heard by
   the configured Whisper (base) as QA hears lines (LineChecker.hear_many: no VAD, lines joined in windows,
   no second hearing). WER per (language, engine, voice, presentation), pooled over the six lines
   (models.text.heard_wer: numbers spelled, case and punctuation dropped); spread (max - min) per language and
   between the best feminine and the best masculine voice. It is also each voice's intelligibility.
2. Each voice's consistency with itself: mean Resemblyzer cosine between its six clips (the same-speaker
   range on real recordings is 0.73-0.92), and its closest other voice of the language (cosine of centroids).
   The cloning path is not measured here (`make eval EVAL=cloning` does, and it costs minutes per person).
3. Whisper on real recordings (../shared/fixtures; skipped when absent): WER per recording against its
   README reference, Whisper's language detection on the short ones, median F0 (benchmarks.eval.fairness_people).
4. Casting per speaker presentation: pipeline.speech.casting.assign for one speaker at a time (the real
   recordings, and the English voices of part 1 as speakers of known presentation: F0 and Resemblyzer
   centroid measured on their clips) into es and fr; the catalogue's voice embeddings are the centroids of
   part 1 (the pipeline measures one baseline sentence per voice instead, cached under the model directory).
5. Known gaps, computed from the figures: a language with no voice, or no non-robotic voice, of a
   presentation; voices whose WER is more than 2x the language's best and 10 points above it (5 words of
   about 50); a feminine/masculine gap of the best voices over 5 points; voices less like themselves than the
   same-speaker floor, or as close to another voice as to themselves; speakers whose F0 casting cannot read;
   casting picks that contradict a known presentation.
Nothing is cached: clips live in a temporary folder. About 5-8 minutes on 2 shared cores.
"""

from __future__ import annotations

import argparse
import itertools
import json
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

SENTENCES_FILE = Path(__file__).resolve().parent / "data" / "fairness_sentences.json"
LANGUAGES = ("en", "es", "fr", "de", "it", "pt")
WORD = {"low": "masculine", "high": "feminine", "unknown": "unknown"}
ROBOTIC = frozenset({"espeak"})  # formant synthesis: intelligible, robotic (../shared/MODELS.md)
WER_FACTOR, WER_MARGIN = 2.0, 0.10  # an outlier: WER > max(2 x best, best + 0.10) of its language (5 words of ~50)
GAP_MARGIN = 0.05  # a feminine/masculine gap: the best voices of the two differ by more than this
SAME_SPEAKER_MIN = 0.73  # Resemblyzer cosine, same speaker on real recordings (0.73-0.92)
IDENTICAL_COS = 0.99  # two voices whose centroids are this alike are one voice


def sentences() -> dict[str, list[str]]:
    """Language -> the six sentences (the data file's entries whose key does not start with '_')."""
    doc = json.loads(SENTENCES_FILE.read_text(encoding="utf-8"))
    return {k: [str(s) for s in v] for k, v in doc.items() if not k.startswith("_")}


def pooled_wer(wers: list[float], words: list[int]) -> float:
    """Word errors over all lines / reference words over all lines (a long line weighs more than a short one)."""
    total = sum(words)
    return sum(w * n for w, n in zip(wers, words, strict=True)) / total if total else 0.0


@dataclass
class VoiceRun:
    """One stock voice speaking one language's sentences: what Whisper heard and how the voice sounds."""

    language: str
    engine: str
    voice_id: str
    presentation: str  # casting's: low | high | unknown
    wers: list[float] = field(default_factory=list)
    words: list[int] = field(default_factory=list)
    texts: list[str] = field(default_factory=list)
    heard: list[str] = field(default_factory=list)
    embeddings: list[np.ndarray] = field(default_factory=list)
    f0_hz: float | None = None
    synth_s: float = 0.0
    audio_s: float = 0.0

    @property
    def label(self) -> str:
        return f"{self.engine}:{self.voice_id}"

    @property
    def wer(self) -> float:
        return pooled_wer(self.wers, self.words)

    def self_similarity(self) -> float | None:
        """Mean cosine between every two of the voice's clips (None with fewer than two embeddings)."""
        from models.speaker import cosine

        pairs = list(itertools.combinations(self.embeddings, 2))
        return statistics.fmean(cosine(a, b) for a, b in pairs) if pairs else None

    def centroid(self) -> np.ndarray | None:
        from models.speaker import mean_embedding

        return mean_embedding(self.embeddings) if self.embeddings else None


def closest_other(run: VoiceRun, runs: list[VoiceRun]) -> tuple[str, float] | None:
    """The other voice of the same language whose centroid is most like this one's, and the cosine."""
    from models.speaker import cosine

    mine = run.centroid()
    others = [(r.label, r.centroid()) for r in runs if r.language == run.language and r is not run]
    scored = [(label, cosine(mine, c)) for label, c in others if c is not None and mine is not None]
    return max(scored, key=lambda x: x[1]) if scored else None


# --- part 1 and 2: the stock voices ------------------------------------------------------------------------------


def run_voices(
    settings: Any, languages: list[str], texts: dict[str, list[str]], tmp: Path, log: Any = print
) -> list[VoiceRun]:
    """Synthesize each language's sentences with every stock voice, hear them, embed them."""
    from models.base import EngineError, Voice
    from models.speaker import ResemblyzerEncoder, decode_audio
    from models.text import heard_wer, wer_tokens
    from pipeline.core.engines import get_tts_engines
    from pipeline.speech import casting, hearing
    from pipeline.speech.diarize import f0_stats

    engines = get_tts_engines(settings)
    by_name = {e.name: e for e in engines}
    checker = hearing.LineChecker.from_settings(settings)
    encoder = ResemblyzerEncoder()
    runs: list[VoiceRun] = []
    for lang in languages:
        for sv in casting.stock_catalogue(engines, settings.tts_order(lang), lang):
            run = VoiceRun(lang, sv.engine, sv.voice_id, sv.presentation, texts=list(texts[lang]))
            voice = Voice(sv.engine, sv.voice_id, lang)
            clips: list[Path] = []
            t0 = time.perf_counter()
            try:
                for i, text in enumerate(run.texts):
                    out = tmp / f"{lang}-{sv.engine}-{sv.voice_id.replace('/', '_')}-{i}.wav"
                    clips.append(by_name[sv.engine].synthesize(text, voice, out))
            except EngineError as e:
                log(f"  {lang} {run.label}: synthesis failed, skipped ({e})")
                continue
            run.synth_s = time.perf_counter() - t0
            audio = [decode_audio(c, hearing.SAMPLE_RATE) for c in clips]
            run.audio_s = sum(len(a) for a in audio) / hearing.SAMPLE_RATE
            run.heard = checker.hear_many(clips, lang)
            run.wers = [heard_wer(t, h, lang) for t, h in zip(run.texts, run.heard, strict=True)]
            run.words = [len(wer_tokens(t, lang)) for t in run.texts]
            for c in clips:
                try:
                    run.embeddings.append(encoder.embed(c))
                except EngineError:  # under a second of speech: no voice to measure
                    pass
            run.f0_hz = f0_stats(np.concatenate(audio))[0]
            runs.append(run)
            log(
                f"  {lang} {run.label:<22} {WORD[run.presentation]:<9} WER {run.wer:.3f}  "
                f"({run.audio_s:.1f} s of speech, synthesis {run.synth_s:.1f} s)",
            )
    return runs


def _fmt(x: float | None, spec: str = ".3f") -> str:
    return "-" if x is None else format(x, spec)


def print_voices(runs: list[VoiceRun]) -> None:
    print("\n-- 1+2. stock voices: Whisper WER (pooled over the sentences) and voice consistency")
    print(
        f"{'lang':<5}{'engine':<8}{'voice':<17}{'presentation':<13}{'F0 Hz':>6}{'WER':>7}{'worst':>7}"
        f"{'self-cos':>10}  closest other voice (cos)"
    )
    for r in runs:
        other = closest_other(r, runs)
        print(
            f"{r.language:<5}{r.engine:<8}{r.voice_id:<17}{WORD[r.presentation]:<13}{_fmt(r.f0_hz, '.0f'):>6}"
            f"{r.wer:7.3f}{max(r.wers):7.2f}{_fmt(r.self_similarity()):>10}  "
            + (f"{other[0]} ({other[1]:.3f})" if other else "-")
        )
    print("\nper language: spread of WER between voices, and between presentations (best voice of each)")
    print(f"{'lang':<5}{'voices':>7}{'best':>7}{'worst':>7}{'spread':>8}{'best fem':>10}{'best masc':>10}{'f - m':>8}")
    for lang in dict.fromkeys(r.language for r in runs):
        mine = [r for r in runs if r.language == lang]
        wers = [r.wer for r in mine]
        fem = [r.wer for r in mine if r.presentation == "high"]
        masc = [r.wer for r in mine if r.presentation == "low"]
        gap = min(fem) - min(masc) if fem and masc else None
        print(
            f"{lang:<5}{len(mine):>7}{min(wers):7.3f}{max(wers):7.3f}{max(wers) - min(wers):8.3f}"
            f"{_fmt(min(fem) if fem else None):>10}{_fmt(min(masc) if masc else None):>10}{_fmt(gap, '+.3f'):>8}"
        )
    fem_all = [r.wer for r in runs if r.presentation == "high"]
    masc_all = [r.wer for r in runs if r.presentation == "low"]
    if fem_all and masc_all:
        print(
            f"all languages: feminine voices mean WER {statistics.fmean(fem_all):.3f} ({len(fem_all)} voices), "
            f"masculine {statistics.fmean(masc_all):.3f} ({len(masc_all)} voices)"
        )
    worst = [(r, max(range(len(r.wers)), key=lambda i: r.wers[i])) for r in runs if r.wers and max(r.wers) >= 0.5]
    if worst:
        print("the worst line of each voice with a line at WER >= 0.5 (lines are heard in windows, as QA does):")
        for r, i in worst:
            n = sum(w >= 0.5 for w in r.wers)
            print(
                f"  {r.language} {r.label} ({n} such lines): {r.wers[i]:.2f} {r.texts[i]!r} heard {r.heard[i][:120]!r}"
            )


# --- part 5: the gaps -----------------------------------------------------------------------------------------------


def voice_gaps(runs: list[VoiceRun], languages: list[str]) -> list[str]:
    """The gaps the voices' figures show (pure: unit-tested)."""
    gaps: list[str] = []
    for lang in languages:
        mine = [r for r in runs if r.language == lang]
        if not mine:
            gaps.append(f"{lang}: no stock voice at all")
            continue
        for pres in ("high", "low"):
            voices = [r for r in mine if r.presentation == pres]
            if not voices:
                gaps.append(f"{lang}: no {WORD[pres]} voice (casting gives {WORD[pres]} speakers another voice)")
            elif all(r.engine in ROBOTIC for r in voices):
                gaps.append(f"{lang}: {WORD[pres]} speakers get only robotic espeak-ng ({len(voices)} voice(s))")
            elif len(voices) == 1:
                gaps.append(
                    f"{lang}: one {WORD[pres]} voice only ({voices[0].label}); a second {WORD[pres]} speaker gets "
                    "the next voice or a pitch-shifted copy"
                )
        best = min(mine, key=lambda r: r.wer)
        outliers = [r for r in mine if r.wer > max(WER_FACTOR * best.wer, best.wer + WER_MARGIN)]
        if outliers:
            gaps.append(
                f"{lang}: WER over {WER_FACTOR:.0f}x the best ({best.label} {best.wer:.3f}, and {WER_MARGIN:.2f} above "
                "it): " + ", ".join(f"{r.label} ({WORD[r.presentation]}) {r.wer:.3f}" for r in outliers)
            )
        fem = [r for r in mine if r.presentation == "high"]
        masc = [r for r in mine if r.presentation == "low"]
        if fem and masc:
            f, m = min(fem, key=lambda r: r.wer), min(masc, key=lambda r: r.wer)
            if abs(f.wer - m.wer) > GAP_MARGIN:
                worse, better = (f, m) if f.wer > m.wer else (m, f)
                gaps.append(
                    f"{lang}: the best {WORD[worse.presentation]} voice ({worse.label}, WER {worse.wer:.3f}) is heard "
                    f"worse than the best {WORD[better.presentation]} one ({better.label}, {better.wer:.3f})"
                )
        same: set[tuple[str, str, float]] = set()
        alike: set[tuple[str, str, float]] = set()
        for r in mine:
            own = r.self_similarity()
            other = closest_other(r, runs)
            if own is not None and own < SAME_SPEAKER_MIN:
                gaps.append(f"{lang}: {r.label} is unsteady: self-similarity {own:.3f} < {SAME_SPEAKER_MIN}")
            if other is None:
                continue
            first, second = sorted((r.label, other[0]))
            pair = (first, second, round(other[1], 3))
            if other[1] >= IDENTICAL_COS:
                same.add(pair)
            elif own is not None and other[1] >= own:
                alike.add(pair)
        for a, b, c in sorted(same):
            gaps.append(f"{lang}: {a} and {b} sound the same (centroid cosine {c:.3f}), yet casting counts two voices")
        if alike:
            gaps.append(
                f"{lang}: voices as close to another as to themselves (two speakers cast them would sound alike): "
                + ", ".join(f"{a} ~ {b} ({c:.3f})" for a, b, c in sorted(alike))
            )
    return gaps


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.eval fairness", description=__doc__.split("\n")[0])
    parser.add_argument("--languages", default=",".join(LANGUAGES))
    parser.add_argument("--no-recordings", action="store_true", help="skip the real recordings (part 3)")
    args = parser.parse_args(argv or [])

    from benchmarks.eval import fairness_people as people
    from pipeline.core.config import Settings

    t0 = time.perf_counter()
    settings = Settings()
    texts = sentences()
    languages = [lang.strip() for lang in args.languages.split(",") if lang.strip() in texts]
    print(
        f"Fairness: Whisper {settings.asr_model} ({settings.asr_backend}, beam {settings.asr_beam_size}, "
        f"{settings.asr_compute_type}); {len(next(iter(texts.values())))} sentences per language; "
        f"languages {', '.join(languages)}",
        flush=True,
    )
    with tempfile.TemporaryDirectory(prefix="dubline-eval-fairness-") as tmpdir:
        try:
            runs = run_voices(settings, languages, texts, Path(tmpdir), log=lambda s: print(s, flush=True))
        except Exception as e:  # no Whisper or no Resemblyzer here: nothing to measure
            print(f"fairness: cannot measure the voices ({type(e).__name__}: {e})")
            return 1
        print_voices(runs)
        recordings: list[Any] = []
        if args.no_recordings:
            print("\n-- 3. real recordings: skipped (--no-recordings)")
        else:
            recordings = people.run_recordings(settings, Path(tmpdir))
        print(f"\n(measured in {time.perf_counter() - t0:.0f} s)", flush=True)
    picks = people.run_casting(runs, recordings, [lang for lang in ("es", "fr") if lang in languages])
    gaps = voice_gaps(runs, languages) + people.people_gaps(recordings, picks)
    print("\n-- 5. known gaps (computed from the figures above)")
    for g in gaps:
        print(f"  - {g}")
    if not gaps:
        print("  none found")
    print(f"fairness evaluation took {time.perf_counter() - t0:.0f} s")
    return 0 if runs else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
