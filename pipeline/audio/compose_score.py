"""The composer's rules: keys, moods, chord progressions, and the four parts of a piece (melody, chords, bass,
drums) as note events counted in beats. Pure functions of their arguments and a seed: no audio, no files.

A mood sets the mode, the progressions to choose from, the cadence, the instruments (General MIDI programs)
and how each part moves. The melody follows the chords: chord tones on the strong beats (1 and 3), and on the
weak beats a stepwise passing or neighbour tone of the scale (or the strong note held). The piece ends on the
tonic chord, after the mood's cadence.
"""

from __future__ import annotations

import math
import random
import re
from dataclasses import dataclass, field

from pipeline.core.errors import InputError

MOODS = ("calm", "bright", "tense", "sad")
BEATS_PER_BAR = 4
MAJOR = (0, 2, 4, 5, 7, 9, 11)
MINOR = (0, 2, 3, 5, 7, 8, 10)  # natural minor; a minor key's V chord takes the raised 7th (harmonic minor)
TONICS = ("C", "C#", "Db", "D", "D#", "Eb", "E", "F", "F#", "Gb", "G", "G#", "Ab", "A", "A#", "Bb", "B")
_LETTER_PC = {"C": 0, "D": 2, "E": 4, "F": 5, "G": 7, "A": 9, "B": 11}
_SHARP_NAMES = ("C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B")
_FLAT_NAMES = ("C", "Db", "D", "Eb", "E", "F", "Gb", "G", "Ab", "A", "Bb", "B")
_KEY_RE = re.compile(r"^\s*([A-Ga-g])([#b]?)\s*(m|min|minor|maj|major)?\s*$")
_ROMAN = ("I", "II", "III", "IV", "V", "VI", "VII")
_KEY_HINT = "use a tonic C, C#, Db, D, D#, Eb, E, F, F#, Gb, G, G#, Ab, A, A#, Bb or B, with m for minor (Am, F#m)"


@dataclass(frozen=True)
class Key:
    tonic: str  # "Db"
    pc: int  # pitch class of the tonic, 0 = C
    mode: str  # "major" | "minor"

    @property
    def name(self) -> str:
        return f"{self.tonic} {self.mode}"

    @property
    def short(self) -> str:
        return self.tonic + ("m" if self.mode == "minor" else "")

    def scale(self, harmonic: bool = False) -> tuple[int, ...]:
        steps = MAJOR if self.mode == "major" else MINOR
        pcs = [(self.pc + s) % 12 for s in steps]
        if harmonic and self.mode == "minor":
            pcs[6] = (self.pc + 11) % 12
        return tuple(pcs)

    @property
    def flats(self) -> bool:
        """Whether the key is spelt with flats (F major, D minor and the keys named with a flat)."""
        relative_major = self.pc if self.mode == "major" else (self.pc + 3) % 12
        return "b" in self.tonic or relative_major in (5, 10, 3, 8, 1, 6) and "#" not in self.tonic

    def spell(self, pc: int) -> str:
        return (_FLAT_NAMES if self.flats else _SHARP_NAMES)[pc % 12]


def parse_key(text: str, default_mode: str = "major") -> Key:
    """'C', 'F#', 'Db', 'Am', 'Bbm', 'A minor', 'Eb major' -> Key. A bare tonic takes `default_mode`."""
    m = _KEY_RE.match(text or "")
    tonic = (m.group(1).upper() + m.group(2)) if m else ""
    if not m or tonic not in TONICS:
        raise InputError(f"unknown key {text!r}", _KEY_HINT)
    pc = (_LETTER_PC[tonic[0]] + {"#": 1, "b": -1, "": 0}[m.group(2)]) % 12
    word = (m.group(3) or "").lower()
    mode = "minor" if word in ("m", "min", "minor") else "major" if word in ("maj", "major") else default_mode
    return Key(tonic, pc, mode)


@dataclass(frozen=True)
class Chord:
    numeral: str  # "IV", "vi", "V" (in a minor key: with the raised 7th)
    root: int  # pitch class
    pcs: tuple[int, ...]  # root, third, fifth (, seventh)
    symbol: str  # "Dbmaj7", "Bbm"

    @property
    def triad(self) -> tuple[int, ...]:
        return self.pcs[:3]


