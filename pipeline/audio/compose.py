"""Composed music beds and idents: a seeded piece in a mood (compose_score), written as MIDI (pretty-midi) and
MusicXML (music21), rendered by FluidSynth (models.music) at 48 kHz stereo, cut to length, faded and set to a
bed's loudness.

The same mood, key, tempo, length and seed give the same MIDI file, the same MusicXML and a byte-identical
WAV: the piece is a pure function of them, FluidSynth renders float samples without dither, and the gain comes
from a deterministic loudness measurement (ITU-R BS.1770 through ffmpeg, `pipeline.audio.loudness`).
"""

from __future__ import annotations

import math
import re
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import soundfile as sf

from models.base import EngineError, EngineUnavailable, ModelInfo
from models.files import atomic_path, atomic_write_bytes
from models.music import soundfont_licence
from models.registry import sha256_file
from pipeline.audio.compose_score import BEATS_PER_BAR, MOODS, STYLES, Key, Piece, parse_key, plan
from pipeline.core.errors import InputError, SetupError, StageError

__all__ = ["MOODS", "MAX_SECONDS", "Composed", "compose", "compose_ident", "check_mood", "check_seconds"]

GENERATOR = "dubline.compose"
VERSION = "1"  # of the composer's rules: a change in them changes the music made from the same arguments
MAX_SECONDS = 600.0
TEMPO_RANGE = (40.0, 200.0)
LEVEL_RANGE = (-50.0, -10.0)  # LUFS
BED_LUFS = -30.0
IDENT_LUFS = -20.0
IDENT_SECONDS = (2.0, 30.0)
PEAK_CEILING = 10 ** (-1.0 / 20)  # -1 dBFS sample peak
_IDENT_TEMPO = {"calm": 80.0, "bright": 112.0, "tense": 96.0, "sad": 72.0}
_REVERB = {"calm": 72, "bright": 40, "tense": 50, "sad": 72}  # CC 91 per mood
_MIX = {"Melody": (100, 72), "Chords": (78, 52), "Bass": (96, 64), "Drums": (80, 64)}  # CC 7 volume, CC 10 pan


@dataclass(frozen=True)
class Composed:
    wav: Path  # 48 kHz stereo 32-bit float
    midi: Path
    musicxml: Path
    mood: str
    key: str  # "C", "Am"
    tempo: float
    seconds: float
    seed: int
    form: str = "bed"  # bed | ident
    level_lufs: float = BED_LUFS  # the target
    loudness: dict[str, float] = field(default_factory=dict)  # measured on the written WAV
    chords: tuple[str, ...] = ()  # one symbol per chord, in order
    bars: int = 0
    engine: ModelInfo = ModelInfo("", "")  # FluidSynth with its soundfont (sha256 of the .sf2)

    def provenance(self) -> dict[str, Any]:
        return {
            "generator": GENERATOR,
            "version": VERSION,
            "generated": True,
            "engine": self.engine.as_dict(),
            "soundfont": {
                "id": self.engine.id.partition("+")[2],
                "sha256": self.engine.sha256,
                "licence": soundfont_licence(self.engine.id.partition("+")[2]),
            },
            "parameters": {
                "form": self.form,
                "mood": self.mood,
                "key": self.key,
                "tempo": self.tempo,
                "seconds": self.seconds,
                "seed": self.seed,
                "level_lufs": self.level_lufs,
            },
            "bars": self.bars,
            "chords": list(self.chords),
            "loudness": dict(self.loudness),
            "files": {p.name: sha256_file(p) for p in (self.wav, self.midi, self.musicxml)},
        }


def check_mood(mood: str) -> str:
    if mood not in MOODS:
        raise InputError(f"unknown mood {mood!r}", f"use one of {', '.join(MOODS)}")
    return mood


def check_seconds(seconds: float, what: str = "length") -> float:
    if not (isinstance(seconds, int | float) and math.isfinite(seconds)) or seconds <= 0:
        raise InputError(f"the {what} must be more than 0 seconds, not {seconds!r}", "give a length in seconds")
    if seconds > MAX_SECONDS:
        raise InputError(
            f"the {what} {seconds:g} s is over the limit of {MAX_SECONDS:g} s",
            "make a shorter one (a bed can be looped or joined in the mix)",
        )
    return float(seconds)


