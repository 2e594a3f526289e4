"""Beds: the one entry point the products call for sound under or between the voice.

A bed spec is one of
  compose:MOOD    a piece composed here (pipeline.audio.compose), MOOD: calm, bright, tense, sad
  library:MOOD    a track of the packaged rights-free library (immich-memories-music, MIT, made with ACE-Step),
                  chosen by the seed among the library moods that fit, looped with a crossfade to the length
  ambience:KIND   procedural ambience (pipeline.audio.ambience), KIND: room, rain, wind, crowd, city
  PATH            an audio file of the user's own, looped with a crossfade to the length

Every bed is a 48 kHz stereo 32-bit float WAV of exactly the length asked, with a provenance record saying
whether it was machine-made, where it came from, under which licence, with which parameters, and the sha256
of the file written. Music beds are set to -30 LUFS; ambience to its RMS level (pipeline.audio.ambience).
"""

from __future__ import annotations

import re
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import soundfile as sf

from models.base import EngineUnavailable
from models.registry import sha256_file
from pipeline.audio.ambience import DEFAULT_LEVEL_DB, KINDS, write_ambience
from pipeline.audio.compose import (
    BED_LUFS,
    IDENT_LUFS,
    MOODS,
    Composed,
    check_mood,
    check_seconds,
    compose,
    compose_ident,
    fade,
    fit_length,
    normalize_lufs,
)
from pipeline.core.errors import InputError, SetupError

# the library's folders that fit each mood
LIBRARY_MOODS: dict[str, tuple[str, ...]] = {
    "calm": ("calm",),
    "bright": ("happy", "energetic"),
    "sad": ("nostalgic", "tender"),
    "tense": ("energetic",),
}
BED_TEMPO = {"calm": 76.0, "bright": 108.0, "tense": 96.0, "sad": 68.0}
LOOP_CROSSFADE_S = 2.0
_HERE = "made here; no third-party material (nothing to licence)"
_SPEC_HINT = (
    f"use compose:MOOD or library:MOOD (MOOD: {', '.join(MOODS)}), ambience:KIND (KIND: {', '.join(KINDS)}) "
    "or the path of an audio file of your own"
)


@dataclass(frozen=True)
class BedSpec:
    kind: str  # compose | library | ambience | file
    name: str  # the mood or the ambience kind; "" for a file
    path: Path | None = None  # a file's


@dataclass(frozen=True)
class Bed:
    path: Path  # 48 kHz stereo float WAV
    spec: str
    seconds: float
    provenance: dict[str, Any] = field(default_factory=dict)
    files: tuple[Path, ...] = ()  # written beside it: a composed bed's MIDI and MusicXML


def parse_bed_spec(spec: str) -> BedSpec:
    """Check a bed spec (see the module's notes); InputError naming what is wrong and what to use."""
    text = (spec or "").strip()
    if not text:
        raise InputError("the bed spec is empty", _SPEC_HINT)
    prefix, sep, rest = text.partition(":")
    if sep and prefix in ("compose", "library"):
        if rest not in MOODS:
            raise InputError(f"unknown mood {rest!r} in bed spec {spec!r}", f"use one of {', '.join(MOODS)}")
        return BedSpec(prefix, rest)
    if sep and prefix == "ambience":
        if rest not in KINDS:
            raise InputError(f"unknown ambience kind {rest!r} in bed spec {spec!r}", f"use one of {', '.join(KINDS)}")
        return BedSpec(prefix, rest)
    path = Path(rest if sep and prefix == "file" else text).expanduser()
    if sep and re.fullmatch(r"[A-Za-z][\w-]+", prefix) and prefix != "file" and not path.exists():
        raise InputError(f"unknown bed kind {prefix!r} in bed spec {spec!r}", _SPEC_HINT)
    if not path.is_file():
        raise InputError(f"the bed file {path} does not exist", f"check the path, or {_SPEC_HINT}")
    return BedSpec("file", "", path)


