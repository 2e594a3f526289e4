"""The consent statement a person reads aloud (a "voice captcha"), and how a transcript is checked against it.

The statement names the person, the uses, the languages, the projects, the end date, today's date and a
random code of five digits (1-9, spoken as words: "seven four two nine one"; no zero, which people say
as "oh"). Speech recognisers write numbers as digits or words at will ("742-9-1", "27th", "twenty
seventh"), so both sides are normalised the same way before they are compared: lower case, no
punctuation, number words parsed into numbers, and every number spelt out as its digits. The words
check passes when the word error rate is at or under the threshold and the code's digits occur, in
order and contiguous, in what was heard.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from datetime import date

from models.text import edit_distance, english_number

USE_PHRASES = {"dubbing": "dubbing", "audio_description": "audio description", "audiobook": "audiobooks"}
LANGUAGE_NAMES = {
    "ar": "Arabic", "ca": "Catalan", "cs": "Czech", "da": "Danish", "de": "German", "el": "Greek",
    "en": "English", "es": "Spanish", "eu": "Basque", "fi": "Finnish", "fr": "French", "gl": "Galician",
    "he": "Hebrew", "hi": "Hindi", "hu": "Hungarian", "it": "Italian", "ja": "Japanese", "ko": "Korean",
    "nl": "Dutch", "no": "Norwegian", "pl": "Polish", "pt": "Portuguese", "ro": "Romanian", "ru": "Russian",
    "sv": "Swedish", "tr": "Turkish", "uk": "Ukrainian", "zh": "Chinese",
}  # fmt: skip
MONTHS = "January February March April May June July August September October November December".split()

_UNITS = "zero one two three four five six seven eight nine".split()
_TEENS = "ten eleven twelve thirteen fourteen fifteen sixteen seventeen eighteen nineteen".split()
_TENS = "twenty thirty forty fifty sixty seventy eighty ninety".split()
_ORD_UNITS = "zeroth first second third fourth fifth sixth seventh eighth ninth".split()
_ORD_TEENS = (
    "tenth eleventh twelfth thirteenth fourteenth fifteenth sixteenth seventeenth eighteenth nineteenth".split()
)
_ORD_TENS = "twentieth thirtieth fortieth fiftieth sixtieth seventieth eightieth ninetieth".split()

_WORD_VALUE: dict[str, tuple[int, str]] = {}
for _i, _w in enumerate(_UNITS):
    _WORD_VALUE[_w] = (_i, "unit")
    _WORD_VALUE[_ORD_UNITS[_i]] = (_i, "unit")
for _i, _w in enumerate(_TEENS):
    _WORD_VALUE[_w] = (10 + _i, "teen")
    _WORD_VALUE[_ORD_TEENS[_i]] = (10 + _i, "teen")
for _i, _w in enumerate(_TENS):
    _WORD_VALUE[_w] = (20 + 10 * _i, "ten")
    _WORD_VALUE[_ORD_TENS[_i]] = (20 + 10 * _i, "ten")
_WORD_VALUE["hundred"] = (100, "scale")
_WORD_VALUE["hundredth"] = (100, "scale")
_WORD_VALUE["thousand"] = (1000, "scale")
_WORD_VALUE["thousandth"] = (1000, "scale")
_COMPOUNDS = {("audio", "book"): "audiobook", ("audio", "books"): "audiobooks"}


def number_words(n: int) -> str:
    """0 <= n < 10000 in words: 27 -> 'twenty-seven', 2026 -> 'two thousand twenty-six'."""
    return english_number(n)


def ordinal_words(n: int) -> str:
    """1 <= n <= 31: 1 -> 'first', 27 -> 'twenty-seventh'."""
    if n < 10:
        return _ORD_UNITS[n]
    if n < 20:
        return _ORD_TEENS[n - 10]
    tens, unit = divmod(n, 10)
    return _ORD_TENS[tens - 2] if not unit else f"{_TENS[tens - 2]}-{_ORD_UNITS[unit]}"


def date_words(d: date) -> str:
    return f"{MONTHS[d.month - 1]} {ordinal_words(d.day)}, {number_words(d.year)}"


def _and_list(items: list[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def language_name(code: str) -> str:
    return LANGUAGE_NAMES.get(code, f"the language {' '.join(code.upper())}")


def new_code(digits: int = 5) -> str:
    return "".join(secrets.choice("123456789") for _ in range(digits))


def code_words(code: str) -> str:
    return " ".join(_UNITS[int(c)] for c in code)


def compose(
    name: str,
    uses: list[str],
    languages: list[str],
    projects: list[str] | None,
    today: date,
    until: date | None,
    code: str,
) -> str:
    use_text = _and_list([USE_PHRASES[u] for u in uses])
    lang_text = _and_list([language_name(c) for c in languages])
    where = (
        "for any project"
        if not projects
        else f"for the project{'s' if len(projects) > 1 else ''} " + (_and_list(projects))
    )
    when = f" until {date_words(until)}" if until else ""
    return (
        f"I, {name}, agree that my voice may be used for {use_text} in {lang_text}, {where}{when}. "
        f"Today is {date_words(today)}. My code is {code_words(code)}."
    )


# --- normalisation and comparison ----------------------------------------------------------------


def _flush(out: list[str], total: int, current: int) -> None:
    out.extend(str(total + current))


def normalise(text: str) -> list[str]:
    """Tokens to compare: lower case, no punctuation, numbers as single digits."""
    text = text.lower().replace("-", " ").replace("\u2019", "'")
    text = re.sub(r"(\d)(st|nd|rd|th)\b", r"\1", text)
    text = re.sub(r"(\d),(\d{3})\b", r"\1\2", text)
    raw = re.findall(r"[a-z']+|\d+", text)
    words: list[str] = []
    for w in raw:
        w = w.strip("'")
        if not w:
            continue
        if words and (words[-1], w) in _COMPOUNDS:
            words[-1] = _COMPOUNDS[(words[-1], w)]
            continue
        words.append(w)
    out: list[str] = []
    total = current = 0
    last: str | None = None  # kind of the last number word in the current number, None outside one
    for i, w in enumerate(words):
        if w.isdigit():
            if last is not None:
                _flush(out, total, current)
                total = current = 0
                last = None
            out.extend(w)
            continue
        if w == "and" and last == "scale" and i + 1 < len(words) and words[i + 1] in _WORD_VALUE:
            continue  # "two thousand and twenty"
        hit = _WORD_VALUE.get(w)
        if hit is None or (w.endswith(("hundred", "thousand", "hundredth", "thousandth")) and last is None):
            if last is not None:
                _flush(out, total, current)
                total = current = 0
                last = None
            out.append(w)
            continue
        value, kind = hit
        if last is not None and (
            (kind in ("unit", "teen") and last in ("unit", "teen"))
            or (kind == "ten" and last in ("unit", "teen", "ten"))
            or (kind == "teen" and last == "ten")
        ):
            _flush(out, total, current)
            total = current = 0
            last = None
        if kind == "scale":
            if value == 100:
                current = (current or 1) * 100
            else:
                total += (current or 1) * 1000
                current = 0
        else:
            current += value
        last = kind
    if last is not None:
        _flush(out, total, current)
    return out


def contains_run(tokens: list[str], run: list[str]) -> bool:
    n = len(run)
    return any(tokens[i : i + n] == run for i in range(len(tokens) - n + 1))


@dataclass(frozen=True)
class WordsCheck:
    wer: float
    code_heard: bool
    heard: str
    passed: bool

    def as_dict(self) -> dict[str, object]:
        return {"wer": round(self.wer, 4), "code_heard": self.code_heard, "heard": self.heard, "passed": self.passed}


def check_words(statement: str, code: str, heard: str, max_wer: float) -> WordsCheck:
    # The statement's own tokens (numbers as digits, so the code can be found in what was heard), not
    # models.text.heard_wer's (numbers as words): the word error rate over them is the shared edit distance.
    ref, hyp = normalise(statement), normalise(heard)
    wer = edit_distance(ref, hyp) / max(len(ref), 1)
    code_heard = contains_run(hyp, list(code))
    return WordsCheck(wer=wer, code_heard=code_heard, heard=heard, passed=code_heard and wer <= max_wer)
