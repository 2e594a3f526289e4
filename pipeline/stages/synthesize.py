"""synthesize: speak every translated line with the voice chosen for the language.

Clips are content-addressed (text, engine, voice, rate), so a re-run re-synthesizes only lines whose
text changed. The consent gate runs here, before the first line, and again for every line.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

from models.base import TTS, Prosody, Voice
from pipeline import timing
from pipeline.config import Settings
from pipeline.consent import record_voice_output, require_consent
from pipeline.engines import choose_translator, choose_tts
from pipeline.errors import DublineError, StageError
from pipeline.jobs import StageRun, digest, run_stage
from pipeline.media import wav_duration
from pipeline.script import Clip
from pipeline.stages.common import load_script, save_script
from pipeline.storage import ObjectStore


def synth_clip(store: ObjectStore, tts: TTS, voice: Voice, text: str, rate: float, scratch: Path) -> tuple[str, float]:
    """Synthesize one line (or reuse the identical clip from an earlier run). Returns (uri, seconds)."""
    key = (
        "clips/" + digest({"text": text, "engine": tts.info.as_dict(), "voice": voice.id, "rate": round(rate, 3)})[:32]
    )
    wav_key = f"{key}.wav"
    if store.exists(wav_key):
        return store.uri(wav_key), wav_duration(store.local_path(wav_key, scratch / "clips"))
    out = scratch / f"{Path(key).name}.wav"
    try:
        tts.synthesize(text, voice, out, Prosody(rate=rate))
    except Exception as e:  # engine errors carry their own message
        raise StageError(f"{tts.name} could not speak {text[:60]!r}: {e}") from e
    return store.put_file(wav_key, out), wav_duration(out)


def synthesize(
    settings: Settings,
    translated: dict[str, Any],
    duration: float | None = None,
    use: str = "dubbing",
    today: str | None = None,
) -> dict[str, Any]:
    """Speak every line. A line too long for its slot is re-translated shorter when it would need more
    than the largest overall speed-up (rung d), then spoken faster by the engine within its bound (rung b);
    the fit stage stretches what remains (rung c)."""
    lang = translated["language"]
    tts = choose_tts(settings, lang)
    voice = tts.voice_for(lang)
    day = date.fromisoformat(today) if today else date.today()
    consent_id = require_consent(voice, use, lang, day, settings)
    ladder = {
        "gap": settings.fit_min_gap_s,
        "max_rate": settings.fit_max_rate,
        "stretch_max": settings.stretch_max,
        "shorten": settings.fit_shorten,
    }
    material = {
        "script": translated["script_uri"],
        "engine": tts.info.as_dict(),
        "voice": voice.id,
        "use": use,
        **({"person": voice.person_id} if voice.person_id else {}),
        "duration": duration,
        **ladder,
    }

    def work(run: StageRun) -> dict[str, Any]:
        script = load_script(run.store, translated["script_uri"]).revised(f"synthesize:{lang}")
        source = script.source.language or ""
        end = duration if duration is not None else script.source.duration
        spans = [(s.start, s.end) for s in script.segments]
        slot_of = dict(
            zip((s.id for s in script.segments), timing.slots(spans, end, settings.fit_min_gap_s), strict=True)
        )
        total = len(script.segments)
        spoken = 0.0
        counts = {"rate": 0, "shorten": 0}
        for i, seg in enumerate(script.segments):
            tr = seg.translations.get(lang)
            if tr is None or not tr.text.strip():
                continue
            require_consent(voice, use, lang, day)  # a revocation mid-run stops the lines not yet spoken
            uri, natural = synth_clip(run.store, tts, voice, tr.text, 1.0, run.scratch)
            slot = slot_of[seg.id]
            available = max(slot.end - slot.start, 0.01)
            rate, dur, steps = 1.0, natural, []
            text = tr.text
            # rung d before b: a line that would need more than the largest overall speed-up is first
            # re-translated shorter (stretching it that far is what makes dubs sound like chipmunks)
            budget = timing.char_budget(text, natural, available, settings.stretch_max)
            if budget is not None and settings.fit_shorten and source:
                shorter = _shorter(settings, seg.text, source, lang, budget)
                if shorter and len(shorter) < len(text):
                    require_consent(voice, use, lang, day)
                    s_uri, s_dur = synth_clip(run.store, tts, voice, shorter, 1.0, run.scratch)
                    if s_dur < dur:
                        seg.translations[lang] = tr.model_copy(
                            update={"text": shorter, "full_text": tr.text, "budget_chars": budget}
                        )
                        text, uri, dur = shorter, s_uri, s_dur
                        natural = s_dur  # speed-ups are measured against the line actually spoken
                        steps.append("shorten")
                        counts["shorten"] += 1
            if dur > available:  # rung b: the engine's own faster rate
                rate = timing.plan_rate(dur, available, settings.fit_max_rate).rate
                if rate > 1.0:
                    require_consent(voice, use, lang, day)
                    uri, dur = synth_clip(run.store, tts, voice, text, rate, run.scratch)
                    steps.append("rate")
                    counts["rate"] += 1
            seg.clips[lang] = Clip(
                uri=uri,
                duration=round(dur, 4),
                engine=tts.name,
                voice=voice.id,
                rate=round(rate, 3),
                natural_duration=round(natural, 4),
                steps=steps,
            )
            spoken += dur
            record_voice_output(settings, voice, consent_id, seg.clips[lang].uri, tts.info.as_dict(), use, lang)
            run.step(i + 1, total, seg.id)
        return {
            "language": lang,
            "script_uri": save_script(run, script),
            "engine": tts.info.as_dict(),
            "voice": voice.id,
            "consents": [consent_id] if consent_id is not None else [],
            "lines": total,
            "speech_s": round(spoken, 3),
            "rate_changed": counts["rate"],
            "shortened": counts["shorten"],
        }

    return run_stage(settings, "synthesize", material, work, label=lang)


def _shorter(settings: Settings, source_text: str, source: str, target: str, budget: int) -> str | None:
    """Rung d: ask the translator for a rendering of at most `budget` characters."""
    try:
        translator = choose_translator(settings, source, target)
        return translator.translate([source_text], source, target, budgets=[budget])[0].strip() or None
    except DublineError:
        return None
