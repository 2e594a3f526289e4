"""The language tables of `pipeline.text.normalize`: abbreviations, month names, heading words, the words
around numbers (decimal point, percent, "to" in ranges, minus, currencies' names, big-number scales) and the
words before a year. Data only; keyed by ISO 639-1 code."""

from __future__ import annotations

import re

# Each abbreviation: (pattern, expansion, kind). kind "title" precedes a name (its period never ends a sentence;
# expanded only before a space); "num" precedes a number (expanded only there); "mid" sits inside a sentence;
# "end" may end one (its period is kept then). The expansion "St" is English "St." (Saint or Street, by context).
_RAW: dict[str, list[tuple[str, str, str]]] = {
    "en": [
        (r"Mr\.", "Mister", "title"),
        (r"Mrs\.", "Missus", "title"),
        (r"Ms\.", "Miz", "title"),
        (r"Dr\.", "Doctor", "title"),
        (r"Prof\.", "Professor", "title"),
        (r"Capt\.", "Captain", "title"),
        (r"Col\.", "Colonel", "title"),
        (r"Gen\.", "General", "title"),
        (r"Lt\.", "Lieutenant", "title"),
        (r"Sgt\.", "Sergeant", "title"),
        (r"Rev\.", "Reverend", "title"),
        (r"Mt\.", "Mount", "title"),
        (r"St\.", "St", "end"),
        (r"Jr\.", "Junior", "end"),
        (r"Sr\.", "Senior", "end"),
        (r"etc\.", "et cetera", "end"),
        (r"vs\.", "versus", "mid"),
        (r"e\.\s?g\.", "for example", "mid"),
        (r"i\.\s?e\.", "that is", "mid"),
        (r"No\.", "number", "num"),
        (r"Nos\.", "numbers", "num"),
        (r"Jan\.", "January", "num"),
        (r"Feb\.", "February", "num"),
        (r"Mar\.", "March", "num"),
        (r"Apr\.", "April", "num"),
        (r"Aug\.", "August", "num"),
        (r"Sept?\.", "September", "num"),
        (r"Oct\.", "October", "num"),
        (r"Nov\.", "November", "num"),
        (r"Dec\.", "December", "num"),
    ],
    "es": [
        (r"Sr\.", "Señor", "title"),
        (r"Sra\.", "Señora", "title"),
        (r"Srta\.", "Señorita", "title"),
        (r"Dr\.", "Doctor", "title"),
        (r"Dra\.", "Doctora", "title"),
        (r"Sto\.", "Santo", "title"),
        (r"Sta\.", "Santa", "title"),
        (r"Ud\.", "usted", "end"),
        (r"Uds\.", "ustedes", "end"),
        (r"Vd\.", "usted", "end"),
        (r"Vds\.", "ustedes", "end"),
        (r"etc\.", "etcétera", "end"),
        (r"p\.\s?ej\.", "por ejemplo", "mid"),
        (r"n\.º|núm\.", "número", "num"),
    ],
    "fr": [
        (r"(?<![A-Z]\.\s)M\.(?=\s+[A-ZÀ-Þ])", "Monsieur", "title"),
        (r"MM\.", "Messieurs", "title"),
        (r"Mme\.?", "Madame", "title"),
        (r"Mmes\.?", "Mesdames", "title"),
        (r"Mlle\.?", "Mademoiselle", "title"),
        (r"Mlles\.?", "Mesdemoiselles", "title"),
        (r"Dr\.?", "Docteur", "title"),
        (r"Pr\.?", "Professeur", "title"),
        (r"St(?=-[A-ZÀ-Þ])", "Saint", "mid"),
        (r"Ste(?=-[A-ZÀ-Þ])", "Sainte", "mid"),
        (r"etc\.", "et cetera", "end"),
        (r"c\.-à-d\.", "c'est-à-dire", "mid"),
        (r"n°|nº", "numéro", "num"),
    ],
    "de": [
        (r"Hr\.", "Herr", "title"),
        (r"Hrn\.", "Herrn", "title"),
        (r"Fr\.", "Frau", "title"),
        (r"Dr\.", "Doktor", "title"),
        (r"Prof\.", "Professor", "title"),
        (r"St\.", "Sankt", "title"),
        (r"z\.\s?B\.", "zum Beispiel", "mid"),
        (r"d\.\s?h\.", "das heißt", "mid"),
        (r"u\.\s?a\.", "unter anderem", "mid"),
        (r"bzw\.", "beziehungsweise", "mid"),
        (r"ca\.", "circa", "mid"),
        (r"evtl\.", "eventuell", "mid"),
        (r"ggf\.", "gegebenenfalls", "mid"),
        (r"usw\.", "und so weiter", "end"),
        (r"Nr\.", "Nummer", "num"),
    ],
    "it": [
        (r"Sig\.ra", "Signora", "title"),
        (r"Sig\.na", "Signorina", "title"),
        (r"Sig\.", "Signor", "title"),
        (r"Sigg\.", "Signori", "title"),
        (r"Dott\.ssa", "Dottoressa", "title"),
        (r"Dott\.", "Dottor", "title"),
        (r"Prof\.ssa", "Professoressa", "title"),
        (r"Prof\.", "Professor", "title"),
        (r"ecc\.", "eccetera", "end"),
        (r"n\.", "numero", "num"),
    ],
    "pt": [
        (r"Sr\.", "Senhor", "title"),
        (r"Sra\.", "Senhora", "title"),
        (r"Srta\.", "Senhorita", "title"),
        (r"Dr\.", "Doutor", "title"),
        (r"Dra\.", "Doutora", "title"),
        (r"etc\.", "et cetera", "end"),
        (r"p\.\s?ex\.", "por exemplo", "mid"),
        (r"n\.º", "número", "num"),
    ],
}


