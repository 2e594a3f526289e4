"""QA evaluation (`python -m benchmarks.eval qa`): what hearing every synthesized line again costs, and how
its word error rate falls for lines spoken right and for lines spoken wrong.

For each real engine and language (Pico es/en/fr/de, Piper en, espeak-ng es, Kokoro es/en), 20 typical
dubbing lines (dialogue and lecture sentences, three with numbers or a percent sign, three of one word) are
synthesized and checked by pipeline.speech.hearing.LineChecker.check_many with the configured Whisper. Prints
per voice:
- the cost: seconds of checking per line and Whisper's real-time factor (Whisper time / speech heard); with
  --single, the cost and WER of hearing each line alone (`check`) beside it;
- the WER of the right lines (mean, median, 90th percentile, max) and the share that passes at several
  thresholds, settings.qa_max_wer among them;
- a negative control: each clip checked against the text of another line of the same voice (a TTS that spoke
  the wrong thing): the lowest WER seen there, so a threshold can be chosen between the two distributions;
- the retry loop on the lines that fail (synthesize_checked with VARIANTS): how many recover;
- with --vad, the same right lines heard with Whisper's VAD on and without the 0.5 s padding, to show why the
  checker turns VAD off and pads.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from models.base import TTS, Prosody, Voice

LINES: dict[str, list[str]] = {
    "es": [
        "Buenos días a todos, gracias por venir.",
        "No sé si podré llegar a tiempo esta noche.",
        "La reunión empieza a las 10 y termina a las 12.",
        "Hemos vendido 250 entradas en una sola semana.",
        "El precio subió un 15% desde el año pasado.",
        "¿Dónde has dejado las llaves del coche?",
        "Mi hermana vive en Barcelona desde hace tres años.",
        "Sí.",
        "Gracias.",
        "¡Cuidado!",
        "Tenemos que hablar de lo que pasó ayer.",
        "Las células necesitan energía para mantenerse vivas.",
        "Nunca pensé que volvería a verte aquí.",
        "El tren de las ocho siempre llega con retraso.",
        "Vamos a ver el ejemplo en la pantalla.",
        "Este experimento demuestra que la hipótesis era falsa.",
        "Por favor, cierra la puerta al salir.",
        "La ciudad tiene más de 3.000 años de historia.",
        "Me encanta el olor del café por la mañana.",
        "¿Por qué no me lo dijiste antes?",
    ],
    "en": [
        "Good morning everyone, thanks for coming.",
        "I don't know if I can make it tonight.",
        "The meeting starts at 10 and ends at 12.",
        "We sold 250 tickets in a single week.",
        "The price went up 15% since last year.",
        "Where did you leave the car keys?",
        "My sister has lived in Boston for three years.",
        "Yes.",
        "Thanks.",
        "Watch out!",
        "We need to talk about what happened yesterday.",
        "Cells need energy to stay alive.",
        "I never thought I would see you here again.",
        "The eight o'clock train is always late.",
        "Let's look at the example on the screen.",
        "This experiment shows that the hypothesis was wrong.",
        "Please close the door when you leave.",
        "The city is more than 3,000 years old.",
        "I love the smell of coffee in the morning.",
        "Why didn't you tell me before?",
    ],
    "fr": [
        "Bonjour à tous, merci d'être venus.",
        "Je ne sais pas si je pourrai venir ce soir.",
        "La réunion commence à 10 heures et finit à midi.",
        "Nous avons vendu 250 billets en une semaine.",
        "Le prix a augmenté de 15% depuis l'année dernière.",
        "Où as-tu laissé les clés de la voiture ?",
        "Ma sœur habite à Lyon depuis trois ans.",
        "Oui.",
        "Merci.",
        "Attention !",
        "Il faut qu'on parle de ce qui s'est passé hier.",
        "Les cellules ont besoin d'énergie pour rester en vie.",
        "Je n'aurais jamais pensé te revoir ici.",
        "Le train de huit heures est toujours en retard.",
        "Regardons l'exemple à l'écran.",
        "Cette expérience montre que l'hypothèse était fausse.",
        "S'il te plaît, ferme la porte en partant.",
        "La ville a plus de 3 000 ans d'histoire.",
        "J'adore l'odeur du café le matin.",
        "Pourquoi tu ne me l'as pas dit avant ?",
    ],
    "de": [
        "Guten Morgen zusammen, danke fürs Kommen.",
        "Ich weiß nicht, ob ich es heute Abend schaffe.",
        "Die Besprechung beginnt um 10 und endet um 12.",
        "Wir haben 250 Karten in einer Woche verkauft.",
        "Der Preis ist seit letztem Jahr um 15% gestiegen.",
        "Wo hast du die Autoschlüssel gelassen?",
        "Meine Schwester wohnt seit drei Jahren in Hamburg.",
        "Ja.",
        "Danke.",
        "Vorsicht!",
        "Wir müssen über das reden, was gestern passiert ist.",
        "Zellen brauchen Energie, um am Leben zu bleiben.",
        "Ich hätte nie gedacht, dich hier wiederzusehen.",
        "Der Zug um acht Uhr hat immer Verspätung.",
        "Schauen wir uns das Beispiel auf dem Bildschirm an.",
        "Dieses Experiment zeigt, dass die Hypothese falsch war.",
        "Bitte schließ die Tür, wenn du gehst.",
        "Die Stadt ist über 3.000 Jahre alt.",
        "Ich liebe den Duft von Kaffee am Morgen.",
        "Warum hast du mir das nicht früher gesagt?",
    ],
}

VOICES = [
    ("pico", "es"),
    ("pico", "en"),
    ("pico", "fr"),
    ("pico", "de"),
    ("piper", "en"),
    ("espeak", "es"),
    ("kokoro", "es"),
    ("kokoro", "en"),
]
THRESHOLDS = (0.2, 0.25, 0.34, 0.5)


def _engine(name: str, settings: Any) -> TTS | None:
    from models.espeak import EspeakTTS
    from models.pico import PicoTTS
    from models.piper import PiperTTS

    try:
        if name == "pico":
            return PicoTTS() if shutil.which("pico2wave") else None
        if name == "espeak":
            return EspeakTTS() if shutil.which("espeak-ng") else None
        if name == "piper":
            return PiperTTS.from_registry(model_dir=settings.model_dir)
        if name == "kokoro":
            from models.kokoro import KokoroTTS

            return KokoroTTS.from_registry(model_dir=settings.model_dir)
    except Exception as e:  # an engine that is not installed is reported and skipped
        print(f"  {name}: unavailable ({e})")
    return None


def _duration(path: Path) -> float:
    import soundfile as sf

    info = sf.info(str(path))
    return float(info.frames) / float(info.samplerate)


def _pct(values: list[float], q: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, int(round(q * (len(s) - 1))))]


def _line(label: str, values: list[float]) -> str:
    return (
        f"{label}: min {min(values):.3f}, mean {statistics.fmean(values):.3f}, median {statistics.median(values):.3f}, "
        f"p90 {_pct(values, 0.9):.3f}, max {max(values):.3f}"
    )


def evaluate_voice(
    engine: TTS,
    language: str,
    checker: Any,
    settings: Any,
    tmp: Path,
    vad_checkers: dict[str, Any],
    single_too: bool = False,
) -> dict[str, Any]:
    """Synthesize and check the 20 lines of one voice; returns its figures (and prints them)."""
    from models.speaker import mean_embedding
    from models.text import heard_wer, normalise_for_speech
    from pipeline.speech import qa

    voice: Voice = engine.voice_for(language)
    lines = LINES[language]
    clips: list[Path] = []
    for i, text in enumerate(lines):
        clips.append(engine.synthesize(text, voice, tmp / f"{engine.name}-{language}-{i:02d}.wav"))
    durations = [_duration(c) for c in clips]
    embeddings = []
    if checker.encoder is not None:
        for c in clips:
            try:
                embeddings.append(checker.encoder.embed(c))
            except Exception:
                pass
    reference = mean_embedding(embeddings) if embeddings else None

    seconds0, audio0 = checker.seconds, checker.audio_s
    t = time.perf_counter()
    results = checker.check_many([(c, text, reference) for c, text in zip(clips, lines, strict=True)], language)
    together_s = time.perf_counter() - t
    asr_s, audio_s = checker.seconds - seconds0, checker.audio_s - audio0
    wers = [float(r.wer or 0.0) for r in results]
    single: list[float] = []
    alone_s = 0.0
    if single_too:
        t = time.perf_counter()
        single = [
            float(checker.check(c, text, language, None).wer or 0.0) for c, text in zip(clips, lines, strict=True)
        ]
        alone_s = time.perf_counter() - t
    # negative control: each clip against another line's text (the one 5 further on, so lengths vary)
    wrong = [
        heard_wer(lines[(i + 5) % len(lines)], r.heard, language) for i, r in enumerate(results) if r.heard.strip()
    ]
    sims = [r.similarity for r in results if r.similarity is not None]
    label = f"{engine.name} {language}"
    print(f"\n== {label} ({voice.id}): {len(lines)} lines, {sum(durations):.1f} s of speech")
    print(
        f"  cost, lines heard together (check_many): {together_s / len(lines):.2f} s per line incl. embedding, "
        f"Whisper RTF {asr_s / max(audio_s, 1e-9):.2f} (Whisper time over speech heard, re-hearings included)"
    )
    print("  " + _line("WER, right text", wers))
    print("  pass share: " + ", ".join(f"<= {t:.2f}: {sum(w <= t for w in wers)}/{len(wers)}" for t in THRESHOLDS))
    if single:
        print(f"  each line alone (check): {alone_s / len(lines):.2f} s per line; " + _line("WER", single))
    if wrong:
        print("  " + _line("WER, wrong text (negative control)", wrong))
    print(
        f"  similarity to the voice's own profile: {len(sims)} lines measured, "
        + (f"mean {statistics.fmean(sims):.3f}, min {min(sims):.3f}" if sims else "none")
    )
    worst = sorted(zip(wers, lines, (r.heard for r in results), strict=True), reverse=True)[:4]
    for w, text, heard in worst:
        if w > 0:
            print(f"    WER {w:.2f}: {text!r} heard {heard!r}")

    # the retry loop on the lines that failed
    recovered, failed = 0, [i for i, r in enumerate(results) if not r.passed]
    for i in failed:
        text = lines[i]

        def make(attempt: int, i: int = i, text: str = text) -> tuple[Path, str]:
            v = qa.variant(attempt)
            said = normalise_for_speech(text, language) if v["normalise"] else text
            out = tmp / f"{engine.name}-{language}-{i:02d}-try{attempt}.wav"
            return engine.synthesize(said, voice, out, Prosody(rate=v["rate"])), str(v["name"])

        _, got = qa.synthesize_checked(make, text, language, checker, settings, reference, first=(clips[i], results[i]))
        recovered += got.passed
        print(f"    retry {text!r}: {'; '.join(got.tried)} -> {'passed' if got.passed else 'still failing'}")
    if failed:
        print(f"  retries: {recovered}/{len(failed)} failing lines recovered")

    for name, other in vad_checkers.items():
        alt = [float(other.check(c, t, language, None).wer or 0.0) for c, t in zip(clips, lines, strict=True)]
        short = [w for w, d in zip(alt, durations, strict=True) if d < 1.2]
        print(f"  {name}: " + _line("WER", alt) + f"; lines under 1.2 s: {', '.join(f'{w:.2f}' for w in short)}")
    per_line = together_s / len(lines)
    return {"label": label, "wers": wers, "wrong": wrong, "rtf": asr_s / max(audio_s, 1e-9), "per_line": [per_line]}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.eval qa", description=__doc__.split("\n")[0])
    parser.add_argument("--voices", default=",".join(f"{e}:{lang}" for e, lang in VOICES))
    parser.add_argument("--vad", action="store_true", help="also hear the lines with VAD on / without padding")
    parser.add_argument("--single", action="store_true", help="also hear each line alone (the cost of `check`)")
    args = parser.parse_args(argv)

    from models.asr import FasterWhisperASR
    from pipeline.core.config import Settings
    from pipeline.speech import hearing

    settings = Settings()
    try:
        checker = hearing.LineChecker.from_settings(settings)
    except Exception as e:
        print(f"qa: no Whisper to hear with ({e})")
        return 1
    print(
        f"QA of synthesized lines: Whisper {checker.asr.info.id} ({settings.asr_backend}, beam "
        f"{settings.asr_beam_size}, {settings.asr_compute_type}), no VAD, {hearing.PAD_S} s padding; "
        f"qa_max_wer {settings.qa_max_wer}, qa_retries {settings.qa_retries}"
    )
    vad_checkers: dict[str, Any] = {}
    if args.vad and isinstance(checker.asr, FasterWhisperASR):
        a = checker.asr
        with_vad = FasterWhisperASR(
            a.model_dir,
            a.info.id,
            a.info.version,
            a.info.sha256,
            a.device,
            a.compute_type,
            a.beam_size,
            a.cpu_threads,
            vad_filter=True,
        )
        vad_checkers = {
            "VAD on, padded": hearing.LineChecker(with_vad, None, settings.qa_max_wer),
            "no VAD, no padding": hearing.LineChecker(a, None, settings.qa_max_wer, pad_s=0.0),
        }
    figures = []
    with tempfile.TemporaryDirectory(prefix="dubline-eval-qa-") as tmpdir:
        for item in args.voices.split(","):
            name, language = item.split(":")
            engine = _engine(name, settings)
            if engine is None:
                print(f"\n== {name} {language}: engine not installed, skipped")
                continue
            figures.append(evaluate_voice(engine, language, checker, settings, Path(tmpdir), vad_checkers, args.single))
    if not figures:
        return 1
    right = [w for f in figures for w in f["wers"]]
    wrong = [w for f in figures for w in f["wrong"]]
    per_line = [s for f in figures for s in f["per_line"]]
    print(f"\n== all voices: {len(right)} lines")
    print("  " + _line("WER, right text", right))
    print("  " + _line("WER, wrong text", wrong))
    print(
        "  pass share: "
        + ", ".join(
            f"<= {t:.2f}: right {sum(w <= t for w in right)}/{len(right)}, "
            f"wrong {sum(w <= t for w in wrong)}/{len(wrong)}"
            for t in THRESHOLDS
        )
    )
    print(
        f"  check cost: {statistics.fmean(per_line):.2f} s per line; hearing RTF "
        f"{statistics.fmean(f['rtf'] for f in figures):.2f} (mean over voices)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
