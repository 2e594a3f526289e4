"""mix: one language's dub track: the dub speech over the music-and-effects bed (or, in voice-over mode,
over the original ducked beneath it), then normalized to the delivery loudness profile, then marked with
the inaudible watermark that identifies it (pipeline/ledger/marking.py)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import soundfile as sf

from pipeline.audio import loudness
from pipeline.audio.mixing import duck_gain, mix_files_over, mix_over
from pipeline.core.config import Settings
from pipeline.core.errors import ConfigError
from pipeline.core.stagerun import StageRun, run_stage
from pipeline.ledger import marking
from pipeline.stages.contracts import Ingested, Mixed, Separated, SpeechTrack
from pipeline.stages.ingest import MIX_RATE

MODES = ("replace", "voiceover")


def mix(
    settings: Settings,
    ingested: Ingested,
    separated: Separated | None,
    fitted: SpeechTrack,
    loudness_profile: str | None = None,
    bed: str | None = None,
) -> Mixed:
    """`bed`: a bed laid under the programme's silent stretches (pipeline.audio.beds spec); None = the
    settings' (empty = none)."""
    lang = fitted.language
    bed_spec = settings.bed if bed is None else bed
    mode = settings.mix_mode
    if mode not in MODES:
        raise ConfigError(f"unknown mix mode {mode!r}", f"set DUBLINE_MIX_MODE to one of {', '.join(MODES)}")
    prof = loudness.profile(loudness_profile or settings.loudness_profile)
    bed_uri = separated.bed_uri if separated is not None else None
    on_bed = mode == "replace" and bed_uri is not None
    base_uri = bed_uri if on_bed else ingested.full_audio_uri
    duck_db = settings.bed_duck_db if on_bed else settings.duck_db
    params: dict[str, Any] = {
        "mode": mode,
        "base": "bed" if on_bed else "original",
        "duck_db": duck_db,
        "attack": settings.duck_attack_s,
        "release": settings.duck_release_s,
        "dub_gain_db": settings.dub_gain_db,
        "loudness_profile": prof.name,
    }
    # the base's URI (the bed or the original) after the params: params' "base" (its kind) must not hide it,
    # or a mix made on one bed would be reused for another (Spleeter installed after a DSP run, say)
    # as a key inside the store (content-addressed), not a URI: the same job in a data folder that moved gets
    # the same mix, and so the same watermark payload
    material = {**params, "base": store_key(settings, base_uri), "source": ingested.source_sha256, "dub": fitted.key}
    material["watermark"] = marking.material(settings)
    if bed_spec:
        material["bed"] = bed_material(settings, bed_spec)

    def work(run: StageRun) -> Mixed:
        base_path, dub_path = run.fetch(str(base_uri)), run.fetch(fitted.dub_speech_uri)
        sr, sr2 = sf.info(str(base_path)).samplerate, sf.info(str(dub_path)).samplerate
        if sr != MIX_RATE or sr2 != MIX_RATE:
            raise ConfigError(f"mix expects {MIX_RATE} Hz stems, got {sr} and {sr2}", "re-run ingest")
        spans = [(float(a), float(b)) for a, b in fitted.spans]
        base: np.ndarray | Path = base_path  # streamed from the file, unless a bed is laid into it
        speech: np.ndarray | Path = dub_path
        laid = None
        if bed_spec:
            whole, _ = sf.read(str(base_path), dtype="float32", always_2d=True)
            base, laid = with_bed(settings, run, whole, spans, bed_spec, ingested.source_sha256)
            del whole
        done = duck_mix_master(settings, run, base, speech, spans, duck_db, settings.dub_gain_db, prof, f"mix_{lang}")
        stem = run.scratch / f"dub_{lang}.wav"  # the dub speech alone, for delivery as a stem: marked too
        stem_mark = marking.mark_copy(
            settings, run.fetch(fitted.dub_speech_uri), stem, marking.payload_for(run.prefix)
        )
        return Mixed(
            language=lang,
            mix_uri=run.put(done.path.name, done.path),
            peak_scale=round(done.scale, 4),
            loudness=done.loudness,
            watermark=done.mark,
            dub_stem_uri=run.put(stem.name, stem) if stem_mark else None,
            bed=laid,
            **params,
        )

    return run_stage(settings, "mix", material, work, Mixed, label=lang)