def checked_spec(spec: str) -> str:
    """A job's `bed` parameter checked where the job enters (a request's validator): the spec itself, or a
    ValueError with parse_bed_spec's message (the request then names the parameter). URIs pass unchecked."""
    if spec and "://" not in spec:
        try:
            parse_bed_spec(spec)
        except InputError as e:
            raise ValueError(e.one_line().rstrip(".")) from None
    return spec


def make_bed(spec: str, seconds: float, dest: Path, seed: int = 0, rate: int = 48000) -> Bed:
    """Write a bed of exactly `seconds` to dest (a .wav path) and return it with its provenance."""
    parsed = parse_bed_spec(spec)
    seconds = check_seconds(seconds, "bed length")
    dest = _check_dest(dest)
    if parsed.kind == "compose":
        c = compose(
            parsed.name, tempo=BED_TEMPO[parsed.name], seconds=seconds, seed=seed, out_dir=dest.parent, stem=dest.stem,
            rate=rate,
        )  # fmt: skip
        prov = _composed(c, f"{parsed.name}, seed {seed}", rate)
        return _bed(dest, spec, seconds, prov, (c.midi, c.musicxml))
    if parsed.kind == "ambience":
        write_ambience(parsed.name, seconds, dest, seed=seed, rate=rate)
        prov = {
            "generated": True,
            "source": "dubline.ambience",
            "licence": _HERE,
            "origin": "procedural: shaped noise and simple synthesis, seeded, loopable",
            "parameters": {
                "kind": parsed.name, "seconds": seconds, "seed": seed, "rate": rate,
                "level_db_rms": DEFAULT_LEVEL_DB[parsed.name],
            },
        }  # fmt: skip
        return _bed(dest, spec, seconds, prov)
    if parsed.kind == "library":
        return _library_bed(parsed.name, spec, seconds, dest, seed, rate)
    assert parsed.path is not None
    from pipeline.audio import media

    media.probe(parsed.path)  # InputError when it is not audio ffmpeg can read
    _loop_to(parsed.path, seconds, dest, rate)
    prov = {
        "generated": False,
        "source": "the user's own file",
        "licence": "the user's own: not checked here (make sure you may use it)",
        "origin": str(parsed.path.resolve()),
        "input_sha256": sha256_file(parsed.path),
        "parameters": {"seconds": seconds, "rate": rate, "level_lufs": BED_LUFS, "loop_crossfade_s": LOOP_CROSSFADE_S},
    }
    return _bed(dest, spec, seconds, prov)


def ident(
    mood: str,
    seconds: float = 6.0,
    *,
    dest: Path,
    seed: int = 0,
    key: str = "C",
    level_lufs: float = IDENT_LUFS,
    rate: int = 48000,
) -> Bed:
    """A short composed musical ident for an audiobook's opening: a few chords to the mood's cadence, then the
    tonic chord rung out (pipeline.audio.compose.compose_ident)."""
    check_mood(mood)
    dest = _check_dest(dest)
    c = compose_ident(
        mood, seconds, seed, out_dir=dest.parent, stem=dest.stem, key=key, level_lufs=level_lufs, rate=rate
    )
    prov = _composed(c, f"ident, {mood}, seed {seed}", rate)
    return _bed(dest, f"ident:{mood}", c.seconds, prov, (c.midi, c.musicxml))


def _composed(c: Composed, what: str, rate: int) -> dict[str, Any]:
    """The provenance of a bed or ident composed here: generated, by what, from which parameters."""
    record = c.provenance()
    font = record["soundfont"]
    return {
        "generated": True,
        "source": f"{record['generator']} {record['version']}",
        "licence": f"{_HERE}; rendered with the soundfont {font['id']} ({font['licence']})",
        "origin": f"composed here ({what}) and rendered by {c.engine.id} {c.engine.version}",
        "parameters": record["parameters"] | {"rate": rate},
        "composition": record,
    }


