"""Sentences (pysbd with abbreviations masked) and long sentences cut for the engine (pipeline/text/sentences.py)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline.text.sentences import fit_chunks, split_sentences

SPLITS = [
    ("en", "Mr. Smith went to Washington. He arrived late.", ["Mr. Smith went to Washington.", "He arrived late."]),
    ("en", "Dr. Watson met Mrs. Hudson. They talked.", ["Dr. Watson met Mrs. Hudson.", "They talked."]),
    ("en", "He left at 3 p.m. and slept. It cost $5.20.", ["He left at 3 p.m. and slept.", "It cost $5.20."]),
    ("en", '"Why?" she asked. "Because." He left.', ['"Why?" she asked.', '"Because."', "He left."]),
    ("en", "Wait... What? No!", ["Wait...", "What?", "No!"]),
    ("en", "One line\nstill the same sentence. Next.", ["One line still the same sentence.", "Next."]),
    ("en", "No. 5 was empty. Cats, e.g. Tom, sleep.", ["No. 5 was empty.", "Cats, e.g. Tom, sleep."]),
    # pysbd splits after "Sr." and "Hr." on its own: the normaliser's abbreviations keep them whole
    ("es", "El Sr. García llegó. ¿Qué pasa? ¡Nada!", ["El Sr. García llegó.", "¿Qué pasa?", "¡Nada!"]),
    (
        "de",
        "Am 12. März kam Hr. Müller z.B. nach Berlin. Er blieb.",
        ["Am 12. März kam Hr. Müller z.B. nach Berlin.", "Er blieb."],
    ),
    ("fr", "M. Dupont est arrivé. Il est parti.", ["M. Dupont est arrivé.", "Il est parti."]),
    # a language pysbd has no rules for: English rules
    ("pt", "O Sr. Silva chegou. Ele saiu.", ["O Sr. Silva chegou.", "Ele saiu."]),
    ("en", "   ", []),
]


@pytest.mark.parametrize(("language", "text", "sentences"), SPLITS)
def test_split_sentences(language: str, text: str, sentences: list[str]) -> None:
    assert split_sentences(text, language) == sentences


def test_a_very_long_paragraph_gives_the_same_sentences_as_its_parts() -> None:
    """It is segmented in blocks cut at clear sentence ends (pysbd slows down on long text)."""
    part = "Mr. Smith paid $5.20 at St. Paul's, etc. He lived on Baker Street. Then Dr. Who came. "
    sentences = split_sentences(part, "en")
    assert len(sentences) == 3
    assert split_sentences(part * 150, "en") == sentences * 150


def test_short_sentences_are_not_merged() -> None:
    assert fit_chunks(["Yes.", "No.", "Maybe."], 300) == ["Yes.", "No.", "Maybe."]


def test_a_long_sentence_is_cut_at_a_clause_boundary_near_its_middle() -> None:
    left = "The rain had not stopped for three days and the river rose"
    right = "the village waited on the hill for the water to go down again"
    sentence = f"{left}; {right}, and it did."
    assert fit_chunks([sentence], 100) == [f"{left};", f"{right}, and it did."]


def test_semicolon_beats_comma_and_comma_beats_space() -> None:
    sentence = "aaaa bbbb, cccc dddd eeee; ffff gggg hhhh iiii jjjj"
    assert fit_chunks([sentence], 40) == ["aaaa bbbb, cccc dddd eeee;", "ffff gggg hhhh iiii jjjj"]
    sentence = "aaaa bbbb cccc dddd, eeee ffff gggg hhhh iiii jjjj"
    assert fit_chunks([sentence], 40) == ["aaaa bbbb cccc dddd,", "eeee ffff gggg hhhh iiii jjjj"]


def test_a_dash_is_a_boundary() -> None:
    sentence = "He looked up at the sky—and then, slowly, down at the ground below him"
    assert fit_chunks([sentence], 50) == ["He looked up at the sky—", "and then, slowly, down at the ground below him"]


def test_no_cut_inside_a_grouped_number() -> None:
    chunks = fit_chunks(["They counted 1,000,000 stars and then 2,000,000 more of them"], 40)
    assert len(chunks) > 1
    assert any("1,000,000" in c for c in chunks) and any("2,000,000" in c for c in chunks)


def test_a_very_long_sentence_is_cut_again_and_again() -> None:
    sentence = ", ".join(f"item number {i} of the list" for i in range(60)) + "."
    chunks = fit_chunks([sentence], 120)
    assert len(chunks) > 10 and all(len(c) <= 120 for c in chunks)
    assert " ".join(chunks).split() == sentence.split()


def test_a_word_longer_than_the_limit_is_cut_inside() -> None:
    assert fit_chunks(["x" * 25], 10) == ["x" * 10, "x" * 10, "x" * 5]


def test_max_chars_must_be_positive() -> None:
    with pytest.raises(ValueError):
        fit_chunks(["a"], 0)


_WORD = st.text(alphabet="abcdefghij,;:.", min_size=1, max_size=30)


@settings(max_examples=150, deadline=None)
@given(st.lists(_WORD, min_size=1, max_size=80), st.integers(min_value=30, max_value=200))
def test_fit_chunks_fits_and_keeps_the_words_in_order(words: list[str], max_chars: int) -> None:
    sentence = " ".join(words)
    chunks = fit_chunks([sentence], max_chars)
    assert all(0 < len(c) <= max_chars for c in chunks)
    assert " ".join(chunks).split() == sentence.split()


@settings(max_examples=100, deadline=None)
@given(st.text(alphabet="ab —,;", min_size=1, max_size=400), st.integers(min_value=1, max_value=60))
def test_fit_chunks_never_exceeds_and_never_loses_a_character(text: str, max_chars: int) -> None:
    chunks = fit_chunks([text], max_chars)
    assert all(0 < len(c) <= max_chars for c in chunks)
    assert "".join("".join(chunks).split()) == "".join(text.split())
