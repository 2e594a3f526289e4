"""Programmes for audio description's tests and evaluation, built from the engines: dialogue lines spoken by
Pico (a voice unlike the describer's) at known times over a quiet music bed, with a generated picture. The
dialogue's true spans are known, so the overlap of descriptions with dialogue is measured against the truth,
not against dubline's own dialogue map."""

from __future__ import annotations

import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf

RATE = 16000


@dataclass(frozen=True)
class Programme:
    video: Path
    duration: float
    dialogue: list[tuple[float, float]]  # where the lines are spoken (true spans, seconds)
    texts: list[str]


def _pico(text: str, language: str, dest: Path) -> np.ndarray:
    voice = {"en": "en-US", "es": "es-ES", "fr": "fr-FR", "de": "de-DE", "it": "it-IT"}.get(language, "en-US")
    subprocess.run(["pico2wave", "-l", voice, "-w", str(dest), text], check=True, capture_output=True)
    audio, rate = sf.read(str(dest), dtype="float32")
    assert rate == RATE, rate
    audio = np.asarray(audio, dtype=np.float32)
    nz = np.flatnonzero(np.abs(audio) > 0.01)  # trim the engine's leading and trailing silence
    return audio[nz[0] : nz[-1] + 1] if nz.size else audio


def music_bed(duration: float, level_db: float = -32.0) -> np.ndarray:
    """A soft chord that changes every 2 s: music a description may be spoken over (ducked)."""
    t = np.arange(int(duration * RATE)) / RATE
    chords = [(220.0, 277.2, 329.6), (196.0, 246.9, 293.7), (174.6, 220.0, 261.6)]
    out = np.zeros_like(t, dtype=np.float64)
    for i in range(int(np.ceil(duration / 2))):
        a, b = int(i * 2 * RATE), int(min(duration, (i + 1) * 2) * RATE)
        for f in chords[i % len(chords)]:
            out[a:b] += np.sin(2 * np.pi * f * t[a:b])
    out *= 10 ** (level_db / 20) / 3
    return out.astype(np.float32)


def make_programme(
    dest: Path, lines: list[tuple[float, str]], duration: float, language: str = "en", music: bool = True
) -> Programme:
    """`dest` (.mp4): `lines` (start, text) spoken at their starts over a music bed, a test picture (320x180,
    10 fps, a counter in the corner), AAC audio. Lines must not overlap."""
    audio = music_bed(duration) if music else np.zeros(int(duration * RATE), dtype=np.float32)
    spans: list[tuple[float, float]] = []
    with tempfile.TemporaryDirectory() as tmp:
        for n, (start, text) in enumerate(lines):
            speech = _pico(text, language, Path(tmp) / f"line{n}.wav") * 0.7
            a = int(start * RATE)
            if spans and start < spans[-1][1]:
                raise ValueError(f"line {n} starts at {start} s, before the previous line ends ({spans[-1][1]:.2f} s)")
            end = min(len(audio), a + len(speech))
            audio[a:end] += speech[: end - a]
            spans.append((round(start, 3), round(end / RATE, 3)))
        wav = Path(tmp) / "programme.wav"
        sf.write(str(wav), np.clip(audio, -1, 1), RATE, subtype="PCM_16")
        subprocess.run(
            [
                "ffmpeg", "-hide_banner", "-nostdin", "-y", "-loglevel", "error",
                "-f", "lavfi", "-i", f"testsrc2=size=320x180:rate=10:duration={duration}",
                "-i", str(wav),
                "-c:v", "libx264", "-preset", "veryfast", "-pix_fmt", "yuv420p",
                "-c:a", "aac", "-b:a", "96k", "-shortest", str(dest),
            ],
            check=True,
        )  # fmt: skip
    return Programme(video=dest, duration=duration, dialogue=spans, texts=[t for _, t in lines])


def write_vtt(dest: Path, cues: list[tuple[str, float, float | None, str]], language: str = "en") -> Path:
    """A WebVTT description track: (id, start, end or None = start + 2 s, text)."""

    def ts(t: float) -> str:
        h, rest = divmod(t, 3600)
        m, s = divmod(rest, 60)
        return f"{int(h):02d}:{int(m):02d}:{s:06.3f}"

    parts = ["WEBVTT", "Kind: descriptions", f"Language: {language}", ""]
    for cid, start, end, text in cues:
        parts += [cid, f"{ts(start)} --> {ts(end if end is not None else start + 2.0)}", text, ""]
    dest.write_text("\n".join(parts), encoding="utf-8")
    return dest
