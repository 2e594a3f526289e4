"""ingest: check the input, store it, and derive the two audio copies every later stage uses.

A 16 kHz mono WAV for speech recognition and a 48 kHz stereo WAV for mixing, both cut or padded to the
input's exact duration so the delivered tracks line up with the picture.
"""

from __future__ import annotations

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


def check_input(path_or_uri: str, scratch_dir: str | None = None) -> media.MediaInfo:
    """Probe an input without storing anything: what the CLI calls before it starts a run."""
    return media.probe(resolve_input(path_or_uri, Path(scratch_dir or "/tmp")))


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
    source_sha = sha256_file(src)

    def work(run: StageRun) -> Ingested:
        asr = media.extract_audio(src, run.scratch / "asr16k.wav", ASR_RATE, 1, duration=info.duration)
        if media.peak_dbfs(asr) < media.SILENCE_DBFS:
            raise InputError(
                f"input {src} has a silent audio track (peak below {media.SILENCE_DBFS:.0f} dBFS)",
                "give a file whose soundtrack has the speech to dub",
            )
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
