"""Written text as a narrator says it: numbers, ordinals, years, dates, money, percentages, times and
abbreviations spelled out per language through num2words (en, es, fr, de, it, pt in full; another language
num2words knows gets its numbers only; any other is left as written), and roman numerals in headings
(`roman_heading`). Sentence punctuation is kept, so the splitter and the engine still see sentence ends: an
expanded "Mr." leaves no period behind, an "etc." that ends a sentence keeps its own. URLs, e-mail addresses,
hyphenated digit chains (phone numbers, ISBNs) and words with digits inside ("MP3", "B12") are left alone.

The language tables (months, abbreviations, connecting words) are in `pipeline.text.normalize_tables`.
"""

from __future__ import annotations

import re
import unicodedata
from decimal import Decimal

from num2words import CONVERTER_CLASSES, num2words

from models.system import base_language
from pipeline.text.normalize_tables import (
    ABBREVIATIONS,
    CURRENCIES,
    DATE_FORMS,
    GROUP,
    HEADING_WORDS,
    MONTHS,
    ORDINALS,
    POINT,
    SCALES,
    SYMBOL_WORDS,
    TIME_WORDS,
    YEAR_CONTEXT,
)

_UPPER = "A-ZÀ-ÖØ-Þ"
_PROTECTED = re.compile(
    r"\b(?:https?://|www\.)\S+[^\s.,;:!?)\]\"'”’»]"  # URLs (trailing punctuation stays outside)
    r"|[\w.+-]+@[\w-]+(?:\.[\w-]+)+"  # e-mail addresses
    r"|(?<![\w-])(?!\d{4}-\d\d-\d\d(?![\w-]))\d+(?:-\d+){2,}(?![\w-])"  # phone numbers, ISBNs: digit chains
)
_SLOT = "\ue000"  # placeholder of a protected span: private-use characters, never \w nor digits
_ROMAN = re.compile(r"M{0,3}(?:CM|CD|D?C{0,3})(?:XC|XL|L?X{0,3})(?:IX|IV|V?I{0,3})")
_SENTENCE_END_AFTER = re.compile(rf"[\"'”’»)\]]*(?:\s*$|\s+[\"“‘«(\[]?[{_UPPER}])")
_AT_END = re.compile(r"[\"'”’»)\]]*\s*$")


def _n2w_language(language: str) -> str | None:
    """num2words' code for a language ("pt-BR" -> "pt_BR", "en-US" -> "en"), or None where it has none."""
    full = language.strip().replace("-", "_")
    if full in CONVERTER_CLASSES and "_" in full:
        return full
    base = base_language(language)
    return base if base in CONVERTER_CLASSES else None


def _words(value: int | Decimal, lang: str, to: str = "cardinal") -> str | None:
    """num2words' reading without its commas ("one thousand, two hundred"), or None where it has none."""
    try:
        return str(num2words(value, lang=lang, to=to)).replace(",", "")
    except Exception:  # num2words raises assorted errors (NotImplementedError, OverflowError, ...) per language
        return None


def _roman_value(word: str) -> int | None:
    """The value of an upper-case roman numeral in canonical form ("XIV" -> 14), else None ("IIII", "MIXX")."""
    if not word or not _ROMAN.fullmatch(word):
        return None
    values = {"I": 1, "V": 5, "X": 10, "L": 50, "C": 100, "D": 500, "M": 1000}
    total = 0
    for a, b in zip(word, word[1:] + " ", strict=True):
        total += -values[a] if b != " " and values[b] > values[a] else values[a]
    return total


_HEADING = re.compile(rf"(?<!\w)((?i:{'|'.join(HEADING_WORDS)}))(\.?\s+)([IVXLCDM]+|[ivxlcdm]+|\d+)(?!\w)")
# in running text: a capitalised heading word and an upper-case numeral ("in Part II", never "the part I played")
_CAPITALISED = "|".join(w[:1].upper() + w[1:] + "|" + w.upper() for w in HEADING_WORDS)
_HEADING_TEXT = re.compile(rf"(?<!\w)({_CAPITALISED})(\.?\s+)([IVXLCDM]+)(?![\w'’])")
_BARE = re.compile(r"^(\s*)([IVXLCDM]+)(?=[.:](?:\s|$)|\s*$)")


