"""Making a line shorter without changing what it says, for engines that cannot be asked to (rule-based MT).

Applied to the source before translation (drop parentheticals and fillers) and to the translation
after it (abbreviations). Pure functions; language lists are small and conservative.
"""

from __future__ import annotations

import re
from collections.abc import Callable

_PARENS = re.compile(r"\s*[\(\[][^\)\]]*[\)\]]")
_DASHED = re.compile(r"\s+[-\u2013\u2014]\s+[^-\u2013\u2014]+?\s+[-\u2013\u2014]\s+")

FILLERS: dict[str, list[str]] = {
    "en": ["you know", "i mean", "kind of", "sort of", "basically", "actually", "really", "just", "very",
           "well,", "so,", "okay,", "ok,", "um", "uh", "like,", "of course,", "in fact,", "literally"],
    "es": ["o sea", "pues,", "bueno,", "realmente", "básicamente", "en realidad,", "muy", "simplemente"],
    "fr": ["en fait,", "bon,", "alors,", "vraiment", "tout simplement", "très"],
    "ca": ["doncs,", "bé,", "realment", "molt"],
}

ABBREVIATIONS: dict[str, list[tuple[str, str]]] = {
    "es": [("por ejemplo", "p. ej."), ("etcétera", "etc."), ("señor", "Sr."), ("señora", "Sra."),
           ("usted", "Ud."), ("ustedes", "Uds."), ("número", "n.º"), ("kilómetros", "km"),
           ("por ciento", "%"), ("aproximadamente", "aprox.")],
    "en": [("for example", "e.g."), ("that is", "i.e."), ("et cetera", "etc."), ("number", "no."),
           ("percent", "%"), ("approximately", "approx."), ("kilometres", "km"), ("kilometers", "km")],
    "fr": [("par exemple", "p. ex."), ("et cetera", "etc."), ("monsieur", "M."), ("madame", "Mme"),
           ("numéro", "no"), ("pour cent", "%")],
    "ca": [("per exemple", "p. ex."), ("etcètera", "etc."), ("senyor", "Sr."), ("senyora", "Sra.")],
}


def _tidy(text: str) -> str:
    text = re.sub(r"\s+([,.;:?!])", r"\1", text)
    text = re.sub(r",\s*,", ",", text)
    text = re.sub(r"^[,;:\s]+", "", text)
    text = " ".join(text.split())
    return text[:1].upper() + text[1:] if text else text


def drop_asides(text: str, language: str) -> str:
    """Remove parentheticals, dashed asides and filler words."""
    out = _DASHED.sub(" ", _PARENS.sub("", text))
    for filler in FILLERS.get(language, []):
        pattern = r"(?i)(?<![\w'])" + re.escape(filler) + (r"(?![\w'])" if filler[-1].isalnum() else "")
        out = re.sub(pattern, "", out)
    return _tidy(out)


def abbreviate(text: str, language: str) -> str:
    out = text
    for long, short in ABBREVIATIONS.get(language, []):
        out = re.sub(r"(?i)(?<!\w)" + re.escape(long) + r"(?!\w)", short, out)
    return _tidy(out) if out != text else text


def shortest_within(candidates: list[str], budget: int, size: Callable[[str], int] = len) -> str:
    """The first candidate (in order of preference) within the budget, else the shortest (`size`: characters
    by default)."""
    for c in candidates:
        if c and size(c) <= budget:
            return c
    return min((c for c in candidates if c), key=size, default=candidates[0] if candidates else "")
