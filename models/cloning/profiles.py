"""Voice profiles: the folder an enrolment writes, and ProfileTTS, which speaks with it.

Profile folder layout (profile.json plus the backend's files):
    profile.json             backend, figures (held_out_similarity, wer, seconds, steps, best stock...), files
    reference_embedding.npy  (256,) float64: the enrolment speech's mean Resemblyzer embedding
    style.npy                (256,) float32: the Kokoro style (every backend here speaks through Kokoro)
    world.json               WORLD matching parameters (world-match and kokoro-search+world only)
    reference_embedding_campp.npy  (192,) the enrolment speech's CAM++ embedding (the second judge's reference)
    matchset.npz, knn.json   knn-vc only (models/cloning/knn_backend.py): the reference frames and the settings
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import numpy as np

from models.base import EngineError, ModelInfo, Prosody, Voice
from models.files import atomic_write_bytes

PROFILE_VERSION = 1


def profile_digest(profile_dir: Path) -> str:
    """sha256 over the files that define the voice (style.npy, world.json; knn-vc: knn.json, matchset.npz)."""
    h = hashlib.sha256()
    for name in ("style.npy", "world.json", "knn.json", "matchset.npz"):
        p = Path(profile_dir) / name
        if p.is_file():
            h.update(name.encode())
            h.update(p.read_bytes())
    return h.hexdigest()


def read_profile(profile_dir: Path) -> dict[str, Any]:
    p = Path(profile_dir) / "profile.json"
    if not p.is_file():
        raise EngineError(f"{profile_dir} holds no voice profile (profile.json is missing)")
    try:
        doc: dict[str, Any] = json.loads(p.read_text())
    except ValueError as e:
        raise EngineError(f"{p} is not readable JSON: {e}") from e
    return doc


def write_json(path: Path, doc: dict[str, Any]) -> None:
    atomic_write_bytes(path, json.dumps(doc, indent=1, sort_keys=True).encode())


class ProfileVoice:
    """What every TTS speaking with a profile shares: the voice id (the profile's digest), Kokoro's languages and
    `synthesize`, which refuses another profile's voice or another person's; subclasses give `render`."""

    name: str
    digest: str
    person_id: str
    kokoro: Any

    @property
    def voice_id(self) -> str:
        return f"profile:{self.digest[:12]}"

    def languages(self) -> list[str]:
        return list(self.kokoro.languages())

    def voice_for(self, language: str) -> Voice:
        base = self.kokoro.voice_for(language).language
        return Voice(engine=self.name, id=self.voice_id, language=base, person_id=self.person_id)

    def render(self, text: str, language: str, prosody: Prosody = Prosody()) -> np.ndarray:
        raise NotImplementedError

    def synthesize(self, text: str, voice: Voice, out_path: Path, prosody: Prosody = Prosody()) -> Path:
        from models.kokoro import write_wav

        if voice.engine != self.name or voice.id != self.voice_id:
            raise EngineError(f"{self.name}: voice {voice.engine}/{voice.id} is not this profile's ({self.voice_id})")
        if voice.person_id != self.person_id:
            raise EngineError(f"{self.name}: voice is for person {voice.person_id!r}, profile for {self.person_id!r}")
        if prosody.rate <= 0 or prosody.pitch <= 0 or prosody.volume < 0:
            raise EngineError(f"{self.name}: invalid prosody {prosody}")
        return write_wav(self.render(text, voice.language, prosody), out_path, engine=self.name)


class ProfileTTS(ProfileVoice):
    """A TTS speaking with a profile's voice: Kokoro with the profile's style, WORLD matching where it has it.

    Voices: Voice(engine=name, id="profile:<sha12>", language, person_id) for the languages Kokoro speaks here."""

    def __init__(self, profile_dir: Path, person_id: str, model_dir: Path | None = None, threads: int | None = None):
        from models.cloning.world import WorldParams
        from models.kokoro import KokoroTTS

        self.profile_dir = Path(profile_dir)
        self.person_id = person_id
        self.profile = read_profile(self.profile_dir)
        style_path = self.profile_dir / "style.npy"
        if not style_path.is_file():
            raise EngineError(f"{self.profile_dir}: style.npy is missing; enrol the voice again")
        self.style = np.load(style_path).astype(np.float32)
        world = self.profile_dir / "world.json"
        self.world = WorldParams.from_dict(json.loads(world.read_text())) if world.is_file() else None
        self.kokoro = KokoroTTS.from_registry(model_dir, threads=threads)
        self.digest = profile_digest(self.profile_dir)
        self.name = "clone-kokoro+world" if self.world else "clone-kokoro"
        self.info = ModelInfo(
            id=f"{self.name}:{self.profile.get('backend', '?')}",
            version=f"profile v{self.profile.get('version', '?')} {self.digest[:12]}; {self.kokoro.info.version}",
            sha256=self.kokoro.info.sha256,
        )

    def render(self, text: str, language: str, prosody: Prosody = Prosody()) -> np.ndarray:
        """Float32 samples (24 kHz) of the profile's voice."""
        from models.kokoro import SAMPLE_RATE

        audio = self.kokoro.render(text, self.style, language, speed=prosody.rate)
        if self.world is not None:  # pitch and range fold into the F0 mapping: one WORLD pass
            from models.cloning.world import WorldParams, convert

            w = self.world
            params = WorldParams(
                w.src_log_f0,
                (w.dst_log_f0[0] + float(np.log(prosody.pitch)), w.dst_log_f0[1]),
                w.alpha,
                w.eq_db,
                w.range_scale * prosody.pitch_range,
            )
            audio = convert(audio, SAMPLE_RATE, params)
        elif abs(prosody.pitch - 1) > 1e-3 or abs(prosody.pitch_range - 1) > 1e-3:
            from models.cloning.world import shift_pitch

            audio = shift_pitch(audio, SAMPLE_RATE, prosody.pitch, prosody.pitch_range)
        return audio * np.float32(prosody.volume)
