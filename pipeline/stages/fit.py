"""fit: place every dubbed line at its source start and make it fit its slot; render the dub speech track."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import ffmpeg
import numpy as np
import soundfile as sf

from pipeline import media, timing
from pipeline.config import Settings
from pipeline.engines import choose_tts
from pipeline.jobs import StageRun, run_stage
from pipeline.script import FitReport
from pipeline.stages.common import load_script, save_script
from pipeline.stages.ingest import MIX_RATE
from pipeline.stages.synthesize import synth_clip


def _load_clip(src: Path, dest: Path, tempo: float) -> np.ndarray:
    """The clip at the mix rate, mono float32, stretched by `tempo` with pitch preserved."""
    stream = ffmpeg.input(str(src)).audio
    if abs(tempo - 1.0) > 1e-3:
        stream = stream.filter("rubberband", tempo=tempo, pitchq="quality")
    media.run(ffmpeg.output(stream, str(dest), ar=MIX_RATE, ac=1, acodec="pcm_f32le"), f"fit {src.name}")
    data, _ = sf.read(str(dest), dtype="float32")
    return np.asarray(data, dtype=np.float32)


def fit(settings: Settings, synthesized: dict[str, Any], duration: float) -> dict[str, Any]:
    lang = synthesized["language"]
    params = {"gap": settings.fit_min_gap_s, "max_rate": settings.fit_max_rate, "stretch_max": settings.stretch_max}
    material = {"script": synthesized["script_uri"], "duration": duration, **params}

    def work(run: StageRun) -> dict[str, Any]:
        script = load_script(run.store, synthesized["script_uri"]).revised(f"fit:{lang}")
        segs = [s for s in script.segments if lang in s.clips]
        slots = timing.slots([(s.start, s.end) for s in segs], duration, settings.fit_min_gap_s)
        n = int(round(duration * MIX_RATE))
        track = np.zeros(n, dtype=np.float32)
        tts = None
        for i, (seg, slot) in enumerate(zip(segs, slots, strict=True)):
            clip = seg.clips[lang]
            available = max(slot.end - slot.start, 0.01)
            plan = timing.plan_rate(clip.duration, available, settings.fit_max_rate)
            if clip.duration <= seg.end - seg.start + 0.01:
                steps = ["fits"]
            elif clip.duration <= available:
                steps = ["silence"]  # runs on into the pause before the next line
            else:
                steps = ["rate"]
            uri, dur = clip.uri, clip.duration
            if plan.rate > 1.0:
                tts = tts or choose_tts(settings, lang)
                uri, dur = synth_clip(
                    run.store, tts, tts.voice_for(lang), seg.translations[lang].text, plan.rate, run.scratch
                )
            tempo = timing.plan_stretch(dur, available, settings.stretch_max)
            if tempo > 1.0:
                steps.append("stretch")
            samples = _load_clip(run.fetch(uri), run.scratch / f"fit{i}.wav", tempo)
            final = len(samples) / MIX_RATE
            over = timing.overrun(final, available)
            if over > 0.01:
                steps.append("overrun")
            a = int(round(slot.start * MIX_RATE))
            b = min(n, a + len(samples))
            track[a:b] += samples[: b - a]
            seg.clips[lang] = clip.model_copy(
                update={
                    "uri": uri,
                    "rate": round(plan.rate, 3),
                    "fit": FitReport(
                        start=slot.start,
                        slot_end=round(slot.end, 3),
                        natural_duration=clip.duration,
                        rate=round(plan.rate, 3),
                        stretch=round(tempo, 3),
                        final_duration=round(final, 3),
                        steps=steps,
                        overrun_s=round(over, 3),
                    ),
                }
            )
            run.step(i + 1, len(segs), seg.id)
        out = run.scratch / "dub_speech.wav"
        sf.write(str(out), np.clip(track, -1, 1), MIX_RATE, subtype="PCM_16")
        fits = [s.clips[lang].fit for s in segs if s.clips[lang].fit]
        summary = {
            "lines": len(fits),
            "rate_changed": sum(1 for f in fits if f and f.rate > 1.0),
            "stretched": sum(1 for f in fits if f and f.stretch > 1.0),
            "overruns": sum(1 for f in fits if f and f.overrun_s > 0.01),
            "max_speedup": round(max([(f.rate * f.stretch) for f in fits if f] or [1.0]), 3),
            "end_drift_s": 0.0,  # lines start at their source starts by construction
        }
        return {
            "language": lang,
            "script_uri": save_script(run, script),
            "dub_speech_uri": run.put("dub_speech.wav", out),
            "spans": [
                [s.clips[lang].fit.start, s.clips[lang].fit.start + s.clips[lang].fit.final_duration]  # type: ignore[union-attr]
                for s in segs
            ],
            "summary": summary,
        }

    return run_stage(settings, "fit", material, work, label=lang)
