"""describe_dub: a described track per dub language (`dubline dub INPUT --to es --describe SCRIPT`).

The description script (WebVTT, DAPT, CSV or JSON: pipeline.text.descriptions) is read and checked against
the programme once, before the run (`read_description`), and per dub language:
1. its texts are translated into the language, with the engine the dub's translation uses for the pair
   (neighbouring descriptions as context), unless the script is in that language already;
2. the language's dialogue is where the dub speaks (the fitted lines) and where the original speaks (its
   word times), each widened by the guard margin: descriptions go in the gaps between;
3. the describer, dubline's stock voice for the language (a person's voice only under a consent for
   `audio_description`, checked before every line), speaks and places each description as audio description
   does (pipeline.stages.describing: faster, shortened, else flagged for review; nothing spoken over dialogue
   unflagged), every line heard again;
4. the dub's mix is ducked under the descriptions and the sum normalized and watermarked: the described dub,
   which mux adds as a track of its own (disposition visual_impaired, title "Audio description (<lang>)").
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from datetime import date
from pathlib import Path
from typing import Any

import soundfile as sf

from models.base import Prosody
from models.registry import sha256_file
from pipeline.audio import loudness
from pipeline.core.config import Settings
from pipeline.core.errors import ConfigError, InputError
from pipeline.core.stagerun import StageRun, run_stage
from pipeline.ledger import marking
from pipeline.products.dubbing.contracts import DescribedDub, DubRequest, Fitted
from pipeline.products.dubbing.translate import neighbours
from pipeline.stages.common import load_script
from pipeline.stages.contracts import Ingested, Mixed, Transcribed
from pipeline.stages.describing.admixing import ad_mix
from pipeline.stages.describing.speaking import USE, Describer, placed_json
from pipeline.stages.ingest import MIX_RATE
from pipeline.stages.voice_choice import choose_voice
from pipeline.text.descriptions.cues import DescriptionScript
from pipeline.text.descriptions.dialogue import GUARD_S, MERGE_S, MIN_GAP_S, dialogue_spans, gaps, words_of_script
from pipeline.text.descriptions.placement import Limits
from pipeline.text.descriptions.scripts import read_script_at

DESCRIBE_VERSION = 3
DUCK_DB = -10.0  # the dub's gain while a description speaks
LOOKAHEAD_S = 10.0


def read_description(settings: Settings, where: str, duration: float) -> tuple[DescriptionScript, Path]:
    """The script `where` names, read and checked against the programme (pipeline.text.descriptions)."""
    return read_script_at(settings, where, duration)


def describe_dub(
    settings: Settings,
    request: DubRequest,
    ingested: Ingested,
    transcribed: Transcribed,
    fits: Sequence[Fitted],
    mixed: Mixed,
    today: str | None = None,
) -> DescribedDub:
    """The described dub of `mixed`'s language (the job's `describe` script; the programme has a picture)."""
    if not request.describe or not ingested.has_video:
        raise InputError("describe: no description script, or no picture to describe", "add --describe SCRIPT")
    lang = mixed.language
    fitted = next((f for f in fits if f.language == lang), None)
    if fitted is None:
        raise ConfigError(f"describe: no fitted dub for {lang}", "re-run the job")
    script, path = read_description(settings, request.describe, ingested.duration)
    source_lang = script.language or transcribed.language
    day = date.fromisoformat(today) if today else date.today()
    describer = choose_voice(settings, "", lang, day, path.name, USE)
    translator = None
    provenance: dict[str, Any] | None = None
    if source_lang != lang:
        from pipeline.text.translation.engines import choose_translator, translator_provenance

        translator = choose_translator(settings, source_lang, lang)
        provenance = translator_provenance(translator)
    limits = Limits(max_rate=settings.fit_max_rate, lookahead_s=LOOKAHEAD_S)
    prof = loudness.profile(request.loudness_profile)
    params: dict[str, Any] = {
        "duck_db": DUCK_DB,
        "attack": settings.duck_attack_s,
        "release": settings.duck_release_s,
        "description_gain_db": 0.0,
        "loudness_profile": prof.name,
    }
    sha = sha256_file(path)
    material = {
        "script": sha,
        "source_language": source_lang,
        "language": lang,
        "translator": provenance,
        "transcribed": transcribed.key,
        "fitted": fitted.key,
        "mixed": mixed.key,
        "voice": describer.describe(),
        "limits": dataclasses.asdict(limits),
        "mix": params,
        "qa": {"on": settings.qa, "max_wer": settings.qa_max_wer, "retries": settings.qa_retries},
        "watermark": marking.material(settings),
        "v": DESCRIBE_VERSION,
    }

    def work(run: StageRun) -> DescribedDub:
        from pipeline.text.descriptions.webvtt_io import write_webvtt

        cues = script.cues
        if translator is not None:
            from pipeline.text.translation.choose import translate_lines

            texts = [c.text for c in cues]
            rendered = translate_lines(
                translator, texts, source_lang, lang, context=neighbours(texts, settings.mt_context_lines)
            )
            cues = [
                c.model_copy(update={"text": r.text.strip() or c.text}) for c, r in zip(cues, rendered, strict=True)
            ]
        duration = ingested.duration
        source = load_script(run.store, transcribed.script_uri)
        speech = dialogue_spans(
            [(float(a), float(b)) for a, b in fitted.spans],
            words_of_script(source),
            guard_s=GUARD_S,
            merge_s=MERGE_S,
            programme_end=duration,
        )
        free = gaps(speech, duration, min_gap_s=MIN_GAP_S)
        speaker = Describer(settings, run, describer, lang, day, Prosody(), limits)
        voiced = speaker.voice_all(cues, speech, free, duration)
        std = voiced.std
        dub, sr = sf.read(str(run.fetch(mixed.mix_uri)), dtype="float32", always_2d=True)
        desc, sr2 = sf.read(str(std.path), dtype="float32")
        if sr != MIX_RATE or sr2 != MIX_RATE:
            raise ConfigError(f"the described dub expects {MIX_RATE} Hz audio, got {sr} and {sr2}", "re-run the job")
        mix, measured, levels, mark = ad_mix(settings, run, dub, desc, std.spans, params, prof, f"described_{lang}")
        stem = run.scratch / "description.wav"
        marked = marking.mark_copy(settings, std.path, stem, marking.payload_for(run.prefix))
        vtt = write_webvtt(std.placed, run.scratch / f"{lang}.description.vtt", lang)
        return DescribedDub(
            language=lang,
            mix_uri=run.put(mix.name, mix),
            stem_uri=run.put(stem.name, stem if marked else std.path),
            placed_uri=run.put_bytes("placed.json", placed_json(std.placed)),
            vtt_uri=run.put(vtt.name, vtt),
            spans=std.spans,
            cues=len(cues),
            script={"filename": path.name, "sha256": sha, "format": script.format, "language": source_lang},
            translation=provenance,
            voice=describer.describe(),
            consents=[describer.consent_id] if describer.consent_id is not None else [],
            figures=voiced.figures,
            qa=voiced.qa,
            loudness=measured,
            levels=levels,
            watermark=mark,
        )

    return run_stage(settings, "describe_dub", material, work, DescribedDub, label=lang)
