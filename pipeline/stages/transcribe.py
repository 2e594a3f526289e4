"""transcribe: Whisper (faster-whisper or openai-whisper) on the 16 kHz copy, into the Script."""

from __future__ import annotations

from pipeline.core.config import Settings
from pipeline.core.engines import get_asr
from pipeline.core.errors import InputError
from pipeline.core.script import Segment, WordTiming
from pipeline.core.stagerun import StageRun, run_stage
from pipeline.stages.common import load_script, save_script
from pipeline.stages.contracts import Ingested, Transcribed


def transcribe(
    settings: Settings, ingested: Ingested, source_language: str | None, require_speech: bool = True
) -> Transcribed:
    """The programme's speech as the Script's segments. `require_speech`: a programme with no speech at all is
    bad input for a dub (nothing to dub), but a valid one for audio description (all of it is a gap)."""
    asr = get_asr(settings)
    lang = (source_language or "").strip().lower() or None
    material = {
        "source_sha256": ingested.source_sha256,
        "language": lang,
        "model": asr.info.as_dict(),
        "backend": settings.asr_backend,
        "beam": settings.asr_beam_size,
        "compute": settings.asr_compute_type,
        "vad": settings.asr_vad if settings.asr_backend == "faster-whisper" else False,
    }
    if not require_speech:  # a result with no segments is not one a dub may reuse
        material["speech_optional"] = True

    def work(run: StageRun) -> Transcribed:
        script = load_script(run.store, ingested.script_uri).revised("transcribe")
        audio = run.fetch(ingested.asr_audio_uri)
        result = asr.transcribe(audio, language=lang)
        segments: list[Segment] = []
        end_of_audio = ingested.duration
        for seg in result.segments:
            text = seg.text.strip()
            if not text or seg.start >= end_of_audio - 0.05:
                continue  # nothing said, or a segment Whisper hallucinated past the end of the audio
            words = [
                WordTiming(
                    text=w.text.strip(), start=max(0.0, w.start), end=max(w.start, w.end), probability=w.probability
                )
                for w in seg.words
                if w.text.strip()
            ]
            start = words[0].start if words else seg.start
            end = min(words[-1].end if words else seg.end, end_of_audio)
            segments.append(
                Segment(
                    id=f"s{len(segments) + 1:04d}", start=max(0.0, start), end=max(start, end), text=text, words=words
                )
            )
        if not segments and require_speech:
            raise InputError(
                f"no speech was found in {script.source.filename}",
                "check that the file has spoken words; give --from if the language is unusual",
            )
        script.segments = segments
        script.source.language = result.language
        script.source.language_probability = round(result.language_probability, 3)
        return Transcribed(
            script_uri=save_script(run, script),
            language=result.language,
            language_probability=round(result.language_probability, 3),
            segments=len(segments),
            words=sum(len(s.words) for s in segments),
            model=asr.info.as_dict(),
        )

    return run_stage(settings, "transcribe", material, work, Transcribed)