def _check_dest(dest: Path) -> Path:
    dest = Path(dest)
    if dest.suffix.lower() != ".wav":
        raise InputError(f"the bed destination {dest} is not a .wav file", "give a path ending in .wav")
    return dest


def _bed(dest: Path, spec: str, seconds: float, prov: dict[str, Any], files: tuple[Path, ...] = ()) -> Bed:
    prov = prov | {"sha256": sha256_file(dest), "format": "WAV 32-bit float, stereo"}
    return Bed(dest, spec, seconds, prov, files)


def _library_bed(mood: str, spec: str, seconds: float, dest: Path, seed: int, rate: int) -> Bed:
    from models.music import bed_library

    try:
        lib = bed_library()
    except EngineUnavailable as e:
        raise SetupError(f"cannot make a library bed: {e}") from e
    tracks = [t for folder in LIBRARY_MOODS[mood] for t in lib.tracks(folder)]
    if not tracks:
        raise SetupError(f"the bed library has no {'/'.join(LIBRARY_MOODS[mood])} tracks", "run `make setup`")
    track = tracks[seed % len(tracks)]
    _loop_to(track.path, seconds, dest, rate)
    facts = ", ".join(x for x in (f"{track.bpm:g} bpm" if track.bpm else "", track.key, f"seed {track.seed}") if x)
    prov = {
        "generated": True,  # machine-made: ACE-Step 1.5, by the library's authors
        "generator": lib.generator,
        "source": f"{lib.package} {lib.version}: {track.mood}/{track.path.name}",
        "licence": lib.licence,
        "origin": f"{lib.origin} ({track.path.name}: {facts}; {lib.homepage})",
        "track_sha256": sha256_file(track.path),
        "parameters": {
            "mood": mood, "library_mood": track.mood, "track": track.path.name, "seed": seed, "seconds": seconds,
            "rate": rate, "level_lufs": BED_LUFS, "loop_crossfade_s": LOOP_CROSSFADE_S,
        },
    }  # fmt: skip
    return _bed(dest, spec, seconds, prov)


def _decode(src: Path, rate: int) -> np.ndarray:
    """Any audio file ffmpeg reads, as (n, 2) float32 at `rate`."""
    import ffmpeg

    from pipeline.audio import media

    with tempfile.TemporaryDirectory(prefix="dubline-bed-") as tmp:
        out = Path(tmp) / "decoded.wav"
        stream = ffmpeg.input(str(src)).audio
        media.run(ffmpeg.output(stream, str(out), ac=2, ar=rate, acodec="pcm_f32le", vn=None), f"decode {src.name}")
        data, _ = sf.read(str(out), dtype="float32", always_2d=True)
    if len(data) == 0:
        raise InputError(f"the bed file {src} has no audio", "give an audio file with sound in it")
    return data


def loop_fill(audio: np.ndarray, n: int, rate: int, crossfade_s: float = LOOP_CROSSFADE_S) -> np.ndarray:
    """`audio` (m, channels) repeated to exactly n frames, each join an equal-power crossfade."""
    out = audio
    while len(out) < n:
        k = max(1, min(int(crossfade_s * rate), len(audio) // 3))
        t = (np.arange(k) + 0.5) / k
        joint = out[-k:] * np.cos(0.5 * np.pi * t)[:, None] + audio[:k] * np.sin(0.5 * np.pi * t)[:, None]
        out = np.concatenate([out[:-k], joint, audio[k:]])
    return fit_length(out, n)


def _loop_to(src: Path, seconds: float, dest: Path, rate: int) -> dict[str, float]:
    audio = loop_fill(_decode(src, rate), round(seconds * rate), rate)
    audio = fade(audio, rate, min(1.0, 0.1 * seconds), min(2.0, 0.15 * seconds))
    return normalize_lufs(audio, rate, BED_LUFS, dest)
