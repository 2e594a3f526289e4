"""SVOX Pico speech synthesis through `pico2wave` (Debian libttspico-utils): 16 kHz mono 16-bit WAV."""

from __future__ import annotations

import os
import re
import tempfile
from pathlib import Path

from models.base import EngineUnavailable, ModelInfo, Prosody, Voice
from models.system import LazyInfo, base_language, dpkg_version
from models.tts import (
    atomic_wav,
    check_prosody,
    check_voice,
    check_wav,
    clamp,
    concat_wavs,
    require_text,
    run_engine,
    split_text,
)


class PicoTTS(LazyInfo):
    """SVOX Pico through `pico2wave` (Debian libttspico-utils): en-US, en-GB, es, fr, de, it; 16 kHz.

    Prosody goes in as Pico markup: speed and pitch levels are percentages (100 = natural), but the
    natural volume is level 50 (measured: untagged output equals level 50; 100 doubles the amplitude),
    so volume v -> level 50*v; above about 1.4 the output clips. Pitch levels are exact (measured: level
    60 / 125 / 200 give 0.60 / 1.25 / 2.0 x the median F0); Pico has no F0-range control, so pitch_range is
    left to WORLD post-processing (models.worldfx.apply_prosody_post). The tags are left unclosed on
    purpose: a closing tag makes Pico add about 0.5 s of silence at the end. pico2wave garbles or
    rejects text of more than about 32 k characters (exit 154 "Cannot put Text (-102)" at 34 k, a
    silently truncated WAV at 73 k), so long text is synthesised in pieces of at most `max_chars`,
    split at sentence ends, and joined.
    """

    name = "pico"
    binary = "pico2wave"
    package = "libttspico-utils"
    VOICES: dict[str, str] = {"en": "en-US", "es": "es-ES", "fr": "fr-FR", "de": "de-DE", "it": "it-IT"}
    ALL_VOICE_IDS: tuple[str, ...] = ("en-US", "en-GB", "es-ES", "fr-FR", "de-DE", "it-IT")

    def __init__(self, max_chars: int = 2000, timeout: float | None = 600.0) -> None:
        self.max_chars = max_chars
        self.timeout = timeout

    def _make_info(self) -> ModelInfo:
        return ModelInfo("svox-pico", dpkg_version(self.package))

    def languages(self) -> list[str]:
        return sorted(self.VOICES)

    def voice_for(self, language: str) -> Voice:
        tag = language.strip().replace("_", "-")
        for vid in self.ALL_VOICE_IDS:  # an exact regional voice first ("en-GB")
            if vid.lower() == tag.lower():
                return Voice(engine=self.name, id=vid, language=base_language(vid))
        base = base_language(tag)
        if base not in self.VOICES:
            raise EngineUnavailable(f"pico has no voice for '{language}'; it speaks {', '.join(self.languages())}")
        return Voice(engine=self.name, id=self.VOICES[base], language=base)

    @staticmethod
    def markup(prosody: Prosody) -> str:
        """Unclosed Pico tags for a prosody ('' for the default)."""
        tags = []
        speed = clamp(prosody.rate * 100, 20, 500)
        pitch = clamp(prosody.pitch * 100, 50, 200)
        volume = clamp(prosody.volume * 50, 0, 500)  # Pico's own level is 50 (100 doubles it)
        if speed != 100:
            tags.append(f"<speed level='{speed}'>")
        if pitch != 100:
            tags.append(f"<pitch level='{pitch}'>")
        if volume != 50:
            tags.append(f"<volume level='{volume}'>")
        return "".join(tags)

    @staticmethod
    def clean(text: str) -> str:
        """Remove what Pico would read as markup."""
        return " ".join(re.sub(r"[<>]", " ", text).split())

    def synthesize(self, text: str, voice: Voice, out_path: Path, prosody: Prosody = Prosody()) -> Path:
        text = require_text(self.name, self.clean(text))
        check_voice(self.name, voice)
        check_prosody(self.name, prosody)
        if voice.id not in self.ALL_VOICE_IDS:
            raise EngineUnavailable(f"pico has no voice {voice.id!r}; voices: {', '.join(self.ALL_VOICE_IDS)}")
        prefix = self.markup(prosody)
        chunks = split_text(text, self.max_chars)
        out_path = Path(out_path)
        with (
            atomic_wav(out_path) as tmp,
            tempfile.TemporaryDirectory(prefix=".pico-", dir=tmp.parent) as tmpdir,  # same filesystem
        ):
            parts: list[Path] = []
            for i, chunk in enumerate(chunks):
                part = Path(tmpdir) / f"part{i:04d}.wav"  # pico2wave insists on a .wav name
                run_engine(
                    self.name,
                    [self.binary, "-l", voice.id, "-w", str(part), "--", prefix + chunk],
                    self.timeout,
                )
                parts.append(part)
            if len(parts) == 1:
                os.replace(parts[0], tmp)
            else:
                concat_wavs(parts, tmp)
            check_wav(self.name, tmp)
        return out_path
