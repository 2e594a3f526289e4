"""separate: dialogue and music-and-effects stems from the full-band stereo copy.

Spleeter 2-stem in its own environment when it is installed; otherwise a DSP fallback (centre-panned
speech-band energy removed inside the speech regions) with a warning that goes into the job report.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import soundfile as sf

from models.separation import SpleeterSeparator
from pipeline.audio.separation import dsp_separate_file
from pipeline.core.config import Settings
from pipeline.core.errors import ConfigError
from pipeline.core.stagerun import StageRun, run_stage
from pipeline.stages.common import load_script
from pipeline.stages.contracts import Ingested, Separated, Transcribed

METHODS = ("auto", "spleeter", "dsp", "none")


def spleeter_for(settings: Settings) -> SpleeterSeparator:
    return SpleeterSeparator(settings.resolved_spleeter_python, settings.spleeter_model_dir)


def separate(settings: Settings, ingested: Ingested, transcribed: Transcribed) -> Separated:
    method = settings.separation
    if method not in METHODS:
        raise ConfigError(f"unknown separation method {method!r}", f"set DUBLINE_SEPARATION to one of {METHODS}")
    spleeter = spleeter_for(settings)
    warning = ""
    if method == "auto":
        method = "spleeter" if spleeter.available() else "dsp"
        if method == "dsp":
            warning = (
                f"Spleeter's environment ({spleeter.python}) is absent: the DSP fallback separated the "
                "dialogue, so traces of the original voices may remain under the dub; run `make setup`"
            )
    if method == "spleeter" and not spleeter.available():
        raise ConfigError(
            f"Spleeter's environment {spleeter.python} is missing", "run `make setup`, or set DUBLINE_SEPARATION=dsp"
        )
    if method == "none":
        return Separated(stage="separate", method="none")
    material = {
        "source": ingested.source_sha256,
        "full": ingested.full_audio_uri,
        "method": method,
        "model": spleeter.info.as_dict() if method == "spleeter" else "dsp-v1",
        "spans": transcribed.key if method == "dsp" else None,
    }

    def work(run: StageRun) -> Separated:
        full = run.fetch(ingested.full_audio_uri)
        if method == "spleeter":
            stems = spleeter.separate(full, run.scratch / "spleeter", int(sf.info(str(full)).samplerate))
            dialogue, bed, seconds = stems.dialogue, stems.bed, stems.seconds
        else:
            import time

            t0 = time.perf_counter()
            script = load_script(run.store, transcribed.script_uri)
            dialogue, bed = run.scratch / "dialogue.wav", run.scratch / "bed.wav"
            dsp_separate_file(full, dialogue, bed, [(s.start, s.end) for s in script.segments])
            seconds = time.perf_counter() - t0
        # a WAV per stem at the mix rate, exactly the source's length (Spleeter's may run over or short)
        n = int(sf.info(str(full)).frames)
        for path in (dialogue, bed):
            fit_length(path, n)
        return Separated(
            method=method,
            warning=warning,
            dialogue_uri=run.put("dialogue.wav", dialogue),
            bed_uri=run.put("bed.wav", bed),
            separation_s=round(seconds, 3),
            rtf=round(seconds / max(ingested.duration, 1e-6), 4),
        )

    return run_stage(settings, "separate", material, work, Separated)


def fit_length(path: Path, n: int, block: int = 1 << 18) -> None:
    """The WAV at `path` cut or padded with silence to `n` samples, as 32-bit float; streamed, and rewritten
    (beside it, then moved over it) only where its length or format differs."""
    info = sf.info(str(path))
    if info.frames == n and info.subtype == "FLOAT":
        return
    tmp = path.with_name(f".{path.stem}.fit{path.suffix}")
    left = n
    with sf.SoundFile(str(path)) as f, sf.SoundFile(str(tmp), "w", info.samplerate, info.channels, "FLOAT") as w:
        for part in f.blocks(blocksize=block, dtype="float32", always_2d=True):
            if left <= 0:
                break
            w.write(part[:left])
            left -= len(part[:left])
        while left > 0:
            w.write(np.zeros((min(left, block), info.channels), dtype=np.float32))
            left -= min(left, block)
    tmp.replace(path)
