"""Speech synthesis adapters: SVOX Pico, Piper (ONNX) and eSpeak NG.

Every engine writes mono 16-bit PCM WAV (Pico 16 kHz, eSpeak NG and Piper 22.05 kHz) to the path it is
given, atomically (a temporary file beside it, then a rename). The Debian engines run as subprocesses
with argument lists; Piper runs in-process through its Python API, imported lazily, its loaded voice
cached per process.
"""

from __future__ import annotations

import functools
import math
import os
import re
import subprocess
import tempfile
import threading
import wave
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any
from xml.sax.saxutils import escape as xml_escape

import numpy as np

from models.base import TTS, EngineError, EngineUnavailable, ModelInfo, Prosody, Voice
from models.system import LazyInfo, base_language, dpkg_version, stderr_tail

if TYPE_CHECKING:  # pragma: no cover
    from piper import PiperVoice

DEFAULT_TTS_PREFERENCE: dict[str, list[str]] = {
    "en": ["piper", "kokoro", "pico", "espeak"],
    "*": ["kokoro", "pico", "espeak"],
}

_STDERR_TAIL = 800


# --- helpers -------------------------------------------------------------------------------------


def _tail(text: str | bytes | None) -> str:
    return stderr_tail(text, _STDERR_TAIL)


def _run(
    engine: str, args: Sequence[str], timeout: float | None = None, input_text: str | None = None
) -> subprocess.CompletedProcess[str]:
    """Run a command; any failure becomes an EngineError naming the engine and the stderr tail."""
    try:
        r = subprocess.run(
            list(args), input=input_text, capture_output=True, text=True, encoding="utf-8", timeout=timeout
        )
    except FileNotFoundError as e:
        raise EngineUnavailable(f"{engine}: '{args[0]}' is not installed; run `make setup`") from e
    except OSError as e:  # e.g. E2BIG: argument list too long
        raise EngineError(f"{engine}: cannot run '{args[0]}': {e}") from e
    except subprocess.TimeoutExpired as e:
        raise EngineError(f"{engine}: '{args[0]}' timed out after {timeout} s: {_tail(e.stderr)}") from e
    if r.returncode != 0:
        detail = _tail(r.stderr) or _tail(r.stdout) or "(no output)"
        raise EngineError(f"{engine}: '{args[0]}' failed with exit status {r.returncode}: {detail}")
    return r


@contextmanager
def _atomic_wav(out_path: Path) -> Iterator[Path]:
    """A temporary '.wav' path beside out_path, renamed onto it when the block succeeds."""
    out_path = Path(out_path)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{out_path.name}.", suffix=".wav", dir=out_path.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        yield tmp
        os.replace(tmp, out_path)
    finally:
        tmp.unlink(missing_ok=True)


def _check_wav(engine: str, path: Path) -> None:
    try:
        with wave.open(str(path), "rb") as w:
            frames = w.getnframes()
    except (wave.Error, EOFError, OSError) as e:
        raise EngineError(f"{engine}: produced no readable WAV ({e})") from e
    if frames == 0:
        raise EngineError(f"{engine}: produced no audio (is the text only punctuation?)")


def _concat_wavs(parts: Sequence[Path], out: Path) -> None:
    """Join WAV files of identical format into one."""
    with wave.open(str(parts[0]), "rb") as first:
        params = first.getparams()
    with wave.open(str(out), "wb") as dst:
        dst.setnchannels(params.nchannels)
        dst.setsampwidth(params.sampwidth)
        dst.setframerate(params.framerate)
        for p in parts:
            with wave.open(str(p), "rb") as src:
                if (src.getnchannels(), src.getsampwidth(), src.getframerate()) != (
                    params.nchannels,
                    params.sampwidth,
                    params.framerate,
                ):
                    raise EngineError(f"cannot join WAVs of different formats: {parts[0]} and {p}")
                dst.writeframes(src.readframes(src.getnframes()))


_SENTENCE_END = re.compile(r"(?<=[.!?;:…。！？])\s+")
_CLAUSE_END = re.compile(r"(?<=[,;:—–])\s+")