def _compile(pattern: str, kind: str) -> re.Pattern[str]:
    after = {"title": r"(?=\s|$)", "num": r"(?=\s*\d)"}.get(kind, "")
    if pattern[-1].isalpha():  # ends with a letter ("Sig.ra", "Mme"): a whole word
        after += r"(?!\w)"
    return re.compile(rf"(?<![\w.])(?:{pattern}){after}")


ABBREVIATIONS: dict[str, list[tuple[re.Pattern[str], str, str]]] = {
    lang: [(_compile(p, kind), said, kind) for p, said, kind in entries] for lang, entries in _RAW.items()
}

MONTHS: dict[str, list[str]] = {
    "en": "January February March April May June July August September October November December".split(),
    "es": "enero febrero marzo abril mayo junio julio agosto septiembre octubre noviembre diciembre".split(),
    "fr": "janvier février mars avril mai juin juillet août septembre octobre novembre décembre".split(),
    "de": "Januar Februar März April Mai Juni Juli August September Oktober November Dezember".split(),
    "it": "gennaio febbraio marzo aprile maggio giugno luglio agosto settembre ottobre novembre dicembre".split(),
    "pt": "janeiro fevereiro março abril maio junho julho agosto setembro outubro novembro dezembro".split(),
}

# Numeric dates rewritten as the language writes them (then read by the rules for written dates), and how
# the first of the month is written where it is an ordinal.
DATE_FORMS: dict[str, tuple[str, str]] = {
    "en": ("{month} {day}, {year}", ""),
    "es": ("{day} de {month} de {year}", ""),
    "pt": ("{day} de {month} de {year}", ""),
    "fr": ("{day} {month} {year}", "1er"),
    "it": ("{day} {month} {year}", "1º"),
    "de": ("{day}. {month} {year}", ""),
}

# Ordinals as written: (the number)(the marker). German "3." is left alone (an ordinal or a sentence's end).
ORDINALS: dict[str, str] = {
    "en": r"(\d+)(st|nd|rd|th)",
    "fr": r"(\d+)(er|re|ère|e|ème|eme|nd|nde)",
    "es": r"(\d+)\.?(º|ª|er)",
    "it": r"(\d+)(º|ª)",
    "pt": r"(\d+)\.?(º|ª)",
}