def _check(mood: str, key: str, tempo: float, level_lufs: float, rate: int) -> Key:
    check_mood(mood)
    if not 22050 <= rate <= 96000:
        raise InputError(f"sample rate {rate} is outside 22050..96000 Hz", "use 48000")
    k = parse_key(key, default_mode=STYLES[mood].mode)
    lo, hi = TEMPO_RANGE
    if not (math.isfinite(tempo) and lo <= tempo <= hi):
        raise InputError(f"tempo {tempo!r} is outside {lo:g}..{hi:g} beats a minute", "give a tempo in that range")
    lo, hi = LEVEL_RANGE
    if not (math.isfinite(level_lufs) and lo <= level_lufs <= hi):
        raise InputError(f"level {level_lufs!r} LUFS is outside {lo:g}..{hi:g}", "give a level in that range")
    return k


def compose(
    mood: str,
    key: str = "C",
    tempo: float = 90.0,
    seconds: float = 30.0,
    seed: int = 0,
    *,
    out_dir: Path,
    stem: str = "bed",
    level_lufs: float = BED_LUFS,
    rate: int = 48000,
    soundfont: Path | None = None,
) -> Composed:
    """Compose a music bed: writes out_dir/stem.{wav,mid,musicxml}. A key without 'm' takes the mood's mode
    (calm, bright: major; tense, sad: minor); 'Am' asks for minor. The piece covers `seconds` in whole bars and
    ends on the tonic; the WAV is exactly `seconds` long, faded in and out, at `level_lufs` integrated."""
    k = _check(mood, key, tempo, level_lufs, rate)
    seconds = check_seconds(seconds)
    piece = plan(mood, k, float(tempo), seconds, seed)
    fades = (min(1.0, 0.1 * seconds), min(2.0, 0.15 * seconds))
    return _make(piece, seconds, seed, Path(out_dir), stem, level_lufs, rate, soundfont, fades)


def compose_ident(
    mood: str,
    seconds: float = 6.0,
    seed: int = 0,
    *,
    out_dir: Path,
    stem: str = "ident",
    key: str = "C",
    level_lufs: float = IDENT_LUFS,
    rate: int = 48000,
    soundfont: Path | None = None,
) -> Composed:
    """A short musical ident (an audiobook's opening): a bar or a few of chords moving to the mood's cadence,
    then the tonic chord held and rung out to the end. The tempo is chosen so that the lead-in takes about
    60 % of `seconds`."""
    check_mood(mood)
    lo, hi = IDENT_SECONDS
    if not (math.isfinite(seconds) and lo <= seconds <= hi):
        raise InputError(f"an ident of {seconds!r} s is outside {lo:g}..{hi:g} s", "give a length in that range")
    lead = max(1, round(0.6 * seconds * _IDENT_TEMPO[mood] / 240.0))
    tempo = round(min(max(lead * 240.0 / (0.6 * seconds), TEMPO_RANGE[0]), TEMPO_RANGE[1]), 3)
    k = _check(mood, key, tempo, level_lufs, rate)
    piece = plan(mood, k, tempo, seconds, seed, form="ident")
    fades = (0.005, min(1.0, 0.25 * seconds))
    return _make(piece, seconds, seed, Path(out_dir), stem, level_lufs, rate, soundfont, fades)


def _make(
    piece: Piece,
    seconds: float,
    seed: int,
    out_dir: Path,
    stem: str,
    level_lufs: float,
    rate: int,
    soundfont: Path | None,
    fades: tuple[float, float],
) -> Composed:
    from models.music import FluidSynth

    if not stem or "/" in stem or stem.startswith("."):
        raise InputError(f"unusable file name stem {stem!r}", "give a plain name such as 'bed'")
    synth = FluidSynth(soundfont)
    try:
        engine = synth.info  # fluidsynth and the soundfont are here, before anything is written
    except EngineUnavailable as e:
        raise SetupError(f"cannot render the music: {e}") from e
    out_dir.mkdir(parents=True, exist_ok=True)
    midi = write_midi(piece, out_dir / f"{stem}.mid", reverb=_REVERB[piece.mood], mix=_MIX)
    xml = write_musicxml(piece, out_dir / f"{stem}.musicxml", title=f"{piece.mood} {piece.form}, seed {seed}")
    with tempfile.TemporaryDirectory(prefix="dubline-compose-") as tmp:
        raw = Path(tmp) / "render.wav"
        try:
            synth.render(midi, raw, rate=rate)
        except EngineUnavailable as e:
            raise SetupError(f"cannot render the music: {e}") from e
        except EngineError as e:
            raise StageError(f"could not render {midi.name}: {e}") from e
        data, got_rate = sf.read(str(raw), dtype="float32", always_2d=True)
    if got_rate != rate:
        raise StageError(f"fluidsynth rendered {midi.name} at {got_rate} Hz instead of {rate} Hz")
    wav = out_dir / f"{stem}.wav"
    audio = fit_length(data, round(seconds * rate))
    audio = fade(audio, rate, *fades)
    measured = normalize_lufs(audio, rate, level_lufs, wav)
    return Composed(
        wav=wav,
        midi=midi,
        musicxml=xml,
        mood=piece.mood,
        key=piece.key.short,
        tempo=piece.tempo,
        seconds=seconds,
        seed=seed,
        form=piece.form,
        level_lufs=level_lufs,
        loudness=measured,
        chords=tuple(s.chord.symbol for s in piece.spans),
        bars=piece.bars,
        engine=engine,
    )


