"""A chapter's narration chunks (pipeline/products/audiobook/chunking.py): order, sayings, pauses, content ids."""

from __future__ import annotations

import pytest

from pipeline.products.audiobook.book import Chapter, Paragraph
from pipeline.products.audiobook.chunking import Chunk, Pauses, chapter_chunks, chunk_id
from pipeline.text.lexicon import Lexicon

P = Pauses()


def _chapter(*paragraphs: str, title: str = "Chapter IV") -> Chapter:
    return Chapter(
        index=4,
        title=title,
        paragraphs=[Paragraph(kind="scene_break") if p == "***" else Paragraph(text=p) for p in paragraphs],
    )


def _view(chunks: list[Chunk]) -> list[tuple[str, str, int, float]]:
    return [(c.kind, c.said, c.paragraph, c.pause_after_s) for c in chunks]


def test_title_then_sentences_with_their_pauses() -> None:
    chunks = chapter_chunks(_chapter("Mr. Smith went to Washington. He paid $5.", "It was 1984. The end."), "en")
    assert _view(chunks) == [
        ("title", "Chapter four.", 0, P.title),
        ("sentence", "Mister Smith went to Washington.", 1, P.sentence),
        ("sentence", "He paid five dollars.", 1, P.paragraph),
        ("sentence", "It was nineteen eighty-four.", 2, P.sentence),
        ("sentence", "The end.", 2, 0.0),  # the last: mastering adds the tail
    ]
    assert chunks[1].text == "Mr. Smith went to Washington."
    assert chunks[0].text == "Chapter IV"


@pytest.mark.parametrize(
    ("title", "language", "said"),
    [
        ("Chapter IV", "en", "Chapter four."),
        ("CHAPTER XII. THE STORM", "en", "CHAPTER twelve. THE STORM."),
        ("Capítulo IV", "es", "Capítulo cuatro."),
        ("XII.", "en", "Twelve."),
        ("Book II", "en", "Book two."),
        ("Where Is It?", "en", "Where Is It?"),
    ],
)
def test_titles_are_said_with_their_numbers(title: str, language: str, said: str) -> None:
    chunks = chapter_chunks(_chapter("Text.", title=title), language)
    assert chunks[0].kind == "title" and chunks[0].said == said and chunks[0].paragraph == 0


def test_a_scene_break_adds_its_pause_and_makes_no_chunk() -> None:
    chunks = chapter_chunks(_chapter("One. Two.", "***", "***", "Three."), "en")
    assert [c.said for c in chunks] == ["Chapter four.", "One.", "Two.", "Three."]
    assert chunks[2].pause_after_s == pytest.approx(P.paragraph + P.scene_break)  # two breaks in a row count once
    assert chunks[3].paragraph == 2


def test_unspeakable_chunks_are_dropped_and_their_pause_folds_back() -> None:
    chunks = chapter_chunks(_chapter("One.", "— … —", "Two.", "* * *"), "en")
    assert _view(chunks) == [
        ("title", "Chapter four.", 0, P.title),
        ("sentence", "One.", 1, P.paragraph),
        ("sentence", "Two.", 3, 0.0),
    ]


def test_an_empty_title_makes_no_chunk() -> None:
    chunks = chapter_chunks(_chapter("Text here.", title="  "), "en")
    assert [c.kind for c in chunks] == ["sentence"]
    assert chunks[0].pause_after_s == 0.0


def test_pauses_scaled_and_custom() -> None:
    slow = P.scaled(2)
    assert (slow.sentence, slow.paragraph, slow.scene_break, slow.title) == (0.7, 1.8, 4.0, 3.2)
    chunks = chapter_chunks(_chapter("A b. C d.", "E f."), "en", pauses=slow)
    assert [c.pause_after_s for c in chunks] == [3.2, 0.7, 1.8, 0.0]
    with pytest.raises(ValueError):
        P.scaled(-1)


def test_the_lexicon_comes_before_normalize() -> None:
    lexicon = Lexicon({"Hermione": "her-MY-oh-nee", "1984": "Nineteen Eighty-Four"})
    chunks = chapter_chunks(_chapter("Hermione read 1984 in 1990."), "en", lexicon)
    assert chunks[1].said == "her-MY-oh-nee read Nineteen Eighty-Four in nineteen ninety."
    assert chunks[1].text == "Hermione read 1984 in 1990."


def test_a_long_sentence_is_cut_to_the_engines_length() -> None:
    sentence = ", ".join(f"they walked for {i} miles" for i in range(1, 30)) + "."
    chunks = chapter_chunks(_chapter(sentence), "en", max_chars=120)[1:]
    assert len(chunks) > 3
    assert all(len(c.said) <= 120 for c in chunks)  # cut in proportion to the saying's length
    assert all(c.pause_after_s == P.clause for c in chunks[:-1])
    assert " ".join(c.text for c in chunks).split() == sentence.split()


def test_ids_are_content_keys() -> None:
    chunks = chapter_chunks(_chapter("Same.", "Same.", "Other."), "en")
    ids = [c.id for c in chunks]
    assert len(set(ids)) == len(ids)  # a repeated sentence is told apart by its occurrence
    assert all(len(i) == 16 and int(i, 16) >= 0 for i in ids)
    assert chunks[1].id == chunk_id("sentence", "Same.", "en", 0)
    assert chunks[2].id == chunk_id("sentence", "Same.", "en", 1)
    assert chapter_chunks(_chapter("Same.", "Same.", "Other."), "en-GB")[1].id == chunks[1].id
    assert chapter_chunks(_chapter("Same."), "es")[1].id != chunks[1].id  # another language says it otherwise


def test_editing_one_paragraph_changes_only_its_chunk_ids() -> None:
    paragraphs = [
        "It was a dark night. The wind howled.",
        "Mr. Smith opened the door. Nobody was there.",
        "He went back to bed. He slept.",
    ]
    before = chapter_chunks(_chapter(*paragraphs), "en")
    edited = list(paragraphs)
    edited[1] = "Mr. Smith opened the door slowly. Nobody was there. Not even the cat."
    after = chapter_chunks(_chapter(*edited), "en")
    ids_before = {c.paragraph: [] for c in before}
    for c in before:
        ids_before[c.paragraph].append(c.id)
    ids_after = {c.paragraph: [] for c in after}
    for c in after:
        ids_after[c.paragraph].append(c.id)
    assert ids_after[0] == ids_before[0] and ids_after[1] == ids_before[1] and ids_after[3] == ids_before[3]
    changed = set(ids_after[2]) - set(ids_before[2])
    assert len(changed) == 2  # the edited sentence and the new one; "Nobody was there." is the same audio
    # inserting a paragraph shifts positions but no other id
    inserted = chapter_chunks(_chapter(paragraphs[0], "A new paragraph.", *paragraphs[1:]), "en")
    assert {c.id for c in before} <= {c.id for c in inserted}
