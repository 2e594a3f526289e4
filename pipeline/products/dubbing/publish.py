"""mux and publish: the delivered media, subtitles and job report.

mux builds everything in the store under its content-addressed prefix; publish copies the finished set
to the output location (a folder, or a store prefix) with the input's name, each file written to a
temporary name and renamed, the report last: a report present means the whole set is there.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

from pipeline.audio import loudness, media
from pipeline.core import progress
from pipeline.core.config import Settings
from pipeline.core.errors import ConfigError
from pipeline.core.stagerun import StageRun, open_settings_store, run_stage, write_job_manifest
from pipeline.core.storage import copy_object, get_json, key_of, open_store
from pipeline.stages.common import load_script, save_script
from pipeline.stages.ingest import MIX_RATE
from pipeline.text.subtitles import profile as subtitle_rules
from pipeline.text.subtitles import script_cues, write_subtitles
from pipeline.text.subtitles import violations as subtitle_violations


def mux(
    settings: Settings,
    ingested: dict[str, Any],
    transcribed: dict[str, Any],
    fits: list[dict[str, Any]],
    mixes: list[dict[str, Any]],
    containers: list[str] | None = None,
    subtitle_profile: str | None = None,
    loudness_profile: str | None = None,
) -> dict[str, Any]:
    rules = subtitle_rules(subtitle_profile or settings.subtitle_profile)
    loud = loudness.profile(loudness_profile or settings.loudness_profile)
    wanted = [c.strip().lower().lstrip(".") for c in (containers or ["mp4"]) if c.strip()]
    bad = [c for c in wanted if c not in ("mp4", "mkv", "m4a")]
    if bad:
        raise ConfigError(f"unsupported container {', '.join(bad)}", "ask for mp4, mkv and/or m4a")
    exts = list(dict.fromkeys(wanted)) if ingested["has_video"] else ["m4a"]
    # keep the order the languages were asked for (map index order): it is the order of the tracks
    by_lang = {m["language"]: m for m in mixes}
    mixes = [by_lang[f["language"]] for f in fits]
    material = {
        "source": ingested["source_sha256"],
        "transcribed": transcribed["key"],
        "fits": [f["key"] for f in fits],
        "mixes": [m["key"] for m in mixes],
        "containers": exts,
        "subtitles": rules.name,
        "loudness": loud.name,
    }

    def work(run: StageRun) -> dict[str, Any]:
        script = load_script(run.store, transcribed["script_uri"]).revised("mux")
        for f in fits:
            lang = f["language"]
            per_lang = load_script(run.store, f["script_uri"])
            if lang in per_lang.voices:
                script.voices[lang] = per_lang.voices[lang]
            by_id = {s.id: s for s in per_lang.segments}
            for seg in script.segments:
                other = by_id.get(seg.id)
                if other is None:
                    continue
                if lang in other.translations:
                    seg.translations[lang] = other.translations[lang]
                if lang in other.clips:
                    seg.clips[lang] = other.clips[lang]
        script.languages = [f["language"] for f in fits]
        src_lang = transcribed["language"]
        subs: dict[str, dict[str, str]] = {}
        sub_checks: dict[str, dict[str, int]] = {}
        srts: list[tuple[Path, str, str]] = []
        for lang in [src_lang, *script.languages]:
            cues = script_cues(script, None if lang == src_lang else lang, rules)
            sub_checks[lang] = {"cues": len(cues), **subtitle_violations(cues, rules)}
            subs[lang] = {}
            for ext in ("srt", "vtt"):
                p = write_subtitles(cues, run.scratch / f"{lang}.{ext}")
                subs[lang][ext] = run.put(p.name, p)
            kind = "Original" if lang == src_lang else "Dub"
            srts.append((run.scratch / f"{lang}.srt", media.iso639_2(lang), f"{kind} subtitles ({lang})"))
        original = run.scratch / "original.wav"
        before, after = loudness.normalize(run.fetch(ingested["full_audio_uri"]), original, loud, MIX_RATE)
        levels = {
            src_lang: {
                "track": "original",
                "profile": loud.name,
                "before": before.as_dict(),
                **after.as_dict(),
                "meets": after.meets(loud),
            }
        }
        for m in mixes:
            levels[m["language"]] = {"track": "dub", **m.get("loudness", {})}
        tracks = [(original, media.iso639_2(src_lang), f"Original ({src_lang})")]
        for m in mixes:
            tracks.append((run.fetch(m["mix_uri"]), media.iso639_2(m["language"]), f"Dub ({m['language']})"))
        video = run.fetch(ingested["source_uri"]) if ingested["has_video"] else None
        outputs: dict[str, str] = {}
        for ext in exts:
            picture = video if ext != "m4a" else None  # m4a: the audio tracks alone
            out = media.mux(picture, tracks, run.scratch / f"dub.{ext}", ingested["duration"], subtitles=srts)
            outputs[ext] = run.put(out.name, out)
        return {
            "media_uri": outputs[exts[0]],
            "media_ext": exts[0],
            "media": outputs,
            "subtitles": subs,
            "subtitle_profile": rules.name,
            "subtitle_checks": sub_checks,
            "loudness": levels,
            "script_uri": save_script(run, script),
            "languages": script.languages,
            "source_language": src_lang,
        }

    return run_stage(settings, "mux", material, work)


def _timing_lines(store: Any, stage_results: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    """The per-line timing report of every language, from the fit stage's timing.json."""
    out: dict[str, list[dict[str, Any]]] = {}
    for r in stage_results:
        if r.get("stage") == "fit" and r.get("timing_report_uri"):
            out[r["language"]] = list(get_json(store, key_of(store, r["timing_report_uri"]))["lines"])
    return out