# --- audio finishing (shared with beds) -----------------------------------------------------------------


def fit_length(audio: np.ndarray, n: int) -> np.ndarray:
    """Cut or pad with silence (n, channels) audio to exactly n frames."""
    if len(audio) >= n:
        return audio[:n]
    return np.concatenate([audio, np.zeros((n - len(audio), audio.shape[1]), dtype=audio.dtype)])


def fade(audio: np.ndarray, rate: int, fade_in_s: float, fade_out_s: float) -> np.ndarray:
    """Raised-cosine fade in and out."""
    out = audio.astype(np.float32, copy=True)
    n = len(out)
    for seconds, head in ((fade_in_s, True), (fade_out_s, False)):
        k = min(n, int(round(seconds * rate)))
        if k <= 0:
            continue
        ramp = (0.5 - 0.5 * np.cos(np.pi * (np.arange(k) + 0.5) / k)).astype(np.float32)
        if head:
            out[:k] *= ramp[:, None]
        else:
            out[n - k :] *= ramp[::-1, None]
    return out


def write_float_wav(audio: np.ndarray, rate: int, dest: Path) -> Path:
    """Write 32-bit float WAV atomically. scipy's writer, not libsndfile's: libsndfile adds a PEAK chunk that
    carries the time of writing, and the same samples must give the same bytes."""
    from scipy.io import wavfile

    with atomic_path(Path(dest), suffix=".wav") as tmp:
        wavfile.write(str(tmp), int(rate), np.ascontiguousarray(audio, dtype=np.float32))
    return Path(dest)


def normalize_lufs(audio: np.ndarray, rate: int, level_lufs: float, dest: Path) -> dict[str, float]:
    """Write `audio` to dest at `level_lufs` integrated (a plain gain, kept under -1 dBFS sample peak); returns
    its loudness: measured before the gain (BS.1770 through ffmpeg), moved by the gain (a linear gain moves every
    figure by as many dB and leaves the loudness range as it was), RMS and sample peak measured after it."""
    from pipeline.audio.loudness import Measurement, measure

    with tempfile.TemporaryDirectory(prefix="dubline-level-") as tmp:
        before = measure(write_float_wav(audio, rate, Path(tmp) / "before.wav"))
    gain = 1.0 if not math.isfinite(before.integrated_lufs) else 10 ** ((level_lufs - before.integrated_lufs) / 20)
    peak = float(np.max(np.abs(audio))) if audio.size else 0.0
    if peak * gain > PEAK_CEILING:
        gain = PEAK_CEILING / peak
    out = audio * np.float32(gain)
    write_float_wav(out, rate, dest)
    db = 20 * math.log10(gain)
    rms = float(np.sqrt(np.mean(np.square(out, dtype=np.float64)))) if out.size else 0.0
    after = Measurement(
        before.integrated_lufs + db,
        before.lra_lu,
        before.true_peak_dbtp + db,
        20 * math.log10(rms) if rms > 0 else -200.0,
        20 * math.log10(peak * gain) if peak > 0 else -200.0,
    )
    return after.as_dict()


# --- notation: MIDI (pretty-midi) and MusicXML (music21) ---------------------------------------------------

# where the score shows each General MIDI drum (step, octave, notehead)
_DRUM_DISPLAY = {
    36: ("F", 4, "normal"),
    37: ("C", 5, "x"),
    38: ("C", 5, "normal"),
    41: ("A", 4, "normal"),
    42: ("G", 5, "x"),
    43: ("A", 4, "normal"),
    45: ("D", 5, "normal"),
    49: ("A", 5, "x"),
    51: ("F", 5, "x"),
    70: ("E", 5, "x"),
    81: ("A", 5, "triangle"),
}