def store_key(settings: Settings, uri: str | None) -> str | None:
    """`uri`'s key inside the job's store (the URI itself where it lies elsewhere)."""
    from pipeline.core.errors import StageError
    from pipeline.core.stagerun import open_settings_store
    from pipeline.core.storage import key_of

    if uri is None:
        return None
    try:
        return key_of(open_settings_store(settings), uri)
    except StageError:
        return uri


def bed_material(settings: Settings, spec: str) -> dict[str, Any]:
    """What a laid bed depends on (for a stage's content key): its spec (a user's file by its sha256), level
    and ducking. Checks the spec, so a bad one is refused before any work."""
    from pipeline.audio.beds import parse_bed_spec

    parsed = parse_bed_spec(spec)
    doc: dict[str, Any] = {"spec": spec, "level_db": settings.bed_level_db}
    doc["duck_db"] = settings.bed_duck_under_speech_db
    path = getattr(parsed, "path", None)
    if path:
        from models.registry import sha256_file

        doc["sha256"] = sha256_file(Path(path))
    return doc


def with_bed(
    settings: Settings, run: StageRun, base: np.ndarray, spans: list[tuple[float, float]], spec: str, seed_from: str
) -> tuple[np.ndarray, dict[str, Any] | None]:
    """`base` with the bed `spec` laid under its silent stretches and ducked under `spans` (the speech laid
    over it), and the bed's provenance (generated, source, licence, figures); `base` unchanged when no bed."""
    if not spec:
        return base, None
    from pipeline.audio.beds import make_bed
    from pipeline.audio.mixing import lay_bed

    seconds = base.shape[0] / MIX_RATE
    made = make_bed(spec, seconds, run.scratch / "laid_bed.wav", seed=int(seed_from[:8] or "0", 16), rate=MIX_RATE)
    bed, _ = sf.read(str(made.path), dtype="float32", always_2d=True)
    out, figures = lay_bed(
        base,
        bed,
        MIX_RATE,
        spans,
        settings.bed_level_db,
        settings.bed_duck_under_speech_db,
        settings.duck_attack_s,
        settings.duck_release_s,
    )
    return out, {"spec": made.spec, **made.provenance, **figures}


@dataclass
class Mastered:
    """A mixed, normalized and marked track: the WAV, the base's gain curve, the peak scale, the loudness."""

    path: Path
    gain: np.ndarray | None  # None unless asked for (keep_gain)
    scale: float
    loudness: dict[str, Any]
    mark: dict[str, Any] | None


def duck_mix_master(
    settings: Settings,
    run: StageRun,
    base: np.ndarray | Path,
    speech: np.ndarray | Path,
    spans: list[tuple[float, float]],
    duck_db: float,
    gain_db: float,
    prof: loudness.Profile,
    name: str,
    keep_gain: bool = False,
) -> Mastered:
    """`speech` (mono) over `base` (48 kHz), the base ducked by `duck_db` under `spans` (the settings' attack
    and release), the speech at `gain_db`; normalized to `prof`, then marked with the watermark (synthetic
    speech carries it; put in last, so the track is measured again). What a dub's mix and an AD mix share.
    `base` and `speech` are arrays, or WAV files (then the mix is streamed block by block, and no copy of the
    programme is held: a 10-minute dub's mix peaked at 2.4 GB holding them). The base's gain curve is returned
    with `keep_gain` (one value per sample), and otherwise dropped before the track is marked."""
    n = base.shape[0] if isinstance(base, np.ndarray) else int(sf.info(str(base)).frames)
    gain = duck_gain(spans, n, MIX_RATE, duck_db, settings.duck_attack_s, settings.duck_release_s)
    raw = run.scratch / f"{name}_raw.wav"
    if isinstance(base, np.ndarray):
        speech_arr = speech if isinstance(speech, np.ndarray) else sf.read(str(speech), dtype="float32")[0]
        out, scale = mix_over(base, speech_arr, gain, gain_db)
        sf.write(str(raw), out, MIX_RATE, subtype="FLOAT")
        del out, speech_arr
    else:
        if isinstance(speech, np.ndarray):
            raise TypeError("a streamed base takes the speech as a WAV file")
        scale = mix_files_over(base, speech, gain, raw, gain_db)
    kept = gain if keep_gain else None
    del gain
    path = run.scratch / f"{name}.wav"
    before, after = loudness.normalize(raw, path, prof, MIX_RATE)
    mark = marking.mark_track(settings, path, marking.payload_for(run.prefix), prof)
    after = mark.measured or after
    measured = {"profile": prof.name, "before": before.as_dict(), **after.as_dict(), "meets": after.meets(prof)}
    return Mastered(path, kept, scale, measured, mark.info)
