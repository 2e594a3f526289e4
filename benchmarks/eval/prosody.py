"""Prosody transfer evaluation (`python -m benchmarks.eval prosody`).

Real source speech (lecture_en_60s.wav and jfk.flac in ../shared/fixtures, two speakers) is transcribed by
Whisper (base, word timestamps; cached on disk) and cut into phrases at punctuation and at pauses between
words, so each line is about one breath group. Every phrase's delivery is measured
(pipeline.speech.prosody_measure), then
it is spoken again by each engine, in English (re-voicing: the same words) and in Spanish (Apertium's
translation), twice: with transfer OFF (the voice's own delivery) and ON (pipeline.speech.prosody.transfer, then
the WORLD post-processing the engine needs). Printed per engine: Spearman correlation between source and
dub of per-line speaking rate and of F0 median, OFF and ON (each speaker's figures taken relative to that
speaker's median, as the transfer does, then pooled), and how closely the engine followed the controls
asked (slope of the dub's ON/OFF log ratio against the asked rate and pitch). Then the five delivery styles
on one sentence, and the measurement's speed.

SeamlessExpressive reports 0.66-0.72 Spearman for rate (its own speech-to-speech model, not a TTS).
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parents[2]
FIXTURES = REPO.parent / "shared" / "fixtures"
SOURCES = ("lecture_en_60s.wav", "jfk.flac")
SR = 16000
PHRASE_GAP_S = 0.25  # a pause between Whisper's words this long ends a phrase
MIN_WORDS = 3
STYLE_SENTENCE = "We walked along the river to the old market, and there we found a small bookshop."


def _cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "dubline" / "eval-prosody"


def _decode(src: Path, dst: Path) -> Path:
    subprocess.run(
        ["ffmpeg", "-nostdin", "-v", "error", "-y", "-i", str(src), "-ac", "1", "-ar", str(SR), str(dst)], check=True
    )
    return dst


def _transcribe(wav: Path, source: Path) -> list[dict[str, Any]]:
    """Whisper's words for a recording: [{text, start, end}], cached by the file's and the model's identity."""
    from pipeline.core.config import Settings
    from pipeline.core.engines import get_asr

    asr = get_asr(Settings())
    key = hashlib.sha256(source.read_bytes() + json.dumps(asr.info.as_dict(), sort_keys=True).encode()).hexdigest()
    cached = _cache_dir() / f"{key[:24]}.json"
    if cached.is_file():
        words: list[dict[str, Any]] = json.loads(cached.read_text())
        return words
    tr = asr.transcribe(wav, language="en")
    words = [{"text": w.text, "start": w.start, "end": w.end} for s in tr.segments for w in s.words]
    cached.parent.mkdir(parents=True, exist_ok=True)
    cached.write_text(json.dumps(words))
    return words


def _pause_cuts(words: list[dict[str, Any]], pauses: list[tuple[float, float]]) -> set[int]:
    """Indices of the words that follow a heard pause: for each pause, the word boundary nearest its middle
    (Whisper often stretches a word over a pause, so its gaps alone miss them), if it starts within 0.3 s of
    the pause."""
    cuts: set[int] = set()
    for a, b in pauses:
        mid = (a + b) / 2
        best = min(range(1, len(words)), key=lambda i: abs(words[i]["start"] - mid), default=None)
        if best is not None and a - 0.3 <= words[best]["start"] <= b + 0.3:
            cuts.add(best)
    return cuts


def phrases(words: list[dict[str, Any]], speaker: str, pauses: list[tuple[float, float]] | None = None) -> list[Any]:
    """Whisper's words cut into phrases after punctuation, at gaps of PHRASE_GAP_S or more between words, and
    at the pauses heard in the audio (a phrase has at least MIN_WORDS words)."""
    from pipeline.core.script import Segment, WordTiming

    cuts = _pause_cuts(words, pauses or [])
    groups: list[list[dict[str, Any]]] = []
    for i, w in enumerate(words):
        prev = words[i - 1] if i else None
        if prev is None or (
            w["start"] - prev["end"] >= PHRASE_GAP_S or prev["text"].strip()[-1:] in ",.;:?!" or i in cuts
        ):
            groups.append([w])
        else:
            groups[-1].append(w)
    while len(groups) > 1:  # a phrase of too few words joins the neighbour it is closer to in time
        k = min(range(len(groups)), key=lambda n: len(groups[n]))
        if len(groups[k]) >= MIN_WORDS:
            break
        gap_before = groups[k][0]["start"] - groups[k - 1][-1]["end"] if k > 0 else math.inf
        gap_after = groups[k + 1][0]["start"] - groups[k][-1]["end"] if k + 1 < len(groups) else math.inf
        if gap_before <= gap_after:
            groups[k - 1].extend(groups.pop(k))
        else:
            moved = groups.pop(k)
            groups[k][:0] = moved  # the next phrase now sits at k
    out = []
    for i, g in enumerate(groups):
        text = " ".join(w["text"].strip() for w in g).strip()
        out.append(
            Segment(
                id=f"{speaker}-{i:03d}",
                start=g[0]["start"],
                end=g[-1]["end"],
                speaker=speaker,
                text=text,
                words=[WordTiming(text=w["text"], start=w["start"], end=w["end"]) for w in g],
            )
        )
    return out


