"""mix_description: the AD mix. The programme is ducked only while a description speaks (attack and release,
so nothing pumps between words; depth from the request, default -10 dB), the descriptions are set at a level
relative to the programme's own loudness (default equal to it: so about 10 dB above the ducked programme),
and the whole mix is normalized to the loudness profile (EBU R128 by default, true peak at most -1 dBTP),
then marked with the inaudible watermark (the descriptions are synthetic speech). The descriptions' stem is
delivered too, marked with the same payload. With extended description, the extended mix is made the same way
on the programme with silence inserted where the picture holds."""

from __future__ import annotations

from typing import Any

import soundfile as sf

from pipeline.audio import loudness
from pipeline.core.config import Settings
from pipeline.core.errors import ConfigError
from pipeline.core.stagerun import StageRun, run_stage
from pipeline.ledger import marking
from pipeline.products.description.contracts import ADMixed, Described, DescribeRequest
from pipeline.stages.contracts import Ingested
from pipeline.stages.describing.admixing import ad_mix
from pipeline.stages.ingest import MIX_RATE
from pipeline.stages.mix import bed_material, with_bed

MIX_VERSION = 2


def mix_description(settings: Settings, request: DescribeRequest, ingested: Ingested, described: Described) -> ADMixed:
    prof = loudness.profile(request.loudness_profile)
    params: dict[str, Any] = {
        "duck_db": request.duck_db,
        "attack": settings.duck_attack_s,
        "release": settings.duck_release_s,
        "description_gain_db": request.description_gain_db,
        "loudness_profile": prof.name,
    }
    material = {
        **params,
        "programme": ingested.source_sha256,
        "described": described.key,
        "watermark": marking.material(settings),
        "v": MIX_VERSION,
    }
    if request.bed:
        material["bed"] = bed_material(settings, request.bed)

    def work(run: StageRun) -> ADMixed:
        programme, sr = sf.read(str(run.fetch(ingested.full_audio_uri)), dtype="float32", always_2d=True)
        desc, sr2 = sf.read(str(run.fetch(described.track_uri)), dtype="float32")
        if sr != MIX_RATE or sr2 != MIX_RATE:
            raise ConfigError(f"the AD mix expects {MIX_RATE} Hz audio, got {sr} and {sr2}", "re-run ingest")
        payload = marking.payload_for(run.prefix)
        programme, laid = with_bed(settings, run, programme, described.spans, request.bed, ingested.source_sha256)
        path, measured, levels, mark = ad_mix(settings, run, programme, desc, described.spans, params, prof, "ad")
        stem = run.scratch / "description.wav"
        stem_mark = marking.mark_copy(settings, run.fetch(described.track_uri), stem, payload)
        out: dict[str, Any] = {}
        if described.extended and described.extended_track_uri:
            from pipeline.products.description.extended import Hold, extend_audio

            holds = [Hold(at=a, seconds=s) for a, s in described.holds]
            ext_prog = extend_audio(programme, sr, holds)
            ext_desc, _ = sf.read(str(run.fetch(described.extended_track_uri)), dtype="float32")
            spans = described.extended_spans
            ext_path, ext_measured, _, _ = ad_mix(settings, run, ext_prog, ext_desc, spans, params, prof, "ad_extended")
            out = {"extended_mix_uri": run.put(ext_path.name, ext_path), "extended_loudness": ext_measured}
        return ADMixed(
            language=described.language,
            mix_uri=run.put(path.name, path),
            stem_uri=run.put(stem.name, stem if stem_mark else run.fetch(described.track_uri)),
            loudness=measured,
            levels=levels,
            watermark=mark,
            bed=laid,
            **out,
        )

    return run_stage(settings, "mix_description", material, work, ADMixed, label=described.language)
