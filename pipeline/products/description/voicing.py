"""voice_descriptions: every description spoken by the describer and placed in the programme's gaps.

1. The describer (pipeline.stages.voice_choice): a stock voice for the language, or a person's cloned voice
   under a consent for `audio_description`, checked before every line is spoken (a revocation mid-run stops
   the lines not yet spoken).
2. Each cue is spoken at its natural rate (clips content-addressed: a re-run speaks only what changed).
3. Placement (placement.place, pure): at its time or in the first gap after it that fits within the
   look-ahead; else (a) faster, within the ladder's rate bound; (b) a shorter text within a character budget
   (pipeline.text.translation.condense; both texts kept for the report); (c) extended description: the
   picture holds at the gap's end for as long as the line needs (rendered separately, standard output keeps
   its own placement); (d) an overrun, flagged for review. Nothing is spoken over dialogue unflagged.
4. Line QA: every final clip heard again (Whisper); one heard wrong is spoken again, spelled out, at the same
   rate, and the best kept.
5. The clips laid on the programme's timeline (and on the extended one) as 48 kHz mono stems.
"""

from __future__ import annotations

import dataclasses
from datetime import date
from typing import Any

from pipeline.core.config import Settings
from pipeline.core.stagerun import StageRun, run_stage
from pipeline.products.description.contracts import (
    Described,
    DescribeRequest,
    DescriberInfo,
    DialogueMapped,
    ScriptRead,
)
from pipeline.stages.contracts import Ingested, Transcribed
from pipeline.stages.describing.speaking import USE, Describer, describer_prosody, load_placed, placed_json
from pipeline.stages.voice_choice import choose_voice
from pipeline.text.descriptions.placement import Limits

__all__ = ["USE", "limits_for", "load_placed", "voice_descriptions"]

VOICING_VERSION = 3  # bump when placement or rendering changes what the stems sound like


def limits_for(settings: Settings, request: DescribeRequest) -> Limits:
    return Limits(max_rate=settings.fit_max_rate, lookahead_s=request.lookahead_s)


def voice_descriptions(
    settings: Settings,
    request: DescribeRequest,
    ingested: Ingested,
    read: ScriptRead,
    transcribed: Transcribed,
    mapped: DialogueMapped,
    today: str | None = None,
) -> Described:
    from pipeline.products.description.listen import load_map
    from pipeline.products.description.read import load_cues

    day = date.fromisoformat(today) if today else date.today()
    lang = read.language or transcribed.language
    describer = choose_voice(settings, request.voice, lang, day, read.filename, USE)
    prosody = describer_prosody(request.style)
    limits = limits_for(settings, request)
    material: dict[str, Any] = {
        "script": read.key,
        "map": mapped.key,
        "language": lang,
        "voice": describer.describe(),
        "style": request.style,
        "limits": dataclasses.asdict(limits),
        "extended": request.extended,
        "qa": {"on": settings.qa, "max_wer": settings.qa_max_wer, "retries": settings.qa_retries},
        "v": VOICING_VERSION,
    }

    def work(run: StageRun) -> Described:
        script = load_cues(settings, read)
        spans, gaps = load_map(settings, mapped)
        voicing = Describer(settings, run, describer, lang, day, prosody, limits)
        voiced = voicing.voice_all(script.cues, spans, gaps, ingested.duration, request.extended)
        std, ext = voiced.std, voiced.extended
        out: dict[str, Any] = {}
        if ext is not None:
            out = {
                "holds": ext.holds,
                "extended_track_uri": run.put(ext.path.name, ext.path),
                "extended_spans": ext.spans,
                "extended_placed_uri": run.put_bytes("placed.extended.json", placed_json(ext.placed)),
            }
        return Described(
            language=lang,
            track_uri=run.put(std.path.name, std.path),
            spans=std.spans,
            placed_uri=run.put_bytes("placed.json", placed_json(std.placed)),
            cues=len(script.cues),
            voice=DescriberInfo(**describer.describe(), style=request.style),
            consents=[describer.consent_id] if describer.consent_id is not None else [],
            qa=voiced.qa,
            extended=request.extended,
            **voiced.figures,
            **out,
        )

    return run_stage(settings, "voice_descriptions", material, work, Described, label=lang)
