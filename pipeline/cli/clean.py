"""`dubline clean`: denoise the speech of an audio or video file (DeepFilterNet 3, or the DSP fallback)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from pipeline.cli.console import console, errors


@errors
def clean(
    input: Annotated[Path, typer.Argument(help="an audio or video file", show_default=False)],
    out: Annotated[
        Path | None,
        typer.Option("--out", help="where to write (default: INPUT.clean.EXT beside the input; a .wav gets the audio)"),
    ] = None,
    engine: Annotated[str, typer.Option("--engine", help="auto, deepfilternet or dsp")] = "auto",
    atten_lim_db: Annotated[
        float | None,
        typer.Option("--atten-lim-db", help="the most the denoiser takes off, dB (default: the engine's own)"),
    ] = None,
) -> None:
    """Remove the background noise from the speech of INPUT: a copy in the same container with the first audio
    track cleaned and the picture and other tracks copied untouched, or a WAV of the cleaned audio. Prints
    the engine, the estimated SNR before and after, and the time taken."""
    from pipeline.audio import denoise
    from pipeline.audio.denoise_media import clean_media

    dest = out if out is not None else input.with_name(f"{input.stem}.clean{input.suffix}")
    with console.status(f"cleaning {escape(input.name)}...") as status:

        def progress(done: float, total: float) -> None:
            status.update(f"cleaning {escape(input.name)}: {done:.0f} of {total:.0f} s")

        if dest.suffix.lower() == ".wav" and input.suffix.lower() != ".wav":
            result = denoise.clean_audio(input, dest, engine, atten_lim_db=atten_lim_db, progress=progress)
        else:
            result = clean_media(input, dest, engine, atten_lim_db=atten_lim_db, progress=progress)
    info = result.engine
    console.print(f"engine: {escape(info['id'])} {escape(info.get('version', ''))}")
    console.print(f"SNR (estimated): {result.snr_before_db:.1f} dB before, {result.snr_after_db:.1f} dB after")
    if not denoise.needs_denoise(result.snr_before_db):
        console.print(f"[dim]the input was already above {denoise.LOW_SNR_DB:.0f} dB: cleaning was optional[/]")
    console.print(
        f"[bold green]cleaned[/] {escape(str(result.path))} in {result.seconds:.1f} s "
        f"({result.realtime_factor:.2f} x real time for {result.duration_s:.1f} s of audio)"
    )