@dataclass
class Line:
    speaker: str
    text: dict[str, str]  # language -> what is said
    src: Any  # SegmentProsody
    dub: dict[str, Any] = field(default_factory=dict)  # "engine/lang/on|off" -> SegmentProsody


def _rel(values: list[float | None], speakers: list[str]) -> np.ndarray:
    """Each value over its speaker's median (log): the per-speaker normalisation the transfer itself uses."""
    out = np.full(len(values), np.nan)
    for spk in set(speakers):
        idx = [i for i, s in enumerate(speakers) if s == spk and values[i] is not None]
        if not idx:
            continue
        med = float(np.median([values[i] for i in idx]))  # type: ignore[misc]
        for i in idx:
            out[i] = math.log(float(values[i]) / med)  # type: ignore[arg-type]
    return out


def _spearman(a: np.ndarray, b: np.ndarray) -> tuple[float, int]:
    from scipy.stats import spearmanr

    ok = ~(np.isnan(a) | np.isnan(b))
    if ok.sum() < 5:
        return float("nan"), int(ok.sum())
    r = spearmanr(a[ok], b[ok])
    return float(r.statistic), int(ok.sum())


def _engines() -> list[tuple[Any, str]]:
    from pipeline.core.config import Settings
    from pipeline.core.engines import get_tts_engines

    by_name = {e.name: e for e in get_tts_engines(Settings())}
    wanted = [
        ("piper", "en"),
        ("kokoro", "en"),
        ("pico", "en"),
        ("espeak", "en"),
        ("kokoro", "es"),
        ("pico", "es"),
        ("espeak", "es"),
    ]
    return [(by_name[n], lang) for n, lang in wanted if n in by_name]


