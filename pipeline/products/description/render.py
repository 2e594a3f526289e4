"""render_described: the deliverables, built in the store under the stage's content-addressed prefix.

- the described media (mp4, mkv on request): the video stream copied; the original track first (normalized
  to the loudness profile), then the AD mix, tagged with the programme's ISO 639-2 language, the disposition
  `visual_impaired` and the title "Audio description";
- with extended description: the extended video (the picture held where a description needs more time, the
  programme's audio paused with it) with its own original and AD tracks;
- the script as placed, as WebVTT and as DAPT (`daptm:scriptType="asRecorded"`, with the spoken times and a
  reference to each line's audio);
- C2PA content credentials on every signable file (mp4; an mkv is delivered unsigned, the report says so).
"""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

from pipeline.audio import loudness, media
from pipeline.core.config import Settings
from pipeline.core.errors import InputError
from pipeline.core.stagerun import StageRun, run_stage
from pipeline.products.description.contracts import ADMixed, Described, DescribeRequest, Rendered, ScriptRead
from pipeline.stages.contracts import Ingested
from pipeline.stages.ingest import MIX_RATE

AD_TITLE = "Audio description"
DESCRIPTION = (
    "audio description: the added track mixes synthetic speech (text to speech) describing the picture into "
    "the programme's gaps between dialogue"
)
RENDER_VERSION = 1


def require_picture(ingested: Ingested) -> None:
    if not ingested.has_video:
        raise InputError(
            f"{ingested.filename} has no picture", "audio description describes a video: give the video file"
        )


def _still_consented(settings: Settings, described: Described) -> None:
    """A person's voice is checked once more before anything is built with it: a consent revoked after the last
    line was spoken stops the job before delivery."""
    if not described.voice.person:
        return
    from models.base import Voice
    from pipeline.products.description.voicing import USE
    from pipeline.voice.consent import require_consent

    v = described.voice
    voice = Voice(v.engine.get("id", ""), v.voice, described.language, v.person)
    require_consent(voice, USE, described.language, date.today(), settings)


def render_described(
    settings: Settings,
    request: DescribeRequest,
    ingested: Ingested,
    read: ScriptRead,
    described: Described,
    mixed: ADMixed,
) -> Rendered:
    from pipeline.ledger.certificates import init_signer

    require_picture(ingested)
    _still_consented(settings, described)
    prof = loudness.profile(request.loudness_profile)
    signer = init_signer(settings)[0].fingerprint() if settings.c2pa_sign else None
    exts = [str(e) for e in dict.fromkeys(request.containers)]
    material = {
        "programme": ingested.source_sha256,
        "script": read.key,
        "described": described.key,
        "mixed": mixed.key,
        "containers": exts,
        "loudness": prof.name,
        "signer": signer,
        "v": RENDER_VERSION,
    }

    def work(run: StageRun) -> Rendered:
        return _render(settings, run, ingested, read, described, mixed, exts, prof)

    return run_stage(settings, "render_described", material, work, Rendered, label=ingested.stem)


def _render(
    settings: Settings,
    run: StageRun,
    ingested: Ingested,
    read: ScriptRead,
    described: Described,
    mixed: ADMixed,
    exts: list[str],
    prof: loudness.Profile,
) -> Rendered:
    from pipeline.products.description.voicing import load_placed

    lang = described.language
    code = media.iso639_2(lang)
    original = run.scratch / "original.wav"
    before, after = loudness.normalize(run.fetch(ingested.full_audio_uri), original, prof, MIX_RATE)
    tracks = [(original, code, f"Original ({lang})"), (run.fetch(mixed.mix_uri), code, AD_TITLE)]
    video = run.fetch(ingested.source_uri)
    built: dict[str, Path] = {}
    unsigned = run.scratch / "unsigned"
    unsigned.mkdir()
    for ext in exts:
        out = unsigned / f"described.{ext}"
        media.mux(video, tracks, out, ingested.duration, dispositions=["default", media.description_disposition(ext)])
        built[ext] = out
    extended: Path | None = None
    if described.extended and mixed.extended_mix_uri:
        extended = _extended(run, ingested, described, mixed, original, code, lang, unsigned)
    placed = load_placed(settings, described.placed_uri)
    from pipeline.text.descriptions.dapt import write_dapt
    from pipeline.text.descriptions.webvtt_io import write_webvtt

    vtt = write_webvtt(placed, run.scratch / "description.vtt", lang)
    dapt = write_dapt(placed, run.scratch / "description.dapt.xml", lang, "asRecorded", title=read.stem)
    job: dict[str, Any] = {
        "product": "audio_description",
        "input": {"filename": ingested.filename, "sha256": ingested.source_sha256},
        "script": {"filename": read.filename, "sha256": read.sha256},
        "language": lang,
        "voice": described.voice.model_dump(),
    }
    if mixed.bed:  # a bed laid under the silent stretches is machine-made: said so in the credentials
        job["generated_audio"] = [mixed.bed]
    marks = [{"uri": mixed.mix_uri, **mixed.watermark}] if mixed.watermark and "payload" in mixed.watermark else []
    uris: dict[str, str] = {}
    signed: dict[str, Any] = {}
    skipped: dict[str, str] = {}
    files = {**{f"described.{e}": p for e, p in built.items()}, **({"extended.mp4": extended} if extended else {})}
    for name, path in files.items():
        final = path
        if settings.c2pa_sign and path.suffix == ".mp4":
            from pipeline.ledger.signing import sign_checked

            final = run.scratch / name
            signed[name] = sign_checked(settings, path, final, name, job, described.consents, marks, DESCRIPTION)
        elif path.suffix != ".mp4":
            skipped[name] = "C2PA cannot embed a manifest in Matroska (mkv): delivered unsigned"
        uris[name] = run.put(name, final)
    if not settings.c2pa_sign:
        skipped["*"] = "signing is off"
    return Rendered(
        media={e: uris[f"described.{e}"] for e in exts},
        extended_uri=uris.get("extended.mp4"),
        vtt_uri=run.put(vtt.name, vtt),
        dapt_uri=run.put(dapt.name, dapt),
        original_loudness={"profile": prof.name, "before": before.as_dict(), **after.as_dict()},
        c2pa={"signed": signed, "skipped": skipped},
    )


def _extended(
    run: StageRun,
    ingested: Ingested,
    described: Described,
    mixed: ADMixed,
    original: Path,
    code: str,
    lang: str,
    unsigned: Path,
) -> Path:
    """The extended video: the picture held at each hold, the original's audio paused with it, the extended AD
    mix beside it."""
    import soundfile as sf

    from pipeline.products.description.extended import Hold, extend_audio, extended_duration, render_extended_video

    assert mixed.extended_mix_uri is not None
    holds = [Hold(at=a, seconds=s) for a, s in described.holds]
    picture = render_extended_video(
        run.fetch(ingested.source_uri), run.scratch / "extended_video.mp4", holds, ingested.duration
    )
    audio, sr = sf.read(str(original), dtype="float32", always_2d=True)
    ext_original = run.scratch / "original_extended.wav"
    sf.write(str(ext_original), extend_audio(audio, sr, holds), sr, subtype="PCM_16")
    tracks = [(ext_original, code, f"Original ({lang})"), (run.fetch(mixed.extended_mix_uri), code, AD_TITLE)]
    out = unsigned / "extended.mp4"
    length = extended_duration(ingested.duration, holds)
    return media.mux(picture, tracks, out, length, dispositions=["default", media.description_disposition("mp4")])
