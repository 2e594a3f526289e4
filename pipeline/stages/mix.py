"""mix: one language's dub track, the dub speech over the original audio ducked beneath it."""

from __future__ import annotations

from typing import Any

import numpy as np
import soundfile as sf

from pipeline.config import Settings
from pipeline.jobs import StageRun, run_stage
from pipeline.mixing import duck_gain, mix_over
from pipeline.stages.ingest import MIX_RATE


def mix(settings: Settings, ingested: dict[str, Any], fitted: dict[str, Any]) -> dict[str, Any]:
    lang = fitted["language"]
    params = {
        "duck_db": settings.duck_db,
        "attack": settings.duck_attack_s,
        "release": settings.duck_release_s,
        "dub_gain_db": settings.dub_gain_db,
    }
    material = {"full": ingested["full_audio_uri"], "source": ingested["source_sha256"], "dub": fitted["key"], **params}

    def work(run: StageRun) -> dict[str, Any]:
        original, sr = sf.read(str(run.fetch(ingested["full_audio_uri"])), dtype="float32", always_2d=True)
        dub, sr2 = sf.read(str(run.fetch(fitted["dub_speech_uri"])), dtype="float32")
        assert sr == sr2 == MIX_RATE, (sr, sr2)
        gain = duck_gain(
            [tuple(s) for s in fitted["spans"]],
            original.shape[0],
            sr,
            settings.duck_db,
            settings.duck_attack_s,
            settings.duck_release_s,
        )
        out, scale = mix_over(original, np.asarray(dub, dtype=np.float32), gain, settings.dub_gain_db)
        path = run.scratch / f"mix_{lang}.wav"
        sf.write(str(path), out, sr, subtype="PCM_16")
        return {"language": lang, "mix_uri": run.put(path.name, path), "peak_scale": round(scale, 4), **params}

    return run_stage(settings, "mix", material, work, label=lang)
