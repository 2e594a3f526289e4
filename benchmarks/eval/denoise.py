"""Denoise evaluation (`python -m benchmarks.eval denoise`): what DeepFilterNet 3 and the DSP spectral gate
(models/denoise.py) do for transcription and for the voice, on real speech with three kinds of noise.

Speech (../shared/fixtures): jfk.flac (11 s; reference text from the fixtures' README) and the first 20 s of
lecture_en_60s.wav (no reference text: Whisper's transcript of the clean excerpt is the reference, so its WER
is the change noise makes, not an absolute error). Noise, added at 0, 5 and 10 dB global SNR (noise power
over the whole excerpt):
- white: Gaussian, seeded;
- babble: six voices at equal level, two time-shifted (looped) copies of each of the other three speech
  fixtures (for jfk: the lecture's second half, one_two_three_en, dictee_fr; for the lecture: jfk,
  one_two_three_en, dictee_fr);
- music: the instrumental part of song_with_vocals.mp3 (Spleeter's accompaniment stem, when its environment
  is installed; else the song itself, vocals included, which the table's title then says), looped.

Prints, per excerpt x noise x SNR, for the noisy audio and after each denoiser: the WER of the configured
Whisper (pipeline.core.engines.get_asr, models.text.heard_wer); the Resemblyzer cosine of the audio against
the clean excerpt's embedding; and pipeline.audio.denoise.estimate_snr_db (the blind estimate). Then means
per noise, and each denoiser's real-time factor (processing time over audio time, 48 kHz mono). The clean
excerpts denoised show what a denoiser costs speech that needed none. `--engines` takes NAME[:LIMIT_DB]
(e.g. deepfilternet:24, an attenuation limit). About 4-5 minutes on 2 cores (Whisper is most of it).
"""

from __future__ import annotations

import argparse
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
RATE = 48000
ASR_RATE = 16000
SNRS = (0.0, 5.0, 10.0)
JFK_TEXT = "And so my fellow Americans, ask not what your country can do for you, ask what you can do for your country."


def _decode(path: Path, seconds: float | None = None, start: float = 0.0, rate: int = RATE) -> np.ndarray:
    args = ["ffmpeg", "-nostdin", "-v", "error", "-ss", f"{start}", "-i", str(path)]
    args += ["-t", f"{seconds}"] if seconds else []
    args += ["-ac", "1", "-ar", str(rate), "-f", "f32le", "-"]
    out = subprocess.run(args, capture_output=True, check=True).stdout
    return np.frombuffer(out, np.float32).astype(np.float32)


def _loop(x: np.ndarray, n: int, shift: int = 0) -> np.ndarray:
    return np.resize(np.roll(x, shift), n).astype(np.float32)


def _unit(x: np.ndarray) -> np.ndarray:
    return (x / max(float(np.sqrt(np.mean(x.astype(np.float64) ** 2))), 1e-9)).astype(np.float32)


def _at_snr(speech: np.ndarray, noise: np.ndarray, snr_db: float) -> np.ndarray:
    p_speech = float(np.mean(speech.astype(np.float64) ** 2))
    p_noise = float(np.mean(noise.astype(np.float64) ** 2))
    return (speech + noise * np.sqrt(p_speech / p_noise / 10 ** (snr_db / 10))).astype(np.float32)


def _music_bed(tmp: Path) -> tuple[np.ndarray, str]:
    """The song's accompaniment (Spleeter), or the song itself when Spleeter is not installed."""
    song = FIXTURES / "song_with_vocals.mp3"
    from models.separation import SpleeterSeparator

    spleeter = SpleeterSeparator(REPO / ".venv-spleeter" / "bin" / "python")
    if spleeter.available():
        stereo = tmp / "song.wav"
        subprocess.run(
            ["ffmpeg", "-nostdin", "-v", "error", "-y", "-i", str(song), "-ac", "2", str(stereo)], check=True
        )
        try:
            stems = spleeter.separate(stereo, tmp / "song-stems", RATE)
            return _decode(stems.bed), "song_with_vocals.mp3's accompaniment (Spleeter 2-stem)"
        except Exception as e:  # noqa: BLE001 - the song itself still makes a music bed
            print(f"  Spleeter failed ({e}); the song is used whole")
    return _decode(song), "song_with_vocals.mp3 whole (vocals included: Spleeter is not installed)"


