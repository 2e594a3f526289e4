"""cast: who each diarized speaker is, and how each line was delivered.

After diarization, this stage
- measures every source line's prosody (speaking rate, F0 median and range, energy, pauses) on the 16 kHz
  copy, into Segment.prosody, for the synthesis stage to carry into the dub;
- fills each speaker's pitch figures (SpeakerInfo) where diarization left them empty;
- matches speakers to enrolled people (pipeline.speech.casting.match_people): the operator's naming first
  (`--speaker S1=joe`, confirmed in the Script), else the closest enrolled person's references at or above
  DUBLINE_VOICE_MATCH_MIN_COSINE (recorded with its cosine).
Voices per language are chosen by the synthesis stage (pipeline.speech.casting.cast_language), which also keeps
the series voice map.
"""

from __future__ import annotations

from collections.abc import Mapping

from pipeline.core.config import Settings
from pipeline.core.errors import InputError
from pipeline.core.script import SpeakerInfo
from pipeline.core.stagerun import StageRun, run_stage
from pipeline.stages.common import load_script, save_script
from pipeline.stages.contracts import Ingested, SpeakerSummary, Transcribed


def _enrolled(settings: Settings) -> list[tuple[str, list[float], int]]:
    from pipeline.ledger import db
    from pipeline.ledger import voices as ledger

    with db.session(settings) as s:
        return [(e.person_id, e.centroid, e.profile.id) for e in ledger.enrolled_people(s)]


def cast(
    settings: Settings,
    ingested: Ingested,
    diarized: Transcribed,
    speaker_people: Mapping[str, str] | None = None,
) -> Transcribed:
    """Measure each line's delivery and match the speakers to enrolled people (`speaker_people` names some
    of them: {"S1": "joe"}, as `DubRequest.speaker_people` normalised it)."""
    named = dict(speaker_people or {})
    enrolled = _enrolled(settings)
    material = {
        "script": diarized.script_uri,
        "audio": ingested.asr_audio_uri,
        "named": named,
        "enrolled": [(p, pid) for p, _c, pid in enrolled],
        "min_cosine": settings.voice_match_min_cosine,
        "prosody": settings.prosody_transfer,
    }

    def work(run: StageRun) -> Transcribed:
        from models.speaker import SAMPLE_RATE, decode_audio
        from pipeline.speech import casting, prosody, prosody_measure

        script = load_script(run.store, diarized.script_uri).revised("cast")
        unknown = sorted(set(named) - {s.speaker for s in script.segments})
        if unknown:
            have = ", ".join(casting.speakers_of(script))
            raise InputError(
                f"--speaker names {', '.join(unknown)}, but this recording's speakers are {have}",
                "name the speakers diarization found (see `dubline dub` output or the report)",
            )
        audio = decode_audio(run.fetch(ingested.asr_audio_uri), SAMPLE_RATE)
        language = script.source.language or "en"
        measured = prosody_measure.measure_segments(audio, SAMPLE_RATE, script.segments, language)
        for seg, p in zip(script.segments, measured, strict=True):
            seg.prosody = p
        for spk in casting.speakers_of(script):
            si = script.speaker_info.setdefault(spk, SpeakerInfo(id=spk))
            mine = [s for s in script.segments if s.speaker == spk]
            base = prosody.speaker_baseline([s.prosody for s in mine if s.prosody is not None])
            si.segments = len(mine)
            si.seconds = round(sum(s.end - s.start for s in mine), 3)
            if si.f0_median_hz is None and base.get("f0_median_hz"):
                si.f0_median_hz = round(float(base["f0_median_hz"] or 0.0), 1)
            if si.f0_range_st is None and base.get("f0_range_st"):
                si.f0_range_st = round(float(base["f0_range_st"] or 0.0), 2)
            si.presentation = casting.presentation_of(si.f0_median_hz)  # the casting's own (cautious) thresholds
        script.speakers = casting.speakers_of(script)
        notes = casting.match_people(
            script.speaker_info, [(p, c) for p, c, _ in enrolled], settings.voice_match_min_cosine, named
        )
        run.step(1, 1)
        return diarized.model_copy(
            update={
                "script_uri": save_script(run, script),
                "people": notes,
                "speaker_info": [
                    SpeakerSummary(
                        speaker=si.id,
                        seconds=si.seconds,
                        f0_median_hz=si.f0_median_hz,
                        presentation=si.presentation,
                        person=si.person_id,
                        match_cosine=si.match_cosine,
                        confirmed=si.confirmed,
                    )
                    for si in script.speaker_info.values()
                ],
            }
        )

    return run_stage(settings, "cast", material, work, Transcribed)
