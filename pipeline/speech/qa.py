"""QA of synthesized lines: hear every clip again with Whisper, compare with the intended text, measure how
close the voice is to the one assigned, and re-synthesize a line that was not heard right.

Why: a TTS engine can mispronounce, skip or garble a line (numbers, symbols, stray markup, a name it does
not know), and nobody listens to every line of a batch. Whisper hearing the clip back is a cheap proxy for a
listener: a line heard with a word error rate above `settings.qa_max_wer` is synthesized again with varied
settings (VARIANTS) up to `settings.qa_retries` times, and the best attempt is kept. The figures go into the
Script (Clip.qa, a LineQA) and the job report (`summarize`).

How a stage uses it: build one `LineChecker.from_settings(settings)`; synthesize every line once (VARIANTS[0]);
`checker.check_many(...)` hears them together in ~24 s Whisper windows (Whisper encodes 30 s however short the
clip, so one call per line costs about 2.5x more); then `synthesize_checked(make, ..., first=(clip, qa))` for
each line that failed, which re-synthesizes with VARIANTS[1], VARIANTS[2] and checks each alone.

The comparison (`heard_wer`) is made after a normalisation fit for re-transcriptions: case, punctuation and
hyphens do not count; accents do (a TTS engine that drops them says another word); numbers and the
symbols % & € $ are spelled out on both sides for en/es/fr/de (integers up to 999 999, decimals digit group
by digit group), so "20" heard as "veinte" is no error. Other languages keep their digits as tokens.
Compounds split differently ("wiederzusehen" / "wieder zu sehen") are joined before counting.
"""

from __future__ import annotations

import math
import re
import tempfile
import time
import unicodedata
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

from models.base import ASR, EngineError, EngineUnavailable, Transcription, Word
from models.text import edit_distance, english_number
from pipeline.core.script import LineQA

if TYPE_CHECKING:
    from models.speaker import SpeakerEncoder
    from pipeline.core.config import Settings

SAMPLE_RATE = 16000
PAD_S = 0.5  # silence added each side of a clip before Whisper hears it (short clips hallucinate less)
WINDOW_S = 24.0  # at most this much audio per Whisper call when lines are heard together (its window is 30 s)
GAP_S = 1.0  # silence between lines heard together

# --- numbers to words --------------------------------------------------------------------------------------

_ES_ONES = (
    "cero uno dos tres cuatro cinco seis siete ocho nueve diez once doce trece catorce quince dieciséis "
    "diecisiete dieciocho diecinueve veinte veintiuno veintidós veintitrés veinticuatro veinticinco veintiséis "
    "veintisiete veintiocho veintinueve"
).split()
_ES_TENS = "_ _ _ treinta cuarenta cincuenta sesenta setenta ochenta noventa".split()
_ES_HUNDREDS = (
    "_ ciento doscientos trescientos cuatrocientos quinientos seiscientos setecientos ochocientos novecientos"
).split()

_FR_ONES = (
    "zéro un deux trois quatre cinq six sept huit neuf dix onze douze treize quatorze quinze seize dix-sept "
    "dix-huit dix-neuf"
).split()
_FR_TENS = "_ _ vingt trente quarante cinquante soixante".split()

_DE_ONES = (
    "null eins zwei drei vier fünf sechs sieben acht neun zehn elf zwölf dreizehn vierzehn fünfzehn sechzehn "
    "siebzehn achtzehn neunzehn"
).split()
_DE_TENS = "_ _ zwanzig dreißig vierzig fünfzig sechzig siebzig achtzig neunzig".split()

MAX_SPELLED = 999_999


def _en(n: int) -> str:
    return english_number(n)


