"""A translation glossary: names and terms to keep as they are, and terms with a fixed rendering.

Two file formats, both UTF-8:

JSON::

    {"keep": ["Dr. Okafor", "Airflow"],
     "terms": [{"en": "dubbing", "es": "doblaje", "fr": "doublage", "de": "Synchronisation"}]}

TSV (a header row of ISO 639-1 codes, one term per row; `#` starts a comment line)::

    en          es          fr          de
    dubbing     doblaje     doublage    Synchronisation
    Dr. Okafor

A row with a single filled cell is a name to keep as it is in every language. A term row gives the
rendering per language; a language left empty has no fixed rendering.
"""

from __future__ import annotations

import json
import re
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path


class GlossaryError(ValueError):
    """The glossary file cannot be read; the message names the file and the line."""


def fold(text: str) -> str:
    """Lower case without accents, for tolerant matching ('París' ~ 'paris')."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def contains_term(text: str, term: str) -> bool:
    """Whether `term` occurs in `text` as whole words, ignoring case and accents."""
    t = fold(term).strip()
    if not t:
        return False
    return re.search(r"(?<!\w)" + re.escape(t) + r"(?!\w)", fold(text)) is not None


@dataclass(frozen=True)
class Glossary:
    keep: tuple[str, ...] = ()
    terms: tuple[dict[str, str], ...] = field(default_factory=tuple)

    def __bool__(self) -> bool:
        return bool(self.keep or self.terms)

    def for_line(self, text: str, source: str, target: str) -> tuple[list[str], list[tuple[str, str]]]:
        """What applies to one source line: (names to keep, [(source term, fixed rendering)])."""
        keep = [k for k in self.keep if contains_term(text, k)]
        fixed: list[tuple[str, str]] = []
        for entry in self.terms:
            src, tgt = entry.get(source, "").strip(), entry.get(target, "").strip()
            if src and tgt and contains_term(text, src):
                fixed.append((src, tgt))
        return keep, fixed

    def as_dict(self) -> dict[str, object]:
        return {"keep": list(self.keep), "terms": [dict(sorted(t.items())) for t in self.terms]}

    @classmethod
    def from_dict(cls, doc: object, where: str = "glossary") -> Glossary:
        if not isinstance(doc, dict):
            raise GlossaryError(f"{where}: expected an object with 'keep' and/or 'terms'")
        keep = doc.get("keep", [])
        terms = doc.get("terms", [])
        if not isinstance(keep, list) or not all(isinstance(k, str) for k in keep):
            raise GlossaryError(f"{where}: 'keep' must be a list of strings")
        if not isinstance(terms, list):
            raise GlossaryError(f'{where}: \'terms\' must be a list of objects such as {{"en": ..., "es": ...}}')
        clean: list[dict[str, str]] = []
        for i, t in enumerate(terms):
            if not isinstance(t, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in t.items()):
                raise GlossaryError(f"{where}: term {i + 1} must map language codes to strings")
            clean.append({k.strip().lower(): v.strip() for k, v in t.items() if v.strip()})
        return cls(tuple(k.strip() for k in keep if k.strip()), tuple(c for c in clean if c))


def parse_tsv(text: str, where: str = "glossary") -> Glossary:
    rows = [line for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")]
    if not rows:
        return Glossary()
    header = [h.strip().lower() for h in rows[0].split("\t")]
    if not all(re.fullmatch(r"[a-z]{2,3}", h) for h in header):
        raise GlossaryError(f"{where}: the first row must name the languages (ISO 639-1 codes), got {rows[0]!r}")
    keep: list[str] = []
    terms: list[dict[str, str]] = []
    for n, line in enumerate(rows[1:], start=2):
        cells = [c.strip() for c in line.split("\t")]
        if len(cells) > len(header):
            raise GlossaryError(f"{where}: row {n} has {len(cells)} cells, the header {len(header)}")
        filled = {header[i]: c for i, c in enumerate(cells) if c}
        if len(filled) == 1:
            keep.append(next(iter(filled.values())))
        elif filled:
            terms.append(filled)
    return Glossary(tuple(keep), tuple(terms))


def parse(text: str, where: str = "glossary") -> Glossary:
    """JSON when the text starts with '{', TSV otherwise."""
    if text.lstrip().startswith("{"):
        try:
            doc = json.loads(text)
        except ValueError as e:
            raise GlossaryError(f"{where}: not valid JSON: {e}") from None
        return Glossary.from_dict(doc, where)
    return parse_tsv(text, where)


def load(path: Path) -> Glossary:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise GlossaryError(f"glossary {path}: cannot read it ({e})") from None
    return parse(text, str(path))
