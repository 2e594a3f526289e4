"""Music engines: FluidSynth renders a MIDI file with a General MIDI soundfont, and the packaged library of
rights-free beds (`immich-memories-music`: tracks by mood, made with ACE-Step, MIT).

FluidSynth renders offline (`-F`, no audio driver, no shell) to 32-bit float WAV, so there is no dither and
the same MIDI file gives the same samples every time (its reverb and chorus are deterministic too).
"""

from __future__ import annotations

import functools
import os
import re
import shutil
from dataclasses import dataclass
from pathlib import Path

import soundfile as sf

from models.base import EngineError, EngineUnavailable, ModelInfo
from models.registry import sha256_file
from models.system import LazyInfo, stderr_tail
from models.tts import atomic_wav, run_engine

SOUNDFONT_ENV = "DUBLINE_SOUNDFONT"
# The Debian General MIDI soundfonts, in order of preference (timgm6mb-soundfont is what `make setup` installs).
DEBIAN_SOUNDFONTS = (
    Path("/usr/share/sounds/sf2/TimGM6mb.sf2"),
    Path("/usr/share/sounds/sf2/FluidR3_GM.sf2"),
    Path("/usr/share/sounds/sf2/default-GM.sf2"),
)
# Licences of the soundfonts Debian ships (their copyright files); the rendered audio is the project's output,
# but provenance names the instrument samples it was rendered with and their terms.
SOUNDFONT_LICENCES = {
    "TimGM6mb": "GPL-2 (Debian timgm6mb-soundfont, Tim Brechbill)",
    "FluidR3_GM": "MIT (Debian fluid-soundfont-gm, Frank Wen)",
    "MuseScore_General": "MIT (Debian musescore-general-soundfont)",
}


def soundfont_licence(name: str) -> str:
    """The licence of a soundfont by its file stem; an operator's own is theirs to state."""
    return SOUNDFONT_LICENCES.get(name, "not known to dubline: an operator's own soundfont, under its own terms")


_SETUP_HINT = (
    f"run `make setup` (scripts/setup-system.sh installs fluidsynth and timgm6mb-soundfont) "
    f"or set {SOUNDFONT_ENV} to a General MIDI .sf2 file"
)


def find_soundfont(configured: Path | str | None = None) -> Path:
    """The soundfont to render with: `configured`, else $DUBLINE_SOUNDFONT, else the first Debian one present.
    EngineUnavailable when the one named does not exist, or when none is found."""
    named = configured if configured not in (None, "") else os.environ.get(SOUNDFONT_ENV, "").strip()
    if named:
        path = Path(named).expanduser()
        if not path.is_file():
            raise EngineUnavailable(f"fluidsynth: the soundfont {path} does not exist; {_SETUP_HINT}")
        return _check_sf2(path)
    for path in DEBIAN_SOUNDFONTS:
        if path.is_file():  # follows default-GM.sf2's alternatives link
            return _check_sf2(path)
    raise EngineUnavailable(
        f"fluidsynth: no General MIDI soundfont found (looked in {', '.join(map(str, DEBIAN_SOUNDFONTS))}); "
        f"{_SETUP_HINT}"
    )


def _check_sf2(path: Path) -> Path:
    """`path`, unless it is not a SoundFont 2 file (a RIFF 'sfbk' chunk): FluidSynth would render silence."""
    with open(path, "rb") as f:
        head = f.read(12)
    if head[:4] != b"RIFF" or head[8:12] != b"sfbk":
        raise EngineUnavailable(f"fluidsynth: {path} is not a SoundFont 2 (.sf2) file; {_SETUP_HINT}")
    return path


@functools.cache
def _soundfont_sha256(path: str, size: int, mtime_ns: int) -> str:
    return sha256_file(Path(path))


def soundfont_sha256(path: Path) -> str:
    st = path.stat()
    return _soundfont_sha256(str(path.resolve()), st.st_size, st.st_mtime_ns)