def write_midi(piece: Piece, dest: Path, reverb: int, mix: dict[str, tuple[int, int]]) -> Path:
    """The piece as a type-1 MIDI file: one track a part, drums on channel 10."""
    import pretty_midi

    spb = 60.0 / piece.tempo
    pm = pretty_midi.PrettyMIDI(initial_tempo=piece.tempo, resolution=480)
    pm.key_signature_changes.append(
        pretty_midi.KeySignature(piece.key.pc + (12 if piece.key.mode == "minor" else 0), 0)
    )
    pm.time_signature_changes.append(pretty_midi.TimeSignature(BEATS_PER_BAR, 4, 0.0))
    for part in piece.parts:
        inst = pretty_midi.Instrument(program=part.program, is_drum=part.is_drum, name=part.name)
        volume, pan = mix.get(part.name, (100, 64))
        for number, value in ((7, volume), (10, pan), (91, reverb), (93, 0)):
            inst.control_changes.append(pretty_midi.ControlChange(number, value, 0.0))
        starts: dict[float, int] = {}
        for n in part.notes:
            order = starts[n.start] = starts.get(n.start, -1) + 1  # a strummed chord's notes follow one another
            start = (n.start + part.strum * order) * spb
            end = max(start + 0.01, (n.start + n.dur * n.gate) * spb)
            inst.notes.append(pretty_midi.Note(velocity=n.velocity, pitch=n.pitch, start=start, end=end))
        if part.pedal:
            for span in piece.spans:
                inst.control_changes.append(pretty_midi.ControlChange(64, 127, span.start * spb + 0.005))
                inst.control_changes.append(pretty_midi.ControlChange(64, 0, (span.start + span.beats) * spb - 0.01))
        pm.instruments.append(inst)
    with atomic_path(dest, suffix=".mid") as tmp:
        pm.write(str(tmp))
    return dest


def write_musicxml(piece: Piece, dest: Path, title: str) -> Path:
    """The score as MusicXML 4 (music21): parts with their instruments, key, metre, tempo and chord symbols."""
    from music21 import chord, clef, harmony, instrument, metadata, meter, note, percussion, pitch, stream, tempo
    from music21 import key as m21key
    from music21.musicxml.m21ToXml import GeneralObjectExporter

    k = piece.key

    def spelt(midi: int) -> pitch.Pitch:
        return pitch.Pitch(f"{k.spell(midi % 12).replace('b', '-')}{midi // 12 - 1}")

    score = stream.Score()
    score.metadata = metadata.Metadata(title=title)
    score.metadata.composer = f"{GENERATOR} {VERSION}"
    for i, part in enumerate(piece.parts):
        p = stream.Part()
        p.id = f"P{i + 1}"  # fixed ids: music21 makes random ones
        p.partName = part.name
        inst = instrument.UnpitchedPercussion() if part.is_drum else instrument.instrumentFromMidiProgram(part.program)
        inst.partId, inst.instrumentId = p.id, f"P{i + 1}-I1"
        p.insert(0, inst)
        p.insert(
            0, clef.PercussionClef() if part.is_drum else clef.BassClef() if part.name == "Bass" else clef.TrebleClef()
        )
        if not part.is_drum:
            p.insert(0, m21key.Key(k.tonic.replace("b", "-"), k.mode))
        p.insert(0, meter.TimeSignature(f"{BEATS_PER_BAR}/4"))
        if i == 0:
            p.insert(0, tempo.MetronomeMark(number=round(piece.tempo, 1)))
            for span in piece.spans:
                root = k.spell(span.chord.root)
                figure = root.replace("b", "-") + span.chord.symbol[len(root) :]
                p.insert(span.start, harmony.ChordSymbol(figure))
        groups: dict[tuple[float, float], list[int]] = {}
        for n in part.notes:
            groups.setdefault((n.start, n.dur), []).append(n.pitch)
        for (start, dur), pitches in sorted(groups.items()):
            if part.is_drum:
                hits = []
                for m in sorted(set(pitches)):
                    step, octave, head = _DRUM_DISPLAY.get(m, ("C", 5, "normal"))
                    u = note.Unpitched(displayName=f"{step}{octave}")
                    u.notehead = head
                    hits.append(u)
                el: Any = hits[0] if len(hits) == 1 else percussion.PercussionChord(hits)
            elif len(pitches) == 1:
                el = note.Note(spelt(pitches[0]))
            else:
                el = chord.Chord([spelt(m) for m in sorted(pitches)])
            el.quarterLength = dur
            p.insert(start, el)
        score.insert(0, p)
    xml = GeneralObjectExporter().parse(score)
    # music21 stamps the file with today's date; without it the same score gives the same bytes
    xml = re.sub(rb"\s*<encoding-date>[^<]*</encoding-date>", b"", xml, count=1)
    return atomic_write_bytes(dest, xml)
