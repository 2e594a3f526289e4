"""A book's pronunciation lexicon: how to say the words an engine gets wrong (names, invented words, a title
such as "1984"). A UTF-8 TSV file, one entry a line: `word<TAB>how to say it`; blank lines and `#` comments
are skipped, and so is a first line `word<TAB>say` (a header). Entries match whole words, case-insensitively,
longest first (an entry may be several words); it is applied before `pipeline.text.normalize`.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from pathlib import Path

from pipeline.core.errors import InputError

_HINT = "write one entry a line: the word, a tab, how to say it (see `dubline audiobook --help`)"
_SENTENCE_END = ".!?…"


def _key(word: str) -> str:
    return " ".join(word.split()).lower()  # lower(), not casefold(): the regex's IGNORECASE folds no "ß"


class Lexicon:
    """Words and how to say them. Build one with `Lexicon.load(path)` or `Lexicon({"Hermione": "her-MY-oh-nee"})`."""

    def __init__(self, entries: Mapping[str, str] | None = None) -> None:
        self.entries: dict[str, str] = {}
        for word, said in (entries or {}).items():
            word, said = " ".join(word.split()), " ".join(said.split())
            if word and said:
                self.entries.setdefault(_key(word), said)
        self._pattern: re.Pattern[str] | None = None

    @classmethod
    def load(cls, path: Path) -> Lexicon:
        """Read a lexicon file. A line without a tab, with an empty side or more than two columns, a word given
        two different sayings, or bytes that are not UTF-8 are an InputError naming the file and the line."""
        try:
            data = path.read_bytes()
        except OSError as e:
            raise InputError(f"lexicon {path}: cannot be read ({e.strerror or e})", "check the path") from None
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError as e:
            at = data[: e.start].count(b"\n") + 1
            raise InputError(
                f"lexicon {path}, line {at}: not UTF-8 text", "save the file as UTF-8 (a TSV from a spreadsheet)"
            ) from None
        entries: dict[str, str] = {}
        lines: dict[str, int] = {}  # key -> the line that gave it
        seen_entry = False
        for number, raw in enumerate(text.split("\n"), 1):
            line = raw.rstrip("\r\n")
            if not line.strip() or line.lstrip().startswith("#"):
                continue
            columns = line.split("\t")
            if not seen_entry and len(columns) == 2 and [c.strip().lower() for c in columns] == ["word", "say"]:
                seen_entry = True
                continue
            seen_entry = True
            if len(columns) != 2:
                why = "no tab between the word and how to say it" if len(columns) == 1 else "more than one tab"
                raise InputError(f"lexicon {path}, line {number}: {why}", _HINT)
            word, said = (" ".join(c.split()) for c in columns)
            if not word or not said:
                side = "word" if not word else "saying"
                raise InputError(f"lexicon {path}, line {number}: the {side} is empty", _HINT)
            key = _key(word)
            if key in entries and entries[key] != said:
                first = lines[key]
                raise InputError(
                    f"lexicon {path}, line {number}: {word!r} is already said {entries[key]!r} (line {first})",
                    "keep one saying per word",
                )
            entries.setdefault(key, said)
            lines.setdefault(key, number)
        lexicon = cls()
        lexicon.entries = entries
        return lexicon

    def __len__(self) -> int:
        return len(self.entries)

    def __bool__(self) -> bool:
        return bool(self.entries)

    @property
    def sha256(self) -> str:
        """A stable hash of the entries (order, comments and the case of the words do not count): part of the
        content key of each chunk it changes."""
        doc = json.dumps(sorted(self.entries.items()), ensure_ascii=False, separators=(",", ":"))
        return hashlib.sha256(doc.encode()).hexdigest()

    def _regex(self) -> re.Pattern[str] | None:
        if self._pattern is None and self.entries:
            alternatives = []
            for key in sorted(self.entries, key=lambda k: (-len(k), k)):  # the longest entry first
                body = r"\s+".join(re.escape(w) for w in key.split(" "))
                head = r"(?<!\w)" if re.match(r"\w", key) else ""
                tail = r"(?!\w)" if re.search(r"\w$", key) else ""
                alternatives.append(head + body + tail)
            self._pattern = re.compile("|".join(alternatives), re.IGNORECASE)
        return self._pattern

    def apply(self, text: str) -> str:
        """The text with each entry's words replaced by how to say them. Sentence punctuation around a word stays;
        an entry that ends with its own period ("Dr.") keeps it where the text ends there."""
        pattern = self._regex()
        if pattern is None:
            return text

        def say(m: re.Match[str]) -> str:
            said = self.entries.get(_key(m[0])) or next(
                v
                for k, v in self.entries.items()
                if re.fullmatch(r"\s+".join(map(re.escape, k.split(" "))), m[0], re.I)
            )
            ends = m[0][-1]
            if ends in _SENTENCE_END and said[-1] not in _SENTENCE_END and not text[m.end() :].strip():
                said += ends
            return said

        return pattern.sub(say, text)
