"""separate: dialogue and music-and-effects stems from the full-band stereo copy.

Spleeter 2-stem in its own environment when it is installed; otherwise a DSP fallback (centre-panned
speech-band energy removed inside the speech regions) with a warning that goes into the job report.
"""

from __future__ import annotations

import numpy as np
import soundfile as sf

from models.separation import SpleeterSeparator
from pipeline.audio.separation import dsp_separate
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
            audio, rate = sf.read(str(full), dtype="float32", always_2d=True)
            script = load_script(run.store, transcribed.script_uri)
            d, b = dsp_separate(audio, rate, [(s.start, s.end) for s in script.segments])
            dialogue, bed = run.scratch / "dialogue.wav", run.scratch / "bed.wav"
            sf.write(str(dialogue), d, rate, subtype="FLOAT")
            sf.write(str(bed), b, rate, subtype="FLOAT")
            seconds = time.perf_counter() - t0
        # a WAV per stem at the mix rate, clipped to the source's exact length
        n = int(sf.info(str(full)).frames)
        for path in (dialogue, bed):
            data, rate = sf.read(str(path), dtype="float32", always_2d=True)
            data = data[:n] if len(data) >= n else np.pad(data, ((0, n - len(data)), (0, 0)))
            sf.write(str(path), data, rate, subtype="FLOAT")
        return Separated(
            method=method,
            warning=warning,
            dialogue_uri=run.put("dialogue.wav", dialogue),
            bed_uri=run.put("bed.wav", bed),
            separation_s=round(seconds, 3),
            rtf=round(seconds / max(ingested.duration, 1e-6), 4),
        )

    return run_stage(settings, "separate", material, work, Separated)
