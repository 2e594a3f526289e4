"""Casting: each speaker's voice per language (pure logic; the ledger's content comes in as arguments)."""

from __future__ import annotations

import pytest

from models.base import EngineUnavailable
from pipeline.core.script import SpeakerInfo
from pipeline.speech.casting import (
    HIGH,
    LOW,
    SeriesEntry,
    StockVoice,
    assign,
    match_people,
    presentation_of,
)

CATALOGUE = [
    StockVoice("kokoro", "jf_alpha", HIGH, 0),
    StockVoice("kokoro", "jf_nezumi", HIGH, 0),
    StockVoice("kokoro", "jm_kumo", LOW, 0),
    StockVoice("pico", "es-ES", HIGH, 1),
    StockVoice("espeak", "es+m3", LOW, 2),
]


def _info(**speakers: tuple[float, str, list[float] | None]) -> dict[str, SpeakerInfo]:
    return {
        k: SpeakerInfo(id=k, seconds=secs, presentation=pres, embedding=emb)
        for k, (secs, pres, emb) in speakers.items()
    }


def test_presentation_from_f0() -> None:
    assert presentation_of(110.0) == LOW
    assert presentation_of(260.0) == HIGH
    assert presentation_of(224.0) == "unknown", "an emphatic male speaker (JFK, 224 Hz) is not called high"
    assert presentation_of(None) == "unknown"


def test_without_a_clear_presentation_the_likest_voice_wins() -> None:
    cat = [
        StockVoice("kokoro", "jf_alpha", HIGH, 0, (1.0, 0.0, 0.0)),
        StockVoice("kokoro", "jm_kumo", LOW, 0, (0.0, 1.0, 0.0)),
        StockVoice("pico", "es-ES", HIGH, 1, (0.0, 0.0, 1.0)),
    ]
    info = _info(S1=(30.0, "unknown", [0.1, 0.9, 0.1]), S2=(20.0, "unknown", [0.1, 0.1, 0.9]))
    c = assign(["S1", "S2"], info, "es", cat)
    assert c.voices["S1"].voice_id == "jm_kumo"
    assert c.voices["S2"].voice_id == "es-ES", "a much likelier voice of a later engine loses to preference"


def test_low_speaker_gets_a_low_voice_and_high_a_high_one() -> None:
    info = _info(S1=(30.0, LOW, None), S2=(10.0, HIGH, None))
    c = assign(["S1", "S2"], info, "es", CATALOGUE)
    assert c.voices["S1"].voice_id == "jm_kumo"
    assert c.voices["S2"].voice_id == "jf_alpha"
    assert all(v.reason.startswith("suited") for v in c.voices.values())


def test_speakers_get_distinct_voices_then_shifted_pitch() -> None:
    info = _info(**{f"S{i}": (10.0 - i, HIGH, None) for i in range(1, 7)})
    c = assign(list(info), info, "es", CATALOGUE)
    keys = {(v.engine, v.voice_id, v.pitch) for v in c.voices.values()}
    assert len(keys) == 6, "two speakers share a voice at the same pitch"
    # the three high voices are used before any voice is reused at a shifted pitch
    firsts = [c.voices[f"S{i}"] for i in range(1, 4)]
    assert all(v.pitch == 1.0 for v in firsts)
    assert {v.voice_id for v in firsts} == {"jf_alpha", "jf_nezumi", "es-ES"}


def test_the_main_speaker_chooses_first() -> None:
    info = _info(S1=(5.0, HIGH, None), S2=(50.0, HIGH, None))
    c = assign(["S1", "S2"], info, "es", CATALOGUE)
    assert c.voices["S2"].voice_id == "jf_alpha"


def test_a_person_with_a_profile_gets_their_cloned_voice() -> None:
    info = _info(S1=(30.0, LOW, None))
    info["S1"].person_id = "joe"
    c = assign(
        ["S1"],
        info,
        "es",
        CATALOGUE,
        profiles={"joe": ("kokoro-search", "file:///store/stages/enroll/k/profile", "ab" * 32)},
    )
    v = c.voices["S1"]
    assert (
        v.person_id == "joe" and v.profile_uri and v.engine == "clone:kokoro-search" and v.reason.startswith("person")
    )


def test_a_person_without_a_profile_falls_back_to_a_stock_voice_with_a_warning() -> None:
    info = _info(S1=(30.0, LOW, None))
    info["S1"].person_id = "joe"
    c = assign(["S1"], info, "es", CATALOGUE)
    assert c.voices["S1"].person_id is None and c.voices["S1"].voice_id == "jm_kumo"
    assert any("joe" in w for w in c.warnings)


def test_series_speaker_keeps_their_voice_and_new_ones_avoid_it() -> None:
    a, b = [1.0, 0.0, 0.0], [0.0, 1.0, 0.0]
    series = [SeriesEntry("V1", "pico", "es-ES", 1.0, None, a)]
    info = _info(S1=(20.0, HIGH, [0.99, 0.1, 0.0]), S2=(30.0, HIGH, b))
    c = assign(["S1", "S2"], info, "es", CATALOGUE, series=series, series_min_cosine=0.8)
    assert c.voices["S1"].voice_id == "es-ES" and c.voices["S1"].series_key == "V1"
    assert c.voices["S1"].reason.startswith("series")
    assert c.voices["S2"].voice_id != "es-ES" and c.voices["S2"].series_key == "V2"
    assert [spk for spk, _, _ in c.new_series] == ["S2"]


def test_single_voice_mode_and_no_catalogue() -> None:
    info = _info(S1=(20.0, LOW, None), S2=(10.0, HIGH, None))
    c = assign(["S1", "S2"], info, "es", CATALOGUE, single_voice=True)
    assert {v.voice_id for v in c.voices.values()} == {"jf_alpha"}
    with pytest.raises(EngineUnavailable):
        assign(["S1"], info, "xx", [])


def test_match_people_by_embedding_and_by_name() -> None:
    info = _info(S1=(20.0, LOW, [1.0, 0.0]), S2=(10.0, HIGH, [0.0, 1.0]), S3=(5.0, HIGH, [0.7, 0.7]))
    notes = match_people(info, [("joe", [0.98, 0.05]), ("ann", [0.1, 0.99])], 0.8)
    assert info["S1"].person_id == "joe" and not info["S1"].confirmed and info["S1"].match_cosine
    assert info["S2"].person_id == "ann"
    assert info["S3"].person_id is None, "a person was given to two speakers"
    assert len(notes) == 2
    info2 = _info(S1=(20.0, LOW, [1.0, 0.0]), S2=(10.0, HIGH, [0.0, 1.0]))
    match_people(info2, [("joe", [0.98, 0.05])], 0.8, named={"S2": "joe"})
    assert info2["S2"].person_id == "joe" and info2["S2"].confirmed
    assert info2["S1"].person_id is None, "the named person was matched to another speaker too"


def test_below_threshold_is_not_matched() -> None:
    info = _info(S1=(20.0, LOW, [1.0, 0.0]))
    match_people(info, [("joe", [0.6, 0.8])], 0.8)
    assert info["S1"].person_id is None
