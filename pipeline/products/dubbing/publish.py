"""publish: sign the media (C2PA), then deliver the finished set and the job report.

publish copies what mux made to the output location (a folder, or a store prefix) with the input's name,
each file written to a temporary name and renamed, the report last: a report present means the whole set is
there. Then it records the provenance of every delivered file and writes the job manifest.
"""

from __future__ import annotations

from typing import Any

from pydantic import JsonValue

from pipeline.core import progress
from pipeline.core.config import Settings
from pipeline.core.deliver import deliver
from pipeline.core.profiles import SUMMARY as PROFILE_SUMMARY
from pipeline.core.stagerun import Contract, JsonDoc, StageResult, open_settings_store, write_job_manifest
from pipeline.core.storage import get_json, is_local_location, key_of, local_dir
from pipeline.products.dubbing.contracts import (
    DescribedDub,
    DubRequest,
    Fitted,
    Muxed,
    Published,
    Synthesized,
    Translated,
)
from pipeline.stages.contracts import Ingested, Mixed, Separated, Transcribed


class DubOutcome(Contract):
    """Every stage result of one dub job, as publish needs them: the DAG gathers them from its tasks."""

    ingested: Ingested
    heard: Transcribed  # transcribe's result
    diarized: Transcribed
    transcribed: Transcribed  # cast's result: the Script with speakers, people and delivery
    separated: Separated
    translated: list[Translated]
    synthesized: list[Synthesized]
    fits: list[Fitted]
    mixes: list[Mixed]
    described: list[DescribedDub] = []  # with --describe: one described track per language
    muxed: Muxed

    def results(self) -> list[StageResult]:
        """Every stage's result in the order the job ran them (the report's and the manifest's order)."""
        return [
            self.ingested,
            self.heard,
            self.diarized,
            self.transcribed,
            self.separated,
            *self.translated,
            *self.synthesized,
            *self.fits,
            *self.mixes,
            *self.described,
            self.muxed,
        ]


def _timing_lines(store: Any, fits: list[Fitted]) -> dict[str, list[JsonValue]]:
    """The per-line timing report of every language, from the fit stage's timing.json."""
    return {f.language: list(get_json(store, key_of(store, f.timing_report_uri))["lines"]) for f in fits}


def _description(described: list[DescribedDub], cues: dict[str, list[JsonValue]] | None) -> dict[str, Any]:
    """The described tracks (`--describe`): per language the script, its translation, the describer, the
    figures, each cue as placed (asked and placed time, rate, text as written and as spoken), QA, levels."""
    return {
        d.language: {
            "script": d.script,
            "translation": d.translation,
            "voice": d.voice,
            "figures": {**d.figures, "cues": d.cues},
            "cues": (cues or {}).get(d.language, []),
            "qa": d.qa,
            "levels": d.levels,
            "loudness": d.loudness,
            "watermark": d.watermark,
        }
        for d in described
    }


def _described_cues(store: Any, described: list[DescribedDub]) -> dict[str, list[JsonValue]]:
    return {d.language: list(get_json(store, key_of(store, d.placed_uri))) for d in described}


def _skipped(muxed: Muxed) -> dict[str, JsonValue]:
    """What signing skipped ({ext: reason}), from the muxed result's content credentials."""
    skipped = (muxed.c2pa or {}).get("skipped")
    return skipped if isinstance(skipped, dict) else {}


def _warnings(job: DubOutcome, muxed: Muxed) -> list[str]:
    qa_failed = [(s.language, (s.qa or {}).get("failed")) for s in job.synthesized]
    return (
        list(job.ingested.warnings)
        + list(job.heard.warnings)
        + [r.warning for r in [job.separated] if r.warning]
        + [w for s in job.synthesized for w in s.casting_warnings]
        + [f"{lang}: {n} line(s) still heard wrong after re-synthesis (see qa)" for lang, n in qa_failed if n]
        + [f"{ext}: {why}" for ext, why in _skipped(muxed).items() if ext in ("mkv",)]
        + [
            f"{d.language}: {d.figures.get('overruns')} description(s) run over dialogue, flagged for review"
            for d in job.described
            if d.figures.get("overruns")
        ]
        + _public_mark(job)
    )


