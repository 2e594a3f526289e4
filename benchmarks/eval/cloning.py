"""Voice cloning evaluation (`make eval EVAL=cloning`, or `python -m benchmarks.eval.cloning [--budget S]
[--backends a,b] [--people jfk,lecture]`).

Two people: jfk.flac (11 s, 10.4 s of speech after Resemblyzer's trimming) and lecture_en_60s.wav (49 s of
speech), from ../shared/fixtures. Each person's speech is split by time (models.cloning.embedding.split_reference):
the last 35 % (at least 3 s) is held out and never seen by an enrolment (jfk: 6.8 s enrolled / 3.6 s held out;
lecture: 32 s / 4 clips of 4.3 s). Each backend enrols the whole recording (it splits it the same way itself)
within `--budget` seconds, then this prints per person and backend, in Spanish and in English:
- held-out similarity by two judges: Resemblyzer (what every cloning choice is tuned on) and CAM++ (3D-Speaker,
  independent; models/cloning/campp.py), mean cosine over 3 sentences x held-out clips;
- the same for the stock Kokoro voice the enrolment started from, and for the real person (their enrolment
  speech against their held-out clips: the same-speaker figure);
- the cloned voice against the *other* person's held-out clips (it must stay in the different-speaker range:
  conversion must not make everybody sound alike to an encoder), beside the two real people's own figure;
- Whisper base re-transcription WER, enrolment seconds and the synthesis real-time factor.
Targets (issue 18): Resemblyzer >= 0.75 and CAM++ >= 0.60 with WER <= 0.10 and RTF <= 1.0, in both languages.
The kNN-VC settings were chosen with `python -m benchmarks.eval.cloning_sweep` (figures in its docstring).
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parents[2]
FIXTURES = REPO.parent / "shared" / "fixtures"
PEOPLE = {"jfk": "jfk.flac", "lecture": "lecture_en_60s.wav"}
DEFAULT_BACKENDS = ("knn-vc", "world-match", "kokoro-search")
DEFAULT_BUDGET_S = 240.0
LANGS = ("es", "en")
TARGETS = {"res": 0.75, "cam": 0.60, "wer": 0.10, "rtf": 1.0}


class Judges:
    """Both speaker encoders; a person's held-out clips embedded once by each."""

    def __init__(self) -> None:
        from models.cloning.campp import CamppEncoder
        from models.cloning.embedding import Embedder

        self.res, self.cam = Embedder(), CamppEncoder()

    def clips(self, clips: list[np.ndarray], rate: int) -> dict[str, list[np.ndarray]]:
        return {"res": [self.res.embed(c, rate) for c in clips], "cam": [self.cam.embed(c, rate) for c in clips]}

    def score(self, clips: dict[str, list[np.ndarray]], audio: list[np.ndarray], rate: int) -> dict[str, float]:
        from models.cloning.embedding import held_out_similarity

        return {
            "res": held_out_similarity(clips["res"], [self.res.embed(a, rate) for a in audio]),
            "cam": held_out_similarity(clips["cam"], [self.cam.embed(a, rate) for a in audio]),
        }


def _windows(speech: np.ndarray, rate: int, seconds: float = 4.0) -> list[np.ndarray]:
    n = int(seconds * rate)
    return [speech[s : s + n] for s in range(0, max(1, len(speech) - n + 1), n)] or [speech]