def split_text(text: str, max_chars: int) -> list[str]:
    """Split text into pieces of at most max_chars, at sentence ends, else clauses, else spaces."""
    text = " ".join(text.split())
    if len(text) <= max_chars:
        return [text] if text else []
    pieces: list[str] = []
    for sentence in _SENTENCE_END.split(text):
        if len(sentence) <= max_chars:
            pieces.append(sentence)
            continue
        for clause in _CLAUSE_END.split(sentence):
            while len(clause) > max_chars:
                cut = clause.rfind(" ", 0, max_chars + 1)
                if cut <= 0:
                    cut = max_chars
                pieces.append(clause[:cut].strip())
                clause = clause[cut:].strip()
            if clause:
                pieces.append(clause)
    chunks: list[str] = []
    for piece in pieces:  # pack greedily back up to max_chars
        if chunks and len(chunks[-1]) + 1 + len(piece) <= max_chars:
            chunks[-1] = f"{chunks[-1]} {piece}"
        else:
            chunks.append(piece)
    return [c for c in chunks if c]


def _clamp(value: float, lo: int, hi: int) -> int:
    return max(lo, min(hi, round(value)))


def _require_text(engine: str, text: str) -> str:
    if not text or not text.strip():
        raise EngineError(f"{engine}: nothing to say (empty text)")
    return text.strip()


def _check_prosody(engine: str, prosody: Prosody) -> None:
    if prosody.rate <= 0 or prosody.pitch <= 0 or prosody.volume < 0:
        raise EngineError(f"{engine}: invalid prosody {prosody} (rate and pitch must be > 0, volume >= 0)")


def _check_voice(engine: str, voice: Voice) -> None:
    if voice.engine != engine:
        raise EngineError(f"{engine}: voice {voice.id!r} belongs to engine {voice.engine!r}")


_LazyInfo = LazyInfo


# --- SVOX Pico -----------------------------------------------------------------------------------


class PicoTTS(_LazyInfo):
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
        speed = _clamp(prosody.rate * 100, 20, 500)
        pitch = _clamp(prosody.pitch * 100, 50, 200)
        volume = _clamp(prosody.volume * 50, 0, 500)  # Pico's own level is 50 (100 doubles it)
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
        text = _require_text(self.name, self.clean(text))
        _check_voice(self.name, voice)
        _check_prosody(self.name, prosody)
        if voice.id not in self.ALL_VOICE_IDS:
            raise EngineUnavailable(f"pico has no voice {voice.id!r}; voices: {', '.join(self.ALL_VOICE_IDS)}")
        prefix = self.markup(prosody)
        chunks = split_text(text, self.max_chars)
        out_path = Path(out_path)
        with (
            _atomic_wav(out_path) as tmp,
            tempfile.TemporaryDirectory(prefix=".pico-", dir=tmp.parent) as tmpdir,  # same filesystem
        ):
            parts: list[Path] = []
            for i, chunk in enumerate(chunks):
                part = Path(tmpdir) / f"part{i:04d}.wav"  # pico2wave insists on a .wav name
                _run(
                    self.name,
                    [self.binary, "-l", voice.id, "-w", str(part), "--", prefix + chunk],
                    self.timeout,
                )
                parts.append(part)
            if len(parts) == 1:
                os.replace(parts[0], tmp)
            else:
                _concat_wavs(parts, tmp)
            _check_wav(self.name, tmp)
        return out_path


# --- eSpeak NG -----------------------------------------------------------------------------------

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
    r = _run("espeak", [binary, "--voices"], timeout=60)
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
    return _clamp(50 * pitch_range * pitch, 0, 100)


def espeak_pitch_value(pitch: float, pitch_range: float = 1.0) -> int:
    """espeak-ng's `-p` value for a pitch multiplier, after the median shift that the range level brings."""
    level = espeak_range_value(pitch, pitch_range)
    semitones = 12.0 * math.log2(pitch) - _ESPEAK_RANGE_MEDIAN_ST * (level / 50 - 1.0)
    return _clamp(float(np.interp(semitones, _ESPEAK_P_ST, _ESPEAK_P)), 0, 99)


def espeak_ssml(text: str, range_level: int) -> str:
    """The text, escaped, in SSML with an F0-range level (espeak-ng `-m`)."""
    return f'<speak><prosody range="{range_level}">{xml_escape(text)}</prosody></speak>'


class EspeakTTS(_LazyInfo):
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
        text = _require_text(self.name, text)
        _check_voice(self.name, voice)
        _check_prosody(self.name, prosody)
        wpm = _clamp(self.BASE_WPM * prosody.rate, 80, 500)
        pitch = espeak_pitch_value(prosody.pitch, prosody.pitch_range)
        range_level = espeak_range_value(prosody.pitch, prosody.pitch_range)
        amplitude = _clamp(100 * prosody.volume, 0, 200)
        spoken = " ".join(text.split())
        ssml = range_level != 50
        out_path = Path(out_path)
        with _atomic_wav(out_path) as tmp:
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
            _run(self.name, args, self.timeout, input_text=body + "\n")
            _check_wav(self.name, tmp)
        return out_path