def _heading_number(m: re.Match[str], language: str) -> str:
    numeral = m[3]
    value = int(numeral) if numeral.isdigit() else _roman_value(numeral.upper())
    if not value or (numeral.islower() and value >= 200):  # "Book mix" is no heading
        return m[0]
    lang = _n2w_language(language)
    said = (_words(value, lang) if lang else None) or str(value)
    return f"{m[1]}{m[2]}{said}"


def roman_heading(title: str, language: str) -> str:
    """A heading's numbers as said: "Chapter IV" -> "Chapter four", "Capítulo IV" -> "Capítulo cuatro",
    "Book II", "Part 3", and a bare "XII." -> "Twelve." (up to 199). Numbers go to words through num2words
    (to digits in a language it does not know). A roman-looking word elsewhere ("I, Robot", "MIX") is kept."""
    out = _HEADING.sub(lambda m: _heading_number(m, language), title)
    bare = _BARE.match(out)
    value = _roman_value(bare[2]) if bare else None
    if bare and value is not None and 0 < value < 200:
        lang = _n2w_language(language)
        said = (_words(value, lang) if lang else None) or str(value)
        out = bare[1] + said[:1].upper() + said[1:] + out[bare.end() :]
    return out


# --- abbreviations -------------------------------------------------------------------------------------------


def _saint_or_street(text: str, start: int, end: int) -> tuple[str, str]:
    """English "St.": "Saint" before a capitalised name ("St. Paul"), "Street" after one ("Baker St.")."""
    before, after = text[max(0, start - 120) : start], text[end : end + 8]
    prev = re.search(rf"(?<!\w)([{_UPPER}][\w'’-]*)\s+$", before)
    next_cap = re.match(rf"\s+[{_UPPER}]", after) is not None
    if prev is None:
        return ("Saint", "title") if next_cap else ("Street", "end")
    head = before[: prev.start()]
    prev_starts_sentence = (not head.strip() and start <= 120) or re.search(r"[.!?][\"'”’»)]*\s*$", head) is not None
    if next_cap and prev_starts_sentence:
        return "Saint", "title"
    return "Street", "end"


def _abbreviation_matches(text: str, base: str) -> list[tuple[int, int, str, str]]:
    """(start, end, expansion, kind) of each abbreviation in the text, in order, not overlapping."""
    found: list[tuple[int, int, str, str]] = []
    for pattern, expansion, kind in ABBREVIATIONS.get(base, []):
        for m in pattern.finditer(text):
            if expansion == "St":
                said, k = _saint_or_street(text, m.start(), m.end())
                found.append((m.start(), m.end(), said, k))
            else:
                found.append((m.start(), m.end(), expansion, kind))
    found.sort()
    out: list[tuple[int, int, str, str]] = []
    for item in found:
        if not out or item[0] >= out[-1][1]:
            out.append(item)
    return out


def abbreviation_periods(text: str, language: str) -> list[int]:
    """Positions of the periods in the text's abbreviations that never end a sentence ("Mr.", "Sr.", "z.B.",
    "No. 5"): the sentence splitter masks them. An "etc." or "Jr." may end one, so it is not listed."""
    matches = _abbreviation_matches(text, base_language(language))
    return [i for start, end, _, kind in matches if kind != "end" for i in range(start, end) if text[i] == "."]