def _is_local(location: str) -> bool:
    return urlparse(location).scheme in ("", "file")


def _local_dir(location: str) -> Path:
    p = urlparse(location)
    return Path(unquote(p.path) if p.scheme else location).expanduser().resolve()


def build_report(
    ingested: dict[str, Any],
    transcribed: dict[str, Any],
    stage_results: list[dict[str, Any]],
    muxed: dict[str, Any],
    files: dict[str, str],
    params: dict[str, Any],
    timing_lines: dict[str, list[dict[str, Any]]] | None = None,
) -> dict[str, Any]:
    stages = [
        {
            "stage": r.get("stage"),
            "language": r.get("label") or None,
            "elapsed_s": r.get("elapsed_s", 0.0),
            "cached": bool(r.get("cached")),
        }
        for r in stage_results
    ]
    fits = {
        r["language"]: {"summary": r["summary"], "lines": (timing_lines or {}).get(r["language"], [])}
        for r in stage_results
        if r.get("stage") == "fit"
    }
    models: dict[str, Any] = {"asr": transcribed.get("model")}
    for r in stage_results:
        if r.get("stage") == "translate":
            models.setdefault("mt", {})[r["language"]] = r["engine"]
        if r.get("stage") == "synthesize":
            models.setdefault("tts", {})[r["language"]] = {**r["engine"], "voice": r["voice"]}
    return {
        "dubline_report": 1,
        "input": {
            "filename": ingested["filename"],
            "sha256": ingested["source_sha256"],
            "duration_s": ingested["duration"],
            "has_video": ingested["has_video"],
        },
        "source_language": transcribed["language"],
        "source_language_probability": transcribed.get("language_probability"),
        "target_languages": muxed["languages"],
        "params": params,
        "segments": transcribed.get("segments"),
        "models": models,
        "timing": fits,
        "speakers": {
            "count": transcribed.get("speakers", 1),
            "diarization": transcribed.get("diarization"),
            "people": transcribed.get("people", []),
            "info": transcribed.get("speaker_info", []),
        },
        "voices": {r["language"]: r.get("voices", []) for r in stage_results if r.get("stage") == "synthesize"},
        "delivery": {r["language"]: r.get("delivery") for r in stage_results if r.get("stage") == "synthesize"},
        "qa": {r["language"]: r.get("qa") for r in stage_results if r.get("stage") == "synthesize"},
        "subtitles": {"profile": muxed.get("subtitle_profile"), "checks": muxed.get("subtitle_checks", {})},
        "loudness": muxed.get("loudness", {}),
        "separation": next(
            (
                {"method": r["method"], "warning": r.get("warning", ""), "rtf": r.get("rtf")}
                for r in stage_results
                if r.get("stage") == "separate"
            ),
            None,
        ),
        "watermark": {r["language"]: r.get("watermark") for r in stage_results if r.get("stage") == "mix"},
        "content_credentials": muxed.get("c2pa"),
        "warnings": [r["warning"] for r in stage_results if r.get("warning")]
        + [w for r in stage_results if r.get("stage") == "synthesize" for w in r.get("casting_warnings", [])]
        + [
            f"{r['language']}: {q['failed']} line(s) still heard wrong after re-synthesis (see qa)"
            for r in stage_results
            if r.get("stage") == "synthesize" and (q := r.get("qa")) and q.get("failed")
        ]
        + [f"{ext}: {why}" for ext, why in (muxed.get("c2pa") or {}).get("skipped", {}).items() if ext in ("mkv",)],
        "stages": stages,
        "stage_time_s": round(sum(s["elapsed_s"] for s in stages if not s["cached"]), 3),
        "outputs": files,
        "script_uri": muxed["script_uri"],
    }


