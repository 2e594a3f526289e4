"""A book's pronunciation lexicon (pipeline/text/lexicon.py): the TSV file, its errors, and its sayings."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipeline.core.errors import InputError
from pipeline.text.lexicon import Lexicon
from pipeline.text.normalize import normalize


def _file(tmp_path: Path, text: str | bytes) -> Path:
    path = tmp_path / "lexicon.tsv"
    path.write_bytes(text if isinstance(text, bytes) else text.encode())
    return path


def test_load_skips_header_comments_and_blank_lines(tmp_path: Path) -> None:
    lexicon = Lexicon.load(
        _file(tmp_path, "Word\tSay\n# names\n\nHermione\ther-MY-oh-nee\r\n  # indented comment\nNew York\tNoo York\n")
    )
    assert len(lexicon) == 2
    assert lexicon.apply("Hermione went to New York.") == "her-MY-oh-nee went to Noo York."


def test_a_utf8_bom_is_no_part_of_the_first_word(tmp_path: Path) -> None:
    lexicon = Lexicon.load(_file(tmp_path, "\ufeffZoë\tzo-ee\n".encode()))
    assert lexicon.apply("Zoë laughed.") == "zo-ee laughed."


def test_an_empty_file_is_an_empty_lexicon(tmp_path: Path) -> None:
    lexicon = Lexicon.load(_file(tmp_path, "# nothing yet\n"))
    assert len(lexicon) == 0 and not lexicon
    assert lexicon.apply("As written.") == "As written."


@pytest.mark.parametrize(
    ("text", "line", "why"),
    [
        ("Hermione\ther-MY-oh-nee\nRon Ron\n", 2, "no tab"),
        ("# c\n\nHermione\t\n", 3, "saying is empty"),
        ("\tsomething\n", 1, "word is empty"),
        ("a\tb\tc\n", 1, "more than one tab"),
        ("Word\tsay\nword\tsay\nx\ty\nX\tz\n", 4, "already said 'y' (line 3)"),
    ],
)
def test_bad_lines_name_the_file_and_the_line(tmp_path: Path, text: str, line: int, why: str) -> None:
    path = _file(tmp_path, text)
    with pytest.raises(InputError) as e:
        Lexicon.load(path)
    assert str(path) in e.value.message
    assert f"line {line}:" in e.value.message
    assert why in e.value.message
    assert e.value.hint


def test_header_only_counts_as_the_first_line(tmp_path: Path) -> None:
    """A later `word<TAB>say` line is an entry (the word "word"), not a header."""
    lexicon = Lexicon.load(_file(tmp_path, "Tolkien\tTOL-keen\nword\tsay\n"))
    assert len(lexicon) == 2


def test_the_same_saying_twice_is_no_error(tmp_path: Path) -> None:
    lexicon = Lexicon.load(_file(tmp_path, "Tolkien\tTOL-keen\ntolkien\tTOL-keen\n"))
    assert len(lexicon) == 1


def test_undecodable_bytes_name_the_line(tmp_path: Path) -> None:
    path = _file(tmp_path, b"ok\tfine\nalso\tfine\ncaf\xe9\tcafe\n")
    with pytest.raises(InputError, match=r"line 3: not UTF-8"):
        Lexicon.load(path)


def test_a_missing_file_is_an_input_error(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="cannot be read"):
        Lexicon.load(tmp_path / "nope.tsv")


@pytest.mark.parametrize(
    ("entries", "text", "said"),
    [
        ({"Hermione": "her-MY-oh-nee"}, "HERMIONE and hermione.", "her-MY-oh-nee and her-MY-oh-nee."),
        ({"Ron": "Ronn"}, "Ronald and Ron, Ron's.", "Ronald and Ronn, Ronn's."),  # whole words only
        ({"New York": "Noo York", "York": "Yawk"}, "New York, not York.", "Noo York, not Yawk."),  # longest first
        ({"new york": "Noo York"}, "New\nYork!", "Noo York!"),  # any whitespace between an entry's words
        ({"Dr.": "Doctor"}, "It was the Dr.", "It was the Doctor."),  # its own period kept where the text ends
        ({"C++": "C plus plus"}, "I like C++ a lot.", "I like C plus plus a lot."),
        ({"Smith": "Smyth"}, "Smithers met Smith.", "Smithers met Smyth."),
    ],
)
def test_apply(entries: dict[str, str], text: str, said: str) -> None:
    assert Lexicon(entries).apply(text) == said


def test_applied_before_normalize_it_can_say_a_number_as_a_title() -> None:
    lexicon = Lexicon({"1984": "Nineteen Eighty-Four"})
    assert normalize(lexicon.apply("He read 1984 twice."), "en") == "He read Nineteen Eighty-Four twice."


def test_sha256_is_stable_and_follows_the_entries(tmp_path: Path) -> None:
    a = Lexicon.load(_file(tmp_path, "# one order\nb\tbee\na\tay\n"))
    b = Lexicon({"a": "ay", "B": "bee"})
    assert a.sha256 == b.sha256
    assert len(a.sha256) == 64
    assert Lexicon({"a": "ay", "b": "bea"}).sha256 != a.sha256
    assert Lexicon().sha256 == Lexicon({}).sha256
