"""kNN-VC settings sweep (`python -m benchmarks.eval.cloning_sweep [--people jfk,lecture] [--only NAME,...]`).

What makes kNN voice conversion intelligible on a few dozen seconds of reference, measured rather than heard:
for each person (jfk.flac, lecture_en_60s.wav from ../shared/fixtures) the matching set is built from the
enrolment part of their speech only (models.cloning.embedding.split_reference); the base voice is the stock
Kokoro style closest to them; the 3 Spanish and 3 English held-out sentences are spoken once by it, then
converted with each variant of VARIANTS. Printed per variant: held-out similarity by Resemblyzer and CAM++
(mean over sentences x held-out clips), Whisper base re-transcription WER per language, and conversion seconds
per second of speech (the vocoder and the features; the Kokoro synthesis is not counted).

Measured 2026-12-07 on the 2-core machine (base voice jm_kumo for both; "Res." Resemblyzer, "WER" Whisper base;
es / en; RTF under the load of other work, 0.42-0.5 for plain matching when idle):
    person   variant                 Res. es/en     CAM++ es/en    WER es/en
    lecture  stock voice             0.520 0.471    0.313 0.321    0.03 0.03
    lecture  plain b4 k4             0.763 0.767    0.697 0.730    1.18 0.63
    lecture  b3 / b5                 0.728 0.732 / 0.730 0.753  (CAM++ 0.70 / 0.68)  WER 1.34 1.15 / 1.01 0.92
    lecture  b3+4 / b4+5             0.777 0.787 / 0.756 0.759  (CAM++ 0.71 / 0.68)  WER 1.00 0.58 / 1.05 0.92
    lecture  k2 / k8                 0.743 0.765 / 0.762 0.745  (CAM++ 0.68-0.72)    WER 1.26 0.49 / 1.37 0.81
    lecture  softmax t0.05 (k8)      0.773 0.772    0.689 0.714    1.07 0.58
    lecture  smooth 3                0.787 0.796    0.647 0.696    1.50 0.81
    lecture  pitch-aware, pool 16    0.716 0.733    0.682 0.700    1.12 0.78
    lecture  center                  0.749 0.792    0.758 0.753    0.87 0.63
    lecture  mix .3                  0.745 0.753    0.562 0.606    0.61 0.08
    lecture  mix .4                  0.719 0.749    0.535 0.546    0.13 0.05
    lecture  mix .5 / .6             0.689 0.747 / 0.698 0.741  (CAM++ 0.48 / 0.45)  WER 0.00 0.03 / 0.00 0.03
    lecture  mix .4 without F0 shift 0.725 0.726    0.485 0.511    0.13 0.05
    lecture  mix .4 without EQ       0.683 0.721    0.507 0.550    0.13 0.05
    lecture  mix .4 without smooth   0.704 0.738    0.572 0.557    0.13 0.08
    lecture  mix .3 +.3 where poor   0.717 0.750    0.560 0.590    0.10 0.08   <- the default (KnnSettings())
    lecture  mix .4 pitch-aware      0.724 0.743    0.526 0.509    0.15 0.08
    lecture  mix .4 b3+4             0.725 0.733    0.533 0.549    0.15 0.13
    lecture  F0 + EQ only (mix 1)    0.656 0.650    0.436 0.382    0.03 0.03
    jfk      plain b4 k4             0.729 0.795    0.475 0.553    1.34 1.23
    jfk      b3 / b5                 0.770 0.783 / 0.699 0.759  (CAM++ 0.48-0.50)    WER 1.00 0.97 / 1.41 1.57
    jfk      k8 / softmax / smooth 3 0.752 0.809 / 0.756 0.817 / 0.786 0.827 (CAM++ 0.49-0.54), WER 1.2-1.4
    jfk      stock voice             0.422 0.415    0.219 0.235    0.03 0.03
    jfk      mix .3                  0.646 0.678    0.406 0.433    0.64 0.34
    jfk      mix .4                  0.629 0.630    0.339 0.314    0.17 0.26
    jfk      mix .5 / .6             0.592 0.608 / 0.565 0.585  (CAM++ 0.30 / 0.27)  WER 0.00 0.03 / 0.03 0.03
    jfk      mix .4 without F0 shift 0.595 0.596    0.359 0.368    0.15 0.05
    jfk      mix .4 without EQ       0.603 0.620    0.342 0.343    0.08 0.05
    jfk      mix .3 +.3 where poor   0.615 0.670    0.328 0.417    0.29 0.23   (the enrolment's ladder then rises)
    jfk      F0 + EQ only (mix 1)    0.586 0.580    0.232 0.251    0.03 0.03
Plain kNN-VC moves the voice a long way (Resemblyzer 0.47-0.52 -> 0.73-0.80, CAM++ 0.31 -> 0.70) but on 7-32 s
of matching set almost nothing it says is understood (the rough test's "a third of the words" was on Piper's
voice and English only). No matching choice fixes that (block, k, weighting, smoothing, pitch, centring all
stay at WER 0.5-1.5): the matching set lacks the sounds. Keeping part of the line's own spectrum (its F0
and long-term spectrum moved toward the person, the part the encoders weigh most) buys the words back at
0.02-0.05 of similarity per 0.1 kept; the F0 shift, the EQ and the smoothing each add 0.02-0.05. Prematching
(fine-tuning HiFi-GAN on matched features, as the kNN-VC paper does) needs hours of GPU training and a
multi-speaker corpus: out of reach on these CPUs.
"""

