"""synthesize: speak every translated line, each speaker with their own voice, in the source's delivery.

For one target language:
1. casting (pipeline.speech.casting.cast_language): each diarized speaker gets a voice: their consented, cloned
   voice where they were matched to an enrolled person; else the voice the series gave them; else a stock
   voice suited to them (presentation, not taken by another speaker). Recorded in Script.voices.
2. consent: every person's voice is checked before the first line, and again before every synthesis, so a
   revocation while a job runs stops the lines not yet spoken.
3. delivery: each line's measured prosody (Segment.prosody) is carried into the engine's controls
   relative to its speaker's usual delivery and the voice's own (pipeline.speech.prosody.transfer), or a named
   style is applied; what an engine cannot do natively (pitch on Piper, F0 range) is WORLD-shaped after.
4. fitting rungs d and b (shorter translation, the engine's own rate), as before.
5. QA (pipeline.speech.qa): the final clip is heard again by Whisper and compared with the text; a line heard
   wrong is re-synthesized up to DUBLINE_QA_RETRIES times with varied settings and the best kept; the
   speaker similarity to the assigned voice is measured. Figures go into Clip.qa and the report.

Clips are content-addressed (text, engine, voice, prosody), so a re-run re-synthesizes only what changed.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any

from models.base import Prosody, Voice
from models.system import drop_engines
from pipeline.core.config import Settings
from pipeline.core.errors import DublineError
from pipeline.core.script import Clip, LineQA, Segment, Translation
from pipeline.core.stagerun import StageRun, open_settings_store, run_stage
from pipeline.products.dubbing import lines
from pipeline.products.dubbing.contracts import Retake, Synthesized, Translated
from pipeline.products.dubbing.revise import stale_of
from pipeline.products.dubbing.voicing import Cast, main_speaker, prepare_cast
from pipeline.stages.common import load_script, save_script
from pipeline.text import timing
from pipeline.text.translation.engines import choose_translator
from pipeline.voice.consent import record_voice_output, require_consent
from pipeline.voice.speak import clip_key, stock_tts, synth_clip

if TYPE_CHECKING:
    from pipeline.speech.casting import Casting


def synthesize(
    settings: Settings,
    translated: Translated,
    duration: float | None = None,
    use: str = "dubbing",
    today: str | None = None,
    series: str | None = None,
    style: str | None = None,
    retakes: Mapping[str, Retake] | None = None,
) -> Synthesized:
    """Speak every line. A line too long for its slot is re-translated shorter when it would need more
    than the largest overall speed-up (rung d), then spoken faster by the engine within its bound (rung b);
    the fit stage stretches what remains (rung c). A line whose record an earlier run left (pipeline.products.
    dubbing.lines: same text, voice, delivery, slot and settings) is reused after the consent gate; `retakes`
    ({segment id: Retake}) speaks those lines again with another style or rate."""
    from pipeline.speech.casting import summary

    lang = translated.language
    day = date.fromisoformat(today) if today else date.today()
    style = (style or "").strip() or None
    if style:
        from pipeline.speech.prosody import get_style

        get_style(style)  # an unknown style is refused before anything is spoken
    casting, consents = _cast_and_gate(settings, translated, use, day, series)
    takes = {k: Retake.model_validate(v) for k, v in (retakes or {}).items()}
    material = _material(settings, translated, casting, consents, use, duration, style)
    material["retakes"] = {k: t.model_dump() for k, t in sorted(takes.items())} or None
    stale = stale_of(translated.revision)

    def work(run: StageRun) -> Synthesized:
        from pipeline.speech import hearing, qa

        script = load_script(run.store, translated.script_uri).revised(f"synthesize:{lang}")
        script.voices[lang] = casting.voices
        end = duration if duration is not None else script.source.duration
        spans = [(s.start, s.end) for s in script.segments]
        slot_of = dict(
            zip((s.id for s in script.segments), timing.slots(spans, end, settings.fit_min_gap_s), strict=True)
        )
        styled = bool(style) or any(t.style for t in takes.values())
        cast = prepare_cast(settings, script, casting.voices, consents, lang, styled)
        checker = hearing.LineChecker.from_settings(settings) if settings.qa else None
        total = len(script.segments)
        spoken = 0.0
        counts = {"rate": 0, "shorten": 0, "clips_reused": 0}
        qas: list[LineQA] = []
        pending: list[tuple[Segment, Cast, str, Prosody, Path]] = []
        line = _Speaker(settings, run, lang, use, day, style, script.source.language or "", counts)
        keys: dict[str, str] = {}
        rendered: dict[str, str] = {}
        reused = 0
        for i, seg in enumerate(script.segments):
            tr = seg.translations.get(lang)
            if tr is None or not tr.text.strip():
                continue
            c = cast.get(seg.speaker) or next(iter(cast.values()))
            take = takes.get(seg.id)
            base = line.delivery(seg, c, take)
            key = lines.line_key(settings, c, base, seg, tr, slot_of[seg.id], line.source, take)
            record = lines.get_line(run.store, lang, key)
            if record is not None:  # spoken and checked before, unchanged since: reused past the consent gate
                require_consent(c.voice, use, lang, day)
                seg.translations[lang], seg.clips[lang] = record.translation, record.clip
                if record.clip.qa is not None:
                    qas.append(record.clip.qa)
                spoken += record.clip.duration
                reused += 1
            else:
                text, base, local, dur = line.speak(seg, tr, c, slot_of[seg.id], base, take)
                spoken += dur
                pending.append((seg, c, text, base, local))
                keys[seg.id] = key
                rendered[seg.id] = lines.retake_note(take) if take else stale.get(seg.id, "new")
            record_voice_output(settings, c.voice, c.consent_id, seg.clips[lang].uri, c.tts.info.as_dict(), use, lang)
            run.step(i + 1, total, seg.id)
        # the translator's model served the shortening rung above; QA's retries re-speak, never re-translate
        # (a later need loads it again), so the LLM does not sit beside Kokoro and Whisper while lines are heard
        drop_engines({"llama.cpp"})
        heard = pending
        if settings.qa_scope == "changed":  # the fast profile: only lines the timing ladder changed a lot
            heard = [p for p in pending if _changed_a_lot(p[0].clips[lang], p[3], slot_of[p[0].id])]
        if checker is not None and heard:
            spoken += _check_lines(run, checker, heard, lang, use, day, settings, qas)
        for seg, *_ in pending:  # each line's record, once it is checked
            rec = lines.LineRecord(clip=seg.clips[lang], translation=seg.translations[lang])
            lines.put_line(run.store, lang, keys[seg.id], rec)
            if rec.translation.full_text:  # shortened to fit: a reviewer sees, and may keep, the spoken text
                lines.put_spoken(
                    run.store, script.source.sha256, lang, seg.id, rec.translation.full_text, rec.translation.text
                )
        main = main_speaker(script, cast)
        return Synthesized(
            language=lang,
            script_uri=save_script(run, script),
            engine=cast[main].tts.info.as_dict(),
            voice=cast[main].voice.id,
            voices=summary(casting.voices),
            casting_warnings=casting.warnings,
            consents=sorted({c for c in consents.values() if c is not None}),
            lines=total,
            speech_s=round(spoken, 3),
            rate_changed=counts["rate"],
            shortened=counts["shorten"],
            delivery={"transfer": settings.prosody_transfer, "style": style},
            qa={
                **qa.summarize(qas),
                "scope": settings.qa_scope,
                "heard": len(heard),
                "spoken": len(pending),
                "asr_s": round(checker.seconds, 2),
                "audio_s": round(checker.audio_s, 2),
            }
            if checker is not None
            else None,
            rendered=rendered,
            reused=reused,
            clips_reused=counts["clips_reused"],
        )

    return run_stage(settings, "synthesize", material, work, Synthesized, label=lang)


def _cast_and_gate(
    settings: Settings, translated: Translated, use: str, day: date, series: str | None
) -> tuple[Casting, dict[str, int | None]]:
    """Each speaker's voice in this language (pipeline.speech.casting), then the consent gate before the
    first line: every person whose voice this job would use (their consent ids)."""
    from pipeline.speech.casting import cast_language

    lang = translated.language
    script0 = load_script(open_settings_store(settings), translated.script_uri)
    casting = cast_language(settings, script0, lang, series)
    consents: dict[str, int | None] = {}
    for choice in casting.voices.values():
        if choice.person_id and choice.person_id not in consents:
            probe = Voice(choice.engine, choice.voice_id, lang, person_id=choice.person_id)
            consents[choice.person_id] = require_consent(probe, use, lang, day, settings)
    return casting, consents


def _material(
    settings: Settings,
    translated: Translated,
    casting: Casting,
    consents: dict[str, int | None],
    use: str,
    duration: float | None,
    style: str | None,
) -> dict[str, Any]:
    """What the stage's content key covers: the Script, the voices and engines, the use, the persons, the
    delivery, QA and the fitting ladder's settings."""
    ladder = {
        "gap": settings.fit_min_gap_s,
        "max_rate": settings.fit_max_rate,
        "stretch_max": settings.stretch_max,
        "shorten": settings.fit_shorten,
    }
    delivery = {
        "transfer": settings.prosody_transfer,
        "rate_bounds": [settings.prosody_rate_min, settings.prosody_rate_max],
        "style": style,
    }
    qa_cfg: dict[str, Any] = {"on": settings.qa, "max_wer": settings.qa_max_wer, "retries": settings.qa_retries}
    if settings.qa_scope != "all":  # (kept out of the key when "all": the keys of earlier runs stay valid)
        qa_cfg["scope"] = settings.qa_scope
    engines_info = {
        spk: (stock_tts(settings, c.engine).info.as_dict() if c.profile_uri is None else {"profile": c.profile_uri})
        for spk, c in casting.voices.items()
    }
    return {
        "script": translated.script_uri,
        "voices": {spk: c.model_dump() for spk, c in sorted(casting.voices.items())},
        "engines": engines_info,
        "use": use,
        "persons": sorted(consents),
        "duration": duration,
        "delivery": delivery,
        "qa": qa_cfg,
        **ladder,
    }


