"""publish: deliver the book (the m4b, one MP3 per chapter) and its QA and ACX report, then record the
provenance of every file and write the job manifest.

Each file is copied to a temporary name and renamed, the report last: a report present means the whole book is
there. Nothing is published when a chapter failed: the DAG's publish task runs only after every chapter and the
package succeeded.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from pipeline.core import progress
from pipeline.core.config import Settings
from pipeline.core.deliver import deliver
from pipeline.core.stagerun import StageResult, job_id, open_settings_store, write_job_manifest
from pipeline.core.storage import get_json, is_local_location, key_of, local_dir
from pipeline.ledger.watermark_key import public_key_warnings
from pipeline.products.audiobook.contracts import BookPublished, BookRead, BookRequest, ChapterNarrated, Packaged


def _failed_chunks(store: Any, chapter: ChapterNarrated) -> list[dict[str, Any]]:
    """The chunks still heard wrong after their retries: the report lists them for a human to check."""
    doc = get_json(store, key_of(store, chapter.report_uri))
    out = []
    for c in doc.get("chunks", []):
        qa = c.get("qa") or {}
        if qa and not qa.get("passed", True):
            out.append(
                {
                    "chapter": chapter.index,
                    "id": c["id"],
                    "text": c["text"],
                    "heard": qa.get("heard"),
                    "wer": qa.get("wer"),
                    "reason": qa.get("reason"),
                }
            )
    return out


def _acx(packaged: Packaged, chapter: ChapterNarrated) -> dict[str, Any]:
    """A chapter's ACX figures as measured on its delivered MP3 (the master's, where the package has none)."""
    return dict(packaged.acx.get(str(chapter.index)) or chapter.acx)


def _failures(acx: dict[str, Any]) -> str:
    failures = acx.get("failures")
    return ", ".join(str(f) for f in failures) if isinstance(failures, list) else "failed"


def build_report(
    request: BookRequest,
    book: BookRead,
    chapters: list[ChapterNarrated],
    packaged: Packaged,
    files: dict[str, str],
    failed: list[dict[str, Any]],
) -> dict[str, Any]:
    """The book's report (`<stem>.report.json`): input, metadata, voice, each chapter's ACX figures and QA, the
    markers, what was skipped, what still needs a listen, marks, credentials and every stage's time."""
    results: list[StageResult] = [book, *chapters, packaged]
    markers = {int(str(m["index"])): m for m in packaged.markers}
    acx = {c.index: _acx(packaged, c) for c in chapters}
    acx_passed = sum(bool(acx[c.index].get("passed")) for c in chapters)
    qa_lines = sum(int(str((c.qa or {}).get("lines", 0))) for c in chapters)
    qa_passed = sum(int(str((c.qa or {}).get("passed", 0))) for c in chapters)
    warnings = [f"chapter {c.index}: ACX {_failures(acx[c.index])}" for c in chapters if not acx[c.index].get("passed")]
    if failed:
        warnings.append(f"{len(failed)} chunk(s) still heard wrong after re-synthesis (see qa.failed)")
    warnings += public_key_warnings([packaged.watermark])  # marked with dubline's public key: said so
    return {
        "dubline_report": 1,
        "product": "audiobook",
        "input": {"filename": book.filename, "sha256": book.source_sha256, "format": book.format},
        "book": {"title": book.title, "author": book.author, "language": book.language, "words": book.words},
        "params": request.to_xcom(),
        "voice": chapters[0].voice.model_dump() if chapters else {},
        "chapters": [
            {
                "index": c.index,
                "title": c.title,
                "words": next((i.words for i in book.chapters if i.index == c.index), 0),
                "chars": c.chars,
                "chunks": c.chunks,
                "synthesized": c.synthesized,
                "duration_s": c.duration_s,
                "marker": markers.get(c.index),
                "acx": acx[c.index],
                "acx_master": c.acx,
                "qa": c.qa,
                "music": c.music,
            }
            for c in chapters
        ],
        "acx": {
            "chapters": len(chapters),
            "passed": acx_passed,
            "pass_rate": round(acx_passed / max(len(chapters), 1), 3),
        },
        "qa": {"chunks": qa_lines, "passed": qa_passed, "failed": failed},
        "skipped_sections": book.skipped,
        "duration_s": packaged.duration_s,
        "watermark": packaged.watermark,
        "content_credentials": packaged.c2pa,
        "warnings": warnings,
        "stages": [{"stage": r.stage, "label": r.label, "elapsed_s": r.elapsed_s, "cached": r.cached} for r in results],
        "stage_time_s": round(sum(r.elapsed_s for r in results if not r.cached), 3),
        "outputs": files,
    }