def chord(key: Key, numeral: str, seventh: bool = False) -> Chord:
    """The diatonic chord of a roman numeral in `key` (case is ignored: the scale decides the quality)."""
    degree = _ROMAN.index(numeral.upper().rstrip("°o+"))
    scale = key.scale(harmonic=key.mode == "minor" and numeral == "V")
    pcs = tuple(scale[(degree + k) % 7] for k in ((0, 2, 4, 6) if seventh else (0, 2, 4)))
    root = pcs[0]
    third, fifth = (pcs[1] - root) % 12, (pcs[2] - root) % 12
    quality = {(4, 7): "", (3, 7): "m", (3, 6): "dim", (4, 8): "aug"}[(third, fifth)]
    if seventh:
        sev = (pcs[3] - root) % 12
        quality = {("", 11): "maj7", ("", 10): "7", ("m", 10): "m7", ("m", 11): "mMaj7", ("dim", 10): "m7b5"}.get(
            (quality, sev), quality
        )
    return Chord(numeral, root, pcs, key.spell(root) + quality)


@dataclass(frozen=True)
class Style:
    mode: str
    progressions: tuple[tuple[str, ...], ...]
    cadence: str  # the chord before the final tonic
    sevenths: bool
    programs: dict[str, int]  # part -> General MIDI program (0-based)
    chords: str  # pad | strum | arpeggio
    bass: str  # half | walk | pulse | whole
    drums: str  # the pattern's name: the mood's
    melody_centre: int  # MIDI pitch the melody moves around
    motion: tuple[float, float, float]  # weights of hold / passing quarter / two eighths on a weak beat
    rest_bar: float  # chance that a bar of the melody rests (room for speech)
    velocity: int  # the melody's
    chord_velocity: int  # the chords' (their accents a little above)


# fmt: off
STYLES = {
    "calm": Style(
        mode="major", cadence="IV", sevenths=True, chords="pad", bass="half", drums="calm",
        progressions=(("I", "IV", "vi", "V"), ("I", "vi", "IV", "V"), ("I", "V", "IV", "IV"), ("vi", "IV", "I", "V")),
        programs={"melody": 11, "chords": 89, "bass": 32},  # vibraphone, warm pad, acoustic bass
        melody_centre=72, motion=(0.45, 0.45, 0.10), rest_bar=0.15, velocity=64, chord_velocity=52,
    ),
    "bright": Style(
        mode="major", cadence="V", sevenths=False, chords="strum", bass="walk", drums="bright",
        progressions=(("I", "V", "vi", "IV"), ("I", "IV", "V", "IV"), ("vi", "IV", "I", "V"), ("I", "iii", "IV", "V")),
        programs={"melody": 73, "chords": 25, "bass": 33},  # flute, steel-string guitar, finger bass
        melody_centre=74, motion=(0.15, 0.45, 0.40), rest_bar=0.0, velocity=80, chord_velocity=78,
    ),
    "tense": Style(
        mode="minor", cadence="V", sevenths=False, chords="pad", bass="pulse", drums="tense",
        progressions=(("i", "VI", "III", "VII"), ("i", "iv", "V", "i"), ("i", "VII", "VI", "V"), ("i", "i", "VI", "V")),
        programs={"melody": 71, "chords": 48, "bass": 38},  # clarinet, string ensemble, synth bass
        melody_centre=64, motion=(0.40, 0.50, 0.10), rest_bar=0.10, velocity=70, chord_velocity=42,
    ),
    "sad": Style(
        mode="minor", cadence="iv", sevenths=True, chords="arpeggio", bass="whole", drums="sad",
        progressions=(
            ("i", "VI", "III", "VII"), ("i", "iv", "VII", "III"), ("i", "VI", "iv", "V"), ("VI", "VII", "i", "i")
        ),
        programs={"melody": 42, "chords": 0, "bass": 43},  # cello, piano (arpeggios, pedalled), contrabass
        melody_centre=60, motion=(0.45, 0.45, 0.10), rest_bar=0.15, velocity=66, chord_velocity=88,
    ),
}
# fmt: on