def _public_mark(job: DubOutcome) -> list[str]:
    """The report says so when the dub tracks were marked with dubline's public built-in key."""
    from pipeline.ledger.watermark_key import public_key_warnings

    return public_key_warnings(m.watermark for m in job.mixes)


def revisions(job: DubOutcome) -> list[dict[str, Any]]:
    """The reviewers' edits and approvals this delivery carries: per edit its revision, editor, file, hashes
    and the lines it changed; per review gate who approved and when (or that it timed out)."""
    out: list[dict[str, Any]] = []
    docs = [("transcript", job.transcribed.revision), *[(t.language, t.revision) for t in job.translated]]
    for where, given in docs:
        doc: dict[str, Any] = dict(given or {})
        for e in doc.get("edits") or []:
            changes = e.get("changes") or []
            out.append(
                {
                    **{k: e.get(k) for k in ("kind", "language", "revision", "editor", "edit", "edit_sha256")},
                    **{k: e.get(k) for k in ("before_sha256", "after_sha256") if e.get(k)},
                    "lines": sorted({c["id"] for c in changes}),
                }
            )
        if doc.get("review"):
            out.append({"kind": "review", "language": where, **dict(doc["review"])})
    return out


def build_report(
    settings: Settings,
    job: DubOutcome,
    results: list[StageResult],
    muxed: Muxed,
    files: dict[str, str],
    request: DubRequest,
    timing_lines: dict[str, list[JsonValue]] | None = None,
    described_cues: dict[str, list[JsonValue]] | None = None,
) -> dict[str, Any]:
    """The job report (`<stem>.report.json`): input, languages, models, timing, speakers, voices, QA,
    subtitles, loudness, separation, watermarks, content credentials, warnings and every stage's time."""
    ingested, transcribed = job.ingested, job.transcribed
    stages = [
        {
            "stage": r.stage,
            "language": r.label or None,
            "elapsed_s": r.elapsed_s,
            "cached": r.cached,
            "model_load_s": r.model_load_s,
        }
        for r in results
    ]
    models: dict[str, Any] = {"asr": transcribed.model}
    for t in job.translated:
        models.setdefault("mt", {})[t.language] = t.engine
    for s in job.synthesized:
        models.setdefault("tts", {})[s.language] = {**s.engine, "voice": s.voice}
    sep = job.separated
    return {
        "dubline_report": 1,
        "profile": {"name": settings.profile, "summary": PROFILE_SUMMARY[settings.profile]},
        "input": {
            "filename": ingested.filename,
            "sha256": ingested.source_sha256,
            "duration_s": ingested.duration,
            "has_video": ingested.has_video,
        },
        "source_language": transcribed.language,
        "source_language_probability": transcribed.language_probability,
        "target_languages": muxed.languages,
        "params": request.to_xcom(),
        "segments": transcribed.segments,
        "models": models,
        "timing": {
            f.language: {"summary": f.summary, "lines": (timing_lines or {}).get(f.language, [])} for f in job.fits
        },
        "speakers": {
            "count": transcribed.speakers,
            "diarization": transcribed.diarization,
            "people": transcribed.people,
            "info": [s.model_dump() for s in transcribed.speaker_info],
        },
        "voices": {s.language: s.voices for s in job.synthesized},
        "delivery": {s.language: s.delivery for s in job.synthesized},
        "qa": {s.language: s.qa for s in job.synthesized},
        "subtitles": {"profile": muxed.subtitle_profile, "checks": muxed.subtitle_checks},
        "loudness": muxed.loudness,
        "separation": {"method": sep.method, "warning": sep.warning, "rtf": sep.rtf},
        "denoise": ingested.denoise,
        "bed": {m.language: m.bed for m in job.mixes if m.bed} or None,
        "watermark": {m.language: m.watermark for m in job.mixes},
        "description": _description(job.described, described_cues) if job.described else None,
        "content_credentials": muxed.c2pa,
        "revisions": revisions(job),
        "rendered": {
            s.language: {"lines": s.rendered, "reused": s.reused, "clips_reused": s.clips_reused}
            for s in job.synthesized
        },
        "warnings": _warnings(job, muxed),
        "stages": stages,
        "stage_time_s": round(sum(float(s["elapsed_s"] or 0.0) for s in stages if not s["cached"]), 3),
        # of which loading models (under a real executor each task loads the models it uses: README, Speed)
        "model_load_s": round(sum(r.model_load_s for r in results if not r.cached), 3),
        "outputs": files,
        "script_uri": muxed.script_uri,
    }