def _expand_abbreviations(text: str, base: str) -> str:
    parts: list[str] = []
    pos = 0
    for start, end, said, kind in _abbreviation_matches(text, base):
        written = text[start:end]
        keep = written.endswith(".") and (
            _AT_END.match(text, end) is not None or (kind == "end" and _SENTENCE_END_AFTER.match(text, end) is not None)
        )
        if written[:1].isupper():  # "No. 5" at a sentence's start: "Number five"
            said = said[:1].upper() + said[1:]
        parts += [text[pos:start], said + ("." if keep else "")]
        pos = end
    return "".join(parts) + text[pos:]


# --- numbers ---------------------------------------------------------------------------------------------------

_LEFT = r"(?<![\w.,/:])"
_RIGHT = r"(?![\w/]|[.,:]\d)"


def _num(base: str, name: str = "") -> str:
    """A number as written in the language: "3,000" en / "3.000" de / "3 000" fr, with a decimal part."""
    g = GROUP.get(base, GROUP[""])
    return rf"(?P<int{name}>\d{{1,3}}(?:{g}\d{{3}})+(?!\d)|\d+)(?:(?P<dsep{name}>[.,])(?P<frac{name}>\d+))?"


def _integer(written: str) -> int:
    return int(re.sub(r"\D", "", written))


def _number(m: re.Match[str], lang: str, base: str, name: str = "") -> str | None:
    """The number matched by `_num` in words: a cardinal, or a decimal read "two point five" / "dos coma cinco"."""
    whole = _integer(m[f"int{name}"])
    frac, dsep = m[f"frac{name}"], m[f"dsep{name}"]
    if not frac:
        return _words(whole, lang)
    point = POINT.get(base, {}).get(dsep)
    if point is None:
        return _words(Decimal(f"{whole}.{frac}"), lang)
    head, zeros, rest = _words(whole, lang), len(frac) - len(frac.lstrip("0")), frac.lstrip("0")
    zero = _words(0, lang)
    if head is None or zero is None:
        return None
    if base == "en" or len(rest) > 3:
        digits = [_words(int(d), lang) or d for d in frac]
    else:
        digits = [zero] * zeros + ([_words(int(rest), lang) or rest] if rest else [])
    return " ".join([head, point, *digits])


_ONE_BEFORE_NOUN = {
    "es": lambda w: re.sub(r"(veinti)?uno$", lambda m: "veintiún" if m[1] else "un", w),
    "it": lambda w: re.sub(r"(?<=\s)uno$|^uno$", "un", w),
    "de": lambda w: re.sub(r"eins$", "ein", w),
}


def _year_words(value: int, lang: str) -> str | None:
    return _words(value, lang, "year") or _words(value, lang)


def _ordinal(value: int, lang: str, base: str, marker: str) -> str | None:
    said = _words(value, lang, "ordinal")
    if said is None:
        return None
    if base in ("es", "pt", "it") and marker == "ª":  # feminine: primera, vigésima primera, prima
        said = re.sub(r"o\b", "a", said)
    elif base == "es" and marker.endswith("er"):  # 1.er, 3.er: primer, tercer
        said = re.sub(r"(prim|terc)ero$", r"\1er", said)
    elif base == "fr" and marker in ("re", "ère") and value == 1:
        said = "première"
    return said