def _es(n: int) -> str:
    if n < 30:
        return _ES_ONES[n]
    if n < 100:
        t, u = divmod(n, 10)
        return _ES_TENS[t] + (f" y {_ES_ONES[u]}" if u else "")
    if n == 100:
        return "cien"
    if n < 1000:
        h, r = divmod(n, 100)
        return _ES_HUNDREDS[h] + (f" {_es(r)}" if r else "")
    k, r = divmod(n, 1000)
    head = "mil" if k == 1 else f"{_es(k)} mil"
    head = re.sub(r"veintiuno mil$", "veintiún mil", head)  # apocope before "mil": veintiún mil, treinta y un mil
    head = re.sub(r"\buno mil$", "un mil", head)
    return head + (f" {_es(r)}" if r else "")


def _fr_below_100(n: int) -> str:
    if n < 20:
        return _FR_ONES[n]
    t, u = divmod(n, 10)
    if t in (7, 9):  # soixante-dix..., quatre-vingt-dix...
        base = "soixante" if t == 7 else "quatre-vingt"
        rest = _FR_ONES[10 + u]
        return f"{base} et {rest}" if (t == 7 and u == 1) else f"{base}-{rest}"
    if t == 8:
        return "quatre-vingts" if u == 0 else f"quatre-vingt-{_FR_ONES[u]}"
    if u == 0:
        return _FR_TENS[t]
    return f"{_FR_TENS[t]} et un" if u == 1 else f"{_FR_TENS[t]}-{_FR_ONES[u]}"


def _fr(n: int) -> str:
    if n < 100:
        return _fr_below_100(n)
    if n < 1000:
        h, r = divmod(n, 100)
        head = "cent" if h == 1 else f"{_FR_ONES[h]} cent" + ("s" if r == 0 else "")
        return head + (f" {_fr_below_100(r)}" if r else "")
    k, r = divmod(n, 1000)
    head = "mille" if k == 1 else f"{_fr(k)} mille"
    head = head.replace("quatre-vingts mille", "quatre-vingt mille").replace("cents mille", "cent mille")
    return head + (f" {_fr(r)}" if r else "")


def _de(n: int, final: bool = True) -> str:
    if n < 20:
        return "ein" if (n == 1 and not final) else _DE_ONES[n]
    if n < 100:
        t, u = divmod(n, 10)
        return (f"{_de(u, False)}und" if u else "") + _DE_TENS[t]
    if n < 1000:
        h, r = divmod(n, 100)
        return ("hundert" if h == 1 else f"{_DE_ONES[h]}hundert") + (_de(r, final) if r else "")
    k, r = divmod(n, 1000)
    return ("tausend" if k == 1 else f"{_de(k, False)}tausend") + (_de(r, final) if r else "")


_SPELLERS: dict[str, Callable[[int], str]] = {"en": _en, "es": _es, "fr": _fr, "de": _de}
_POINT = {"en": "point", "es": "coma", "fr": "virgule", "de": "komma"}
_SYMBOLS: dict[str, dict[str, str]] = {
    "en": {"%": "percent", "&": "and", "€": "euros", "$": "dollars", "+": "plus", "=": "equals", "@": "at"},
    "es": {"%": "por ciento", "&": "y", "€": "euros", "$": "dólares", "+": "más", "=": "igual a", "@": "arroba"},
    "fr": {"%": "pour cent", "&": "et", "€": "euros", "$": "dollars", "+": "plus", "=": "égale", "@": "arobase"},
    "de": {"%": "Prozent", "&": "und", "€": "Euro", "$": "Dollar", "+": "plus", "=": "gleich", "@": "at"},
    "it": {"%": "per cento", "&": "e", "€": "euro", "$": "dollari", "+": "più"},
    "pt": {"%": "por cento", "&": "e", "€": "euros", "$": "dólares", "+": "mais"},
}
# Thousands separators as written in each language ("1,000" en; "1.000" es/de; "1 000" fr).
_THOUSANDS = {"en": ",", "es": ".", "de": ".", "fr": " \u00a0\u202f", "it": ".", "pt": "."}


def _base(language: str) -> str:
    return language.strip().replace("_", "-").split("-")[0].lower()