def main(argv: list[str]) -> int:
    missing = [s for s in SOURCES if not (FIXTURES / s).is_file()]
    if missing:
        print(f"prosody evaluation skipped: {', '.join(missing)} absent from {FIXTURES}")
        return 0
    from models.apertium import Apertium
    from models.base import Prosody
    from models.worldfx import apply_prosody_post
    from pipeline.core.config import Settings
    from pipeline.speech.prosody import (
        SOFT_KNEE,
        STYLES,
        speaker_baseline,
        style_prosody,
        transfer,
    )
    from pipeline.speech.prosody import voice_baseline as measure_voice
    from pipeline.speech.prosody_measure import find_pauses, measure_clip, measure_segments

    settings = Settings()
    if "--rate-bounds" in argv:  # a what-if: `--rate-bounds 0.7,1.3` (DUBLINE_PROSODY_RATE_MIN/MAX)
        lo_s, hi_s = argv[argv.index("--rate-bounds") + 1].split(",")
        settings = Settings(prosody_rate_min=float(lo_s), prosody_rate_max=float(hi_s))
    t_start = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="dubline-eval-prosody-") as tmp_s:
        tmp = Path(tmp_s)
        lines: list[Line] = []
        baselines: dict[str, dict[str, Any]] = {}
        measure_s = audio_s = 0.0
        for i, name in enumerate(SOURCES):
            speaker = f"S{i + 1}"
            wav = _decode(FIXTURES / name, tmp / f"{speaker}.wav")
            from models.speaker import decode_audio

            audio = decode_audio(wav, SR)
            words = _transcribe(wav, FIXTURES / name)
            heard = find_pauses(audio, SR, words[0]["start"], words[-1]["end"]) if words else []
            segs = phrases(words, speaker, heard)
            t0 = time.perf_counter()
            measured = measure_segments(audio, SR, segs, "en")
            measure_s += time.perf_counter() - t0
            audio_s += len(audio) / SR
            baselines[speaker] = speaker_baseline(measured)
            lines += [Line(speaker, {"en": s.text}, p) for s, p in zip(segs, measured, strict=True)]
        print(
            f"sources: {len(lines)} phrases from {', '.join(SOURCES)}; measurement {measure_s:.2f} s for "
            f"{audio_s:.0f} s of audio (RTF {measure_s / audio_s:.4f})"
        )
        for spk, b in baselines.items():
            print(f"  speaker {spk}: " + ", ".join(f"{k} {v:.2f}" for k, v in b.items() if v is not None))
        try:
            es = Apertium().translate([ln.text["en"] for ln in lines], "en", "es")
            for ln, t in zip(lines, es, strict=True):
                ln.text["es"] = t.replace("*", "").replace("#", "")  # Apertium's unknown-word marks
        except Exception as e:  # noqa: BLE001 - Apertium missing: English only
            print(f"  (no Spanish: Apertium failed: {e})")

        engines = [(tts, lang) for tts, lang in _engines() if all(lang in ln.text for ln in lines)]
        asked: dict[str, list[Prosody]] = {}
        for tts, lang in engines:
            voice = tts.voice_for(lang)
            vb = measure_voice(tts, voice, lang, tmp / "baselines")
            tag = f"{tts.name}/{lang}"
            asked[tag] = []
            t0 = time.perf_counter()
            for k, ln in enumerate(lines):
                p_on = transfer(ln.src, baselines[ln.speaker], vb, None, settings)
                asked[tag].append(p_on)
                for mode, pros in (("off", Prosody()), ("on", p_on)):
                    out = tmp / f"{tts.name}-{lang}-{k:03d}-{mode}.wav"
                    tts.synthesize(ln.text[lang], voice, out, pros)
                    apply_prosody_post(tts.name, out, pros)
                    ln.dub[f"{tag}/{mode}"] = measure_clip(out, ln.text[lang], lang)
                    out.unlink()
            print(f"  {tag}: {2 * len(lines)} lines synthesized and measured in {time.perf_counter() - t0:.0f} s")

        speakers = [ln.speaker for ln in lines]
        src_rate = _rel([ln.src.rate_sps for ln in lines], speakers)
        src_f0 = _rel([ln.src.f0_median_hz for ln in lines], speakers)
        print("\nSpearman rho, source vs dub, per line (within-speaker, pooled); n = lines measured")
        head = f"{'engine/lang':14} {'rate OFF':>9} {'rate ON':>9} {'F0 OFF':>9} {'F0 ON':>9} {'n':>4}"
        print(f"{head}   control followed")
        for tts, lang in engines:
            tag = f"{tts.name}/{lang}"
            row = []
            for key, src_vals in (("rate_sps", src_rate), ("f0_median_hz", src_f0)):
                for mode in ("off", "on"):
                    dub = _rel([getattr(ln.dub[f"{tag}/{mode}"], key) for ln in lines], speakers)
                    row.append(_spearman(src_vals, dub))
            # control accuracy: the dub ON over OFF against what was asked (rate and pitch, log ratio)
            acc = []
            for key, attr in (("rate_sps", "rate"), ("f0_median_hz", "pitch")):
                got, want = [], []
                for ln, p in zip(lines, asked[tag], strict=True):
                    on, off = getattr(ln.dub[f"{tag}/on"], key), getattr(ln.dub[f"{tag}/off"], key)
                    if on and off:
                        got.append(math.log(on / off))
                        want.append(math.log(getattr(p, attr)))
                slope = float(np.polyfit(want, got, 1)[0]) if len(want) > 2 and np.std(want) > 0 else float("nan")
                acc.append(f"{attr} slope {slope:.2f}")
            n = min(r[1] for r in row)
            print(
                f"{tag:14} {row[0][0]:9.2f} {row[1][0]:9.2f} {row[2][0]:9.2f} {row[3][0]:9.2f} {n:4d}   "
                + ", ".join(acc)
            )
        rates = [p.rate for ps in asked.values() for p in ps]
        pitches = [p.pitch for ps in asked.values() for p in ps]
        lo, hi = math.log(settings.prosody_rate_min), math.log(settings.prosody_rate_max)
        bent = sum(not (SOFT_KNEE * lo <= math.log(r) <= SOFT_KNEE * hi) for r in rates)
        print(
            f"asked: rate {min(rates):.3f}-{max(rates):.3f}, pitch {min(pitches):.3f}-{max(pitches):.3f}; "
            f"{bent} of {len(rates)} rates past the soft knee (bounds {settings.prosody_rate_min}-"
            f"{settings.prosody_rate_max})"
        )

        print(f"\nstyles on one sentence ({STYLE_SENTENCE!r}): rate syll/s, F0 median Hz, F0 range st, level dB")
        for tts, lang in engines:
            if lang != "en":
                continue
            voice = tts.voice_for(lang)
            cells = []
            for name in STYLES:
                out = tmp / f"style-{tts.name}-{name}.wav"
                pros = style_prosody(name)
                tts.synthesize(STYLE_SENTENCE, voice, out, pros)
                apply_prosody_post(tts.name, out, pros)
                m = measure_clip(out, STYLE_SENTENCE, lang)
                cells.append(
                    f"{name} {m.rate_sps or 0:.2f}/{m.f0_median_hz or 0:.0f}/{m.f0_range_st or 0:.1f}/"
                    f"{m.energy_db or 0:.1f}"
                )
            print(f"  {tts.name}/{lang}: " + "; ".join(cells))
        shutil.rmtree(tmp / "baselines", ignore_errors=True)
    print(f"\nprosody evaluation took {time.perf_counter() - t_start:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