# General MIDI percussion (channel 10): per mood, one bar as (note, beat, velocity)
_KICK, _STICK, _SNARE, _FLOOR_TOM, _HAT, _HI_FLOOR_TOM, _LOW_TOM = 36, 37, 38, 41, 42, 43, 45
_CRASH, _RIDE, _SHAKER, _TRIANGLE = 49, 51, 70, 81  # maracas as the shaker; open triangle
DRUM_BAR: dict[str, list[tuple[int, float, int]]] = {
    "calm": [(_KICK, 0.0, 52), (_STICK, 2.0, 34)] + [(_SHAKER, b / 2, 40 if b % 2 == 0 else 30) for b in range(8)],
    "bright": [(_KICK, 0.0, 80), (_KICK, 2.0, 72), (_KICK, 2.5, 62), (_SNARE, 1.0, 70), (_SNARE, 3.0, 70)]
    + [(_HAT, b / 2, 56 if b % 2 == 0 else 40) for b in range(8)],
    "tense": [(_KICK, 0.0, 84), (_KICK, 0.75, 60), (_FLOOR_TOM, 2.0, 62)]
    + [(_HAT, b / 4, 30 if b % 2 == 0 else 20) for b in range(16)],
    "sad": [(_KICK, 0.0, 48)] + [(_RIDE, float(b), 40) for b in range(4)],
}
DRUM_FILL = {"tense": [(_LOW_TOM, 3.0, 56), (_LOW_TOM, 3.25, 60), (_HI_FLOOR_TOM, 3.5, 64), (_FLOOR_TOM, 3.75, 70)]}
DRUM_PHRASE_START = {"bright": [(_CRASH, 0.0, 58)]}
DRUM_END = {
    "calm": [(_KICK, 0.0, 44), (_TRIANGLE, 0.0, 40)],
    "bright": [(_KICK, 0.0, 84), (_CRASH, 0.0, 80)],
    "tense": [(_KICK, 0.0, 84), (_FLOOR_TOM, 0.0, 70), (_CRASH, 0.0, 56)],
    "sad": [(_KICK, 0.0, 40), (_RIDE, 0.0, 36)],
}


@dataclass(frozen=True)
class Note:
    start: float  # beats from the start
    dur: float  # notated length, beats (a multiple of a sixteenth)
    pitch: int
    velocity: int
    gate: float = 1.0  # the sounding fraction of `dur` (staccato < 1)


@dataclass
class Part:
    name: str  # Melody | Chords | Bass | Drums
    program: int
    is_drum: bool = False
    notes: list[Note] = field(default_factory=list)
    pedal: bool = False  # hold the sustain pedal through each chord (arpeggios)
    strum: float = 0.0  # beats between a chord's notes when played (the score shows a block chord)


@dataclass(frozen=True)
class Span:
    start: float  # beats
    beats: float
    chord: Chord


@dataclass
class Piece:
    mood: str
    key: Key
    tempo: float
    bars: int
    spans: list[Span]
    parts: list[Part]
    form: str  # bed | ident

    def chord_at(self, beat: float) -> Chord:
        for s in reversed(self.spans):
            if s.start <= beat + 1e-9:
                return s.chord
        return self.spans[0].chord

    def part(self, name: str) -> Part:
        return next(p for p in self.parts if p.name == name)


