"""transcribe: Whisper (faster-whisper or openai-whisper) on the 16 kHz copy, into the Script."""

from __future__ import annotations

from pathlib import Path
from typing import Any, cast

from models.base import ASR
from pipeline.core.config import Settings
from pipeline.core.engines import get_asr
from pipeline.core.errors import InputError
from pipeline.core.script import Segment, WordTiming
from pipeline.core.stagerun import JsonDoc, StageRun, run_stage
from pipeline.stages.common import load_script, save_script
from pipeline.stages.contracts import Ingested, Transcribed
from pipeline.text.translation.prompt import language_name


def transcribe(
    settings: Settings, ingested: Ingested, source_language: str | None, require_speech: bool = True
) -> Transcribed:
    """The programme's speech as the Script's segments. `require_speech`: a programme with no speech at all is
    bad input for a dub (nothing to dub), but a valid one for audio description (all of it is a gap)."""
    asr = get_asr(settings)
    lang = (source_language or "").strip().lower() or None
    material: dict[str, object] = {
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
                f"no speech was found in {ingested.filename}",
                "check that the file has spoken words; give --from if the language is unusual",
            )
        script.segments = segments
        script.source.language = result.language
        script.source.language_probability = round(result.language_probability, 3)
        others = other_languages(asr, audio, segments, result.language) if settings.asr_language_check else []
        return Transcribed(
            script_uri=save_script(run, script),
            language=result.language,
            language_probability=round(result.language_probability, 3),
            segments=len(segments),
            words=sum(len(s.words) for s in segments),
            model=asr.info.as_dict(),
            other_languages=others,
            warnings=[other_language_warning(result.language, o) for o in others],
        )

    material["language_check"] = (
        {"window_s": WINDOW_S, "min_speech_s": MIN_WINDOW_SPEECH_S, "min_p": OTHER_MIN_P}
        if settings.asr_language_check
        else None
    )
    return run_stage(settings, "transcribe", material, work, Transcribed)


WINDOW_S = 15.0  # the lines are checked in windows of up to this span (Whisper tells a language from 10 s well)
MIN_WINDOW_SPEECH_S = 4.0  # less speech than this in a window is too little to tell its language
OTHER_MIN_P = 0.7  # a window is in another language when Whisper gives that language at least this probability


def language_windows(
    speech: list[tuple[float, float]], segments: list[Segment]
) -> list[tuple[float, float, list[tuple[float, float]], list[Segment]]]:
    """The programme's speech (voice activity regions) cut into windows of WINDOW_S from its first word, each
    as (start, end, the speech in it, the lines that overlap it). Windows with less than MIN_WINDOW_SPEECH_S of
    speech are left out (too little to tell a language). The speech, not the lines, makes the windows: Whisper
    told to hear one language may make one long line across a change of language, or drop the other
    language's speech altogether (then the window has no lines)."""
    if not speech:
        return []
    t0, t_end = speech[0][0], speech[-1][1]
    windows = []
    k = 0
    while t0 + k * WINDOW_S < t_end:
        a, b = t0 + k * WINDOW_S, min(t0 + (k + 1) * WINDOW_S, t_end)
        spans = [(max(x, a), min(y, b)) for x, y in speech if y > a and x < b]
        if sum(y - x for x, y in spans) >= MIN_WINDOW_SPEECH_S:
            windows.append((a, b, spans, [s for s in segments if s.end > a and s.start < b]))
        k += 1
    return windows


def other_languages(asr: ASR, audio: Path, segments: list[Segment], language: str) -> list[JsonDoc]:
    """Stretches of the programme whose speech Whisper hears as another language than `language` (the one the
    whole is transcribed and translated as): each with its lines (none where Whisper left that speech out),
    times, language and probability. A programme of one window is not checked (its language is the whole's)."""
    import numpy as np
    import soundfile as sf

    from models.vad import speech_regions

    samples, rate = sf.read(str(audio), dtype="float32")
    windows = language_windows(speech_regions(samples), segments) if rate == 16000 else []
    if len(windows) < 2:
        return []
    found: list[dict[str, Any]] = []
    previous_flagged = False
    for _a, _b, spans, lines in windows:
        lang, p = asr.detect_language(np.concatenate([samples[int(x * rate) : int(y * rate)] for x, y in spans]))
        if lang == language or p < OTHER_MIN_P:
            previous_flagged = False
            continue
        last = found[-1] if found else None
        ids = [s.id for s in lines]
        if previous_flagged and last is not None and last["language"] == lang:
            last["lines"] += [i for i in ids if i not in last["lines"]]
            last["end"] = round(spans[-1][1], 2)
            last["probability"] = round(min(last["probability"], p), 3)
        else:
            found.append(
                {
                    "start": round(spans[0][0], 2),
                    "end": round(spans[-1][1], 2),
                    "lines": ids,
                    "language": lang,
                    "probability": round(p, 3),
                }
            )
        previous_flagged = True
    return cast(list[JsonDoc], found)


def other_language_warning(language: str, other: JsonDoc) -> str:
    """The report's line for one stretch (no file name: the result is reused for a byte-identical input)."""
    o = cast(dict[str, Any], other)
    lines = o["lines"]
    span = f"lines {lines[0]}-{lines[-1]}" if len(lines) > 1 else f"line {lines[0]}" if lines else "not transcribed"
    return (
        f"the speech at {_clock(o['start'])}-{_clock(o['end'])} ({span}) "
        f"sounds like {language_name(o['language'])} (p {o['probability']:.2f}), not "
        f"{language_name(language)}: it is transcribed and translated as {language_name(language)}; check those "
        "lines (`dubline script export`), or give each language its own job"
    )


def _clock(t: float) -> str:
    return f"{int(t // 60):02d}:{t % 60:04.1f}"