def publish_book(
    settings: Settings,
    request: BookRequest,
    book: BookRead,
    chapters: list[ChapterNarrated],
    packaged: Packaged,
) -> BookPublished:
    """Copy the book's files to `request.output` (a folder, file:// or s3:// location; default the store's
    outputs/), the report last; then provenance and the job manifest."""
    progress.emit("publish", "start")
    chapters = sorted(chapters, key=lambda c: c.index)
    store = open_settings_store(settings)
    names = {f"{book.stem}.m4b": packaged.m4b_uri, **packaged.mp3}
    location = request.output or store.uri(f"outputs/{book.source_sha256[:16]}")
    location = str(local_dir(location)) if is_local_location(location) else location
    report_name = f"{book.stem}.report.json"
    failed = [f for c in chapters for f in _failed_chunks(store, c)]
    done = deliver(
        settings,
        names,
        location,
        report_name,
        lambda where: build_report(request, book, chapters, packaged, where, failed),
    )
    published = BookPublished(location=done.location, files=done.files, report=done.report, links=done.links)
    published.provenance = _provenance(settings, request, book, chapters, packaged, published, names)
    results: list[StageResult] = [book, *chapters]
    published.manifest = write_job_manifest(
        store, (book.filename, book.source_sha256), results, packaged, published.model_dump()
    )
    progress.emit("publish", "done", **published.model_dump())
    return published


def _provenance(
    settings: Settings,
    request: BookRequest,
    book: BookRead,
    chapters: list[ChapterNarrated],
    packaged: Packaged,
    published: BookPublished,
    origins: dict[str, str],
) -> dict[str, str]:
    from pipeline.ledger.delivery import Delivery, record_delivery

    engine = chapters[0].voice.engine if chapters else {}
    voice_id = chapters[0].voice.voice if chapters else ""
    models = [
        {
            "role": "tts",
            **{k: engine.get(k, "") for k in ("id", "version", "sha256")},
            "voice": voice_id,
            "language": book.language,
        }
    ]
    asr = next((c.qa.get("asr") for c in chapters if c.qa and isinstance(c.qa.get("asr"), dict)), None)
    if isinstance(asr, dict):
        models.append({"role": "asr", **{k: str(asr.get(k, "")) for k in ("id", "version", "sha256")}})
    signed = dict(packaged.c2pa.get("signed") or {})  # type: ignore[arg-type]
    files = {**published.files, Path(urlparse(published.report).path).name: published.report}
    results: list[StageResult] = [book, *chapters, packaged]
    return record_delivery(
        settings,
        Delivery(
            product="audiobook",
            location=published.location,
            files=files,
            source={"uri": book.source_uri, "sha256": book.source_sha256, "filename": book.filename},
            stages=[
                {"stage": r.stage, "label": r.label, "key": r.key, "elapsed_s": r.elapsed_s, "cached": r.cached}
                for r in results
            ],
            models=models,
            parameters={k: v for k, v in request.to_xcom().items() if k not in ("book", "output")},
            consent_ids=sorted({cid for c in chapters for cid in c.consents}),
            job={
                "job_id": job_id(packaged.key, published.location),
                "input_filename": book.filename,
                "title": book.title,
            },
            origins=origins,
            credentials={n: {"signed": True, **dict(v)} for n, v in signed.items()},  # type: ignore[arg-type]
            marks=[{"uri": packaged.m4b_uri, **packaged.watermark}]
            if packaged.watermark and "payload" in packaged.watermark
            else [],
        ),
    )