def plan(mood: str, key: Key, tempo: float, seconds: float, seed: int, form: str = "bed") -> Piece:
    """The piece: chords by the mood's progressions, covering `seconds` in whole bars, ending on the tonic."""
    style = STYLES[mood]
    rng = random.Random(f"dubline.compose/{form}/{mood}/{seed}")
    bar_s = BEATS_PER_BAR * 60.0 / tempo
    if form == "ident":  # a short lead-in with two chords a bar, then the tonic rings to the end
        lead = max(1, round(0.6 * seconds / bar_s))
        numerals = [n for n in rng.choice(style.progressions) if n != style.cadence]
        numerals = (numerals * 2 * lead)[: 2 * lead - 1] + [style.cadence]
        spans = [Span(2.0 * i, 2.0, chord(key, n, style.sevenths)) for i, n in enumerate(numerals)]
        final_bars = max(1, math.ceil(seconds / bar_s - lead - 1e-9))
        final_beats = float(BEATS_PER_BAR * final_bars)
        bars = lead + final_bars
    else:
        bars = max(2, math.ceil(seconds / bar_s - 1e-9))
        final_bars = 2 if bars >= 3 and seconds - (bars - 1) * bar_s < 0.6 * bar_s else 1
        a, b = rng.sample(range(len(style.progressions)), 2)
        order = [a, a, b, a]
        numerals = []
        for i in range(bars - final_bars):
            numerals.append(style.progressions[order[(i // 4) % 4]][i % 4])
        if len(numerals) >= 2:
            numerals[-1] = style.cadence
        spans = [
            Span(float(BEATS_PER_BAR * i), float(BEATS_PER_BAR), chord(key, n, style.sevenths))
            for i, n in enumerate(numerals)
        ]
        final_beats = float(BEATS_PER_BAR * final_bars)
    tonic_numeral = "I" if key.mode == "major" else "i"
    end = spans[-1].start + spans[-1].beats
    spans.append(Span(end, final_beats, chord(key, tonic_numeral, False)))
    piece = Piece(mood, key, tempo, bars, spans, [], form)
    piece.parts = [
        _melody(piece, style, rng),
        _chords(piece, style, rng),
        _bass(piece, style, rng),
        _drums(piece, style, rng),
    ]
    return piece


def _vel(rng: random.Random, base: int, spread: int = 4) -> int:
    return max(1, min(127, base + rng.randint(-spread, spread)))


def _step(pitch: int, direction: int, scale: tuple[int, ...]) -> int:
    """The next scale tone above (direction 1) or below (-1) `pitch`."""
    p = pitch + direction
    while p % 12 not in scale:
        p += direction
    return p


def _melody(piece: Piece, style: Style, rng: random.Random) -> Part:
    key = piece.key
    low, high = style.melody_centre - 7, style.melody_centre + 9
    part = Part("Melody", style.programs["melody"])
    final = piece.spans[-1]
    tonic = min((p for p in range(low, high + 1) if p % 12 == key.pc), key=lambda p: abs(p - style.melody_centre))
    strong = [b for b in range(0, int(final.start), 2)]  # beats 1 and 3 of every bar before the ending
    chosen: list[int] = []
    prev = tonic
    for beat in strong:
        tones = [p for p in range(low, high + 1) if p % 12 in piece.chord_at(beat).triad]
        weights = [math.exp(-abs(p - prev) / 2.5) * (0.35 if chosen and p == prev else 1.0) for p in tones]
        prev = rng.choices(tones, weights)[0]
        chosen.append(prev)
    resting = {
        bar for bar in range(1, int(final.start) // BEATS_PER_BAR) if rng.random() < style.rest_bar and bar % 4 != 3
    }
    end_pitch = min((p for p in range(low, high + 1) if p % 12 == key.pc), key=lambda p: abs(p - (prev)))
    for i, beat in enumerate(strong):
        bar = beat // BEATS_PER_BAR
        if bar in resting:
            continue
        a = chosen[i]
        c = chosen[i + 1] if i + 1 < len(chosen) else end_pitch
        chord_ = piece.chord_at(beat)
        scale = key.scale(harmonic=chord_.numeral == "V")
        phrase_end = bar % 4 == 3 and beat % BEATS_PER_BAR == 2 and piece.form == "bed"
        motion = "hold" if phrase_end else rng.choices(("hold", "pass", "run"), style.motion)[0]
        vel = _vel(rng, style.velocity + 6)
        if motion == "hold":
            part.notes.append(Note(beat, 1.5 if phrase_end else 2.0, a, vel))
            continue
        part.notes.append(Note(beat, 1.0, a, vel))
        direction = (c > a) - (c < a) or rng.choice((-1, 1))
        p1 = _step(a, direction, scale)
        if not low <= p1 <= high or (p1 == c and motion == "pass"):  # a neighbour tone instead
            p1 = _step(a, -direction, scale)
        p2 = _step(p1, (c > p1) - (c < p1) or -direction, scale) if motion == "run" else c
        if motion == "run" and p2 != c and low <= p2 <= high:
            part.notes += [
                Note(beat + 1, 0.5, p1, _vel(rng, style.velocity)),
                Note(beat + 1.5, 0.5, p2, _vel(rng, style.velocity - 4)),
            ]
        else:
            part.notes.append(Note(beat + 1, 1.0, p1, _vel(rng, style.velocity)))
    part.notes.append(Note(final.start, final.beats, end_pitch, _vel(rng, style.velocity + 4)))
    return part


def _voicing(pcs: tuple[int, ...], prev: list[int] | None, low: int = 52, high: int = 74) -> list[int]:
    """Close-position voicing of the chord within [low, high], the inversion nearest the previous voicing."""
    candidates = []
    for inv in range(len(pcs)):
        order = pcs[inv:] + pcs[:inv]
        for base in range(low, low + 12):
            if base % 12 != order[0]:
                continue
            notes = [base]
            for pc in order[1:]:
                notes.append(notes[-1] + ((pc - notes[-1]) % 12 or 12))
            if notes[-1] <= high:
                candidates.append(notes)
    target = prev if prev else [62] * len(pcs)
    return min(candidates, key=lambda v: (abs(sum(v) / len(v) - sum(target) / len(target)), v))


def _chords(piece: Piece, style: Style, rng: random.Random) -> Part:
    part = Part("Chords", style.programs["chords"], pedal=style.chords == "arpeggio")
    prev: list[int] | None = None
    final = piece.spans[-1]
    for span in piece.spans:
        voicing = _voicing(span.chord.pcs, prev)
        prev = voicing
        last = span is final
        if style.chords == "pad" or last:
            part.notes += [Note(span.start, span.beats, p, _vel(rng, style.chord_velocity, 3)) for p in voicing]
        elif style.chords == "strum":
            part.strum = 0.03
            hits = [0.0, 1.0, 1.5, 2.5, 3.0] if span.beats >= 4 else [0.0, 1.0]
            for j, h in enumerate(hits):
                dur = (hits[j + 1] if j + 1 < len(hits) else span.beats) - h
                vel = _vel(rng, style.chord_velocity + (6 if h in (0.0, 2.5) else -6), 3)
                part.notes += [Note(span.start + h, dur, p, vel, gate=0.9) for p in voicing]
        else:  # arpeggio: eighths up and down the voicing, from the chord's root an octave below
            root = 48 + span.chord.root % 12
            tones = [root - 12 if root >= voicing[0] else root] + voicing + voicing[-2:0:-1]
            for j in range(int(span.beats * 2)):
                vel = _vel(rng, style.chord_velocity + (4 if j % 2 == 0 else -4), 3)
                part.notes.append(Note(span.start + j / 2, 0.5, tones[j % len(tones)], vel))
    return part


def _bass(piece: Piece, style: Style, rng: random.Random) -> Part:
    part = Part("Bass", style.programs["bass"])
    final = piece.spans[-1]
    for i, span in enumerate(piece.spans):
        root = 36 + span.chord.root % 12
        fifth = root + (span.chord.pcs[2] - span.chord.root) % 12
        if span is final or style.bass == "whole":
            part.notes.append(Note(span.start, span.beats, root, _vel(rng, 70)))
        elif style.bass == "half":
            second = fifth if rng.random() < 0.5 else root
            notes = [(0.0, 2.0, root), (2.0, 2.0, second)] if span.beats >= 4 else [(0.0, span.beats, root)]
            part.notes += [Note(span.start + t, d, p, _vel(rng, 66)) for t, d, p in notes]
        elif style.bass == "walk":
            nxt = 36 + piece.spans[i + 1].chord.root % 12
            scale = piece.key.scale(harmonic=piece.spans[i + 1].chord.numeral == "V")
            approach = _step(nxt, -1 if nxt >= fifth else 1, scale)
            if span.beats >= 4:
                notes = [(0.0, 1.5, root), (1.5, 0.5, root), (2.0, 1.0, fifth), (3.0, 1.0, approach)]
            else:
                notes = [(0.0, 1.0, root), (1.0, 1.0, fifth)]
            part.notes += [Note(span.start + t, d, p, _vel(rng, 76), gate=0.85) for t, d, p in notes]
        else:  # pulse: eighths on the root, the downbeats accented
            for j in range(int(span.beats * 2)):
                part.notes.append(Note(span.start + j / 2, 0.5, root, _vel(rng, 84 if j % 4 == 0 else 64, 3), 0.6))
    return part


def _drums(piece: Piece, style: Style, rng: random.Random) -> Part:
    part = Part("Drums", 0, is_drum=True)
    final = piece.spans[-1]
    bars = int(final.start) // BEATS_PER_BAR
    if piece.form == "ident":  # the ident's lead-in is sparse: the pattern's downbeats only, then the hit
        for bar in range(bars):
            hits = [h for h in DRUM_BAR[style.drums] if h[1] in (0.0, 2.0)]
            part.notes += [Note(bar * 4 + t, 1.0, n, _vel(rng, v - 6, 3)) for n, t, v in hits]
    else:
        for bar in range(bars):
            hits = list(DRUM_BAR[style.drums])
            if bar % 4 == 0:
                hits += DRUM_PHRASE_START.get(style.drums, [])
            if bar % 4 == 3 or bar == bars - 1:  # a fill at the end of a phrase and into the ending
                hits = [h for h in hits if h[1] < 3.0] + DRUM_FILL.get(style.drums, [])
            grid = sorted({t for _, t, _ in hits} | {4.0})
            for n, t, v in hits:
                dur = min(1.0, next(g for g in grid if g > t) - t)
                part.notes.append(Note(bar * 4 + t, dur, n, _vel(rng, v, 3)))
    part.notes += [Note(final.start, 4.0, n, _vel(rng, v, 2)) for n, _, v in DRUM_END[style.drums]]
    part.notes.sort(key=lambda n: (n.start, n.pitch))
    return part