def evaluate_person(
    person: str, reference: Path, backends: list[str], budget_s: float, threads: int | None, workdir: Path, j: Judges
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    from models.cloning.backends import make_cloner
    from models.cloning.embedding import EMBED_RATE, reference_speech, split_reference
    from models.cloning.enrolment import HELD_OUT_SENTENCES, check_asr, transcribe_wer
    from models.kokoro import SAMPLE_RATE, KokoroTTS

    split = split_reference(reference_speech([reference], j.res))
    clips = j.clips(split.held_out, EMBED_RATE)
    real = j.score(clips, _windows(split.enrolment, EMBED_RATE), EMBED_RATE)
    print(
        f"{person}: {split.total_s:.1f} s of speech; enrolment {split.enrolment_s:.1f} s, held out "
        f"{split.held_out_s:.1f} s in {len(split.held_out)} clip(s); the real person (enrolment speech against "
        f"held-out): Resemblyzer {real['res']:.3f}, CAM++ {real['cam']:.3f}",
        flush=True,
    )
    kokoro = KokoroTTS.from_registry(threads=threads)
    asr = check_asr(threads=threads)
    info = {"person": person, "clips": clips, "real": real, "split": split}
    rows = []
    for backend in backends:
        cloner = make_cloner(backend, threads=threads)
        t0 = time.monotonic()
        doc = cloner.enroll([reference], workdir / f"{person}-{backend}", "en", budget_s=budget_s)
        enrol_s = time.monotonic() - t0
        tts = cloner.load(workdir / f"{person}-{backend}", f"eval-{person}")
        picked = str(doc.get("best_stock", ""))
        style = kokoro.styles().get(picked)
        row: dict[str, Any] = {"person": person, "backend": str(doc["backend"]), "enrol_s": enrol_s, "profile": doc}
        synth_s, audio_s = 0.0, 0.0
        tts.render("Hola.", "es")  # type: ignore[attr-defined]  # loads what the first line would (not timed)
        for lang in LANGS:
            texts = HELD_OUT_SENTENCES[lang]
            audio = []
            for text in texts:
                t1 = time.monotonic()
                a = tts.render(text, lang)  # type: ignore[attr-defined]
                synth_s += time.monotonic() - t1
                audio_s += len(a) / SAMPLE_RATE
                audio.append(a)
            row["audio_" + lang] = audio
            for judge, v in j.score(clips, audio, SAMPLE_RATE).items():
                row[f"{judge}_{lang}"] = v
            if style is not None:
                stock = j.score(clips, [kokoro.render(t, style, lang) for t in texts], SAMPLE_RATE)
                row[f"stock_res_{lang}"], row[f"stock_cam_{lang}"] = stock["res"], stock["cam"]
            row[f"wer_{lang}"] = float(
                np.mean([transcribe_wer(asr, a, SAMPLE_RATE, t, lang) for a, t in zip(audio, texts, strict=True)])
            )
        row["rtf"] = synth_s / audio_s if audio_s else float("nan")
        rows.append(row)
        print(
            f"  {row['backend']:<20} es: Resemblyzer {row['res_es']:.3f} CAM++ {row['cam_es']:.3f} WER "
            f"{row['wer_es']:.2f}; en: {row['res_en']:.3f} / {row['cam_en']:.3f} / {row['wer_en']:.2f}; stock "
            f"{picked or '-'} es {row.get('stock_res_es', float('nan')):.3f} / "
            f"{row.get('stock_cam_es', float('nan')):.3f}; enrolment {enrol_s:.0f} s; RTF {row['rtf']:.2f}",
            flush=True,
        )
    return info, rows


def cross_person(people: list[dict[str, Any]], rows: list[dict[str, Any]], j: Judges) -> None:
    """Each clone against the other person's held-out clips, and the two real people against each other."""
    from models.cloning.embedding import EMBED_RATE
    from models.kokoro import SAMPLE_RATE

    if len(people) < 2:
        return
    a, b = people[0], people[1]
    real = j.score(a["clips"], _windows(b["split"].enrolment, EMBED_RATE), EMBED_RATE)
    print(
        f"\ndifferent people, real: {b['person']}'s speech against {a['person']}'s held-out clips: "
        f"Resemblyzer {real['res']:.3f}, CAM++ {real['cam']:.3f}"
    )
    by = {p["person"]: p for p in people}
    for r in rows:
        other = next(p for p in by if p != r["person"])
        for lang in LANGS:
            x = j.score(by[other]["clips"], r["audio_" + lang], SAMPLE_RATE)
            r[f"x_res_{lang}"], r[f"x_cam_{lang}"] = x["res"], x["cam"]
        print(
            f"  {r['person']:<8} {r['backend']:<20} clone against {other}: es {r['x_res_es']:.3f} / "
            f"{r['x_cam_es']:.3f}, en {r['x_res_en']:.3f} / {r['x_cam_en']:.3f} (own: es {r['res_es']:.3f} / "
            f"{r['cam_es']:.3f})"
        )


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(prog="python -m benchmarks.eval cloning")
    ap.add_argument("--budget", type=float, default=DEFAULT_BUDGET_S, help="enrolment budget per voice (s)")
    ap.add_argument("--backends", default=",".join(DEFAULT_BACKENDS))
    ap.add_argument("--people", default=",".join(PEOPLE))
    ap.add_argument("--threads", type=int, default=os.cpu_count() or 2, help="engine threads (default: all cores)")
    args = ap.parse_args(argv)
    if not FIXTURES.is_dir():
        print(f"cloning evaluation skipped: {FIXTURES} is absent (it needs jfk.flac and lecture_en_60s.wav)")
        return 0
    from models import registry

    try:
        for model in ("kokoro-82m-int8-onnx", "whisper-base-ct2", "whisper-base-pt"):
            registry.require(model)
    except registry.WeightsError as e:
        print(f"cloning evaluation skipped: {e}")
        return 0
    t0 = time.monotonic()
    j = Judges()
    people: list[dict[str, Any]] = []
    rows: list[dict[str, Any]] = []
    backends = [b.strip() for b in args.backends.split(",") if b.strip()]
    with tempfile.TemporaryDirectory(prefix="dubline-eval-cloning-") as tmp:
        for person in [p.strip() for p in args.people.split(",") if p.strip()]:
            info, got = evaluate_person(
                person, FIXTURES / PEOPLE[person], backends, args.budget, args.threads, Path(tmp), j
            )
            people.append(info)
            rows += got
    cross_person(people, rows, j)
    print(
        "\nperson   backend              lang  Resem.  CAM++  (stock Res./CAM++)  other person Res./CAM++  WER   "
        "enrol s  RTF"
    )
    for r in rows:
        for lang in LANGS:
            print(
                f"{r['person']:<8} {r['backend']:<20} {lang:<4} {r['res_' + lang]:6.3f} {r['cam_' + lang]:6.3f}  "
                f"({r.get('stock_res_' + lang, float('nan')):.3f}/{r.get('stock_cam_' + lang, float('nan')):.3f})"
                f"        {r.get('x_res_' + lang, float('nan')):.3f}/{r.get('x_cam_' + lang, float('nan')):.3f}"
                f"            {r['wer_' + lang]:.2f}  {r['enrol_s']:7.0f}  {r['rtf']:.2f}"
            )
    for p in people:
        print(f"real {p['person']}: same speaker, Resemblyzer {p['real']['res']:.3f}, CAM++ {p['real']['cam']:.3f}")
    t = TARGETS
    ok = [
        r
        for r in rows
        if all(r["res_" + g] >= t["res"] and r["cam_" + g] >= t["cam"] and r["wer_" + g] <= t["wer"] for g in LANGS)
        and r["rtf"] <= t["rtf"]
    ]
    print(
        f"targets (Resemblyzer >= {t['res']}, CAM++ >= {t['cam']}, WER <= {t['wer']} in es and en, RTF <= "
        f"{t['rtf']}): met by {len(ok)} of {len(rows)} ({', '.join(r['person'] + '/' + r['backend'] for r in ok)}); "
        f"budget {args.budget:.0f} s per enrolment; evaluation took {time.monotonic() - t0:.0f} s"
    )
    return 0


if __name__ == "__main__":
    import sys

    sys.exit(main(sys.argv[1:]))
