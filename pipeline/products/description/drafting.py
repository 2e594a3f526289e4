"""`dubline describe draft VIDEO`: a draft description script for a describer to edit, written as DAPT.

The picture's scene changes and the on-screen text of each new slide or title (draft.py: ffmpeg scene
detection, Tesseract OCR) become untimed cues marked as drafts, each anchored at the start of the dialogue gap
nearest to where it appears (the gaps from Silero VAD on the programme's audio: no transcription is needed
for a draft). Nothing is spoken: a describer edits the draft, then runs `dubline describe` with it.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import soundfile as sf

from pipeline.audio import media
from pipeline.core.config import Settings
from pipeline.core.errors import InputError
from pipeline.core.inputs import resolve_input
from pipeline.text.descriptions.dialogue import GUARD_S, MERGE_S, MIN_GAP_S

DEFAULT_LANGUAGE = "en"


def draft_file(settings: Settings, video: str, language: str, out: Path) -> Path:
    from models.vad import speech_regions
    from pipeline.products.description.draft import draft_script
    from pipeline.text.descriptions.dapt import write_dapt
    from pipeline.text.descriptions.dialogue import dialogue_spans, gaps

    scratch = settings.data_dir / "work" / "draft"
    scratch.mkdir(parents=True, exist_ok=True)
    src = resolve_input(video, scratch, settings)
    info = media.probe(src)
    if not info.has_video:
        raise InputError(f"{src.name} has no picture", "a draft describes the picture: give the video file")
    wav = media.extract_audio(src, scratch / f"{src.stem}.16k.wav", 16000, 1, duration=info.duration)
    audio, _ = sf.read(str(wav), dtype="float32")
    vad = speech_regions(np.asarray(audio, dtype=np.float32))
    spans = dialogue_spans(vad, [], guard_s=GUARD_S, merge_s=MERGE_S, programme_end=info.duration)
    free = gaps(spans, info.duration, min_gap_s=MIN_GAP_S)
    lang = language.strip().lower() or DEFAULT_LANGUAGE
    script = draft_script(src, free, lang, info.duration)
    out.mkdir(parents=True, exist_ok=True)
    dest = out / f"{src.stem}.draft.dapt.xml"
    return write_dapt(script.cues, dest, lang, "preRecording", title=f"{src.stem} (draft)")
