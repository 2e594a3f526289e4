"""The demo sample, made here rather than committed: an English talk in the Piper voice, with pauses
between sentences, over a quiet synthesized music bed, with a generated moving picture."""

from __future__ import annotations

import itertools
import json
import tempfile
from collections.abc import Sequence
from pathlib import Path

import ffmpeg
import numpy as np
import soundfile as sf

from pipeline.audio import media
from pipeline.core.config import Settings
from pipeline.core.engines import choose_tts
from pipeline.core.errors import ConfigError

TALK = [
    "Welcome to this short talk about the water cycle.",
    "The sun warms the sea, and water rises into the air as vapour.",
    "High in the sky, the vapour cools and forms clouds.",
    "When the clouds are heavy, the water falls back as rain or snow.",
    "Rivers carry the water back to the sea.",
    "Then the cycle begins again.",
    "Thank you for listening, and see you next time.",
]
# more of the talk, for long samples (benchmarks of ten minutes and more)
MORE = [
    "Let us look more closely at each step of the journey.",
    "Oceans cover most of the planet, so most of the vapour comes from the sea.",
    "Plants also give water back to the air through their leaves.",
    "Warm air can hold more water than cold air.",
    "That is why clouds form when air rises and cools down.",
    "Tiny drops gather around specks of dust and salt.",
    "When the drops grow large enough, they fall as rain.",
    "In cold places, the water falls as snow and may stay frozen for years.",
    "Glaciers store fresh water for a very long time.",
    "Some rain soaks into the ground and becomes groundwater.",
    "Wells and springs bring that water back to the surface.",
    "Lakes and wetlands hold water and slow down floods.",
    "People depend on every part of this cycle for drinking water and for farming.",
    "Now, a short question for you to think about before the next part.",
]
RATE = 48000


def _bed(seconds: float, rate: int = RATE) -> np.ndarray:
    """A soft chord progression with a slow pulse, about -30 dBFS RMS, stereo."""
    t = np.arange(int(seconds * rate)) / rate
    chords = [(220.0, 277.18, 329.63), (196.0, 246.94, 293.66), (174.61, 220.0, 261.63), (196.0, 246.94, 311.13)]
    out = np.zeros_like(t)
    bar = 4.0
    for i, chord in enumerate(chords * int(seconds // (bar * len(chords)) + 1)):
        a, b = int(i * bar * rate), int(min((i + 1) * bar, seconds) * rate)
        if a >= len(t):
            break
        seg = t[a:b] - t[a]
        env = np.minimum(1.0, seg / 0.5) * np.minimum(1.0, (bar - seg) / 0.5)
        for f in chord:
            out[a:b] += env * np.sin(2 * np.pi * f * t[a:b]) / len(chord)
    out *= 0.5 + 0.5 * np.sin(2 * np.pi * 0.5 * t) ** 2  # gentle pulse
    out *= 10 ** (-30 / 20) / max(1e-9, float(np.sqrt(np.mean(out**2))))
    return np.stack([out, np.roll(out, int(0.011 * rate))], axis=1).astype(np.float32)


LEAD_S, GAP_S, TAIL_S = 1.0, 1.2, 0.5  # silence before the first sentence, between sentences, after the last


def make_sample(out: Path, settings: Settings, seconds: float = 30.0, talk: Sequence[str] | None = None) -> Path:
    """Write the sample to `out` (.mp4 with a picture; .wav/.flac/.m4a audio only), `seconds` long, and beside
    it `<out>.json` with the true speech spans and text (ground truth for tests). The talk (default TALK, then
    MORE for long samples; or `talk`, its closing sentence last) is as many of its sentences as fit in
    `seconds` (the body repeated for long samples), then its closing sentence; ConfigError when not even the
    closing one fits."""
    body, last = (TALK[:-1] + MORE, TALK[-1]) if talk is None else (list(talk[:-1]), talk[-1])
    tts = choose_tts(settings, "en")
    voice = tts.voice_for("en")
    out = out.resolve()
    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp_s:
        tmp = Path(tmp_s)

        def speak(name: str, sentence: str) -> np.ndarray:
            wav = tts.synthesize(sentence, voice, tmp / f"s{name}.wav")
            res = tmp / f"r{name}.wav"
            media.run(
                ffmpeg.output(ffmpeg.input(str(wav)).audio, str(res), ar=RATE, ac=1, acodec="pcm_f32le"),
                "resample the sample narration",
            )
            return np.asarray(sf.read(str(res), dtype="float32")[0])

        closing = speak("end", last)
        end = seconds - TAIL_S  # where the speech must have ended
        if LEAD_S + len(closing) / RATE > end:
            need = LEAD_S + len(closing) / RATE + TAIL_S
            raise ConfigError(f"--seconds {seconds:g} is too short for the sample", f"give at least {need:.1f}")
        pos = LEAD_S
        placed: list[tuple[float, np.ndarray]] = []
        script: list[str] = []
        for i, sentence in enumerate(itertools.cycle(body)):  # ~4.2 s a sentence
            data = speak(str(i), sentence)
            after = pos + len(data) / RATE + GAP_S
            if after + len(closing) / RATE > end:  # this one would leave no room for the closing sentence
                break
            placed.append((pos, data))
            script.append(sentence)
            pos = after
        placed.append((pos, closing))
        script.append(last)
        total = seconds
        mixture = _bed(total)
        for start, data in placed:
            a = int(start * RATE)
            mixture[a : a + len(data)] += 0.8 * data[:, None]
        mixture = np.clip(mixture, -1, 1)
        truth = {
            "language": "en",
            "duration": total,
            "speech": [
                {"start": round(st, 3), "end": round(st + len(d) / RATE, 3), "text": script[i]}
                for i, (st, d) in enumerate(placed)
            ],
        }
        out.with_name(out.name + ".json").write_text(json.dumps(truth, indent=1))
        audio = tmp / "audio.wav"
        sf.write(str(audio), mixture, RATE, subtype="PCM_16")
        if out.suffix.lower() == ".wav":
            sf.write(str(out), mixture, RATE, subtype="PCM_16")
            return out
        a_in = ffmpeg.input(str(audio))
        if out.suffix.lower() in media.AUDIO_EXTS:
            media.run(ffmpeg.output(a_in.audio, str(out)), f"write {out.name}")
            return out
        v_in = ffmpeg.input(f"gradients=s=640x360:r=25:d={total:.3f}:speed=0.02", f="lavfi")
        media.run(
            ffmpeg.output(
                v_in.video,
                a_in.audio,
                str(out),
                vcodec="libx264",
                preset="veryfast",
                crf=28,
                pix_fmt="yuv420p",
                acodec="aac",
                audio_bitrate="160k",
                t=f"{total:.3f}",
                movflags="+faststart",
            ),
            f"write {out.name}",
        )
    return out
