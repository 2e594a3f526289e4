"""Sentences of a paragraph (pysbd's rules for the language, English rules for one it has none for), and a
long sentence cut at clause boundaries into pieces an engine reads comfortably (`fit_chunks`).

The periods of abbreviations that never end a sentence ("Sr. García", "Hr. Müller", "z.B.", as listed by
`pipeline.text.normalize`) are hidden from pysbd, which splits after some of them in some languages."""

from __future__ import annotations

import functools
import re

import pysbd
from pysbd.languages import LANGUAGE_CODES

from models.system import base_language
from pipeline.text.normalize import abbreviation_periods

_MASK = "\ue0a0"  # stands for a period that ends no sentence while pysbd reads the text

# Where a long sentence may be cut, best first: after ; or :, at a dash, after a comma (not inside "1,000"
# nor before "March 12, 1850"'s year), at a space. Each gives the position after which the cut falls.
_CUTS = (
    re.compile(r"[;:](?=\s)"),
    re.compile(r"\s[—–-](?=\s)|—(?!\s)"),
    re.compile(r",(?=\s+\D)"),
    re.compile(r"\S(?=\s)"),
)


@functools.lru_cache(maxsize=32)
def _segmenter(language: str) -> pysbd.Segmenter:
    return pysbd.Segmenter(language=language, clean=False)


def split_sentences(text: str, language: str) -> list[str]:
    """The text's sentences in order, each stripped, whitespace runs as one space; none for blank text."""
    text = " ".join(text.split())
    if not text:
        return []
    lang = base_language(language)
    masked = list(text)
    for i in abbreviation_periods(text, lang):
        masked[i] = _MASK
    segmenter = _segmenter(lang if lang in LANGUAGE_CODES else "en")
    segments = [s for block in _blocks("".join(masked)) for s in segmenter.segment(block)]
    out = [" ".join(s.replace(_MASK, ".").split()) for s in segments]
    return [s for s in out if s]


_BLOCK = 4000
_CLEAR_END = re.compile(r"[.!?][\"'”’»)]*\s(?=[\"“‘«(]?[A-ZÀ-Þ])")


def _blocks(text: str) -> list[str]:
    """A very long paragraph in blocks of about `_BLOCK` characters, each cut at a clear sentence end (pysbd's
    time grows faster than the text: a 50,000-character paragraph takes it seconds)."""
    blocks: list[str] = []
    while len(text) > 2 * _BLOCK:
        m = _CLEAR_END.search(text, _BLOCK)
        if m is None:
            break
        blocks.append(text[: m.end()])
        text = text[m.end() :]
    return [*blocks, text]


def _cut(sentence: str, max_chars: int) -> list[str]:
    if len(sentence) <= max_chars:
        return [sentence]
    longest = max(max_chars, int(len(sentence) * 0.75))  # a cut near the middle, or one that fits both sides
    middle = len(sentence) / 2
    for pattern in _CUTS:
        best: int | None = None
        for m in pattern.finditer(sentence):
            at = m.end()
            left, right = sentence[:at].rstrip(), sentence[at:].lstrip()
            if left and right and max(len(left), len(right)) <= longest:
                if best is None or abs(at - middle) < abs(best - middle):
                    best = at
        if best is not None:
            break
    if best is None:  # no space near the middle: the space nearest it, else a hard cut in a word too long
        spaces = [m.start() for m in re.finditer(r"\s", sentence)]
        best = min(spaces, key=lambda s: abs(s - middle)) if spaces else max_chars
        if not sentence[:best].strip() or not sentence[best:].strip():
            best = max_chars
    left, right = sentence[:best].rstrip(), sentence[best:].lstrip()
    return _cut(left, max_chars) + _cut(right, max_chars)


def fit_chunks(sentences: list[str], max_chars: int) -> list[str]:
    """Each sentence as one chunk (short ones are not merged: an edit re-renders only its sentence), a sentence
    longer than `max_chars` cut at the best clause boundary near its middle (; : then a dash, a comma, a
    space), again and again until each piece fits. A word longer than `max_chars` is cut inside."""
    if max_chars < 1:
        raise ValueError(f"max_chars must be at least 1, not {max_chars}")
    out: list[str] = []
    for sentence in sentences:
        sentence = " ".join(sentence.split())
        if sentence:
            out += [piece for piece in _cut(sentence, max_chars) if piece]
    return out
