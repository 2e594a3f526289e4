"""Small text measures shared by the engines' checks and the pipeline (no heavy imports): the edit distance,
numbers in words, and the word error rate of what a speech recogniser heard against what was meant.

The word error rate (`heard_wer`) is made after a normalisation fit for re-transcriptions: case, punctuation and
hyphens do not count; accents do (a TTS engine that drops them says another word); numbers and the
symbols % & € $ are spelled out on both sides for en/es/fr/de (integers up to 999 999, decimals digit group
by digit group), so "20" heard as "veinte" is no error. Other languages keep their digits as tokens.
Compounds split differently ("wiederzusehen" / "wieder zu sehen") are joined before counting. Line QA
(pipeline.speech) and the cloning search's intelligibility check (models.cloning) both use it.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Sequence

from models.system import base_language


def edit_distance(ref: Sequence[str], hyp: Sequence[str]) -> int:
    """Levenshtein distance over tokens (substitutions + deletions + insertions): the numerator of a word
    error rate. Used by `heard_wer` and the consent statement check."""
    prev = list(range(len(hyp) + 1))
    for i, r in enumerate(ref, 1):
        cur = [i] + [0] * len(hyp)
        for j, h in enumerate(hyp, 1):
            cur[j] = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (r != h))
        prev = cur
    return prev[-1]


# --- numbers to words --------------------------------------------------------------------------------------

_ONES = (
    "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen "
    "seventeen eighteen nineteen"
).split()
_TENS = "_ _ twenty thirty forty fifty sixty seventy eighty ninety".split()


def english_number(n: int) -> str:
    """0 <= n < 1,000,000 in English words: 27 -> 'twenty-seven', 2026 -> 'two thousand twenty-six'. Used by
    the consent statement (dates read aloud) and line QA (numbers spelled out before comparing)."""
    if n < 20:
        return _ONES[n]
    if n < 100:
        t, u = divmod(n, 10)
        return _TENS[t] + (f"-{_ONES[u]}" if u else "")
    if n < 1000:
        h, r = divmod(n, 100)
        return f"{_ONES[h]} hundred" + (f" {english_number(r)}" if r else "")
    k, r = divmod(n, 1000)
    return f"{english_number(k)} thousand" + (f" {english_number(r)}" if r else "")


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


_SPELLERS: dict[str, Callable[[int], str]] = {"en": english_number, "es": _es, "fr": _fr, "de": _de}
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


def spell_number(n: int, language: str) -> str | None:
    """A whole number in words (0..999 999; en, es, fr, de), or None where there is no speller for it."""
    speller = _SPELLERS.get(base_language(language))
    if speller is None or not 0 <= n <= MAX_SPELLED:
        return None
    return speller(n)


def _spell_digits(text: str, language: str) -> str:
    lang = base_language(language)
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
    lang = base_language(language)
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