def spell_number(n: int, language: str) -> str | None:
    """A whole number in words (0..999 999; en, es, fr, de), or None where there is no speller for it."""
    speller = _SPELLERS.get(_base(language))
    if speller is None or not 0 <= n <= MAX_SPELLED:
        return None
    return speller(n)


def _spell_digits(text: str, language: str) -> str:
    lang = _base(language)
    if lang not in _SPELLERS:
        return text
    seps = re.escape(_THOUSANDS.get(lang, ","))
    grouped = re.compile(rf"(?<![\d.,])\d{{1,3}}(?:[{seps}]\d{{3}})+(?![\d])")
    text = grouped.sub(lambda m: re.sub(rf"[{seps}]", "", m.group(0)), text)
    point = _POINT[lang]
    decimal = re.compile(r"(?<![\d])(\d+)[.,](\d+)(?![\d])")
    text = decimal.sub(lambda m: f"{m.group(1)} {point} {m.group(2)}", text)

    def words(m: re.Match[str]) -> str:
        spelled = spell_number(int(m.group(0)), lang)
        return f" {spelled} " if spelled is not None else m.group(0)

    return re.sub(r"\d+", words, text)


_MARKUP = re.compile(r"<[^>]{0,200}>|\[[^\]]{0,80}\]|\{[^}]{0,80}\}")
_STRAY = re.compile(r"[*_#~^|\\`<>]")


def normalise_for_speech(text: str, language: str) -> str:
    """The text as a TTS engine should be given it on a retry: markup (tags, [stage directions], {codes})
    and markdown removed; currency and percent signs moved after their number and spelled out; numbers
    spelled out for en/es/fr/de (other languages keep digits). Why: these are what engines misread most."""
    lang = _base(language)
    symbols = _SYMBOLS.get(lang, {})
    text = unicodedata.normalize("NFC", text)
    text = _MARKUP.sub(" ", text)
    text = _STRAY.sub(" ", text)
    text = re.sub(r"([$€])\s*(\d[\d.,\s]*\d|\d)", r"\2 \1", text)  # "$20" -> "20 $" -> "20 dollars"
    for sym, word in symbols.items():
        text = text.replace(sym, f" {word} ")
    if lang == "fr":  # "10h30", "10 h" -> "10 heures 30"
        text = re.sub(r"\b(\d{1,2}) ?h ?(\d{2})\b", r"\1 heures \2", text)
        text = re.sub(r"\b(\d{1,2}) ?h\b", r"\1 heures", text)
    text = _spell_digits(text, lang)
    text = re.sub(r"\s+([,.;:!?…)»])", r"\1", " ".join(text.split()))
    return text.strip()


# --- word error rate ---------------------------------------------------------------------------------------

_TOKEN = re.compile(r"[^\W_]+(?:'[^\W_]+)*")


def wer_tokens(text: str, language: str) -> list[str]:
    """The words compared by `heard_wer`: numbers and symbols spelled out, case folded, punctuation and
    hyphens dropped, apostrophes inside words kept, accents kept."""
    text = normalise_for_speech(text, language)
    text = unicodedata.normalize("NFC", text).casefold().replace("’", "'").replace("‘", "'")
    text = re.sub(r"(\w)\s+'(\w)", r"\1'\2", text)  # Whisper's words joined: "d 'être" -> "d'être"
    return _TOKEN.findall(text.replace("-", " "))


def join_compounds(tokens: list[str], other: list[str], longest: int = 3) -> list[str]:
    """`tokens` with runs of 2..`longest` consecutive words joined where the other side has them as one
    word ("wieder zu sehen" ~ "wiederzusehen", "every one" ~ "everyone"): ASR and the writer of a line
    split compounds differently, and the listener hears no difference."""
    vocabulary = set(other)
    out: list[str] = []
    i = 0
    while i < len(tokens):
        for n in range(min(longest, len(tokens) - i), 1, -1):
            joined = "".join(tokens[i : i + n])
            if joined in vocabulary:
                out.append(joined)
                i += n
                break
        else:
            out.append(tokens[i])
            i += 1
    return out