# --- Piper ---------------------------------------------------------------------------------------

_PIPER_CACHE: dict[tuple[str, str], PiperVoice] = {}
_PIPER_LOCK = threading.Lock()
_PIPER_PID = os.getpid()


def _load_piper(model_path: Path, config_path: Path) -> PiperVoice:
    """Load (once per process) a Piper voice; a forked worker loads its own."""
    global _PIPER_PID
    key = (str(model_path), str(config_path))
    with _PIPER_LOCK:
        if _PIPER_PID != os.getpid():  # forked: an inherited onnxruntime session is not safe to use
            _PIPER_CACHE.clear()
            _PIPER_PID = os.getpid()
        voice = _PIPER_CACHE.get(key)
        if voice is None:
            try:
                from piper import PiperVoice
            except ImportError as e:
                raise EngineUnavailable("piper: the piper-tts package is not installed; run `make setup`") from e
            try:
                # espeak-ng data for phonemisation ships inside piper-tts: nothing is downloaded.
                voice = PiperVoice.load(model_path, config_path=config_path)
            except Exception as e:  # onnxruntime raises its own types
                raise EngineError(f"piper: cannot load voice {model_path}: {e}") from e
            _PIPER_CACHE[key] = voice
        return voice


# Piper's clip duration does not follow length_scale in proportion (each phoneme's frame count is rounded up,
# and short phonemes dominate): duration factor measured per length_scale (6 English sentences, geometric
# mean; one run is within about 5 % of it, Piper's duration noise). Used inverted: rate r asks 1/r duration.
_PIPER_LS = (0.5, 0.6, 0.7, 0.8, 0.9, 1.0, 1.1, 1.2, 1.35, 1.5, 1.7, 2.0)
_PIPER_DURATION = (0.632, 0.681, 0.776, 0.876, 0.952, 1.0, 1.045, 1.13, 1.234, 1.346, 1.505, 1.712)


def piper_length_scale(rate: float) -> float:
    """Piper's length_scale for a speaking-rate multiplier (clip duration 1/rate of the natural one); past the
    measured table, the power law of its last two points, within 0.25-4."""
    target = math.log(1.0 / rate)
    xs, ys = np.log(_PIPER_DURATION), np.log(_PIPER_LS)
    if xs[0] <= target <= xs[-1]:
        return float(math.exp(np.interp(target, xs, ys)))
    i = (0, 1) if target < xs[0] else (-2, -1)
    slope = (ys[i[1]] - ys[i[0]]) / (xs[i[1]] - xs[i[0]])
    end = 0 if target < xs[0] else -1
    return float(min(4.0, max(0.25, math.exp(ys[end] + slope * (target - xs[end])))))