@functools.cache
def fluidsynth_version(binary: str) -> str:
    """'2.3.1' from `fluidsynth --version`; EngineUnavailable when it is not installed."""
    r = run_engine("fluidsynth", [binary, "--version"], timeout=30)
    m = re.search(r"version\s+(\d+(?:\.\d+)+)", r.stdout)
    return m.group(1) if m else "unknown"


class FluidSynth(LazyInfo):
    """Render MIDI files to stereo WAV with FluidSynth and a General MIDI soundfont.

    `soundfont`: a .sf2 path (else $DUBLINE_SOUNDFONT, else the Debian ones); `gain`: FluidSynth's master
    gain (0.2 is its default; loudness is set afterwards anyway); `reverb`, `chorus`: its effects (both
    deterministic)."""

    name = "fluidsynth"

    def __init__(
        self,
        soundfont: Path | str | None = None,
        *,
        binary: str = "fluidsynth",
        gain: float = 0.5,
        reverb: bool = True,
        chorus: bool = True,
    ) -> None:
        if not 0.0 < gain < 10.0:
            raise ValueError(f"fluidsynth gain must be in (0, 10), not {gain}")
        self._configured = soundfont
        self.binary = binary
        self.gain = gain
        self.reverb = reverb
        self.chorus = chorus

    @functools.cached_property
    def soundfont(self) -> Path:
        return find_soundfont(self._configured)

    def _which(self) -> str:
        found = shutil.which(self.binary)
        if found is None:
            raise EngineUnavailable(f"fluidsynth: '{self.binary}' is not installed; {_SETUP_HINT}")
        return found

    def available(self) -> bool:
        """Whether the program and a soundfont are here (renders nothing)."""
        try:
            self._which()
            _ = self.soundfont
        except EngineUnavailable:
            return False
        return True

    def _make_info(self) -> ModelInfo:
        self._which()
        sf2 = self.soundfont
        return ModelInfo(
            id=f"fluidsynth+{sf2.resolve().stem}", version=fluidsynth_version(self.binary), sha256=soundfont_sha256(sf2)
        )

    def command(self, midi: Path, out_wav: Path, rate: int) -> list[str]:
        """The argument list of one render (no shell)."""
        return [
            self._which(),
            "-n",  # no MIDI input driver
            "-i",  # no interactive shell
            "-q",
            "-R",
            "1" if self.reverb else "0",
            "-C",
            "1" if self.chorus else "0",
            "-g",
            f"{self.gain:g}",
            "-r",
            str(int(rate)),
            "-o",
            "synth.cpu-cores=1",
            "-O",
            "float",  # 32-bit float samples: no dither, so renders are bit-identical
            "-T",
            "wav",
            "-F",
            str(out_wav),
            str(self.soundfont),
            str(midi),
        ]

    def render(self, midi: Path, out_wav: Path, rate: int = 48000, timeout: float = 600.0) -> Path:
        """Render `midi` to a stereo 32-bit float WAV at `rate` (written atomically). EngineUnavailable when
        fluidsynth or the soundfont is missing, EngineError when the render fails."""
        midi = Path(midi)
        if not midi.is_file():
            raise FileNotFoundError(midi)
        with atomic_wav(Path(out_wav)) as tmp:
            r = run_engine("fluidsynth", self.command(midi, tmp, rate), timeout=timeout)
            if "not a SoundFont or MIDI file" in (r.stderr or ""):
                raise EngineError(f"fluidsynth: {stderr_tail(r.stderr, 300)}")
            try:
                frames = sf.info(str(tmp)).frames
            except (RuntimeError, sf.LibsndfileError) as e:
                raise EngineError(f"fluidsynth: produced no readable WAV from {midi.name} ({e})") from e
            if frames == 0:
                raise EngineError(f"fluidsynth: produced no audio from {midi.name} (is the MIDI file empty?)")
        return Path(out_wav)


# --- the packaged bed library ------------------------------------------------------------------------------

