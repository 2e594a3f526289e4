"""map_dialogue: where people speak in the programme, and the gaps between, from Silero VAD on the 16 kHz copy
and Whisper's word timestamps (the transcribe stage's Script), each widened by a guard margin. Music and
effects without speech are gaps a description may use. The map (JSON) goes to the store."""

from __future__ import annotations

import numpy as np
import soundfile as sf

from pipeline.core.config import Settings
from pipeline.core.stagerun import StageRun, run_stage
from pipeline.core.storage import get_json, key_of, put_json
from pipeline.products.description.contracts import DialogueMapped
from pipeline.stages.common import load_script
from pipeline.stages.contracts import Ingested, Transcribed
from pipeline.text.descriptions.dialogue import GUARD_S, MERGE_S, MIN_GAP_S

MAP_VERSION = 1


def map_dialogue(settings: Settings, ingested: Ingested, transcribed: Transcribed) -> DialogueMapped:
    from models.vad import default_vad

    material = {
        "source": ingested.source_sha256,
        "transcribed": transcribed.key,
        "vad": default_vad().info.as_dict(),
        "guard": GUARD_S,
        "merge": MERGE_S,
        "min_gap": MIN_GAP_S,
        "v": MAP_VERSION,
    }

    def work(run: StageRun) -> DialogueMapped:
        from models.vad import speech_regions
        from pipeline.text.descriptions.dialogue import dialogue_spans, gaps, words_of_script

        audio, _ = sf.read(str(run.fetch(ingested.asr_audio_uri)), dtype="float32")
        audio = np.asarray(audio, dtype=np.float32)
        if audio.ndim > 1:
            audio = audio.mean(axis=1)
        vad = speech_regions(audio)
        words = words_of_script(load_script(run.store, transcribed.script_uri))
        end = ingested.duration
        spans = dialogue_spans(vad, words, guard_s=GUARD_S, merge_s=MERGE_S, programme_end=end)
        free = gaps(spans, end, min_gap_s=MIN_GAP_S)
        doc = {
            "programme_end": end,
            "guard_s": GUARD_S,
            "vad": [list(s) for s in vad],
            "words": len(words),
            "spans": [list(s) for s in spans],
            "gaps": [list(g) for g in free],
        }
        uri = put_json(run.store, f"{run.prefix}/dialogue.json", doc)
        return DialogueMapped(
            map_uri=uri,
            spans=len(spans),
            speech_s=round(sum(b - a for a, b in spans), 3),
            gap_s=round(sum(b - a for a, b in free), 3),
            gaps=len(free),
            guard_s=GUARD_S,
        )

    return run_stage(settings, "map_dialogue", material, work, DialogueMapped)


def load_map(settings: Settings, mapped: DialogueMapped) -> tuple[list[tuple[float, float]], list[tuple[float, float]]]:
    """(dialogue spans, gaps) of a stored map."""
    from pipeline.core.stagerun import open_settings_store

    store = open_settings_store(settings)
    doc = get_json(store, key_of(store, mapped.map_uri))
    return [(float(a), float(b)) for a, b in doc["spans"]], [(float(a), float(b)) for a, b in doc["gaps"]]