from __future__ import annotations

import argparse
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from models.cloning.knnvc import KnnSettings

REPO = Path(__file__).resolve().parents[2]
FIXTURES = REPO.parent / "shared" / "fixtures"
PEOPLE = {"jfk": "jfk.flac", "lecture": "lecture_en_60s.wav"}

# plain kNN-VC as the rough test ran it: block 4, k 4, no F0 shift, nothing of the line's own spectrum kept
BASE = KnnSettings(smooth=1, source_mix=0.0, shift_f0=False, eq=False)
MIX = KnnSettings(source_mix=0.4, poor_mix=0.0)  # F0 shifted by WORLD, kNN mel smoothed, 40 % own spectrum (EQ'd)
VARIANTS: dict[str, KnnSettings] = {
    "plain b4 k4": BASE,
    "b3": replace(BASE, blocks=(3,)),
    "b5": replace(BASE, blocks=(5,)),
    "b3+4": replace(BASE, blocks=(3, 4)),
    "k2": replace(BASE, k=2, pool=2),
    "k8": replace(BASE, k=8, pool=8),
    "softmax t0.05": replace(BASE, softmax_t=0.05, k=8, pool=8),
    "smooth 3": replace(BASE, smooth=3),
    "pitch pool16": replace(BASE, pool=16, pitch_weight=4.0),
    "center": replace(BASE, center=True),
    "mix .3": replace(MIX, source_mix=0.3),
    "mix .4": MIX,
    "mix .5": replace(MIX, source_mix=0.5),
    "mix .6": replace(MIX, source_mix=0.6),
    "mix .4 no F0 shift": replace(MIX, shift_f0=False),
    "mix .4 no EQ": replace(MIX, eq=False),
    "mix .4 no smooth": replace(MIX, smooth=1),
    "mix .3 +.3 poor": replace(MIX, source_mix=0.3, poor_mix=0.3),
    "mix .4 pitch pool16": replace(MIX, pool=16, pitch_weight=4.0),
    "mix .4 b3+4": replace(MIX, blocks=(3, 4)),
    "stock F0+EQ only": replace(MIX, source_mix=1.0),
    "default (mix .3 +.3 poor)": KnnSettings(),
    "center mix .3": replace(MIX, center=True, source_mix=0.3),
    "center mix .4": replace(MIX, center=True),
    "center mix .3 +.3 poor": replace(MIX, center=True, source_mix=0.3, poor_mix=0.3, poor_below=0.45),
}


def _judges() -> tuple[Any, Any]:
    from models.cloning.campp import CamppEncoder
    from models.cloning.embedding import Embedder

    return Embedder(), CamppEncoder()