class PiperTTS(_LazyInfo):
    """Piper 1.8 (VITS on onnxruntime, CPU) with one voice model; English en_US-joe-medium here.

    Prosody: rate -> length_scale through a measured table (piper_length_scale; a plain 1/rate gave only
    about half the change: rate 1.15 made clips 0.93 x as long, not 0.87 x); volume -> Piper's volume
    multiplier (after peak normalisation). Piper has no pitch control: pitch and pitch_range are ignored
    here and applied by WORLD post-processing (models.worldfx.apply_prosody_post). Its durations are
    stochastic (the duration predictor's noise): a few percent from one run to the next.
    """

    name = "piper"

    def __init__(
        self,
        model_path: Path,
        config_path: Path | None = None,
        model_id: str = "piper-en_US-joe-medium",
        sha256: str | None = None,
    ) -> None:
        self.model_path = Path(model_path)
        self.config_path = Path(config_path) if config_path else Path(f"{model_path}.json")
        self.model_id = model_id
        self._sha256 = sha256

    @classmethod
    def from_registry(cls, model_id: str = "piper-en_US-joe-medium", model_dir: Path | None = None) -> PiperTTS:
        """The installed registry voice (WeightsError, an EngineUnavailable, when it is not installed)."""
        from models import registry

        spec = registry.SPECS[model_id]
        folder = registry.require(model_id, model_dir)
        onnx = folder / spec.main_file
        return cls(onnx, Path(f"{onnx}.json"), model_id=model_id, sha256=spec.main_sha256)

    def _make_info(self) -> ModelInfo:
        sha = self._sha256
        if sha is None:
            from models import registry

            spec = registry.SPECS.get(self.model_id)
            sha = spec.main_sha256 if spec is not None else ""
            if not sha and self.model_path.is_file():
                sha = registry.sha256_file(self.model_path)
        try:
            from importlib.metadata import version

            piper_version = version("piper-tts")
        except Exception:
            piper_version = "unknown"
        return ModelInfo(self.model_id, f"{self.voice_id} (piper-tts {piper_version})", sha)

    @property
    def voice_id(self) -> str:
        name = self.model_path.name
        return name[: -len(".onnx")] if name.endswith(".onnx") else self.model_path.stem

    @functools.cached_property
    def _config(self) -> dict[str, Any]:
        import json

        try:
            with open(self.config_path, encoding="utf-8") as f:
                data: dict[str, Any] = json.load(f)
        except (OSError, ValueError) as e:
            raise EngineUnavailable(f"piper: cannot read voice config {self.config_path}: {e}") from e
        return data

    def languages(self) -> list[str]:
        cfg = self._config
        tag = (cfg.get("language") or {}).get("code") or (cfg.get("espeak") or {}).get("voice") or ""
        return [base_language(tag)] if tag else []

    def voice_for(self, language: str) -> Voice:
        base = base_language(language)
        if base not in self.languages():
            speaks = ", ".join(self.languages()) or "nothing"
            raise EngineUnavailable(f"piper voice {self.voice_id} speaks {speaks}, not '{language}'")
        return Voice(engine=self.name, id=self.voice_id, language=base)

    def synthesize(self, text: str, voice: Voice, out_path: Path, prosody: Prosody = Prosody()) -> Path:
        text = _require_text(self.name, text)
        _check_voice(self.name, voice)
        _check_prosody(self.name, prosody)
        if voice.id != self.voice_id:
            raise EngineUnavailable(f"piper: voice {voice.id!r} is not loaded (this engine has {self.voice_id})")
        piper_voice = _load_piper(self.model_path, self.config_path)
        from piper import SynthesisConfig

        syn = SynthesisConfig(length_scale=piper_length_scale(prosody.rate), volume=prosody.volume)
        out_path = Path(out_path)
        with _atomic_wav(out_path) as tmp:
            try:
                chunks = iter(piper_voice.synthesize(" ".join(text.split()), syn_config=syn))
                first = next(chunks, None)
                if first is None:
                    raise EngineError("piper: produced no audio (is the text only punctuation?)")
                with wave.open(str(tmp), "wb") as w:
                    w.setframerate(first.sample_rate)
                    w.setsampwidth(first.sample_width)
                    w.setnchannels(first.sample_channels)
                    w.writeframes(first.audio_int16_bytes)
                    for chunk in chunks:
                        w.writeframes(chunk.audio_int16_bytes)
            except EngineError:
                raise
            except Exception as e:
                raise EngineError(f"piper: synthesis failed: {type(e).__name__}: {e}") from e
            _check_wav(self.name, tmp)
        return out_path


# --- choosing ------------------------------------------------------------------------------------


def preference_for(language: str, prefs: dict[str, list[str]] = DEFAULT_TTS_PREFERENCE) -> list[str]:
    """Engine names to try for a language: its own entry ('en-GB', then 'en'), else the '*' entry."""
    tag = language.strip().replace("_", "-")
    for key in (tag, tag.lower(), base_language(tag)):
        if key in prefs:
            return list(prefs[key])
    return list(prefs.get("*", []))


def _speaks(engine: TTS, language: str) -> bool:
    try:
        engine.voice_for(language)
    except EngineUnavailable:
        return False
    return True


def choose_tts(language: str, engines: list[TTS], preference: list[str]) -> TTS:
    """The first engine, in preference order, that has a voice for the language."""
    by_name: dict[str, TTS] = {}
    for e in engines:
        by_name.setdefault(e.name, e)
    tried: list[str] = []
    for name in preference:
        engine = by_name.get(name)
        if engine is None:
            continue
        tried.append(name)
        if _speaks(engine, language):
            return engine
    not_in_pref = sorted(set(by_name) - set(preference))
    msg = f"no TTS engine speaks '{language}'; tried {', '.join(tried) or 'none'}"
    missing = [n for n in preference if n not in by_name]
    if missing:
        msg += f" (not available here: {', '.join(missing)})"
    if not_in_pref:
        msg += f"; not in the preference list: {', '.join(not_in_pref)}"
    raise EngineUnavailable(msg)
