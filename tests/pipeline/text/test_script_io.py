"""Scripts exported for review and read back as edits (pipeline/text/script_io.py)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from lxml import etree

from pipeline.core.errors import InputError
from pipeline.core.revision import LineEdit, apply_edit, script_hash
from pipeline.core.script import Script, Segment, SourceInfo, Translation, WordTiming
from pipeline.text.descriptions.dapt import DAPTM, TT, TTM
from pipeline.text.script_io import FORMATS, export_script, format_of, read_edit
from pipeline.text.subtitles import PROFILES, script_cues

SOURCE = SourceInfo(
    uri="file:///ep1.mp4", sha256="0" * 64, filename="ep1.mp4", duration=60.0, has_video=True, language="en"
)
SUFFIX = {"srt": ".srt", "vtt": ".vtt", "dapt": ".ttml", "json": ".json"}
LONG = (
    'She said, "we\'ll meet at the café near the station at noon", and then, without another word, she '
    "turned around & walked away <quietly> into the crowd of the market."
)
LONG_ES = (
    "Ella dijo: «nos vemos en el café junto a la estación a mediodía», y luego, sin decir otra palabra, "
    "se dio la vuelta y se alejó en silencio entre la multitud del mercado."
)


def _words(text: str, start: float, end: float) -> list[WordTiming]:
    parts = text.split()
    step = (end - start) / len(parts)
    return [WordTiming(text=w, start=start + i * step, end=start + (i + 0.8) * step) for i, w in enumerate(parts)]


def _script(timed: bool) -> Script:
    rows = [
        ("s0001", 1.0, 3.0, "S1", "Hello, Zoë!", "¡Hola, Zoë!"),
        ("s0002", 4.0, 16.0, "S2", LONG, LONG_ES),
        ("s0003", 17.0, 19.5, "S1", 'He asked: "really?" — yes.', "Preguntó: «¿de verdad?» — sí."),
        ("s0004", 21.0, 23.0, "S2 (narrator)", "日本語も大丈夫。", "El japonés también."),
    ]
    segs = [
        Segment(
            id=i,
            start=a,
            end=b,
            speaker=spk,
            text=text,
            words=_words(text, a, b) if timed else [],
            translations={"es": Translation(text=es, engine="nllb")},
        )
        for i, a, b, spk, text, es in rows
    ]
    return Script(source=SOURCE, speakers=["S1", "S2 (narrator)"], segments=segs, languages=["es"])


def _export(tmp_path: Path, script: Script, language: str | None, fmt: str) -> Path:
    return export_script(script, language, fmt, tmp_path / f"ep1.{language or 'en'}{SUFFIX[fmt]}")


def _rewrite(path: Path, old: str, new: str, count: int = 1) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text, f"{old!r} not in {path.name}"
    path.write_text(text.replace(old, new, count), encoding="utf-8")


@pytest.mark.parametrize("timed", [True, False], ids=["words", "no-words"])
@pytest.mark.parametrize("language", [None, "es"], ids=["transcript", "translation"])
@pytest.mark.parametrize("fmt", FORMATS)
def test_round_trip_changes_nothing(tmp_path: Path, fmt: str, language: str | None, timed: bool) -> None:
    script = _script(timed)
    path = _export(tmp_path, script, language, fmt)
    assert format_of(path) == fmt
    assert [p.name for p in tmp_path.iterdir()] == [path.name], "no temporary file left"
    edit = read_edit(script, language, path)
    assert edit.lines == []
    assert (edit.kind, edit.language, edit.format, edit.name) == (
        "transcript" if language is None else "translation",
        language or "en",
        fmt,
        path.name,
    )
    assert len(edit.sha256) == 64
    new, changes = apply_edit(script, edit)
    assert changes == []
    assert script_hash(new, language) == script_hash(script, language)


def test_long_line_splits_into_several_cues() -> None:
    for language in (None, "es"):
        cues = script_cues(_script(True), language, PROFILES["broadcast"])
        assert len(cues) > len(_script(True).segments)


def test_vtt_ids_and_header(tmp_path: Path) -> None:
    text = _export(tmp_path, _script(True), "es", "vtt").read_text(encoding="utf-8")
    assert text.startswith("WEBVTT\nLanguage: es\n\nNOTE dubline script export: translation (es)")
    ids = re.findall(r"^(s\d{4}(?:\.\d+)?)$", text, flags=re.M)
    assert ids[:3] == ["s0001", "s0002", "s0002.2"]
    assert "&amp;" not in text or "&" in LONG_ES


def test_dapt_document(tmp_path: Path) -> None:
    root = etree.parse(str(_export(tmp_path, _script(False), "es", "dapt"))).getroot()
    assert root.get(f"{{{DAPTM}}}scriptRepresents") == "audio.dialogue"
    assert root.get(f"{{{DAPTM}}}scriptType") == "translatedTranscript"
    assert root.get("{http://www.w3.org/XML/1998/namespace}lang") == "es"
    agents = root.findall(f".//{{{TTM}}}agent")
    assert [a.get("type") for a in agents] == ["person"] * 3  # S1, S2 (narrator), then S2 from a line
    divs = root.findall(f".//{{{TT}}}div")
    assert [d.get("{http://www.w3.org/XML/1998/namespace}id") for d in divs] == ["s0001", "s0002", "s0003", "s0004"]
    assert divs[3].get(f"{{{TTM}}}agent") == "agent_S2__narrator_"
    assert divs[0].get("begin") == "00:00:01.000" and divs[0].get("end") == "00:00:03.000"


def test_json_document(tmp_path: Path) -> None:
    doc = json.loads(_export(tmp_path, _script(False), None, "json").read_text(encoding="utf-8"))
    assert (doc["dubline_script"], doc["kind"], doc["language"], doc["source_language"]) == (
        1,
        "transcript",
        "en",
        "en",
    )
    assert doc["lines"][0] == {"id": "s0001", "start": 1.0, "end": 3.0, "speaker": "S1", "text": "Hello, Zoë!"}


@pytest.mark.parametrize("timed", [True, False], ids=["words", "no-words"])
def test_one_word_changed_in_a_split_srt_line(tmp_path: Path, timed: bool) -> None:
    script = _script(timed)
    path = _export(tmp_path, script, None, "srt")
    _rewrite(path, "crowd", "throng")
    edit = read_edit(script, None, path)
    assert edit.lines == [LineEdit(id="s0002", text=LONG.replace("crowd", "throng"))]
    new, changes = apply_edit(script, edit)
    assert [(c.id, c.field) for c in changes] == [("s0002", "text")]
    assert new.segments[1].words == []


def test_translation_word_changed_in_vtt(tmp_path: Path) -> None:
    script = _script(False)
    path = _export(tmp_path, script, "es", "vtt")
    _rewrite(path, "mercado", "zoco")
    assert read_edit(script, "es", path).lines == [LineEdit(id="s0002", text=LONG_ES.replace("mercado", "zoco"))]


@pytest.mark.parametrize("fmt", ["srt", "vtt"])
def test_timing_change_in_a_one_cue_line(tmp_path: Path, fmt: str) -> None:
    script = _script(False)
    path = _export(tmp_path, script, None, fmt)
    sep = "," if fmt == "srt" else "."
    _rewrite(path, f"00:00:17{sep}000 -->", f"00:00:17{sep}400 -->")
    edit = read_edit(script, None, path)
    assert edit.lines == [LineEdit(id="s0003", start=17.4)]
    new, changes = apply_edit(script, edit)
    assert (new.segments[2].start, new.segments[2].end) == (17.4, 19.5)
    assert changes[0].after == "17.400-19.500"


def test_small_time_nudges_and_inner_times_of_split_lines_are_ignored(tmp_path: Path) -> None:
    script = _script(False)
    path = _export(tmp_path, script, None, "srt")
    _rewrite(path, "00:00:17,000 -->", "00:00:17,030 -->")  # within the tolerance
    timing = re.findall(r"^(\S+) --> (\S+)$", path.read_text(encoding="utf-8"), flags=re.M)
    inner_start, inner_end = timing[2]  # the second cue of s0002 (s0001 has one)
    _rewrite(path, f"{inner_start} --> {inner_end}", f"{inner_start} --> 00:00:14,900")
    assert read_edit(script, None, path).lines == []


def test_json_and_dapt_timing_and_text(tmp_path: Path) -> None:
    script = _script(False)
    path = _export(tmp_path, script, "es", "json")
    doc = json.loads(path.read_text(encoding="utf-8"))
    doc["lines"][3]["end"] = 24.0
    doc["lines"][0]["text"] = "¡Hola,   Zoë!\n"  # whitespace only: no change
    doc["lines"][2]["text"] = ""  # not dubbed
    path.write_text(json.dumps(doc, ensure_ascii=False), encoding="utf-8")
    assert read_edit(script, "es", path).lines == [LineEdit(id="s0003", text=""), LineEdit(id="s0004", end=24.0)]
    dapt = _export(tmp_path, script, None, "dapt")
    _rewrite(dapt, "Hello, Zoë!", "Hello, Zoe!")
    assert read_edit(script, None, dapt).lines == [LineEdit(id="s0001", text="Hello, Zoe!")]


def test_vtt_without_ids_maps_by_time(tmp_path: Path) -> None:
    script = _script(True)
    path = _export(tmp_path, script, "es", "vtt")
    text = re.sub(r"^s\d{4}(\.\d+)?\n", "", path.read_text(encoding="utf-8"), flags=re.M)
    path.write_text(text.replace("multitud", "gente"), encoding="utf-8")
    assert read_edit(script, "es", path).lines == [LineEdit(id="s0002", text=LONG_ES.replace("multitud", "gente"))]


def test_emptied_vtt_translation_cue_means_not_dubbed(tmp_path: Path) -> None:
    script = _script(False)
    path = _export(tmp_path, script, "es", "vtt")
    _rewrite(path, "¡Hola, Zoë!\n", "")
    assert read_edit(script, "es", path).lines == [LineEdit(id="s0001", text="")]


def _refused(script: Script, language: str | None, path: Path, *words: str) -> InputError:
    with pytest.raises(InputError) as err:
        read_edit(script, language, path)
    assert path.name in err.value.message, err.value.message
    for w in words:
        assert w in err.value.one_line(), err.value.one_line()
    assert err.value.hint
    return err.value


def test_added_cue_refused(tmp_path: Path) -> None:
    script = _script(False)
    path = _export(tmp_path, script, None, "srt")
    path.write_text(
        path.read_text(encoding="utf-8") + "99\n00:00:40,000 --> 00:00:41,000\nA new line.\n\n", encoding="utf-8"
    )
    _refused(script, None, path, "00:00:40.000 --> 00:00:41.000", "adding lines is not supported")


def test_deleted_line_refused(tmp_path: Path) -> None:
    script = _script(False)
    path = _export(tmp_path, script, "es", "srt")
    text = path.read_text(encoding="utf-8")
    path.write_text(re.sub(r"\d+\n00:00:17,000 --> [^\n]+\n[^\n]+\n\n", "", text), encoding="utf-8")
    _refused(script, "es", path, "line s0003 (00:00:17.000", "keep its cue and empty its text")


def test_deleted_json_line_refused(tmp_path: Path) -> None:
    script = _script(False)
    path = _export(tmp_path, script, None, "json")
    doc = json.loads(path.read_text(encoding="utf-8"))
    del doc["lines"][1]
    path.write_text(json.dumps(doc), encoding="utf-8")
    _refused(script, None, path, "line s0002", "has no cue")


def test_emptied_transcript_refused(tmp_path: Path) -> None:
    script = _script(False)
    path = _export(tmp_path, script, None, "vtt")
    _rewrite(path, "Hello, Zoë!\n", "")
    _refused(script, None, path, "cue 1 (00:00:01.000", "transcript of line s0001 is empty")


def test_unknown_id_refused(tmp_path: Path) -> None:
    script = _script(False)
    path = _export(tmp_path, script, "es", "vtt")
    _rewrite(path, "\ns0003\n", "\nx0042\n")
    _refused(script, "es", path, "cue 5 (00:00:17.000", "unknown line id 'x0042'")
    dapt = _export(tmp_path, script, "es", "dapt")
    _rewrite(dapt, 'xml:id="s0004"', 'xml:id="s0005"')
    _refused(script, "es", dapt, 'xml:id="s0005"', "00:00:21.000")


@pytest.mark.parametrize("fmt", ["vtt", "json", "dapt"])
def test_wrong_language_refused(tmp_path: Path, fmt: str) -> None:
    script = _script(False)
    script.languages.append("fr")
    for seg in script.segments:
        seg.translations["fr"] = Translation(text="Bonjour.", engine="nllb")
    path = _export(tmp_path, script, "fr", fmt)
    path = path.rename(tmp_path / f"ep1.es{SUFFIX[fmt]}")
    _refused(script, "es", path, "'fr'", "not 'es'")


def test_other_kind_refused(tmp_path: Path) -> None:
    script = _script(False)
    path = _export(tmp_path, script, "es", "json")
    _refused(script, None, path, "'translation'", "not a transcript")


@pytest.mark.parametrize(
    ("fmt", "content", "words"),
    [
        ("srt", "1\n00:00:01,000 --> 00:00:03,000\nHello\n\nstray text\n", "line 5: text outside a cue"),
        ("srt", "1\n00:00:01,000 --> 00:00:0x,000\nHello\n", "cue 1 at line 2: malformed time line"),
        ("vtt", "1\n00:00:01.000 --> 00:00:03.000\nHello\n", "line 1: a WebVTT file starts with 'WEBVTT'"),
        ("json", '{"dubline_script": 1, "lines": [', "not valid JSON"),
        ("json", '{"dubline_script": 1, "lines": [{"id": "s0001", "text": "x"}]}', 'line 1 of "lines"'),
        ("json", '{"lines": []}', "not a dubline script"),
        ("dapt", "<tt><body>", "not well-formed XML"),
        ("dapt", '<tt xmlns="http://www.w3.org/ns/ttml"><body><div><p>x</p></div></body></tt>', "needs begin"),
    ],
)
def test_garbled_files_refused(tmp_path: Path, fmt: str, content: str, words: str) -> None:
    path = tmp_path / f"ep1{SUFFIX[fmt]}"
    path.write_text(content, encoding="utf-8")
    _refused(_script(False), None, path, words)


def test_non_utf8_refused(tmp_path: Path) -> None:
    path = tmp_path / "ep1.srt"
    path.write_bytes("1\n00:00:01,000 --> 00:00:03,000\nHola, Zoë\n".encode("latin-1"))
    _refused(_script(False), None, path, "line 3 is not UTF-8", "save the script as UTF-8")


def test_format_of() -> None:
    assert [format_of(Path(f"a{s}")) for s in (".SRT", ".vtt", ".ttml", ".xml", ".dapt", ".json")] == [
        "srt",
        "vtt",
        "dapt",
        "dapt",
        "dapt",
        "json",
    ]
    with pytest.raises(InputError, match=r"a\.txt: unknown script format '\.txt'") as err:
        format_of(Path("a.txt"))
    assert ".srt" in err.value.hint and "json" in err.value.hint


def test_export_of_a_missing_language_refused(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="no 'de' translation"):
        export_script(_script(False), "de", "srt", tmp_path / "ep1.de.srt")


def test_editor_formatting_and_renumbered_ids_are_not_changes(tmp_path: Path) -> None:
    script = _script(True)
    srt = _export(tmp_path, script, None, "srt")
    _rewrite(srt, "Hello, Zoë!", "<i>Hello, Zoë!</i>")
    assert read_edit(script, None, srt).lines == []
    vtt = _export(tmp_path, script, "es", "vtt")
    lines = vtt.read_text(encoding="utf-8").split("\n")
    numbered = [str(i) if re.fullmatch(r"s\d{4}(\.\d+)?", ln) else ln for i, ln in enumerate(lines)]
    vtt.write_text("\n".join(numbered).replace("sí.", "sí, claro."), encoding="utf-8")
    assert read_edit(script, "es", vtt).lines == [LineEdit(id="s0003", text="Preguntó: «¿de verdad?» — sí, claro.")]


def test_srt_cue_over_an_untranslated_line_gives_it_a_translation(tmp_path: Path) -> None:
    script = _script(False)
    del script.segments[2].translations["es"]
    path = _export(tmp_path, script, "es", "srt")
    path.write_text(
        path.read_text(encoding="utf-8") + "9\n00:00:17,200 --> 00:00:19,000\n¿De verdad?\n\n", encoding="utf-8"
    )
    edit = read_edit(script, "es", path)
    assert edit.lines == [LineEdit(id="s0003", text="¿De verdad?")]
    new, _ = apply_edit(script, edit)
    assert new.segments[2].translations["es"].engine == "edit"