@dataclasses.dataclass
class _Speaker:
    """Speaks one line after another of a language (synthesis with the ladder's rungs d and b)."""

    settings: Settings
    run: StageRun
    lang: str
    use: str
    day: date
    style: str | None
    source: str
    counts: dict[str, int]

    def delivery(self, seg: Segment, c: Cast, take: Retake | None = None) -> Prosody:
        """How `seg` is to be spoken in c's voice: the source's delivery carried over (or the job's style, or a
        retake's), at the speaker's pitch, at a retake's rate."""
        from pipeline.speech import prosody as pros

        style = (take.style if take and take.style else None) or self.style
        if self.settings.prosody_transfer or style:
            base = pros.transfer(seg.prosody, c.speaker_base, c.voice_base, style, self.settings)
        else:
            base = Prosody()
        base = dataclasses.replace(base, pitch=round(base.pitch * c.choice.pitch, 4))
        if take and take.rate:
            base = dataclasses.replace(base, rate=round(base.rate * take.rate, 4))
        return base

    def speak(
        self, seg: Segment, tr: Translation, c: Cast, slot: timing.Slot, base: Prosody, take: Retake | None = None
    ) -> tuple[str, Prosody, Path, float]:
        """Speak `seg` in c's voice with delivery `base` and put its Clip in the Script. Returns (the text
        spoken, the delivery, the clip's local path, its seconds)."""
        settings, run, lang, use, day, style, counts = (
            self.settings,
            self.run,
            self.lang,
            self.use,
            self.day,
            (take.style if take and take.style else None) or self.style,
            self.counts,
        )
        tts, voice = c.tts, c.voice

        def gate() -> None:  # a revocation mid-run stops the lines not yet spoken
            require_consent(c.voice, use, lang, day)

        gate()
        if run.store.exists(clip_key(tts, voice, tr.text, base)):  # made by a run that stopped before its end
            counts["clips_reused"] += 1
        uri, natural, local = synth_clip(run.store, tts, voice, tr.text, base, run.scratch)
        available = max(slot.end - slot.start, 0.01)
        rate, dur, steps = base.rate, natural, list[str]()
        text = tr.text
        # rung d before b: a line that would need more than the largest overall speed-up is first
        # re-translated shorter (stretching it that far is what makes dubs sound like chipmunks)
        budget = timing.char_budget(text, natural, available, settings.stretch_max)
        # a reviewer's own wording is never re-translated: what does not fit is spoken faster, then stretched
        if budget is not None and settings.fit_shorten and self.source and tr.engine != "edit":
            shorter = _shorter(settings, seg.text, self.source, lang, budget)
            if shorter and len(shorter) < len(text):
                gate()
                s_uri, s_dur, s_local = synth_clip(run.store, tts, voice, shorter, base, run.scratch)
                if s_dur < dur:
                    local = s_local
                    seg.translations[lang] = tr.model_copy(
                        update={"text": shorter, "full_text": tr.text, "budget_chars": budget}
                    )
                    text, uri, dur = shorter, s_uri, s_dur
                    natural = s_dur  # speed-ups are measured against the line actually spoken
                    steps.append("shorten")
                    counts["shorten"] += 1
        if dur > available:  # rung b: the engine's own faster rate (never past fit_max_rate in all)
            factor = timing.plan_rate(dur, available, settings.fit_max_rate).rate
            faster = min(base.rate * factor, max(base.rate, settings.fit_max_rate))
            if faster > base.rate + 1e-3:
                rate = faster
                gate()
                uri, dur, local = synth_clip(
                    run.store, tts, voice, text, dataclasses.replace(base, rate=rate), run.scratch
                )
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
            speaker=seg.speaker,
            person_id=voice.person_id,
            pitch=base.pitch,
            volume=base.volume,
            style=style,
        )
        return text, base, local, dur