def publish(
    settings: Settings,
    ingested: dict[str, Any],
    transcribed: dict[str, Any],
    stage_results: list[dict[str, Any]],
    muxed: dict[str, Any],
    output: str,
    params: dict[str, Any],
) -> dict[str, Any]:
    """Sign the media (C2PA), then copy the outputs to `output` (a folder, file:// or s3:// location; default
    the store's outputs/). Signing is the last step that touches the media: the copies are byte for byte."""
    from pipeline.ledger.provenance import record_publication  # a manifest beside each output, and its record
    from pipeline.ledger.signing import sign_outputs

    progress.emit("publish", "start")
    signed = sign_outputs(settings, ingested, stage_results, muxed, params)
    credentials = {"signed": signed["signed"], "skipped": signed["skipped"]}
    muxed = {**muxed, "media": signed["media"], "c2pa": credentials}
    if signed.get("key"):  # the sign stage ran (or was reused): it is part of the job
        stage_results = [*stage_results, signed]
    result = _publish(settings, ingested, transcribed, stage_results, muxed, output, params)
    result["provenance"] = record_publication(settings, ingested, stage_results, muxed, result, params)
    result["manifest"] = write_job_manifest(open_settings_store(settings), ingested, stage_results, muxed, result)
    progress.emit("publish", "done", **result)
    return result


def _location(settings: Settings, ingested: dict[str, Any], output: str) -> str:
    """Where the outputs go, as publish reports it (a resolved folder, or a store URI)."""
    location = output or open_settings_store(settings).uri(f"outputs/{ingested['source_sha256'][:16]}")
    return str(_local_dir(location)) if _is_local(location) else location


def _publish(
    settings: Settings,
    ingested: dict[str, Any],
    transcribed: dict[str, Any],
    stage_results: list[dict[str, Any]],
    muxed: dict[str, Any],
    output: str,
    params: dict[str, Any],
) -> dict[str, Any]:
    store = open_settings_store(settings)
    stem = ingested["stem"]
    media_out = muxed.get("media") or {muxed["media_ext"]: muxed["media_uri"]}
    names: dict[str, str] = {f"{stem}.dub.{ext}": uri for ext, uri in media_out.items()}
    if params.get("stems"):
        marked = {
            r["language"]: r["dub_stem_uri"] for r in stage_results if r.get("stage") == "mix" and r.get("dub_stem_uri")
        }
        for r in stage_results:
            if r.get("stage") == "separate" and r.get("bed_uri"):
                names[f"{stem}.stem.dialogue.wav"] = r["dialogue_uri"]
                names[f"{stem}.stem.bed.wav"] = r["bed_uri"]
            if r.get("stage") == "fit":
                names[f"{stem}.stem.dub.{r['language']}.wav"] = marked.get(r["language"], r["dub_speech_uri"])
    for lang, by_ext in muxed["subtitles"].items():
        for ext, uri in by_ext.items():
            names[f"{stem}.{lang}.{ext}"] = uri
    location = _location(settings, ingested, output)
    report_name = f"{stem}.report.json"
    if _is_local(location):
        folder = _local_dir(location)
        folder.mkdir(parents=True, exist_ok=True)
        files = {n: str(folder / n) for n in names}
        report = build_report(
            ingested,
            transcribed,
            stage_results,
            muxed,
            {**files, "report": str(folder / report_name)},
            params,
            _timing_lines(store, stage_results),
        )
        for name, uri in names.items():
            src = store.local_path(key_of(store, uri), settings.data_dir / "work" / "publish")
            _atomic_copy(src, folder / name)
        _atomic_write(folder / report_name, json.dumps(report, indent=1).encode())
        return {"location": str(folder), "files": files, "report": str(folder / report_name)}
    target = open_store(location, settings)
    files = {n: target.uri(n) for n in names}
    report = build_report(
        ingested,
        transcribed,
        stage_results,
        muxed,
        {**files, "report": target.uri(report_name)},
        params,
        _timing_lines(store, stage_results),
    )
    for name, uri in names.items():
        copy_object(store, key_of(store, uri), target, name, settings.data_dir / "work" / "publish")
    target.put_bytes(report_name, json.dumps(report, indent=1).encode())
    # delivery links: presigned (S3, expiring after DUBLINE_S3_PRESIGN_EXPIRY_S) or file:// URIs
    links = {n: target.presign(n) for n in [*names, report_name]}
    return {"location": location, "files": files, "report": target.uri(report_name), "links": links}


def _atomic_copy(src: Path, dest: Path) -> None:
    fd, tmp = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=".part", dir=dest.parent)
    os.close(fd)
    try:
        shutil.copyfile(src, tmp)
        os.replace(tmp, dest)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _atomic_write(dest: Path, data: bytes) -> None:
    fd, tmp = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=".part", dir=dest.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, dest)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


__all__ = ["mux", "publish", "build_report", "StageRun"]
