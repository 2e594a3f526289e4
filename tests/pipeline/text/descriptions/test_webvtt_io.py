"""WebVTT description tracks: header lines, ids, text, malformed cues named by line, the as-placed writer."""

from __future__ import annotations

from pathlib import Path

import pytest
import webvtt

from pipeline.core.errors import InputError
from pipeline.text.descriptions.cues import PlacedCue
from pipeline.text.descriptions.webvtt_io import read_webvtt, write_webvtt

TRACK = """WEBVTT
Kind: descriptions
Language: en-GB

NOTE written by a describer

intro
00:00:01.000 --> 00:00:03.500
A <i>woman</i> climbs into
a small sailing boat.

00:01:02.250 --> 00:01:04.000 line:0
The boat turns &amp; heads out.
"""


def _read(text: str, language: str = "") -> object:
    return read_webvtt(text.encode(), "ad.vtt", language)


def test_reads_header_lines_ids_and_text() -> None:
    script = read_webvtt(TRACK.encode(), "ad.vtt")
    assert script.format == "webvtt"
    assert script.language == "en"
    first, second = script.cues
    assert (first.id, first.start, first.end) == ("intro", 1.0, 3.5)
    assert first.text == "A woman climbs into a small sailing boat."
    assert first.where == "line 7"
    assert (second.id, second.start, second.end) == ("d2", 62.25, 64.0)
    assert second.text == "The boat turns & heads out."


def test_language_from_argument_when_header_has_none() -> None:
    script = read_webvtt(b"WEBVTT\n\n00:01.000 --> 00:02.000\nHello.\n", "ad.vtt", "de")
    assert script.language == "de"
    assert script.cues[0].start == 1.0


def test_byte_order_mark_is_accepted() -> None:
    script = read_webvtt("\ufeffWEBVTT\n\n00:00:01.000 --> 00:00:02.000\nHi.\n".encode(), "ad.vtt")
    assert script.cues[0].text == "Hi."


@pytest.mark.parametrize(
    ("body", "line", "bad"),
    [
        ("00:00:01.000 --> 00:00:0x.000\nText.", 3, "00:00:0x.000"),
        ("00:00:01,000 --> 00:00:02.000\nText.", 3, "00:00:01,000"),
        ("00:00:01.000 -> 00:00:02.000\nText.", 3, "malformed timing line '00:00:01.000 -> 00:00:02.000'"),
        ("id1\n00:00:01.000 --> 00:00:02.000\nok\n\n00:00:05.000 --> 00:00:61.000\nText.", 7, "00:00:61.000"),
    ],
)
def test_malformed_timing_names_file_line_and_text(body: str, line: int, bad: str) -> None:
    with pytest.raises(InputError) as err:
        _read("WEBVTT\n\n" + body + "\n")
    assert f"ad.vtt: line {line}:" in err.value.message
    assert bad in err.value.message


def test_text_after_blank_line_inside_a_cue_is_an_error() -> None:
    with pytest.raises(InputError, match=r"ad.vtt: line 6: text outside a cue \('second paragraph'\)"):
        _read("WEBVTT\n\n00:00:01.000 --> 00:00:02.000\nfirst\n\nsecond paragraph\n")


def test_cue_without_text_and_end_before_start() -> None:
    with pytest.raises(InputError, match=r"ad.vtt: line 3: the cue has no text"):
        _read("WEBVTT\n\n00:00:01.000 --> 00:00:02.000\n\n00:00:03.000 --> 00:00:04.000\nx\n")
    with pytest.raises(InputError, match=r"ad.vtt: line 3: .*before it starts"):
        _read("WEBVTT\n\n00:00:05.000 --> 00:00:02.000\nBackwards.\n")


def test_cue_without_blank_line_after_header() -> None:
    with pytest.raises(InputError, match=r"ad.vtt: line 3: a cue in the header"):
        _read("WEBVTT\nKind: descriptions\n00:00:01.000 --> 00:00:02.000\nText.\n")


def test_not_webvtt_and_empty() -> None:
    with pytest.raises(InputError, match=r"ad.vtt: line 1: a WebVTT file starts with 'WEBVTT'"):
        _read("1\n00:00:01,000 --> 00:00:02,000\nSRT\n")
    with pytest.raises(InputError, match=r"ad.vtt: the description script has no cues"):
        _read("WEBVTT\nKind: descriptions\n\nNOTE nothing yet\n")


def test_repeated_ids_are_refused() -> None:
    with pytest.raises(InputError, match=r"ad.vtt: .*repeated: a"):
        _read("WEBVTT\n\na\n00:00:01.000 --> 00:00:02.000\nx\n\na\n00:00:03.000 --> 00:00:04.000\ny\n")


def _placed(cid: str, start: float, end: float, spoken: str) -> PlacedCue:
    return PlacedCue(id=cid, asked=start, text=spoken + " (long)", spoken_text=spoken, start=start, end=end)


def test_write_round_trips_through_reader_and_webvtt_py(tmp_path: Path) -> None:
    cues = [
        _placed("d2", 70.5, 72.25, "The boat turns -> away & <fast>."),
        _placed("1", 1.0, 3.5, "A woman climbs\ninto a boat."),
    ]
    out = write_webvtt(cues, tmp_path / "out" / "ad.vtt", "en")
    text = out.read_text(encoding="utf-8")
    assert text.startswith("WEBVTT\nKind: descriptions\nLanguage: en\n\n")
    script = read_webvtt(out.read_bytes(), "ad.vtt")
    assert script.language == "en"
    assert [(c.id, c.start, c.end, c.text) for c in script.cues] == [
        ("1", 1.0, 3.5, "A woman climbs into a boat."),
        ("d2", 70.5, 72.25, "The boat turns -> away & <fast>."),
    ]
    raw = webvtt.read(str(out))  # the library alone reads the header lines too
    assert [(c.identifier, c.start) for c in raw.captions] == [("1", "00:00:01.000"), ("d2", "00:01:10.500")]