@dataclass
class Excerpt:
    name: str
    samples: np.ndarray
    reference: str = ""  # filled from the clean transcript where the fixture has no text
    babble_from: list[np.ndarray] = field(default_factory=list)


def _excerpts(seconds: float) -> list[Excerpt]:
    lecture = _decode(FIXTURES / "lecture_en_60s.wav", seconds)
    lecture_rest = _decode(FIXTURES / "lecture_en_60s.wav", 30.0, start=30.0)
    jfk = _decode(FIXTURES / "jfk.flac")
    short = [_decode(FIXTURES / "one_two_three_en.wav"), _decode(FIXTURES / "dictee_fr.aiff")]
    return [
        Excerpt("jfk", jfk, JFK_TEXT, [lecture_rest, *short]),
        Excerpt(f"lecture{seconds:.0f}s", lecture, "", [jfk, *short]),
    ]


def _babble(ex: Excerpt) -> np.ndarray:
    n = len(ex.samples)
    voices = [_unit(_loop(v, n, shift)) for v in ex.babble_from for shift in (0, int(1.7 * RATE) + 4321)]
    return np.sum(voices, axis=0).astype(np.float32)


class Judge:
    """Whisper and Resemblyzer on 16 kHz WAVs written from 48 kHz samples."""

    def __init__(self, tmp: Path) -> None:
        from models.speaker import ResemblyzerEncoder
        from pipeline.core.config import Settings
        from pipeline.core.engines import get_asr

        self.tmp = tmp
        self.asr = get_asr(Settings())
        self.encoder = ResemblyzerEncoder()
        self.count = 0

    def _wav(self, x: np.ndarray) -> Path:
        import soundfile as sf
        from scipy.signal import resample_poly

        self.count += 1
        path = self.tmp / f"judge-{self.count:03d}.wav"
        sf.write(str(path), resample_poly(x, ASR_RATE, RATE).astype(np.float32), ASR_RATE, subtype="FLOAT")
        return path

    def hear(self, x: np.ndarray) -> tuple[str, np.ndarray]:
        path = self._wav(x)
        text = " ".join(s.text.strip() for s in self.asr.transcribe(path, "en").segments)
        try:
            emb = self.encoder.embed(path)
        except Exception:  # noqa: BLE001 - too little speech left to embed: cosine 0
            emb = np.zeros(256)
        path.unlink()
        return text, emb


def evaluate(seconds: float, engines: list[str], tmp: Path) -> dict[str, Any]:
    from models.denoise import make_denoiser
    from models.speaker import cosine
    from models.text import heard_wer
    from pipeline.audio.denoise import estimate_snr_db

    denoisers = {}
    for spec in engines:
        name, _, limit = spec.partition(":")
        try:
            den = make_denoiser(name, atten_lim_db=float(limit) if limit else None)
            denoisers[den.info.id + (f"@{limit}" if limit else "")] = den
        except Exception as e:  # noqa: BLE001 - a missing engine is reported, the others measured
            print(f"  {name}: unavailable ({e})")
    judge = Judge(tmp)
    music, music_what = _music_bed(tmp)
    rng = np.random.default_rng(0)
    timing = {k: [0.0, 0.0] for k in denoisers}  # processing seconds, audio seconds
    rows: list[dict[str, Any]] = []
    for ex in _excerpts(seconds):
        n = len(ex.samples)
        clean_text, clean_emb = judge.hear(ex.samples)
        reference = ex.reference or clean_text
        noises = {"white": rng.standard_normal(n).astype(np.float32), "babble": _babble(ex), "music": _loop(music, n)}
        cases = [("clean", None, ex.samples)] + [
            (kind, snr, _at_snr(ex.samples, noise, snr)) for kind, noise in noises.items() for snr in SNRS
        ]
        for kind, snr, x in cases:
            row: dict[str, Any] = {"speech": ex.name, "noise": kind, "snr": snr, "wer": {}, "cos": {}, "est": {}}
            variants = {"noisy": x}
            for key, den in denoisers.items():
                t0 = time.perf_counter()
                variants[key] = den.process(x)
                timing[key][0] += time.perf_counter() - t0
                timing[key][1] += n / RATE
            for key, y in variants.items():
                text, emb = judge.hear(y)
                row["wer"][key] = heard_wer(reference, text, "en")
                row["cos"][key] = cosine(emb, clean_emb)
                row["est"][key] = estimate_snr_db(y, RATE)
            rows.append(row)
            print(f"  {ex.name} {kind} {'' if snr is None else f'{snr:.0f} dB'}: done", flush=True)
    rtf = {k: t / max(a, 1e-9) for k, (t, a) in timing.items()}
    return {"rows": rows, "rtf": rtf, "music": music_what, "keys": ["noisy", *denoisers], "asr": judge.asr.info.id}


