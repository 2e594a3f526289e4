"""fit: place every dubbed line at its source start, stretch what still does not fit, smooth the speed
of neighbouring lines, and render the dub speech track. The decisions are `pipeline.text.timing`'s; this
module only does the I/O: one ffmpeg run converts (and stretches, pitch preserved) all clips at once."""

from __future__ import annotations

from typing import Any

import numpy as np
import soundfile as sf

from pipeline.audio.clips import render_clips
from pipeline.core.config import Settings
from pipeline.core.script import FitReport
from pipeline.core.stagerun import StageRun, run_stage
from pipeline.products.dubbing.contracts import Fitted, Synthesized
from pipeline.stages.common import load_script, save_script
from pipeline.stages.ingest import MIX_RATE
from pipeline.text import timing


def fit(settings: Settings, synthesized: Synthesized, duration: float) -> Fitted:
    lang = synthesized.language
    params = {
        "gap": settings.fit_min_gap_s,
        "stretch_min": settings.stretch_min,
        "stretch_max": settings.stretch_max,
        "max_jump": settings.fit_max_jump,
    }
    material = {"script": synthesized.script_uri, "duration": duration, **params}

    def work(run: StageRun) -> Fitted:
        script = load_script(run.store, synthesized.script_uri).revised(f"fit:{lang}")
        segs = [s for s in script.segments if lang in s.clips]
        slots = timing.slots([(s.start, s.end) for s in segs], duration, settings.fit_min_gap_s)
        lines = []
        for seg, slot in zip(segs, slots, strict=True):
            clip = seg.clips[lang]
            natural = clip.natural_duration or clip.duration
            steps = list(clip.steps)
            if not steps:
                steps = ["fits"] if natural <= seg.end - seg.start + 0.01 else ["silence"]
            lines.append(
                timing.Line(
                    start=seg.start,
                    end=seg.end,
                    slot_end=slot.end,
                    speaker=seg.speaker,
                    natural=natural,
                    duration=clip.duration,
                    steps=tuple(steps),
                )
            )
        plans = timing.plan_fit(lines, settings.stretch_min, settings.stretch_max, settings.fit_max_jump)
        sources = [run.fetch(s.clips[lang].uri) for s in segs]
        rendered = render_clips(sources, [p.stretch for p in plans], run.scratch)
        n = int(round(duration * MIX_RATE))
        track = np.zeros(n, dtype=np.float32)
        finals: list[float] = []
        for samples, plan in zip(rendered, plans, strict=True):
            a = int(round(plan.start * MIX_RATE))
            b = min(n, a + len(samples))
            if b > a:
                track[a:b] += samples[: b - a]
            finals.append(len(samples) / MIX_RATE)
        for k, (seg, line, plan) in enumerate(zip(segs, lines, plans, strict=True)):
            final = finals[k]
            nxt = segs[k + 1].start if k + 1 < len(segs) else None
            seg.clips[lang] = seg.clips[lang].model_copy(
                update={
                    "fit": FitReport(
                        start=plan.start,
                        source_end=seg.end,
                        slot_end=round(line.slot_end, 3),
                        natural_duration=round(line.natural, 4),
                        rate=seg.clips[lang].rate,
                        stretch=round(plan.stretch, 4),
                        factor=round(line.natural / final, 4) if final > 0 else 1.0,
                        final_duration=round(final, 4),
                        steps=list(plan.steps),
                        overrun_s=round(timing.overrun(final, line.available), 3),
                        gap_to_next_s=round(nxt - (plan.start + final), 3) if nxt is not None else None,
                    )
                }
            )
        measured = [
            timing.Placement(
                start=p.start,
                stretch=p.stretch,
                final=f,
                factor=ln.natural / f if f else 1.0,
                overrun=timing.overrun(f, ln.available),
                steps=p.steps,
            )
            for p, f, ln in zip(plans, finals, lines, strict=True)
        ]
        out = run.scratch / "dub_speech.wav"
        sf.write(str(out), np.clip(track, -1, 1), MIX_RATE, subtype="PCM_16")
        summary = timing.summary(lines, measured, duration)
        summary.update(
            {
                "rate_changed": sum("rate" in p.steps for p in plans),
                "shortened": sum("shorten" in p.steps for p in plans),
                "stretched": sum(p.stretch > 1.0 + 1e-6 for p in plans),
            }
        )
        reports = [(s.id, s.clips[lang].fit) for s in segs]
        per_line = [{"id": sid, **fr.model_dump()} for sid, fr in reports if fr is not None]
        return Fitted(
            language=lang,
            script_uri=save_script(run, script),
            dub_speech_uri=run.put("dub_speech.wav", out),
            spans=[(p.start, p.start + f) for p, f in zip(plans, finals, strict=True)],
            summary=summary,
            timing_report_uri=run.put_bytes("timing.json", _json({"summary": summary, "lines": per_line})),
        )

    return run_stage(settings, "fit", material, work, Fitted, label=lang)


def _json(doc: Any) -> bytes:
    import json

    return json.dumps(doc, indent=1).encode()
