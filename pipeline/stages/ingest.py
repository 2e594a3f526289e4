"""ingest: check the input, store it, and derive the two audio copies every later stage uses.

A 16 kHz mono WAV for speech recognition and a 48 kHz stereo WAV for mixing, both cut or padded to the
input's exact duration so the delivered tracks line up with the picture.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from models.registry import sha256_file
from pipeline.audio import media
from pipeline.core.config import Settings
from pipeline.core.errors import ConfigError, InputError
from pipeline.core.inputs import resolve_input
from pipeline.core.script import Script, SourceInfo
from pipeline.core.stagerun import StageRun, run_stage
from pipeline.stages.common import save_script
from pipeline.stages.contracts import Ingested

ASR_RATE = 16000
MIX_RATE = 48000
MIN_SECONDS = 1.0  # shorter audio holds no line worth dubbing
MAX_READ_ERRORS = 5  # more errors reading an input than this, and it is refused as damaged
SHORT_BY_S = 1.0  # audio that decodes this much (or 2 %) shorter than it declares is cut short: refused


@dataclass(frozen=True)
class CheckedInput:
    """An input that can be dubbed whole: its facts, and what a user should know about it."""

    info: media.MediaInfo
    warnings: list[str]


def check_input(path_or_uri: str, scratch_dir: str | None = None) -> CheckedInput:
    """Probe and read an input without storing anything: what the CLI calls before it starts a run."""
    src = resolve_input(path_or_uri, Path(scratch_dir or "/tmp"))
    info = media.probe(src)
    return CheckedInput(info, check_media(src, info))


def check_media(src: Path, info: media.MediaInfo) -> list[str]:
    """Refuse an input that cannot be dubbed whole, before any work; the warnings for one that can.

    A damaged input (more than MAX_READ_ERRORS errors reading it, or audio that ends well before its declared
    length: a truncated download, a file cut while copying) is refused, never dubbed in part: a dub of what
    was readable would be a partial result presented as done. A few errors are a warning in the job report
    (the dub may click or skip there). So are audio tracks after the first: the first is dubbed, the others
    are not delivered. The warnings do not name the file: a content-addressed ingest is reused for a
    byte-identical input of another name."""
    name = src.name
    if info.audio_duration < MIN_SECONDS:
        raise InputError(
            f"input {name} has {info.audio_duration:.2f} s of audio, too short to dub",
            f"give a recording of at least {MIN_SECONDS:.0f} s of speech",
        )
    read = media.decode_check(src, info.has_video)
    short_by = info.audio_duration - read.seconds
    damaged = []
    if read.errors > MAX_READ_ERRORS:
        damaged.append(f"{read.errors} errors reading it (first: {_ffmpeg_line(read.first_errors[0])})")
    if short_by > max(SHORT_BY_S, 0.02 * info.audio_duration):
        damaged.append(f"its audio ends at {read.seconds:.1f} s of the {info.audio_duration:.1f} s it declares")
    held = max(info.streams_duration, read.seconds)  # the programme's length drives every later stage
    if not damaged and info.duration - held > max(SHORT_BY_S, 0.02 * held):
        damaged.append(f"it declares {info.duration:.1f} s but its streams hold {held:.1f} s")
    if damaged:
        raise InputError(
            f"input {name} is damaged: {'; '.join(damaged)}",
            "re-export or re-download it (dubline does not dub part of a damaged file)",
        )
    if read.peak_dbfs < media.SILENCE_DBFS:
        raise InputError(
            f"input {name} has a silent audio track (peak below {media.SILENCE_DBFS:.0f} dBFS)",
            "give a file whose soundtrack has the speech to dub",
        )
    warnings = []
    if read.errors:
        warnings.append(
            f"ffmpeg reported {read.errors} error(s) reading the input (first: "
            f"{_ffmpeg_line(read.first_errors[0])}); the dub may click or skip there"
        )
    if len(info.audio_tracks) > 1:
        warnings.append(
            f"the input has {len(info.audio_tracks)} audio tracks ({', '.join(info.audio_tracks)}): the first is "
            "dubbed and delivered as the original; the others are not delivered"
        )
    return warnings


def _ffmpeg_line(line: str) -> str:
    """An ffmpeg error line without its object address: "[aac @ 0x55d0...] Too large" -> "[aac] Too large"."""
    return re.sub(r" @ 0x[0-9a-f]+\]", "]", line)[:160]


DENOISE_MODES = ("off", "auto", "speech", "all")


def ingest(settings: Settings, input_uri: str, denoise: str = "") -> Ingested:
    """`denoise` (off | auto | speech | all; empty = the settings'): `speech` cleans the 16 kHz copy (what
    transcription, diarization and casting hear), `auto` does so when that copy's SNR is below
    `denoise_snr_db`, `all` cleans the 48 kHz mix copy too (before separation: the bed then loses its noise,
    and a denoiser also thins music, so it is for noisy speech-only programmes)."""
    mode = (denoise or settings.denoise).strip().lower()
    if mode not in DENOISE_MODES:
        raise ConfigError(f"unknown denoise mode {mode!r}", f"use one of {', '.join(DENOISE_MODES)}")

    scratch = settings.data_dir / "work" / "inputs"
    scratch.mkdir(parents=True, exist_ok=True)
    src = resolve_input(input_uri, scratch, settings)
    info = media.probe(src)
    warnings = check_media(src, info)  # a damaged, silent or too short input is refused here
    source_sha = sha256_file(src)

    def work(run: StageRun) -> Ingested:
        asr = media.extract_audio(src, run.scratch / "asr16k.wav", ASR_RATE, 1, duration=info.duration)
        full = media.extract_audio(src, run.scratch / "full48k.wav", MIX_RATE, 2, duration=info.duration)
        cleaned = _denoise(settings, mode, asr, full) if mode != "off" else None
        # checks passed: now store the source and its derived copies
        source_uri = run.put(f"source{src.suffix.lower()}", src)
        asr_uri = run.put("asr16k.wav", asr)
        full_uri = run.put("full48k.wav", full)
        script = Script(
            source=SourceInfo(
                uri=source_uri,
                sha256=source_sha,
                filename=src.name,
                duration=info.duration,
                has_video=info.has_video,
            )
        )
        return Ingested(
            source_uri=source_uri,
            source_sha256=source_sha,
            filename=src.name,
            stem=Path(src.name).stem,
            duration=info.duration,
            has_video=info.has_video,
            video_codec=info.video_codec,
            asr_audio_uri=asr_uri,
            full_audio_uri=full_uri,
            script_uri=save_script(run, script),
            denoise=cleaned,
            warnings=warnings,
        )

    material: dict[str, object] = {"source_sha256": source_sha, "rates": [ASR_RATE, MIX_RATE]}
    if mode != "off":
        material["denoise"] = {"mode": mode, "engine": settings.denoise_engine, "below_db": settings.denoise_snr_db}
    return run_stage(settings, "ingest", material, work, Ingested)


def _denoise(settings: Settings, mode: str, asr: Path, full: Path) -> dict[str, object]:
    """Clean the copies `mode` asks for, in place; what was measured and done (for the report)."""
    import soundfile as sf

    from pipeline.audio.denoise import clean_audio, estimate_snr_db, needs_denoise

    samples, rate = sf.read(str(asr), dtype="float32")
    snr = round(float(estimate_snr_db(samples, rate)), 2)
    doc: dict[str, object] = {"mode": mode, "snr_db": snr, "below_db": settings.denoise_snr_db}
    if mode == "auto" and not needs_denoise(snr, settings.denoise_snr_db):
        return {**doc, "applied": []}
    applied = []
    for name, path in [("speech", asr)] + ([("mix", full)] if mode == "all" else []):
        done = clean_audio(path, path.with_name(f"clean_{path.name}"), settings.denoise_engine)
        done.path.replace(path)
        applied.append({"copy": name, **done.as_dict()})
    return {**doc, "applied": applied}