def show(result: dict[str, Any]) -> None:
    keys: list[str] = result["keys"]
    short = {"noisy": "noisy", "deepfilternet3": "DFN3", "dsp-spectral-gate": "DSP"}

    def label(key: str) -> str:
        engine, _, limit = key.partition("@")
        return short.get(engine, engine[:6]) + (f"@{limit}" if limit else "")

    names = [label(k) for k in keys]
    cols = " ".join(f"{n:>6}" for n in names)
    print(f"\nASR {result['asr']}; music bed: {result['music']}")
    print(f"{'speech':<12} {'noise':<7} {'SNR':>4} | WER    {cols} | cosine {cols} | est.SNR {cols}")
    for r in result["rows"]:
        snr = "-" if r["snr"] is None else f"{r['snr']:.0f}"
        wer = " ".join(f"{r['wer'][k]:6.2f}" for k in keys)
        cos = " ".join(f"{r['cos'][k]:6.3f}" for k in keys)
        est = " ".join(f"{r['est'][k]:6.1f}" for k in keys)
        print(f"{r['speech']:<12} {r['noise']:<7} {snr:>4} |        {wer} |        {cos} |         {est}")
    print("means over both excerpts and the three SNRs:")
    for kind in ("white", "babble", "music", "clean"):
        rs = [r for r in result["rows"] if r["noise"] == kind]
        wer = " ".join(f"{np.mean([r['wer'][k] for r in rs]):6.2f}" for k in keys)
        cos = " ".join(f"{np.mean([r['cos'][k] for r in rs]):6.3f}" for k in keys)
        est = " ".join(f"{np.mean([r['est'][k] for r in rs]):6.1f}" for k in keys)
        print(f"{'mean':<12} {kind:<7} {'':>4} |        {wer} |        {cos} |         {est}")
    print("real-time factor (processing time / audio time, 48 kHz mono): " + ", ".join(
        f"{label(k)} {v:.3f}" for k, v in result["rtf"].items()
    ))  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.eval denoise", description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=20.0, help="length of the lecture excerpt")
    parser.add_argument("--engines", default="deepfilternet,dsp", help="NAME[:LIMIT_DB],... to compare")
    args = parser.parse_args(argv or [])
    if not FIXTURES.is_dir():
        print(f"denoise evaluation skipped: {FIXTURES} is absent (it needs jfk.flac and lecture_en_60s.wav)")
        return 0
    from models import registry

    try:
        registry.require("whisper-base-ct2")
    except registry.WeightsError as e:
        print(f"denoise evaluation skipped: {e}")
        return 0
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="dubline-eval-denoise-") as tmp:
        result = evaluate(args.seconds, [e.strip() for e in args.engines.split(",") if e.strip()], Path(tmp))
    show(result)
    print(f"evaluation took {time.perf_counter() - t0:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