def _dates(text: str, lang: str, base: str) -> str:
    """Numeric dates (ISO "1850-03-12"; "12.03.1850" de; "12/03/1850" es/fr/it/pt) as the language writes
    them with the month's name, then the language's written dates read ("12 March 1850", "am 12. März")."""
    months = MONTHS.get(base)
    if not months:
        return text

    def written(y: str, mo: str, d: str, whole: str) -> str:
        month, day = int(mo), int(d)
        if not (1 <= month <= 12 and 1 <= day <= 31):
            return whole
        form, first = DATE_FORMS[base]
        return form.format(day=first if day == 1 and first else day, month=months[month - 1], year=y)

    text = re.sub(r"(?<![\w\-./])(\d{4})-(\d\d)-(\d\d)(?![\w\-]|\.\d)", lambda m: written(m[1], m[2], m[3], m[0]), text)
    sep = {"de": r"\.", "es": "/", "fr": "/", "it": "/", "pt": "/"}.get(base)
    if sep:
        dmy = rf"(?<![\w./])(\d{{1,2}}){sep}(\d{{1,2}}){sep}(\d{{4}})(?![\w/]|\.\d)"
        text = re.sub(dmy, lambda m: written(m[3], m[2], m[1], m[0]), text)
    names = "|".join(months)
    if base == "en":

        def day_month(m: re.Match[str]) -> str:
            day = _words(int(m[1]), lang, "ordinal")
            the = "" if re.search(r"(?i)\bthe\s+$", text[max(0, m.start() - 12) : m.start()]) else "the "
            return f"{the}{day} of {m[2]}" if day and 1 <= int(m[1]) <= 31 else m[0]

        def month_day(m: re.Match[str]) -> str:
            day = _words(int(m[2]), lang, "ordinal")
            year = f", {_year_words(int(m['y']), lang)}" if m["y"] else ""
            return f"{m[1]} {day}{year}" if day and 1 <= int(m[2]) <= 31 else m[0]

        text = re.sub(rf"{_LEFT}(\d{{1,2}})(?:st|nd|rd|th)?\s+(?:of\s+)?({names})(?!\w)", day_month, text)
        after_day = rf"(?:(?:,\s*(?P<y>\d{{4}}))?{_RIGHT})"
        text = re.sub(rf"(?<!\w)({names})\s+(\d{{1,2}})(?:st|nd|rd|th)?(?!\d){after_day}", month_day, text)
    elif base == "de":  # "am 12. März" -> "am zwölften März"; "der 1. Mai" -> "der erste Mai"

        def de_day(m: re.Match[str]) -> str:
            day = _words(int(m[1]), lang, "ordinal")
            if not day or not 1 <= int(m[1]) <= 31:
                return m[0]
            nominative = re.search(r"(?i)\b(?:der|ist)\s+$", text[max(0, m.start() - 12) : m.start()]) is not None
            return f"{day if nominative else day + 'n'} {m[2]}"

        text = re.sub(rf"{_LEFT}(\d{{1,2}})\.\s+({names})(?!\w)", de_day, text)
    return text


def _times(text: str, lang: str, base: str) -> str:
    """ "10:30" -> "ten thirty", "10:05" -> "ten oh five", "10:00" -> "ten o'clock", "5 p.m." -> "five PM";
    "10h30" fr -> "dix heures trente"; "10:30 Uhr" de -> "zehn Uhr dreißig"."""
    if base not in TIME_WORDS:
        return text
    hour_word, full, one = TIME_WORDS[base]

    def say(h: int, mi: int, suffix: str = "") -> str:
        hs = one if (h == 1 and one) else (_words(h, lang) or str(h))
        ms = _words(mi, lang) or str(mi)
        if base == "en":
            said = (f"{hs} o'clock" if h <= 12 else f"{hs} hundred") if mi == 0 and not suffix else hs
            said += f" oh {ms}" if 0 < mi < 10 else (f" {ms}" if mi else "")
            return said + (f" {suffix}" if suffix else "")
        said = f"{hs} {full}".strip() if mi == 0 else f"{hs} {hour_word} {ms}"
        return said.replace("une heures", "une heure")

    def ampm(m: re.Match[str]) -> str:
        suffix = "AM" if m["ap"].lower().startswith("a") else "PM"
        dot = "." if m["ap"].endswith(".") and _SENTENCE_END_AFTER.match(text[m.end() : m.end() + 8]) else ""
        return say(int(m["h"]), int(m["m"] or 0), suffix) + dot

    if base == "en":
        ap = r"\s?(?P<ap>[ap]\.m\.|[ap]m(?!\w)|[AP]M(?!\w))"
        text = re.sub(rf"{_LEFT}(?P<h>1[0-2]|0?[1-9])(?::(?P<m>[0-5]\d))?{ap}", ampm, text)
    if base == "fr":
        text = re.sub(
            r"(?<![\w:])([01]?\d|2[0-3]) ?h ?([0-5]\d)?(?!\w)", lambda m: say(int(m[1]), int(m[2] or 0)), text
        )
    if base == "de":  # "10:30 Uhr", "10.30 Uhr"
        de_clock = r"(?<![\w:.,/])([01]?\d|2[0-3])[:.]([0-5]\d)\s?Uhr(?!\w)"
        text = re.sub(de_clock, lambda m: say(int(m[1]), int(m[2])), text)
        text = re.sub(r"(?<![\w.,:])1\s?Uhr(?!\w)", "ein Uhr", text)
    clock = r"(?<![\w:.,/])([01]?\d|2[0-3]):([0-5]\d)(?![\w:]|[.,]\d)"
    return re.sub(clock, lambda m: say(int(m[1]), int(m[2])), text)


