"""Speech synthesis: what the engine adapters share, and choosing an engine for a language.

The adapters live one per engine family: SVOX Pico (models.pico), eSpeak NG (models.espeak), Piper
(models.piper) and Kokoro (models.kokoro). Every engine writes mono 16-bit PCM WAV to the path it is given,
atomically (a temporary file beside it, then a rename: `atomic_wav`). The Debian engines run as subprocesses
with argument lists (`run_engine`); the ONNX engines run in-process, imported lazily, their loaded model
cached per process.
"""

from __future__ import annotations

import re
import subprocess
import wave
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from models.base import TTS, EngineError, EngineUnavailable, Prosody, Voice
from models.files import atomic_path
from models.system import stderr_tail

# Engines to try per language ("*": any other); the default of the pipeline's DUBLINE_TTS_PREFERENCE.
DEFAULT_TTS_PREFERENCE: dict[str, list[str]] = {
    "en": ["piper", "kokoro", "pico", "espeak"],
    "*": ["kokoro", "pico", "espeak"],
}

_STDERR_TAIL = 800


# --- helpers -------------------------------------------------------------------------------------


def _tail(text: str | bytes | None) -> str:
    return stderr_tail(text, _STDERR_TAIL)


def run_engine(
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
def atomic_wav(out_path: Path) -> Iterator[Path]:
    """A temporary '.wav' path beside out_path, renamed onto it when the block succeeds."""
    with atomic_path(Path(out_path), suffix=".wav") as tmp:
        yield tmp


def check_wav(engine: str, path: Path) -> None:
    """An EngineError unless path is a readable WAV with at least one frame."""
    try:
        with wave.open(str(path), "rb") as w:
            frames = w.getnframes()
    except (wave.Error, EOFError, OSError) as e:
        raise EngineError(f"{engine}: produced no readable WAV ({e})") from e
    if frames == 0:
        raise EngineError(f"{engine}: produced no audio (is the text only punctuation?)")


def concat_wavs(parts: Sequence[Path], out: Path) -> None:
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


def clamp(value: float, lo: int, hi: int) -> int:
    """value rounded to an int within lo..hi."""
    return max(lo, min(hi, round(value)))


def require_text(engine: str, text: str) -> str:
    """The text, stripped; an EngineError when there is nothing to say."""
    if not text or not text.strip():
        raise EngineError(f"{engine}: nothing to say (empty text)")
    return text.strip()


def check_prosody(engine: str, prosody: Prosody) -> None:
    if prosody.rate <= 0 or prosody.pitch <= 0 or prosody.volume < 0:
        raise EngineError(f"{engine}: invalid prosody {prosody} (rate and pitch must be > 0, volume >= 0)")


def check_voice(engine: str, voice: Voice) -> None:
    if voice.engine != engine:
        raise EngineError(f"{engine}: voice {voice.id!r} belongs to engine {voice.engine!r}")


# --- choosing ------------------------------------------------------------------------------------


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