LIBRARY_PACKAGE = "immich-memories-music"
LIBRARY_MOODS = ("happy", "calm", "tender", "nostalgic", "energetic")
_LIBRARY_HINT = f"run `make setup` (it installs {LIBRARY_PACKAGE}, the library of rights-free beds)"
# one track line of LICENSE-MUSIC: "  calm_acoustic_1.opus    68 bpm  C major   seed 101  [acoustic]"
_TRACK_LINE = re.compile(r"^\s+(\S+\.opus)\s+(\d+(?:\.\d+)?)\s*bpm\s+(\S+\s+(?:major|minor))\s+seed\s+(\d+)", re.M)


@dataclass(frozen=True)
class LibraryTrack:
    path: Path
    mood: str  # the library's folder: happy, calm, tender, nostalgic, energetic
    bpm: float | None
    key: str  # "C major"; "" when the licence file does not list the track
    seed: int | None  # ACE-Step's seed


@dataclass(frozen=True)
class BedLibrary:
    """The installed library: where its tracks are and what its licence file says about them."""

    package: str
    version: str
    licence: str  # SPDX expression
    homepage: str
    licence_text: str  # LICENSE-MUSIC: the origin (ACE-Step 1.5, settings) and each track's tempo, key, seed
    tracks_dir: Path

    @property
    def info(self) -> ModelInfo:
        return ModelInfo(id=self.package, version=self.version)

    @property
    def origin(self) -> str:
        first = " ".join(self.licence_text.strip().split("\n\n")[0].split())
        return first or "generated with ACE-Step"

    @property
    def generator(self) -> str:
        """The model that made the tracks, as the licence file names it ('ACE-Step 1.5 (acestep-v15-xl-turbo ...)')."""
        m = re.search(r"^\s*model\s+(.+)$", self.licence_text, re.M)
        made = re.search(r"generated locally with (.+?)\.\s", self.licence_text)
        name = made.group(1).strip() if made else "ACE-Step"
        return f"{name} ({m.group(1).strip()})" if m else name

    def tracks(self, mood: str | None = None) -> list[LibraryTrack]:
        """The tracks of one library mood (all when None), sorted by mood and name."""
        if mood is not None and mood not in LIBRARY_MOODS:
            raise ValueError(f"unknown library mood {mood!r}; the library has {', '.join(LIBRARY_MOODS)}")
        facts = {m.group(1): m for m in _TRACK_LINE.finditer(self.licence_text)}
        out = []
        for folder in sorted(LIBRARY_MOODS) if mood is None else [mood]:
            for path in sorted((self.tracks_dir / folder).glob("*.opus")):
                m = facts.get(path.name)
                out.append(
                    LibraryTrack(
                        path=path,
                        mood=folder,
                        bpm=float(m.group(2)) if m else None,
                        key=" ".join(m.group(3).split()) if m else "",
                        seed=int(m.group(4)) if m else None,
                    )
                )
        return out


@functools.cache
def bed_library() -> BedLibrary:
    """The installed bed library; EngineUnavailable when the package is not installed."""
    from importlib import metadata

    try:
        import immich_memories_music  # type: ignore[import-not-found,unused-ignore]

        dist = metadata.distribution(LIBRARY_PACKAGE)
    except (ImportError, metadata.PackageNotFoundError) as e:
        raise EngineUnavailable(f"the bed library is not installed ({e}); {_LIBRARY_HINT}") from e
    tracks_dir = Path(immich_memories_music.tracks_dir())
    if not tracks_dir.is_dir():
        raise EngineUnavailable(f"the bed library has no tracks folder ({tracks_dir}); {_LIBRARY_HINT}")
    text = ""
    for name in ("licenses/LICENSE-MUSIC", "LICENSE-MUSIC"):
        text = dist.read_text(name) or ""
        if text:
            break
    meta = dist.metadata
    homepage = ""
    for url in meta.get_all("Project-URL") or []:
        label, _, value = url.partition(",")
        if label.strip().lower() == "homepage":
            homepage = value.strip()
    return BedLibrary(
        package=LIBRARY_PACKAGE,
        version=dist.version,
        licence=next(iter(meta.get_all("License-Expression") or meta.get_all("License") or []), "MIT"),
        homepage=homepage,
        licence_text=text,
        tracks_dir=tracks_dir,
    )
