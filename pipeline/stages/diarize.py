"""diarize: find the speakers of the 16 kHz copy and give every line of the Script its speaker.

Runs between transcribe and translate (pipeline.speech.diarize holds the method). Its result is the transcribed
result with the new Script revision ("script_uri", "segments"), plus "speakers" (how many) and "diarization"
(the report: speakers, turns, seconds per speaker, segments split), so the stages after it take either.
With DUBLINE_DIARIZE=false it returns the transcribed result as it is, with one speaker.
"""

from __future__ import annotations

from pipeline.core.config import Settings
from pipeline.core.stagerun import StageRun, run_stage
from pipeline.stages.common import load_script, save_script
from pipeline.stages.contracts import Ingested, Transcribed


def diarize(
    settings: Settings, ingested: Ingested, transcribed: Transcribed, speakers: int | None = None
) -> Transcribed:
    """Diarize the job; `speakers` (a job parameter) overrides DUBLINE_DIARIZE_SPEAKERS (0 = estimate)."""
    if not settings.diarize:
        return transcribed.model_copy(update={"speakers": 1})
    from models.speaker import ResemblyzerEncoder
    from models.vad import default_vad

    if speakers is not None:
        settings = settings.model_copy(update={"diarize_speakers": max(0, int(speakers))})
    material = {
        "transcribed": transcribed.key,
        "script": transcribed.script_uri,
        "audio": ingested.asr_audio_uri,
        "speakers": settings.diarize_speakers,
        "max_speakers": settings.diarize_max_speakers,
        "threshold": settings.diarize_threshold,
        "window": settings.diarize_window_s,
        "hop": settings.diarize_hop_s,
        "vad": default_vad().info.as_dict(),
        "encoder": ResemblyzerEncoder().info.as_dict(),
    }

    def work(run: StageRun) -> Transcribed:
        from pipeline.speech.diarize import diarize_script

        script = load_script(run.store, transcribed.script_uri)
        audio = run.fetch(ingested.asr_audio_uri)
        revised, report = diarize_script(script, audio, settings, progress=run.step)
        return transcribed.model_copy(
            update={
                "script_uri": save_script(run, revised),
                "segments": len(revised.segments),
                "speakers": len(revised.speakers),
                "diarization": report,
            }
        )

    return run_stage(settings, "diarize", material, work, Transcribed)
