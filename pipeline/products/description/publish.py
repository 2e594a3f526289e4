"""publish: deliver the described video (and the extended one), the descriptions' stem, the script as placed
(WebVTT and DAPT) and the report, named after the programme; then record the provenance of every file and
write the job manifest.

Each file is copied to a temporary name and renamed, the report last: a report present means the whole set is
there. Nothing is published when a stage failed: the DAG's publish task runs only after every stage succeeded.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from pydantic import BaseModel

from pipeline.core import progress
from pipeline.core.config import Settings
from pipeline.core.deliver import deliver
from pipeline.core.stagerun import StageResult, job_id, open_settings_store, write_job_manifest
from pipeline.core.storage import is_local_location, local_dir
from pipeline.ledger.watermark_key import public_key_warnings
from pipeline.products.description.contracts import (
    ADMixed,
    Described,
    DescribeRequest,
    DescriptionPublished,
    DialogueMapped,
    Rendered,
    ScriptRead,
)
from pipeline.stages.contracts import Ingested, Transcribed


class DescribeOutcome(BaseModel):
    """Every stage's result of one described video: what publish reports and records."""

    ingested: Ingested
    read: ScriptRead
    transcribed: Transcribed
    mapped: DialogueMapped
    described: Described
    mixed: ADMixed
    rendered: Rendered

    def results(self) -> list[StageResult]:
        return [self.ingested, self.read, self.transcribed, self.mapped, self.described, self.mixed, self.rendered]


def deliverables(job: DescribeOutcome) -> dict[str, str]:
    """Delivered name -> store URI (the report comes on top)."""
    stem = job.ingested.stem
    names = {f"{stem}.described.{ext}": uri for ext, uri in job.rendered.media.items()}
    if job.rendered.extended_uri:
        names[f"{stem}.described-extended.mp4"] = job.rendered.extended_uri
    names[f"{stem}.description.wav"] = job.mixed.stem_uri
    names[f"{stem}.description.vtt"] = job.rendered.vtt_uri
    names[f"{stem}.description.dapt.xml"] = job.rendered.dapt_uri
    return names


def build_report(
    settings: Settings, request: DescribeRequest, job: DescribeOutcome, files: dict[str, str]
) -> dict[str, Any]:
    """The job's report: input, script, voice, each cue as placed (asked and placed times, gap, rate, shortened
    text, extended seconds, QA), the figures, levels and loudness, the extended time map, marks and stages."""
    from pipeline.products.description.extended import Hold, time_map
    from pipeline.products.description.voicing import load_placed

    d, m = job.described, job.mixed
    placed = [p.model_dump(mode="json") for p in load_placed(settings, d.placed_uri)]
    ext_uri = d.extended_placed_uri
    ext_placed = [p.model_dump(mode="json") for p in load_placed(settings, ext_uri)] if ext_uri else []
    warnings = []
    over = [p for p in placed if float(p.get("overrun_s") or 0) > 0]
    if over:
        named = ", ".join(f"{p['id']} at {p['start']:.2f} s ({p['overrun_s']:.2f} s)" for p in over)
        warnings.append(
            f"{len(over)} description(s) run over dialogue, flagged for review: {named}; shorten them, move them "
            "or use --extended"
        )
    failed = [p for p in placed if p.get("qa") and not p["qa"].get("passed", True)]
    if failed:
        named = ", ".join(str(p["id"]) for p in failed)
        warnings.append(f"{len(failed)} description(s) still heard wrong after re-synthesis: {named}")
    if job.read.drafts:
        warnings.append(f"{job.read.drafts} cue(s) are drafts no describer has checked yet")
    warnings += public_key_warnings([m.watermark])  # marked with dubline's public key: said so
    results = job.results()
    return {
        "dubline_report": 1,
        "product": "audio_description",
        "input": {"filename": job.ingested.filename, "sha256": job.ingested.source_sha256},
        "script": {
            "filename": job.read.filename,
            "sha256": job.read.sha256,
            "format": job.read.format,
            "cues": job.read.cues,
            "clipped": job.read.clipped,
        },
        "params": request.to_xcom(),
        "language": d.language,
        "voice": d.voice.model_dump(),
        "dialogue": {"speech_s": job.mapped.speech_s, "gap_s": job.mapped.gap_s, "gaps": job.mapped.gaps},
        "figures": {
            "cues": d.cues,
            "placed_within_1s": d.placed_within_1s,
            "placed_within_1s_share": round(d.placed_within_1s / max(d.cues, 1), 3),
            "delayed": d.delayed,
            "rated": d.rated,
            "shortened": d.shortened,
            "extended": sum(1 for p in ext_placed if p.get("extended_s")),
            "extended_s": round(sum(float(p.get("extended_s") or 0) for p in ext_placed), 3),
            "overruns": d.overruns,
            "overrun_s": d.overrun_s,
        },
        "cues": placed,
        "extended": {
            "cues": ext_placed,
            "time_map": time_map([Hold(at=a, seconds=s) for a, s in d.holds]),
        }
        if d.extended
        else None,
        "qa": d.qa,
        "levels": m.levels,
        "bed": m.bed,
        "loudness": {"ad": m.loudness, "extended_ad": m.extended_loudness, "original": job.rendered.original_loudness},
        "watermark": m.watermark,
        "content_credentials": job.rendered.c2pa,
        "warnings": warnings,
        "stages": [{"stage": r.stage, "label": r.label, "elapsed_s": r.elapsed_s, "cached": r.cached} for r in results],
        "stage_time_s": round(sum(r.elapsed_s for r in results if not r.cached), 3),
        "outputs": files,
    }


