"""eSpeak NG speech synthesis through the `espeak-ng` command: about 100 languages; 22.05 kHz mono 16-bit WAV."""

from __future__ import annotations

import functools
import math
import re
from pathlib import Path
from xml.sax.saxutils import escape as xml_escape

import numpy as np

from models.base import EngineUnavailable, ModelInfo, Prosody, Voice
from models.system import LazyInfo, base_language, dpkg_version
from models.tts import atomic_wav, check_prosody, check_voice, check_wav, clamp, require_text, run_engine

# Voices preferred where a language has several and none is named by the bare code.
_ESPEAK_PREFERRED = {"en": "en-us"}
# Three-letter voice languages that have a two-letter ISO 639-1 code.
_ISO3_TO_1 = {"cmn": "zh", "yue": "zh", "hyw": "hy"}


def _espeak_iso(tag: str) -> str:
    base = base_language(tag)
    return _ISO3_TO_1.get(base, base)


@functools.lru_cache(maxsize=4)
def _espeak_voice_table(binary: str) -> tuple[dict[str, str], frozenset[str]]:
    """From `espeak-ng --voices`: ISO 639-1 code (3-letter where no 2-letter exists) -> voice name,
    and the set of all voice names."""
    r = run_engine("espeak", [binary, "--voices"], timeout=60)
    # candidates[code] = list of (rank tuple, voice)
    candidates: dict[str, list[tuple[tuple[int, int, int, int], str]]] = {}
    for order, line in enumerate(r.stdout.splitlines()[1:]):
        fields = line.split()
        if len(fields) < 4 or not fields[0].isdigit():
            continue
        pty, tag = int(fields[0]), fields[1].lower()
        others = {t.lower(): int(p) for t, p in re.findall(r"\(([\w-]+) (\d+)\)", line)}
        code = _espeak_iso(tag)
        exact = 0 if tag == code else 1
        candidates.setdefault(code, []).append(((exact, others.get(code, 5), pty, order), tag))
        for other, prio in others.items():
            ocode = _espeak_iso(other)
            if ocode != code:
                candidates.setdefault(ocode, []).append(((2, prio, pty, order), tag))
    table: dict[str, str] = {}
    all_names: set[str] = set()
    for code, cands in candidates.items():
        names = {v for _, v in cands}
        all_names |= names
        preferred = _ESPEAK_PREFERRED.get(code)
        table[code] = preferred if preferred in names else min(cands)[1]
    return table, frozenset(all_names)


# espeak-ng's `-p` (0-99, 50 = the voice's own pitch) moves F0 by these semitones (median F0 of a sentence,
# measured on en-us, es and fr with Praat; the same within 0.5 st for all three): not linear in the value.
_ESPEAK_P = (0, 10, 20, 30, 40, 50, 60, 70, 80, 90, 99)
_ESPEAK_P_ST = (-6.7, -5.8, -4.6, -3.26, -1.7, 0.0, 1.67, 3.52, 5.35, 7.25, 9.0)
# SSML <prosody range> (0-100, 50 = the voice's own F0 range; values above 100 act as 100) also raises the
# median F0 by about this many semitones per unit of range multiplier above 1 (measured: +0.85 st at 1.5 x).
_ESPEAK_RANGE_MEDIAN_ST = 1.75


def espeak_range_value(pitch: float, pitch_range: float) -> int:
    """The SSML `<prosody range>` level (50 = natural) for an F0-range multiplier in semitones. espeak keeps
    its range in Hz, so a higher `-p` narrows it in semitones (measured: pitch 1.2 x -> range 0.83 x, 1.5 x
    -> 0.67 x): the level makes up for that."""
    return clamp(50 * pitch_range * pitch, 0, 100)


def espeak_pitch_value(pitch: float, pitch_range: float = 1.0) -> int:
    """espeak-ng's `-p` value for a pitch multiplier, after the median shift that the range level brings."""
    level = espeak_range_value(pitch, pitch_range)
    semitones = 12.0 * math.log2(pitch) - _ESPEAK_RANGE_MEDIAN_ST * (level / 50 - 1.0)
    return clamp(float(np.interp(semitones, _ESPEAK_P_ST, _ESPEAK_P)), 0, 99)


def espeak_ssml(text: str, range_level: int) -> str:
    """The text, escaped, in SSML with an F0-range level (espeak-ng `-m`)."""
    return f'<speak><prosody range="{range_level}">{xml_escape(text)}</prosody></speak>'


class EspeakTTS(LazyInfo):
    """eSpeak NG through the `espeak-ng` command: about 100 languages, robotic but always there; 22 kHz.

    Prosody: rate -> `-s` words per minute (175, espeak-ng's own default, is rate 1.0); pitch -> `-p` through a
    measured table (see espeak_pitch_value); volume -> `-a` (100 = natural); pitch_range -> SSML
    `<prosody range>` (with `-m`, only when the level is not the natural 50), 0-2 x (espeak caps it there)."""

    name = "espeak"
    binary = "espeak-ng"
    package = "espeak-ng"
    BASE_WPM = 175

    def __init__(self, timeout: float | None = 600.0) -> None:
        self.timeout = timeout

    def _make_info(self) -> ModelInfo:
        return ModelInfo("espeak-ng", dpkg_version(self.package))

    def _table(self) -> dict[str, str]:
        return _espeak_voice_table(self.binary)[0]

    def voice_names(self) -> frozenset[str]:
        return _espeak_voice_table(self.binary)[1]

    def languages(self) -> list[str]:
        return sorted(self._table())

    def voice_for(self, language: str) -> Voice:
        tag = language.strip().replace("_", "-").lower()
        table = self._table()
        if tag in self.voice_names():  # an espeak voice name such as "en-gb" or "pt-br"
            return Voice(engine=self.name, id=tag, language=_espeak_iso(tag))
        code = _espeak_iso(tag)
        if code not in table:
            raise EngineUnavailable(f"espeak has no voice for '{language}'")
        return Voice(engine=self.name, id=table[code], language=code)

    def synthesize(self, text: str, voice: Voice, out_path: Path, prosody: Prosody = Prosody()) -> Path:
        text = require_text(self.name, text)
        check_voice(self.name, voice)
        check_prosody(self.name, prosody)
        wpm = clamp(self.BASE_WPM * prosody.rate, 80, 500)
        pitch = espeak_pitch_value(prosody.pitch, prosody.pitch_range)
        range_level = espeak_range_value(prosody.pitch, prosody.pitch_range)
        amplitude = clamp(100 * prosody.volume, 0, 200)
        spoken = " ".join(text.split())
        ssml = range_level != 50
        out_path = Path(out_path)
        with atomic_wav(out_path) as tmp:
            args = [
                self.binary,
                "-v",
                voice.id,
                "-w",
                str(tmp),
                "-s",
                str(wpm),
                "-p",
                str(pitch),
                "-a",
                str(amplitude),
                *(["-m"] if ssml else []),
                "--stdin",  # text on stdin: no argv length limit, no option parsing of a leading '-'
            ]
            body = espeak_ssml(spoken, range_level) if ssml else spoken
            run_engine(self.name, args, self.timeout, input_text=body + "\n")
            check_wav(self.name, tmp)
        return out_path
