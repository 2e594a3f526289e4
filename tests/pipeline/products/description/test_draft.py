"""Tests of the draft description from the picture: scene changes on a generated slide video, OCR of the
slides into draft cues, and the pure helpers (cleaning, titles, cue text, anchoring) without Tesseract."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest

from benchmarks.eval.slides import make_slide_video, titles_found
from pipeline.core.errors import InputError, SetupError
from pipeline.products.description import draft
from pipeline.products.description.draft import (
    anchor,
    clean_lines,
    describe_text,
    draft_cues,
    draft_script,
    grab_frame,
    lines_from_data,
    merge_changes,
    ocr_text,
    parse_scene_log,
    same_text,
    scene_changes,
    title_of,
)

TITLES = ["Introduction to Signals", "Sampling and Aliasing", "The Fourier Transform", "Filters in Practice"]

needs_ffmpeg = pytest.mark.skipif(shutil.which("ffmpeg") is None, reason="ffmpeg is not installed")
needs_tesseract = pytest.mark.skipif(
    shutil.which("tesseract") is None, reason="tesseract is not installed (apt-get install tesseract-ocr)"
)


@pytest.fixture(scope="module")
def slides(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if shutil.which("ffmpeg") is None:
        pytest.skip("ffmpeg is not installed")
    return make_slide_video(tmp_path_factory.mktemp("slides") / "slides.mp4", TITLES, 4.0)


# --- without Tesseract ---------------------------------------------------------------------------------------


def test_clean_lines_drops_noise_and_bullets() -> None:
    raw = ["  Sampling   and\tAliasing ", "• Nyquist rate", "|| -- ~~", "12/34 5678", "ab", "e Shannon, 1949", ""]
    assert clean_lines(raw) == ["Sampling and Aliasing", "Nyquist rate", "e Shannon, 1949"]


def test_lines_from_data_keeps_confident_lines_in_reading_order() -> None:
    data: dict[str, list[Any]] = {
        "text": ["", "The", "Fourier", "Transform", "xX%", "q#", "Part", "3"],
        "conf": [-1, 96, 95.5, 91, 20, 31, 88, 90],
        "block_num": [1, 1, 1, 1, 2, 2, 3, 3],
        "par_num": [1, 1, 1, 1, 1, 1, 1, 1],
        "line_num": [0, 1, 1, 1, 1, 1, 1, 1],
    }
    assert lines_from_data(data) == ["The Fourier Transform", "Part 3"]


def test_title_of_takes_the_first_substantial_line() -> None:
    assert title_of("12\n  The Fourier   Transform:\nPart 3") == "The Fourier Transform"
    assert title_of("Resumen y preguntas.") == "Resumen y preguntas"
    assert title_of("42\n3.14") == ""
    assert title_of("") == ""


def test_describe_text_slide_and_single_line() -> None:
    assert describe_text("Sampling and Aliasing\nNyquist rate\nAliasing folds frequencies") == (
        "Slide: Sampling and Aliasing. Nyquist rate. Aliasing folds frequencies."
    )
    assert describe_text("Chapter Two") == "On screen: Chapter Two."
    assert describe_text("") == ""
    long = describe_text("Title here\n" + " ".join(["word"] * 100))
    rest = long.removeprefix("Slide: Title here. ")
    assert len(rest) <= 150 and rest.endswith("…")


def test_same_text_ignores_case_punctuation_and_small_misreadings() -> None:
    assert same_text("The Fourier Transform\nPart 3", "the fourier transform. part 3")
    assert same_text("Sampling and Aliasing", "Sampling and AIiasing")
    assert not same_text("Sampling and Aliasing", "The Fourier Transform")
    assert not same_text("", "Anything")


def test_parse_scene_log_and_merge() -> None:
    log = "\n".join(
        [
            "[Parsed_metadata_3 @ 0x55] frame:0    pts:20      pts_time:4",
            "[Parsed_metadata_3 @ 0x55] lavfi.scene_score=0.063538",
            "[Parsed_showinfo_9 @ 0x55] n:0 pts:99 pts_time:99",
            "frame=    1 fps=0.0 q=-0.0 size=N/A time=00:00:00.20",
            "[Parsed_metadata_3 @ 0x55] frame:1    pts:21      pts_time:4.2",
            "[Parsed_metadata_3 @ 0x55] lavfi.scene_score=0.4",
            "[Parsed_metadata_3 @ 0x55] frame:2    pts:60      pts_time:12",
            "[Parsed_metadata_3 @ 0x55] lavfi.scene_score=0.05",
        ]
    )
    found = parse_scene_log(log)
    assert found == [(4.0, 0.063538), (4.2, 0.4), (12.0, 0.05)]
    assert merge_changes(found, 1.0) == [(0.0, 1.0), (4.0, 0.4), (12.0, 0.05)]
    assert merge_changes([(0.2, 0.9)], 1.0) == [(0.0, 1.0)]


def test_anchor_prefers_the_gap_at_or_after_the_change() -> None:
    gaps = [(0.0, 2.0), (5.0, 7.0), (30.0, 35.0)]
    assert anchor(1.0, gaps, 60.0) == 1.0  # inside a gap: right there
    assert anchor(3.0, gaps, 60.0) == 5.0  # the next gap, not the one just before
    assert anchor(10.0, gaps, 60.0) == 5.0  # next gap too far ahead: the nearest one
    assert anchor(20.0, gaps, 60.0) == 30.0
    assert anchor(50.0, gaps, 60.0) == 30.0
    assert anchor(70.0, [], 60.0) == pytest.approx(60.0, abs=0.01)  # no gaps: the change, within the video


def test_tesseract_language_maps_and_falls_back(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(draft, "installed_languages", lambda: frozenset({"eng", "spa", "osd"}))
    assert draft.tesseract_language("es") == "spa"
    assert draft.tesseract_language("en-GB") == "eng"
    assert draft.tesseract_language("fr") == "eng"  # no French data here: English
    monkeypatch.setattr(draft, "installed_languages", lambda: frozenset({"osd"}))
    with pytest.raises(SetupError, match="language data"):
        draft.tesseract_language("en")


def test_missing_tesseract_is_a_setup_error(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    pytesseract = pytest.importorskip("pytesseract")
    monkeypatch.setattr(pytesseract.pytesseract, "tesseract_cmd", "no-such-tesseract-binary")
    with pytest.raises(SetupError) as e:
        ocr_text(tmp_path / "frame.png", "en")
    assert "tesseract-ocr" in e.value.hint


def test_missing_video_is_an_input_error(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="missing.mp4"):
        scene_changes(tmp_path / "missing.mp4")


@needs_ffmpeg
def test_video_without_picture_is_an_input_error(tmp_path: Path) -> None:
    wav = tmp_path / "tone.wav"
    import subprocess

    subprocess.run(
        ["ffmpeg", "-v", "error", "-f", "lavfi", "-i", "sine=d=1", "-y", str(wav)], check=True, capture_output=True
    )
    with pytest.raises(InputError, match="tone.wav"):
        scene_changes(wav)


# --- on a generated slide video ------------------------------------------------------------------------------


def test_scene_changes_at_each_slide(slides: Path) -> None:
    times = scene_changes(slides)
    assert len(times) == 4
    for got, want in zip(times, [0.0, 4.0, 8.0, 12.0], strict=True):
        assert got == pytest.approx(want, abs=0.5)
    assert scene_changes(slides, threshold=0.5) == [0.0]  # no cuts: text-only changes score low


@needs_ffmpeg
def test_slide_video_without_drawtext_uses_pillow(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import benchmarks.eval.slides as slides_module

    monkeypatch.setattr(slides_module, "_has_drawtext", lambda: False)
    video = make_slide_video(tmp_path / "p.mp4", ["Alpha Topic", "Beta Section"], 1.5, size=(640, 360))
    assert scene_changes(video) == pytest.approx([0.0, 1.5], abs=0.25)


def test_grab_frame_writes_a_png(slides: Path, tmp_path: Path) -> None:
    png = grab_frame(slides, 15.9, tmp_path / "last.png")  # settle offset past the end: falls back to t
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@needs_tesseract
def test_ocr_reads_the_slide_title(slides: Path, tmp_path: Path) -> None:
    text = ocr_text(grab_frame(slides, 8.0, tmp_path / "f.png"), "en")
    assert "fourier transform" in text.lower()
    assert title_of(text).lower() == "the fourier transform"


@needs_tesseract
def test_draft_cues_find_the_slide_titles(slides: Path) -> None:
    cues = draft_cues(slides, [(0.0, 16.0)], "en", duration=16.0)
    found = titles_found(TITLES, [c.text for c in cues])
    assert sum(found) >= 3, [c.text for c in cues]
    assert all(c.draft and c.end is None for c in cues)
    assert [c.id for c in cues] == [f"draft-{i:03d}" for i in range(1, len(cues) + 1)]
    assert all(c.desc_type == draft.DESC_TYPE_TEXT and c.text.startswith("Slide: ") for c in cues)
    assert [round(c.start) for c in cues] == [0, 4, 8, 12]


@needs_tesseract
def test_draft_anchors_in_gaps_and_skips_repeated_text(slides: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # dialogue everywhere but two gaps: the cue of each slide goes to the next gap at or after it
    gaps = [(1.0, 2.0), (9.0, 10.0)]
    cues = draft_cues(slides, gaps, "en", duration=16.0)
    assert {c.start for c in cues} <= {1.0, 9.0}
    # the same text on every picture: one cue, no "Scene change." for text-only changes
    monkeypatch.setattr(draft, "ocr_text", lambda image, language: "Same Slide\nsame body text")
    script = draft_script(slides, [(0.0, 16.0)], "en", 16.0)
    assert script.format == "dapt" and script.language == "en"
    assert [c.text for c in script.cues] == ["Slide: Same Slide. same body text."]


@needs_tesseract
def test_scene_change_marks_only_for_cuts_far_from_other_cues(slides: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(draft, "ocr_text", lambda image, language: "")
    # text-only changes are no cuts: only the first picture is marked
    cues = draft_cues(slides, [(0.0, 16.0)], "en", duration=16.0)
    assert [(c.start, c.text, c.desc_type) for c in cues] == [(0.0, "Scene change.", draft.DESC_TYPE_SCENE)]
    # every change a cut: marks at least NEAR_S (5 s) apart, so 0 and 8 but not 4 or 12
    cues = draft_cues(slides, [(0.0, 16.0)], "en", duration=16.0, cut_threshold=0.0)
    assert [round(c.start) for c in cues] == [0, 8]