# Thousands separators: "3,000" en, "3.000" es/de/it/pt, "3 000" fr and (by default, "") most others.
GROUP: dict[str, str] = {
    "en": ",",
    "es": r"[.\u202f]",
    "de": r"[.\u202f]",
    "it": r"[.\u202f]",
    "pt": r"[.\u202f]",
    "": r"[.\u00a0\u202f ]",
}

# Words that number a heading ("Chapter IV", "Capítulo 3"), in every language (a heading may be in another).
HEADING_WORDS: list[str] = (
    "chapter book part volume vol act scene section canto letter stave "  # en
    "capítulo libro parte tomo volumen acto escena sección "  # es
    "chapitre livre partie tome acte scène chant "  # fr
    "kapitel buch teil band akt szene abschnitt "  # de
    "capitolo atto scena "  # it
    "livro ato cena"  # pt
).split()

# A word before a 4-digit number that makes it a year (read "nineteen eighty-four" in en).
YEAR_CONTEXT: dict[str, str] = {
    "en": r"in|since|of|by|from|until|till|circa|c\.|ca\.|around|before|after|during|year|summer|winter|spring|"
    r"autumn|fall|early|late|mid|between|and|AD|A\.D\.",
    "de": r"im|in|jahr|jahre|jahres|seit|bis|von|vom|ab|anno|um|sommer|winter|frühjahr|frühling|herbst|vor|nach|"
    r"zwischen|und|ende|anfang|mitte",
}

# The decimal point as said, by the separator written.
POINT: dict[str, dict[str, str]] = {
    "en": {".": "point", ",": "point"},
    "es": {",": "coma", ".": "punto"},
    "fr": {",": "virgule", ".": "point"},
    "de": {",": "Komma", ".": "Punkt"},
    "it": {",": "virgola", ".": "punto"},
    "pt": {",": "vírgula", ".": "ponto"},
}

# Symbols' words: "%", "&", the "to" of a range, the minus sign, and currencies where num2words has none.
SYMBOL_WORDS: dict[str, dict[str, str]] = {
    "en": {"%": "percent", "&": "and", "to": "to", "-": "minus", "¥": "yen", "₹": "rupees"},
    "es": {"%": "por ciento", "&": "y", "to": "a", "-": "menos", "¥": "yenes", "₹": "rupias", "$": "dólares"},
    "fr": {"%": "pour cent", "&": "et", "to": "à", "-": "moins", "¥": "yens", "₹": "roupies", "$": "dollars"},
    "de": {"%": "Prozent", "&": "und", "to": "bis", "-": "minus", "¥": "Yen", "₹": "Rupien", "$": "Dollar"},
    "it": {"%": "per cento", "&": "e", "to": "a", "-": "meno", "¥": "yen", "₹": "rupie", "$": "dollari"},
    "pt": {"%": "por cento", "&": "e", "to": "a", "-": "menos", "¥": "ienes", "₹": "rupias", "$": "dólares"},
}

CURRENCIES: dict[str, str] = {"$": "USD", "£": "GBP", "€": "EUR", "¥": "JPY", "₹": "INR"}

# Big-number words after an amount ("$5 million"), as a regex alternation.
SCALES: dict[str, str] = {
    "en": "thousand|million|billion|trillion",
    "es": "mil|millón|millones|billón|billones",
    "fr": "mille|millions?|milliards?",
    "de": "Tausend|Millionen|Million|Milliarden|Milliarde|Mio\\.|Mrd\\.",
    "it": "mila|milioni|milione|miliardi|miliardo",
    "pt": "mil|milhão|milhões|bilhão|bilhões",
}

# Clock times: (the word between hour and minutes, the word for a full hour, the word for hour 1).
TIME_WORDS: dict[str, tuple[str, str, str]] = {
    "en": ("", "", ""),
    "es": ("y", "en punto", "una"),
    "fr": ("heures", "heures", "une"),
    "de": ("Uhr", "Uhr", "ein"),
    "it": ("e", "", "una"),
    "pt": ("e", "em ponto", "uma"),
}