def publish(settings: Settings, job: DubOutcome, request: DubRequest) -> Published:
    """Sign the media (C2PA), then copy the outputs to `request.output` (a folder, file:// or s3:// location;
    default the store's outputs/). Signing is the last step that touches the media: the copies are byte for
    byte. The ledger (signing, provenance) reads the stage results as their JSON documents."""
    from pipeline.ledger.provenance import record_publication  # a manifest beside each output, and its record
    from pipeline.ledger.signing import sign_outputs

    progress.emit("publish", "start")
    results = job.results()
    docs = [r.to_xcom() for r in results]
    params = request.to_xcom()
    edits = revisions(job)
    if edits:  # the provenance and the content credentials name the edits this delivery carries
        params["revisions"] = edits
    signed = sign_outputs(settings, job.ingested.to_xcom(), docs, job.muxed.to_xcom(), params)
    credentials: JsonDoc = {"signed": dict(signed.signed), "skipped": dict(signed.skipped)}
    muxed = job.muxed.model_copy(update={"media": signed.media, "c2pa": credentials})
    if signed.key:  # the sign stage ran (or was reused): it is part of the job
        results.append(signed)
        docs.append(signed.to_xcom())
    published = _publish(settings, job, results, muxed, request)
    published.provenance = record_publication(
        settings, job.ingested.to_xcom(), docs, muxed.to_xcom(), published.model_dump(), params
    )
    source = (job.ingested.filename, job.ingested.source_sha256)
    store = open_settings_store(settings)
    published.manifest = write_job_manifest(store, source, results, muxed, published.model_dump(), request.to_xcom())
    progress.emit("publish", "done", **published.model_dump())
    return published


def _location(settings: Settings, ingested: Ingested, output: str) -> str:
    """Where the outputs go, as publish reports it (a resolved folder, or a store URI)."""
    location = output or open_settings_store(settings).uri(f"outputs/{ingested.source_sha256[:16]}")
    return str(local_dir(location)) if is_local_location(location) else location


def _names(job: DubOutcome, muxed: Muxed, stems: bool) -> dict[str, str]:
    """Each delivered file's name and the store URI it is copied from."""
    stem = job.ingested.stem
    names: dict[str, str] = {f"{stem}.dub.{ext}": uri for ext, uri in muxed.media.items()}
    if stems:
        marked = {m.language: m.dub_stem_uri for m in job.mixes if m.dub_stem_uri}
        if job.separated.bed_uri and job.separated.dialogue_uri:
            names[f"{stem}.stem.dialogue.wav"] = job.separated.dialogue_uri
            names[f"{stem}.stem.bed.wav"] = job.separated.bed_uri
        for f in job.fits:
            names[f"{stem}.stem.dub.{f.language}.wav"] = marked.get(f.language) or f.dub_speech_uri
    for lang, by_ext in muxed.subtitles.items():
        for ext, uri in by_ext.items():
            names[f"{stem}.{lang}.{ext}"] = uri
    for d in job.described:
        names[f"{stem}.{d.language}.description.vtt"] = d.vtt_uri
    return names


def _publish(
    settings: Settings, job: DubOutcome, results: list[StageResult], muxed: Muxed, request: DubRequest
) -> Published:
    store = open_settings_store(settings)
    names = _names(job, muxed, request.stems)
    location = _location(settings, job.ingested, request.output)
    report_name = f"{job.ingested.stem}.report.json"
    timing = _timing_lines(store, job.fits)
    described = _described_cues(store, job.described)
    done = deliver(
        settings,
        names,
        location,
        report_name,
        lambda where: build_report(settings, job, results, muxed, where, request, timing, described),
    )
    return Published(location=done.location, files=done.files, report=done.report, links=done.links)
