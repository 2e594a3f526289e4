"""mux: the delivered media and subtitles, built in the store under the stage's content-addressed prefix.

The original track (normalized to the delivery profile) and one dub track per language, in the order the
languages were asked for, tagged with ISO 639-2 codes; then, with `--describe`, one described dub track per
language (disposition visual_impaired, and `descriptions` in mp4; title "Audio description (<lang>)"); the
video stream copied; soft subtitles for every language. publish (`pipeline.products.dubbing.publish`) signs
and delivers what mux made.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from pipeline.audio import loudness, media
from pipeline.core.config import Settings
from pipeline.core.errors import ConfigError
from pipeline.core.stagerun import StageRun, run_stage
from pipeline.products.dubbing.contracts import DescribedDub, Fitted, Muxed
from pipeline.stages.common import load_script, save_script
from pipeline.stages.contracts import Ingested, JsonDoc, Mixed, Transcribed
from pipeline.stages.ingest import MIX_RATE
from pipeline.text.subtitles import profile as subtitle_rules
from pipeline.text.subtitles import script_cues, write_subtitles
from pipeline.text.subtitles import violations as subtitle_violations


def mux(
    settings: Settings,
    ingested: Ingested,
    transcribed: Transcribed,
    fits: Sequence[Fitted],
    mixes: Sequence[Mixed],
    containers: Sequence[str] | None = None,
    subtitle_profile: str | None = None,
    loudness_profile: str | None = None,
    described: Sequence[DescribedDub] = (),
) -> Muxed:
    rules = subtitle_rules(subtitle_profile or settings.subtitle_profile)
    loud = loudness.profile(loudness_profile or settings.loudness_profile)
    wanted = [c.strip().lower().lstrip(".") for c in (containers or ["mp4"]) if c.strip()]
    bad = [c for c in wanted if c not in ("mp4", "mkv", "m4a")]
    if bad:
        raise ConfigError(f"unsupported container {', '.join(bad)}", "ask for mp4, mkv and/or m4a")
    exts = list(dict.fromkeys(wanted)) if ingested.has_video else ["m4a"]
    # keep the order the languages were asked for (map index order): it is the order of the tracks
    by_lang = {m.language: m for m in mixes}
    mixes = [by_lang[f.language] for f in fits]
    ad_by_lang = {d.language: d for d in described}
    ads = [ad_by_lang[f.language] for f in fits if f.language in ad_by_lang]
    material = {
        "source": ingested.source_sha256,
        "transcribed": transcribed.key,
        "fits": [f.key for f in fits],
        "mixes": [m.key for m in mixes],
        "containers": exts,
        "subtitles": rules.name,
        "loudness": loud.name,
        **({"described": [d.key for d in ads]} if ads else {}),
    }

    def work(run: StageRun) -> Muxed:
        script = load_script(run.store, transcribed.script_uri).revised("mux")
        for f in fits:
            lang = f.language
            per_lang = load_script(run.store, f.script_uri)
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
        script.languages = [f.language for f in fits]
        src_lang = transcribed.language
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
        before, after = loudness.normalize(run.fetch(ingested.full_audio_uri), original, loud, MIX_RATE)
        levels: dict[str, JsonDoc] = {
            src_lang: {
                "track": "original",
                "profile": loud.name,
                "before": {**before.as_dict()},
                **after.as_dict(),
                "meets": after.meets(loud),
            }
        }
        for m in mixes:
            levels[m.language] = {"track": "dub", **m.loudness}
        for d in ads:
            levels[f"{d.language}-ad"] = {"track": "audio description", **d.loudness}
        tracks = [(original, media.iso639_2(src_lang), f"Original ({src_lang})")]
        for m in mixes:
            tracks.append((run.fetch(m.mix_uri), media.iso639_2(m.language), f"Dub ({m.language})"))
        for d in ads:
            tracks.append((run.fetch(d.mix_uri), media.iso639_2(d.language), f"Audio description ({d.language})"))
        video = run.fetch(ingested.source_uri) if ingested.has_video else None
        outputs: dict[str, str] = {}
        for ext in exts:
            picture = video if ext != "m4a" else None  # m4a: the audio tracks alone
            flags = None
            if ads:  # the original the default; the described tracks flagged for the visually impaired
                flags = ["default"] + ["0"] * len(mixes) + [media.description_disposition(ext)] * len(ads)
            out = media.mux(
                picture, tracks, run.scratch / f"dub.{ext}", ingested.duration, subtitles=srts, dispositions=flags
            )
            outputs[ext] = run.put(out.name, out)
        return Muxed(
            media_uri=outputs[exts[0]],
            media_ext=exts[0],
            media=outputs,
            subtitles=subs,
            subtitle_profile=rules.name,
            subtitle_checks=sub_checks,
            loudness=levels,
            script_uri=save_script(run, script),
            languages=script.languages,
            source_language=src_lang,
        )

    return run_stage(settings, "mux", material, work, Muxed)