def publish_described(settings: Settings, request: DescribeRequest, job: DescribeOutcome) -> DescriptionPublished:
    """Copy the files to `request.output` (a folder, file:// or s3:// location; default the store's outputs/),
    the report last; then provenance and the job manifest."""
    progress.emit("publish", "start")
    store = open_settings_store(settings)
    names = deliverables(job)
    stem = job.ingested.stem
    location = request.output or store.uri(f"outputs/{job.ingested.source_sha256[:16]}")
    location = str(local_dir(location)) if is_local_location(location) else location
    report_name = f"{stem}.report.json"
    done = deliver(settings, names, location, report_name, lambda where: build_report(settings, request, job, where))
    published = DescriptionPublished(location=done.location, files=done.files, report=done.report, links=done.links)
    published.provenance = _provenance(settings, request, job, published, names)
    results = job.results()
    published.manifest = write_job_manifest(
        store, (job.ingested.filename, job.ingested.source_sha256), results[:-1], results[-1], published.model_dump()
    )
    progress.emit("publish", "done", **published.model_dump())
    return published


def _provenance(
    settings: Settings,
    request: DescribeRequest,
    job: DescribeOutcome,
    published: DescriptionPublished,
    origins: dict[str, str],
) -> dict[str, str]:
    from pipeline.ledger.delivery import Delivery, record_delivery

    d = job.described
    models: list[dict[str, Any]] = [
        {
            "role": "tts",
            **{k: d.voice.engine.get(k, "") for k in ("id", "version", "sha256")},
            "voice": d.voice.voice,
            "language": d.language,
        },
        {"role": "asr", **{k: str(job.transcribed.model.get(k, "")) for k in ("id", "version", "sha256")}},
    ]
    signed: dict[str, Any] = dict(job.rendered.c2pa.get("signed") or {})  # type: ignore[arg-type]
    by_name = {
        f"{job.ingested.stem}.{n.replace('extended.mp4', 'described-extended.mp4')}": v for n, v in signed.items()
    }
    files = {**published.files, Path(urlparse(published.report).path).name: published.report}
    wm = job.mixed.watermark
    return record_delivery(
        settings,
        Delivery(
            product="audio_description",
            location=published.location,
            files=files,
            source={
                "uri": job.ingested.source_uri,
                "sha256": job.ingested.source_sha256,
                "filename": job.ingested.filename,
            },
            stages=[
                {"stage": r.stage, "label": r.label, "key": r.key, "elapsed_s": r.elapsed_s, "cached": r.cached}
                for r in job.results()
            ],
            models=models,
            parameters={k: v for k, v in request.to_xcom().items() if k not in ("video", "output")},
            consent_ids=sorted(set(d.consents)),
            job={
                "job_id": job_id(job.rendered.key, published.location),
                "input_filename": job.ingested.filename,
                "script": job.read.filename,
            },
            origins=origins,
            credentials={n: {"signed": True, **dict(v)} for n, v in by_name.items()},
            marks=[{"uri": job.mixed.mix_uri, "language": d.language, **wm}] if wm and "payload" in wm else [],
        ),
    )