def heard_wer(intended: str, heard: str, language: str) -> float:
    """Word error rate of what ASR heard against the intended line (0 when nothing was intended), over
    `wer_tokens` with compounds joined either way (`join_compounds`). It may exceed 1 when ASR hears more
    words than were meant (a hallucination)."""
    ref = wer_tokens(intended, language)
    if not ref:
        return 0.0
    hyp = join_compounds(wer_tokens(heard, language), ref)
    return edit_distance(join_compounds(ref, hyp), hyp) / len(ref)


# --- checking one clip -------------------------------------------------------------------------------------


def join_words(words: Sequence[str]) -> str:
    """ASR word texts as one line: a word that starts with punctuation or an apostrophe is attached to the
    one before (Whisper splits "3,000" into "3" ",000" and "d'être" into "d" "'être")."""
    out = ""
    for w in (x.strip() for x in words):
        if not w:
            continue
        out += w if (out and not (w[0].isalnum())) else (" " + w if out else w)
    return out


class Checker(Protocol):
    """What `synthesize_checked` needs: LineChecker, or a fake in tests."""

    def check(self, clip_path: Path, text: str, language: str, reference_embedding: np.ndarray | None) -> LineQA: ...


class LineChecker:
    """Hears synthesized lines again (Whisper) and measures their voice (speaker embedding).

    Built once per stage. Whisper is given each clip padded with PAD_S of silence each side, as a 16 kHz
    mono WAV, with the line's language, and without VAD (a voice-activity filter could trim a short TTS
    line away; `from_settings` turns it off). `seconds` and `audio_s` add up the time spent hearing and
    the audio heard, for the real-time factor of QA.
    """

    def __init__(
        self,
        asr: ASR,
        encoder: SpeakerEncoder | None = None,
        max_wer: float = 0.34,
        pad_s: float = PAD_S,
    ) -> None:
        self.asr = asr
        self.encoder = encoder
        self.max_wer = max_wer
        self.pad_s = pad_s
        self.seconds = 0.0
        self.audio_s = 0.0

    @classmethod
    def from_settings(cls, settings: Settings, encoder: SpeakerEncoder | None = None) -> LineChecker:
        """The configured Whisper without VAD, and Resemblyzer (loaded only when a reference is given)."""
        from pipeline.core.engines import get_asr

        asr = get_asr(settings.model_copy(update={"asr_vad": False}))
        if encoder is None:
            from models.speaker import ResemblyzerEncoder

            encoder = ResemblyzerEncoder()
        return cls(asr, encoder, max_wer=settings.qa_max_wer)

    def _transcribe(self, samples: np.ndarray, language: str) -> Transcription:
        """Whisper on 16 kHz mono samples (written to a temporary WAV, as the ASR adapters take files)."""
        import soundfile as sf

        started = time.perf_counter()
        with tempfile.TemporaryDirectory(prefix="dubline-qa-") as tmp:
            wav = Path(tmp) / "clip16k.wav"
            sf.write(str(wav), samples, SAMPLE_RATE, subtype="PCM_16")
            transcription = self.asr.transcribe(wav, language=_base(language) or None)
        self.seconds += time.perf_counter() - started
        return transcription

    def hear(self, clip_path: Path, language: str) -> str:
        """What Whisper hears in the clip (padded with silence), told the language."""
        from models.speaker import decode_audio

        samples = decode_audio(Path(clip_path), SAMPLE_RATE)
        pad = np.zeros(int(round(self.pad_s * SAMPLE_RATE)), dtype=np.float32)
        transcription = self._transcribe(np.concatenate([pad, samples, pad]), language)
        self.audio_s += len(samples) / SAMPLE_RATE
        return " ".join(s.text.strip() for s in transcription.segments if s.text.strip())

    def hear_many(
        self, clip_paths: Sequence[Path], language: str, window_s: float = WINDOW_S, gap_s: float = GAP_S
    ) -> list[str]:
        """What Whisper hears in each clip, heard in windows of several clips joined by `gap_s` of silence
        (at most `window_s` of audio each). Why: Whisper encodes a 30 s window however short the audio, so
        one line per call wastes most of the work (measured about 2.6x faster per line), and the context
        of neighbouring lines helps it with robotic voices. Words go to the clip whose span (with half a
        gap either side) holds the word's midpoint; a clip alone in its window is heard as by `hear`."""
        from models.speaker import decode_audio

        clips = [decode_audio(Path(p), SAMPLE_RATE) for p in clip_paths]
        heard = [""] * len(clips)
        gap = np.zeros(int(round(gap_s * SAMPLE_RATE)), dtype=np.float32)
        half = gap[: len(gap) // 2]
        groups: list[list[int]] = []
        length = 0.0
        for i, c in enumerate(clips):
            d = len(c) / SAMPLE_RATE + gap_s
            if not groups or length + d > window_s:
                groups.append([])
                length = 0.0
            groups[-1].append(i)
            length += d
        for group in groups:
            if len(group) == 1:
                heard[group[0]] = self.hear(Path(clip_paths[group[0]]), language)
                continue
            parts, spans, pos = [half], [], len(half) / SAMPLE_RATE
            for i in group:
                end = pos + len(clips[i]) / SAMPLE_RATE
                spans.append((i, pos - gap_s / 2, end + gap_s / 2))
                parts += [clips[i], gap]
                pos = end + gap_s
            transcription = self._transcribe(np.concatenate(parts), language)
            self.audio_s += sum(len(clips[i]) for i in group) / SAMPLE_RATE
            pieces = [
                (w.text, (w.start + w.end) / 2)
                for seg in transcription.segments
                for w in (seg.words or (Word(seg.text, seg.start, seg.end, 1.0),))
                if w.text.strip()
            ]
            for i, start, stop in spans:
                heard[i] = join_words([t for t, mid in pieces if start <= mid < stop])
        return heard

    def similarity(self, clip_path: Path, reference_embedding: np.ndarray | None) -> float | None:
        """Cosine of the clip's voice to the reference; None without a reference or encoder, or when the
        clip holds less speech than the encoder needs (about 1 s)."""
        if reference_embedding is None or self.encoder is None:
            return None
        from models.speaker import cosine

        try:
            emb = self.encoder.embed(Path(clip_path))
        except EngineUnavailable:
            raise
        except EngineError:  # too little speech to tell a voice
            return None
        return round(cosine(emb, reference_embedding), 4)

    def check(self, clip_path: Path, text: str, language: str, reference_embedding: np.ndarray | None = None) -> LineQA:
        """One line heard alone: what was heard, its WER against `text`, the voice's similarity."""
        return self._verdict(clip_path, text, language, self.hear(clip_path, language), reference_embedding)

    def check_many(self, items: Sequence[tuple[Path, str, np.ndarray | None]], language: str) -> list[LineQA]:
        """Many lines of one language (clip, intended text, reference embedding): heard together in windows
        (`hear_many`); a line that fails there is heard again alone and keeps the better of the two hearings
        (a word put in the wrong line at a window's seam must not fail a line)."""
        heard = self.hear_many([p for p, _, _ in items], language)
        out = []
        for (path, text, reference), together in zip(items, heard, strict=True):
            best = together
            if heard_wer(text, together, language) > self.max_wer:
                alone = self.hear(path, language)
                if heard_wer(text, alone, language) < heard_wer(text, together, language):
                    best = alone
            out.append(self._verdict(path, text, language, best, reference))
        return out

    def _verdict(
        self, clip_path: Path, text: str, language: str, heard: str, reference_embedding: np.ndarray | None
    ) -> LineQA:
        wer = heard_wer(text, heard, language)
        passed = wer <= self.max_wer
        return LineQA(
            heard=heard,
            wer=round(wer, 4),
            similarity=self.similarity(clip_path, reference_embedding),
            attempts=1,
            passed=passed,
            reason="" if passed else f"heard {heard!r}: WER {wer:.2f} > {self.max_wer:.2f}",
        )


# --- the retry loop ----------------------------------------------------------------------------------------

# What the synthesize stage varies per attempt (index = attempt): `rate` multiplies the line's rate,
# `normalise` gives the engine normalise_for_speech(text) instead of the text as written. Attempt 1 speaks
# a little slower (engines garble fewer syllables, Whisper hears them better); attempt 2 also spells out
# numbers and symbols and drops markup (what engines misread most).
VARIANTS: list[dict[str, Any]] = [
    {"name": "as written", "rate": 1.0, "normalise": False},
    {"name": "slower", "rate": 0.9, "normalise": False},
    {"name": "spelled out, slower", "rate": 0.9, "normalise": True},
]


def variant(attempt: int) -> dict[str, Any]:
    """VARIANTS[attempt], the last one for attempts past the list."""
    return VARIANTS[min(max(attempt, 0), len(VARIANTS) - 1)]


def _rank(qa: LineQA) -> tuple[float, float]:
    wer = qa.wer if qa.wer is not None else math.inf
    sim = qa.similarity if qa.similarity is not None else -math.inf
    return (wer, -sim)


def synthesize_checked(
    make: Callable[[int], tuple[Path, str]],
    text: str,
    language: str,
    checker: Checker,
    settings: Settings,
    reference_embedding: np.ndarray | None = None,
    first: tuple[Path, LineQA] | None = None,
) -> tuple[Path, LineQA]:
    """Synthesize a line with `make(attempt)` (which returns the WAV and a description of its settings),
    check it, and synthesize it again while the check fails, at most `settings.qa_retries` more times.
    Returns the best attempt (lowest WER, then highest similarity) and its LineQA, whose `attempts` and
    `tried` record every attempt. Each attempt is checked against `text`, the line as meant, whatever
    text the maker gave the engine. The clips of the attempts not kept are the caller's to discard.
    `first`: attempt 0 already made and checked (e.g. by `LineChecker.check_many` over all the lines of a
    job), so only the retries are made here; its description in `tried` is VARIANTS[0]'s name."""
    best: tuple[Path, LineQA] | None = None
    tried: list[str] = []
    attempts = 0
    for attempt in range(settings.qa_retries + 1):
        if attempt == 0 and first is not None:
            path, qa = first
            description = str(variant(0)["name"])
        else:
            path, description = make(attempt)
            qa = checker.check(path, text, language, reference_embedding)
        attempts += 1
        wer = "n/a" if qa.wer is None else f"{qa.wer:.2f}"
        tried.append(f"{description}: WER {wer}")
        if best is None or _rank(qa) < _rank(best[1]):
            best = (path, qa)
        if qa.passed:
            break
    assert best is not None  # qa_retries >= 0: at least one attempt
    path, qa = best
    reason = "" if qa.passed else f"{qa.reason or 'failed'} (best of {attempts} attempts)"
    return path, qa.model_copy(update={"attempts": attempts, "tried": tried, "reason": reason})


# --- the job report ----------------------------------------------------------------------------------------


def summarize(clips: list[LineQA]) -> dict[str, Any]:
    """QA figures of a job's lines: checked, passed, failed, retried (more than one attempt), mean and max
    WER, mean and min speaker similarity (None where nothing was measured)."""
    checked = [q for q in clips if q.wer is not None]
    wers = [float(q.wer) for q in checked if q.wer is not None]
    sims = [float(q.similarity) for q in clips if q.similarity is not None]
    return {
        "lines": len(checked),
        "passed": sum(1 for q in checked if q.passed),
        "failed": sum(1 for q in checked if not q.passed),
        "retried": sum(1 for q in checked if q.attempts > 1),
        "mean_wer": round(sum(wers) / len(wers), 4) if wers else None,
        "max_wer": round(max(wers), 4) if wers else None,
        "mean_similarity": round(sum(sims) / len(sims), 4) if sims else None,
        "min_similarity": round(min(sims), 4) if sims else None,
    }
