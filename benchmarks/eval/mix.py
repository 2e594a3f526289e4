"""Mix evaluation (`make eval` / `python -m benchmarks.eval mix`).

On a constructed mix, lecture_en_60s.wav speech over song_with_vocals.mp3 looped as the bed (both in
../shared/fixtures), dubbed into Spanish through the real DAG, prints:
- bed preservation: correlation and SNR of the delivered Spanish track against the input bed, outside
  speech (both the source's and the dub's, with a margin), after a least-squares gain match;
- leakage: share of the source's English words that Whisper still recovers (a) from what lies under the
  dub (the separated bed with the mix's ducking applied), transcribed as English, and (b) from the
  delivered Spanish track itself, transcribed with language detection;
- loudness of every delivered track (decoded from the delivered AAC) against its profile;
- separation speed (real-time factor) and method.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import soundfile as sf

REPO = Path(__file__).resolve().parents[2]
FIXTURES = REPO.parent / "shared" / "fixtures"
RATE = 48000
BED_GAIN = 0.35


def _ffmpeg(*args: str) -> None:
    subprocess.run(["ffmpeg", "-hide_banner", "-nostdin", "-v", "error", "-y", *args], check=True)


def _norm_words(text: str) -> list[str]:
    return re.sub(r"[^\w\s']", " ", text.lower()).split()


def _recovered(reference: str, heard: str) -> float:
    import jiwer

    ref, hyp = " ".join(_norm_words(reference)), " ".join(_norm_words(heard))
    if not ref:
        return 0.0
    if not hyp:
        return 0.0
    out = jiwer.process_words(ref, hyp)
    return out.hits / len(ref.split())


def _mask(spans: list[tuple[float, float]], n: int, margin: float = 0.3) -> np.ndarray:
    keep = np.ones(n, dtype=bool)
    for s, e in spans:
        keep[max(0, int((s - margin) * RATE)) : min(n, int((e + margin) * RATE))] = False
    return keep


def construct(tmp: Path) -> tuple[Path, np.ndarray]:
    """The constructed mix (48 kHz stereo WAV) and the exact bed that went into it."""
    bed_wav, speech_wav, mix_wav = tmp / "bed.wav", tmp / "speech.wav", tmp / "constructed.wav"
    _ffmpeg(
        "-stream_loop",
        "-1",
        "-i",
        str(FIXTURES / "song_with_vocals.mp3"),
        "-t",
        "60",
        "-ar",
        str(RATE),
        "-ac",
        "2",
        "-c:a",
        "pcm_f32le",
        str(bed_wav),
    )
    _ffmpeg(
        "-i", str(FIXTURES / "lecture_en_60s.wav"), "-ar", str(RATE), "-ac", "2", "-c:a", "pcm_f32le", str(speech_wav)
    )
    bed, _ = sf.read(str(bed_wav), dtype="float32", always_2d=True)
    speech, _ = sf.read(str(speech_wav), dtype="float32", always_2d=True)
    n = min(len(bed), len(speech))
    bed = bed[:n] * BED_GAIN
    sf.write(str(mix_wav), np.clip(bed + speech[:n], -1, 1), RATE, subtype="PCM_16")
    return mix_wav, bed


def main(argv: list[str]) -> int:
    if not FIXTURES.is_dir():
        print(f"mix evaluation skipped: {FIXTURES} is absent (it needs lecture_en_60s.wav and song_with_vocals.mp3)")
        return 0
    from pipeline.audio.loudness import measure
    from pipeline.audio.loudness import profile as loudness_profile
    from pipeline.core.config import Settings
    from pipeline.core.engines import get_asr

    with tempfile.TemporaryDirectory(prefix="dubline-eval-mix-") as tmp_s:
        tmp = Path(tmp_s)
        mix_wav, bed = construct(tmp)
        out = tmp / "out"
        env = {**os.environ, "DUBLINE_DATA_DIR": str(tmp / "data")}
        proc = subprocess.run(
            [
                sys.executable,
                "-m",
                "pipeline.cli.app",
                "dub",
                str(mix_wav),
                "--to",
                "es",
                "--from",
                "en",
                "--out",
                str(out),
                "--stems",
            ],
            env=env,
            capture_output=True,
            text=True,
        )
        if proc.returncode != 0:
            print(proc.stderr)
            return 1
        report: dict[str, Any] = json.loads((out / "constructed.report.json").read_text())
        settings = Settings(data_dir=tmp / "data")
        asr = get_asr(settings)

        # delivered tracks, decoded from the AAC
        tracks = {}
        for idx, lang in enumerate(["en", "es"]):
            wav = tmp / f"track_{lang}.wav"
            _ffmpeg(
                "-i",
                str(out / "constructed.dub.m4a"),
                "-map",
                f"0:a:{idx}",
                "-ar",
                str(RATE),
                "-ac",
                "2",
                "-c:a",
                "pcm_f32le",
                str(wav),
            )
            tracks[lang] = wav
        prof = loudness_profile(report["loudness"]["es"]["profile"])
        print(
            f"loudness profile {prof.name}: target {prof.integrated} LUFS +/- {prof.tolerance} LU, "
            f"true peak <= {prof.true_peak} dBTP"
        )
        for lang, wav in tracks.items():
            m = measure(wav)
            print(
                f"  track {lang}: integrated {m.integrated_lufs:.1f} LUFS, LRA {m.lra_lu:.1f} LU, "
                f"true peak {m.true_peak_dbtp:.1f} dBTP -> {'meets' if m.meets(prof) else 'FAILS'} the profile"
            )

        # bed preservation outside speech
        es, _ = sf.read(str(tracks["es"]), dtype="float32", always_2d=True)
        n = min(len(es), len(bed))
        source_spans = [(ln["start"], ln["source_end"]) for ln in report["timing"]["es"]["lines"]]
        dub_spans = [(ln["start"], ln["start"] + ln["final_duration"]) for ln in report["timing"]["es"]["lines"]]
        keep = _mask(source_spans + dub_spans, n)
        x, y = bed[:n][keep].ravel(), es[:n][keep].ravel()
        corr = float(np.corrcoef(x, y)[0, 1])
        g = float(np.dot(x, y) / max(np.dot(x, x), 1e-12))
        snr = 10 * np.log10(np.sum((g * x) ** 2) / max(np.sum((y - g * x) ** 2), 1e-12))
        print(
            f"bed preservation outside speech ({keep.mean():.0%} of the programme): correlation {corr:.3f}, "
            f"SNR {snr:.1f} dB (gain {20 * np.log10(max(g, 1e-9)):.1f} dB)"
        )

        # leakage
        src16 = tmp / "lecture16.wav"
        _ffmpeg("-i", str(FIXTURES / "lecture_en_60s.wav"), "-ar", "16000", "-ac", "1", str(src16))
        reference = " ".join(s.text for s in asr.transcribe(src16, language="en").segments)
        stems_bed, _ = sf.read(str(out / "constructed.stem.bed.wav"), dtype="float32", always_2d=True)
        from pipeline.audio.mixing import duck_gain

        gain = duck_gain(
            dub_spans, len(stems_bed), RATE, settings.bed_duck_db, settings.duck_attack_s, settings.duck_release_s
        )
        under = tmp / "under_dub16.wav"
        sf.write(str(tmp / "under_dub.wav"), stems_bed * gain[:, None], RATE, subtype="FLOAT")
        _ffmpeg("-i", str(tmp / "under_dub.wav"), "-ar", "16000", "-ac", "1", str(under))
        heard_under = " ".join(s.text for s in asr.transcribe(under, language="en").segments)
        es16 = tmp / "es16.wav"
        _ffmpeg("-i", str(tracks["es"]), "-ar", "16000", "-ac", "1", str(es16))
        heard_es = " ".join(s.text for s in asr.transcribe(es16, language=None).segments)
        print(
            f"leakage: source English words recovered from under the dub: "
            f"{_recovered(reference, heard_under):.1%} (target <= 5%)"
        )
        print(
            f"leakage: source English words recovered from the delivered Spanish track: "
            f"{_recovered(reference, heard_es):.1%}"
        )
        sep = report.get("separation") or {}
        print(
            f"separation: {sep.get('method')}, real-time factor {sep.get('rtf')}"
            + (f" (warning: {sep['warning']})" if sep.get("warning") else "")
        )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
