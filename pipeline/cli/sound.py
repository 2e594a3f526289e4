"""`dubline compose` and `dubline ambience`: a music bed composed here, or procedural ambience, to a file."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from pipeline.cli.console import console, errors


def _wav_path(out: Path, default_name: str) -> Path:
    """`out` itself, or `out/default_name` when it is a folder (an existing one, or a path without a suffix)."""
    return out / default_name if out.is_dir() or not out.suffix else out


@errors
def compose(
    mood: Annotated[str, typer.Option(help="calm, bright, tense or sad")] = "calm",
    key: Annotated[
        str, typer.Option(help="tonic, with m for minor (C, F#, Bb, Am); a bare tonic takes the mood's mode")
    ] = "C",
    tempo: Annotated[float, typer.Option(help="beats a minute, 40-200")] = 90.0,
    seconds: Annotated[float, typer.Option(help="length of the bed (at most 600 s)")] = 30.0,
    seed: Annotated[int, typer.Option(help="the same seed and options give the same music, sample for sample")] = 0,
    out: Annotated[
        Path, typer.Option("--out", "-o", help="the WAV to write (or a folder); MIDI and MusicXML go beside it")
    ] = Path("bed.wav"),
    level: Annotated[float, typer.Option(help="integrated loudness of the bed, LUFS")] = -30.0,
) -> None:  # fmt: skip
    """Compose a music bed in --mood: chords, melody, bass and drums, rendered with FluidSynth to a 48 kHz stereo
    WAV of exactly SECONDS, with its MIDI file and MusicXML score."""
    from pipeline.audio.compose import compose as make

    wav = _wav_path(out, f"{mood}.wav")
    c = make(mood, key, tempo, seconds, seed, out_dir=wav.parent, stem=wav.stem, level_lufs=level)
    console.print(f"composed {c.mood} in {escape(c.key)} at {c.tempo:g} bpm: {c.bars} bars, {c.seconds:g} s")
    console.print(f"  chords: {escape(' '.join(c.chords))}")
    for label, path in (("audio", c.wav), ("MIDI", c.midi), ("score", c.musicxml)):
        console.print(f"  {label:<6} {escape(str(path))}")
    ld = c.loudness
    console.print(
        f"  loudness {ld['integrated_lufs']:.1f} LUFS (target {c.level_lufs:g}), true peak {ld['true_peak_dbtp']:.1f} "
        f"dBTP  [dim]{escape(c.engine.id)} {escape(c.engine.version)}[/]"
    )


@errors
def ambience(
    kind: Annotated[str, typer.Argument(help="room, rain, wind, crowd or city")],
    seconds: Annotated[float, typer.Option(help="length (at most 600 s); the file loops without a seam")] = 30.0,
    seed: Annotated[int, typer.Option(help="the same seed gives the same sound, sample for sample")] = 0,
    out: Annotated[Path, typer.Option("--out", "-o", help="the WAV to write (or a folder)")] = Path("ambience.wav"),
    level: Annotated[float | None, typer.Option(help="RMS level, dBFS (default: room -65, others -40)")] = None,
) -> None:  # fmt: skip
    """Make seamlessly loopable ambience of KIND: a 48 kHz stereo WAV (room tone is ACX-usable: -65 dBFS)."""
    import numpy as np
    import soundfile as sf

    from pipeline.audio.ambience import write_ambience

    wav = _wav_path(out, f"{kind}.wav")
    write_ambience(kind, seconds, wav, seed=seed, level_db=level)
    data, _ = sf.read(str(wav), dtype="float64")
    rms = 20 * np.log10(float(np.sqrt(np.mean(data**2))))
    console.print(f"{escape(kind)} ambience, {seconds:g} s (seed {seed}): {escape(str(wav))}")
    console.print(f"  level {rms:.1f} dBFS RMS, loops without a seam")
