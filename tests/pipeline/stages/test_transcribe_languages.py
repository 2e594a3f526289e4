"""Speech in a second language is found and said: the transcribe stage hears the programme in windows and
names the stretches Whisper hears as another language than the one the whole is transcribed and translated as."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from pipeline.core.script import Segment
from pipeline.stages import transcribe as stage

ENGLISH = [
    "The museum opens at nine in the morning and closes at six in the evening.",
    "Visitors can see paintings from the seventeenth century in the east wing.",
    "Guided tours leave from the main hall every hour, and they are free.",
]
SPANISH = [
    "El tren sale de la estación a las ocho y llega a Madrid por la tarde.",
    "Los viajeros pueden comprar sus billetes en la taquilla o por internet.",
    "En verano hace mucho calor, así que conviene llevar agua y un sombrero.",
]


def _seg(i: int, start: float, end: float) -> Segment:
    return Segment(id=f"s{i:04d}", start=start, end=end, text="x")


def test_windows_are_a_grid_over_the_speech_with_the_lines_they_overlap() -> None:
    speech = [(2.0, 7.0), (8.0, 14.0), (15.0, 26.0), (30.0, 31.0), (40.0, 41.0), (46.0, 47.5)]
    segs = [_seg(1, 2, 7), _seg(2, 8, 26)]  # one long line across 17 s; the speech after 30 s not transcribed
    windows = stage.language_windows(speech, segs)
    # 2-17: 13 s of speech, s1 and s2; 17-32: 10 s, s2; 32-47: 2 s, left out; 47-47.5: too little
    assert [(a, b, [s.id for s in w]) for a, b, _, w in windows] == [
        (2.0, 17.0, ["s0001", "s0002"]),
        (17.0, 32.0, ["s0002"]),
    ]
    assert windows[1][2] == [(17.0, 26.0), (30.0, 31.0)]


def test_a_programme_of_one_window_is_not_checked(tmp_path: Path) -> None:
    class NeverAsked:
        def detect_language(self, samples: object) -> tuple[str, float]:
            raise AssertionError("one window: the whole's language stands")

    t = np.arange(16000 * 10) / 16000
    wav = tmp_path / "short.wav"
    sf.write(str(wav), (0.3 * np.sin(2 * np.pi * 200 * t) * (1 + np.sin(2 * np.pi * 3 * t))).astype(np.float32), 16000)
    assert stage.other_languages(NeverAsked(), wav, [_seg(1, 0, 8)], "en") == []  # type: ignore[arg-type]


@pytest.mark.slow
def test_spanish_after_english_is_found_with_its_lines(tmp_path: Path) -> None:
    from pipeline.core.config import Settings
    from pipeline.core.engines import get_asr, get_tts_engines

    settings = Settings()
    tts = {e.name: e for e in get_tts_engines(settings)}
    if "piper" not in tts or "pico" not in tts:
        pytest.skip("the Piper and Pico voices are not installed (`dubline models install`)")
    parts = []
    for engine, lang, texts in (("piper", "en", ENGLISH), ("pico", "es", SPANISH)):
        for i, text in enumerate(texts):
            wav = Path(tts[engine].synthesize(text, tts[engine].voice_for(lang), tmp_path / f"{lang}{i}.wav"))
            x, rate = sf.read(str(wav), dtype="float32", always_2d=True)
            import scipy.signal as sig

            parts += [sig.resample_poly(x[:, 0], 16000, rate).astype(np.float32), np.zeros(8000, np.float32)]
    audio = tmp_path / "bilingual.wav"
    sf.write(str(audio), np.concatenate(parts), 16000)
    asr = get_asr(settings)
    heard = asr.transcribe(audio, language="en")  # as a user who said --from en would have it
    segments = [
        Segment(id=f"s{i + 1:04d}", start=s.start, end=s.end, text=s.text) for i, s in enumerate(heard.segments)
    ]
    others = stage.other_languages(asr, audio, segments, "en")
    spanish_start = sum(len(p) for p in parts[: 2 * len(ENGLISH)]) / 16000
    print(f"\n  {len(segments)} lines; Spanish from {spanish_start:.1f} s; found {others}")
    assert len(others) == 1 and others[0]["language"] == "es"
    assert abs(float(others[0]["start"]) - spanish_start) < stage.WINDOW_S  # type: ignore[arg-type]
    line = stage.other_language_warning("en", others[0])
    assert "sounds like Spanish" in line and "not English" in line