def sweep_person(person: str, reference: Path, names: list[str], asr: Any) -> list[dict[str, Any]]:
    from models.cloning.embedding import EMBED_RATE, cos, held_out_similarity, reference_speech, split_reference
    from models.cloning.enrolment import HELD_OUT_SENTENCES, transcribe_wer
    from models.cloning.knnvc import KnnVC, resample, spectrum_eq
    from models.cloning.world import f0_track, log_f0_stats
    from models.kokoro import SAMPLE_RATE, KokoroTTS

    res, cam = _judges()
    split = split_reference(reference_speech([reference], res))
    clips_res = [res.embed_speech(c) for c in split.held_out]
    clips_cam = [cam.embed(c, EMBED_RATE) for c in split.held_out]
    target = res.embed_speech(split.enrolment)
    kokoro = KokoroTTS.from_registry()
    styles = kokoro.styles()
    probe = HELD_OUT_SENTENCES["es"][0]
    label = max(styles, key=lambda n: cos(res.embed(kokoro.render(probe, styles[n], "es"), SAMPLE_RATE), target))
    lines = [
        (lang, t, kokoro.render(t, styles[label], lang)) for lang in ("es", "en") for t in HELD_OUT_SENTENCES[lang]
    ]
    base_f0 = log_f0_stats([f0_track(a, SAMPLE_RATE) for _l, _t, a in lines])
    speech_s = sum(len(a) for _l, _t, a in lines) / SAMPLE_RATE
    print(
        f"{person}: base voice {label}; matching set {split.enrolment_s:.1f} s; {speech_s:.1f} s of lines", flush=True
    )

    def judge(audio: list[np.ndarray], rate: int) -> dict[str, float]:
        out: dict[str, float] = {}
        for lang in ("es", "en"):
            part = [a for a, (lg, _t, _a) in zip(audio, lines, strict=True) if lg == lang]
            texts = [t for lg, t, _a in lines if lg == lang]
            out[f"res_{lang}"] = held_out_similarity(clips_res, [res.embed(a, rate) for a in part])
            out[f"cam_{lang}"] = held_out_similarity(clips_cam, [cam.embed(a, rate) for a in part])
            out[f"wer_{lang}"] = float(
                np.mean([transcribe_wer(asr, a, rate, t, lang) for a, t in zip(part, texts, strict=True)])
            )
        return out

    rows = [{"person": person, "variant": "stock voice", "rtf": 0.0, **judge([a for *_x, a in lines], SAMPLE_RATE)}]
    vcs: dict[tuple[int, ...], Any] = {}
    sets: dict[tuple[int, ...], Any] = {}
    eqs: dict[tuple[int, ...], Any] = {}
    for name in names:
        s = VARIANTS[name]
        vc = vcs.get(s.blocks) or KnnVC(s)
        vcs[s.blocks] = vc
        vc.settings = s
        if s.blocks not in sets:
            sets[s.blocks] = vc.matchset([(split.enrolment, EMBED_RATE)])
            base = [vc.analyse(resample(a, SAMPLE_RATE, EMBED_RATE), EMBED_RATE) for *_x, a in lines]
            eqs[s.blocks] = spectrum_eq(sets[s.blocks], base)  # as lines are converted: at 16 kHz
        t0 = time.monotonic()
        conv = [vc.convert(a, SAMPLE_RATE, sets[s.blocks], base_f0, eq=eqs[s.blocks]) for *_x, a in lines]
        rtf = (time.monotonic() - t0) / speech_s
        audio = [resample(c.audio, 22050, SAMPLE_RATE) for c in conv]
        row = {"person": person, "variant": name, "rtf": rtf, "match": float(np.mean([c.mean_cosine for c in conv]))}
        row.update(judge(audio, SAMPLE_RATE))
        rows.append(row)
        print(_fmt(row), flush=True)
    return rows


def _fmt(r: dict[str, Any]) -> str:
    return (
        f"  {r['person']:<8} {r['variant']:<15} res es {r['res_es']:.3f} en {r['res_en']:.3f} | CAM++ es "
        f"{r['cam_es']:.3f} en {r['cam_en']:.3f} | WER es {r['wer_es']:.2f} en {r['wer_en']:.2f} | "
        f"match {r.get('match', float('nan')):.3f} | RTF {r['rtf']:.2f}"
    )


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(prog="python -m benchmarks.eval.cloning_sweep")
    ap.add_argument("--people", default=",".join(PEOPLE))
    ap.add_argument("--only", default="", help="variants, comma-separated (default: all)")
    args = ap.parse_args(argv)
    if not FIXTURES.is_dir():
        print(f"kNN-VC sweep skipped: {FIXTURES} is absent (it needs jfk.flac and lecture_en_60s.wav)")
        return 0
    from models.cloning.enrolment import check_asr

    names = [n.strip() for n in args.only.split(",") if n.strip()] or list(VARIANTS)
    unknown = [n for n in names if n not in VARIANTS]
    if unknown:
        print(f"unknown variant(s) {unknown}; choose from {list(VARIANTS)}")
        return 2
    asr = check_asr()
    t0 = time.monotonic()
    rows: list[dict[str, Any]] = []
    for person in [p.strip() for p in args.people.split(",") if p.strip()]:
        rows += sweep_person(person, FIXTURES / PEOPLE[person], names, asr)
    print("\nsweep (held-out similarity by Resemblyzer / CAM++, WER by Whisper base; RTF of the conversion alone):")
    for r in rows:
        print(_fmt(r))
    print(f"sweep took {time.monotonic() - t0:.0f} s")
    return 0


if __name__ == "__main__":
    import sys

    sys.exit(main(sys.argv[1:]))