CHANGED_A_LOT = 1.1  # qa_scope "changed": a speed-up (engine rate x the stretch still needed) above this


def _changed_a_lot(clip: Clip, base: Prosody, slot: timing.Slot) -> bool:
    """Whether the timing ladder changed a line a lot: re-translated shorter, or spoken (and to be stretched)
    more than CHANGED_A_LOT x faster than its delivery asked."""
    available = max(slot.end - slot.start, 0.01)
    speedup = (clip.rate / max(base.rate, 1e-3)) * max(1.0, clip.duration / available)
    return "shorten" in clip.steps or speedup > CHANGED_A_LOT


def _check_lines(
    run: StageRun,
    checker: Any,
    pending: list[tuple[Segment, Cast, str, Prosody, Path]],
    lang: str,
    use: str,
    day: date,
    settings: Settings,
    qas: list[LineQA],
) -> float:
    """QA of every spoken line: all heard together in Whisper windows (check_many), then each line heard
    wrong synthesized again with varied settings (qa.VARIANTS) and the best attempt kept. Returns the change
    in spoken seconds."""
    from models.text import normalise_for_speech
    from pipeline.speech import qa

    verdicts = checker.check_many([(local, text, c.reference) for _, c, text, _, local in pending], lang)
    delta = 0.0
    for n, ((seg, c, text, base, local), verdict) in enumerate(zip(pending, verdicts, strict=True)):
        clip = seg.clips[lang]
        line_qa, kept = verdict, local
        if not verdict.passed and settings.qa_retries > 0:
            made: dict[Path, tuple[str, float, float]] = {local: (clip.uri, clip.duration, clip.rate)}

            def make(
                attempt: int,
                c: Cast = c,
                text: str = text,
                base: Prosody = base,
                rate: float = clip.rate,
                made: dict[Path, tuple[str, float, float]] = made,
            ) -> tuple[Path, str]:
                v = qa.variant(attempt)
                said = normalise_for_speech(text, lang) if v["normalise"] else text
                r = round(rate * float(v["rate"]), 4)
                require_consent(c.voice, use, lang, day)  # a revocation mid-run stops the retries too
                a_uri, a_dur, a_local = synth_clip(
                    run.store, c.tts, c.voice, said, dataclasses.replace(base, rate=r), run.scratch
                )
                made[a_local] = (a_uri, a_dur, r)
                return a_local, f"{v['name']} (rate {r:.2f})"

            chosen, line_qa = qa.synthesize_checked(
                make, text, lang, checker, settings, c.reference, first=(local, verdict)
            )
            if chosen != local:
                kept = chosen
                uri, dur, rate = made[chosen]
                delta += dur - clip.duration
                clip = clip.model_copy(
                    update={"uri": uri, "duration": round(dur, 4), "rate": round(rate, 3), "steps": [*clip.steps, "qa"]}
                )
                record_voice_output(settings, c.voice, c.consent_id, uri, c.tts.info.as_dict(), use, lang)
        if c.reference_campp is not None:  # a person's cloned voice: the second judge too
            from pipeline.speech.hearing import campp_similarity

            line_qa = line_qa.model_copy(update={"similarity_campp": campp_similarity(kept, c.reference_campp)})
        seg.clips[lang] = clip.model_copy(update={"qa": line_qa})
        qas.append(line_qa)
        run.step(n + 1, len(pending), f"qa {seg.id}")
    return delta


def _shorter(settings: Settings, source_text: str, source: str, target: str, budget: int) -> str | None:
    """Rung d: ask the translator for a rendering of at most `budget` characters."""
    try:
        translator = choose_translator(settings, source, target)
        return translator.translate([source_text], source, target, budgets=[budget])[0].strip() or None
    except DublineError:
        return None


__all__ = ["synthesize"]