def _money(text: str, lang: str, base: str) -> str:
    """ "$5" -> "five dollars", "$5.20" -> "five dollars, twenty cents", "10 €" -> "ten euros", "£3 million"
    -> "three million pounds sterling"."""
    symbols = "".join(CURRENCIES)
    scales = SCALES.get(base, "")
    scale = rf"(?:\s+(?P<scale>{scales})(?!\w))?" if scales else ""
    before = rf"(?<![\w])(?P<sym>[{symbols}])\s?{_num(base)}{_RIGHT}{scale}"
    after = rf"{_LEFT}{_num(base, '2')}\s?(?P<sym2>[{symbols}])"

    def say(m: re.Match[str], name: str, sym: str) -> str:
        code = CURRENCIES[sym]
        integer = _integer(m[f"int{name}"])
        frac = m[f"frac{name}"] or ""
        if m.groupdict().get("scale"):
            forms = getattr(CONVERTER_CLASSES[lang], "CURRENCY_FORMS", {}).get(code)
            amount = _number(m, lang, base, name)
            plural = forms[0][1] if forms else SYMBOL_WORDS.get(base, {}).get(sym)
            join = {"es": " de", "fr": " de", "pt": " de", "it": " di"}.get(base, "")
            return f"{amount} {m['scale']}{join} {plural}" if amount and plural else m[0]
        try:
            value = Decimal(f"{integer}.{frac}") if frac else Decimal(integer)
            said = str(num2words(value, lang=lang, to="currency", currency=code))
        except Exception:  # the language has no such currency: the number and the currency's word
            amount, word = _number(m, lang, base, name), SYMBOL_WORDS.get(base, {}).get(sym)
            return f"{amount} {word}" if amount and word else m[0]
        zero = re.escape(_words(0, lang) or "0")
        if not frac or int(frac) == 0:  # "five dollars, zero cents" -> "five dollars"
            said = re.sub(rf"(?:,|\s+\w+)?\s+{zero}\s+\S+$", "", said)
        elif integer == 0:  # "zero dollars, fifty cents" -> "fifty cents"
            said = re.sub(rf"^{zero}\s.*?(?:,|\s(?:con|et|und|e|y))\s+", "", said)
        return said

    text = re.sub(before, lambda m: say(m, "", m["sym"]), text)
    return re.sub(after, lambda m: say(m, "2", m["sym2"]), text)


def _numbers(text: str, lang: str, base: str) -> str:
    """Percentages, ordinals, decades, ranges, years and the remaining numbers."""
    num = _num(base)
    percent = SYMBOL_WORDS.get(base, {}).get("%")
    if percent:
        text = re.sub(rf"{_LEFT}{num}\s?%", lambda m: f"{_number(m, lang, base) or m[0]} {percent}", text)
    ordinal = ORDINALS.get(base)
    if ordinal:
        text = re.sub(rf"{_LEFT}{ordinal}(?!\w)", lambda m: _ordinal(int(m[1]), lang, base, m[2]) or m[0], text)
    if base == "en":  # the 1960s, the '60s
        text = re.sub(
            r"(?<![\w'])(1[1-9]\d0|20\d0)'?s\b",
            lambda m: re.sub(r"y$", "ie", _year_words(int(m[1]), lang) or m[1]) + "s",
            text,
        )
        text = re.sub(
            r"(?<!\w)[‘'’]([1-9]0)s\b", lambda m: re.sub(r"y$", "ie", _words(int(m[1]), lang) or "") + "s", text
        )
    year = r"(?:1[1-9]\d\d|20\d\d)"
    to = SYMBOL_WORDS.get(base, {}).get("to")
    if to:  # 1914–1918, 10-12

        def span(m: re.Match[str]) -> str:
            a, b = m["int"], m["int2"]
            if m["dash"] == "-" and _integer(a) >= _integer(b):
                return m[0]
            if re.fullmatch(year, a) and re.fullmatch(year, b) and not m["frac"] and not m["frac2"]:
                left, right = _year_words(int(a), lang), _year_words(int(b), lang)
            else:
                left, right = _number(m, lang, base), _number(m, lang, base, "2")
            return f"{left} {to} {right}" if left and right else m[0]

        text = re.sub(rf"{_LEFT}{num}(?P<dash>\s?–\s?|-){_num(base, '2')}{_RIGHT}", span, text)
    context = YEAR_CONTEXT.get(base, "") + "|" + "|".join(MONTHS.get(base, []))

    def year_or_number(m: re.Match[str]) -> str:
        written = m["int"]
        if not m["frac"] and re.fullmatch(year, written):
            before, after = text[max(0, m.start() - 40) : m.start()], text[m.end() : m.end() + 8]
            if (
                re.search(rf"(?i)(?<!\w)(?:{context.strip('|')})\W{{0,2}}\s*$", before)
                or re.match(r"\s*(?:AD|A\.D\.|BC|B\.C\.|BCE|CE)(?!\w)", after)
                or re.match(r"\s*(?:[.,;:!?)\]\"”’»]|$)", after)
            ) and not m["sign"]:
                return _year_words(int(written), lang) or written
        said = _number(m, lang, base)
        if (
            said and not m["frac"] and re.match(r"\s+\w", text[m.end() : m.end() + 3])
        ):  # before a noun: "un año", "ein Mann"
            said = _ONE_BEFORE_NOUN.get(base, lambda w: w)(said)
        if said and m["sign"]:
            said = f"{SYMBOL_WORDS.get(base, {}).get('-', 'minus')} {said}"
        return said or m[0]

    # German writes ordinals "3. Mann": a number before a period and a word stays as written
    right = r"(?!\.\s+\w)" if base == "de" else ""
    return re.sub(rf"(?P<sign>(?:(?<=[\s(])|(?<![\s\S]))[-−])?{_LEFT}{num}{_RIGHT}{right}", year_or_number, text)


def normalize(text: str, language: str) -> str:
    """The text as a narrator says it in the language: see the module's docstring. Whitespace runs become one
    space; sentence punctuation stays where it was."""
    lang = _n2w_language(language)
    base = base_language(language)
    if lang is None:
        return text
    text = unicodedata.normalize("NFC", text)
    kept: list[str] = []

    def protect(m: re.Match[str]) -> str:
        kept.append(m[0])
        return _SLOT + chr(0xE100 + len(kept) - 1) + _SLOT

    text = _PROTECTED.sub(protect, text)
    text = _expand_abbreviations(text, base)
    text = _HEADING_TEXT.sub(lambda m: _heading_number(m, language), text)
    text = _dates(text, lang, base)
    text = _times(text, lang, base)
    text = _money(text, lang, base)
    text = _numbers(text, lang, base)
    amp = SYMBOL_WORDS.get(base, {}).get("&")
    if amp:
        text = re.sub(r"(?<=\s)&(?=\s)", amp, text)
    text = re.sub(f"{_SLOT}(.){_SLOT}", lambda m: kept[ord(m[1]) - 0xE100], text)
    return " ".join(text.split())
