"""The batch's pairing: videos and scripts by base name, one run per pair, stable run ids; lone files and
dubline's own outputs left out; two scripts for one video, an empty or missing folder refused."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipeline.core.config import Settings
from pipeline.core.errors import ConfigError, InputError
from pipeline.products.description.batch import pairs, script_stem


def _touch(folder: Path, *names: str) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for n in names:
        (folder / n).write_text(n)


def _settings(tmp_path: Path) -> Settings:
    return Settings(data_dir=tmp_path / "data")


def test_script_stems() -> None:
    assert script_stem("lecture1.vtt") == "lecture1"
    assert script_stem("lecture1.dapt.xml") == "lecture1"
    assert script_stem("Lecture 2.TTML.xml") == "Lecture 2"
    assert script_stem("a.b.csv") == "a.b"


def test_pairs_by_base_name_one_run_each(tmp_path: Path) -> None:
    folder = tmp_path / "in"
    _touch(
        folder,
        "a.mp4", "a.vtt",
        "b.mkv", "b.dapt.xml",
        "c.mp4",  # no script: left out
        "d.csv",  # no video: left out
        "a.draft.dapt.xml", "b.description.vtt",  # dubline's own outputs: never taken for scripts
        ".hidden.vtt",
    )  # fmt: skip
    runs = pairs(_settings(tmp_path), str(folder), "/out", {"extended": True, "voice": "piper:x"})
    assert [Path(r["conf"]["video"]).name for r in runs] == ["a.mp4", "b.mkv"]
    assert [Path(r["conf"]["script"]).name for r in runs] == ["a.vtt", "b.dapt.xml"]
    assert [r["conf"]["output"] for r in runs] == ["/out/a", "/out/b"]
    assert all(r["conf"]["extended"] is True and r["conf"]["voice"] == "piper:x" for r in runs)
    assert all(r["trigger_run_id"].startswith(f"batch__{s}__") for r, s in zip(runs, "ab", strict=True))
    again = pairs(_settings(tmp_path), f"file://{folder}", "/out", {"extended": True, "voice": "piper:x"})
    assert [r["trigger_run_id"] for r in again] == [r["trigger_run_id"] for r in runs]  # the same work: same ids
    (folder / "a.vtt").write_text("an edited script, longer than before")
    edited = pairs(_settings(tmp_path), str(folder), "/out", {"extended": True, "voice": "piper:x"})
    assert edited[0]["trigger_run_id"] != runs[0]["trigger_run_id"]
    assert edited[1]["trigger_run_id"] == runs[1]["trigger_run_id"]
    other = pairs(_settings(tmp_path), str(folder), "/out", {"extended": False, "voice": "piper:x"})
    assert other[1]["trigger_run_id"] != runs[1]["trigger_run_id"]  # other settings: another run


def test_two_scripts_for_one_video_are_refused(tmp_path: Path) -> None:
    folder = tmp_path / "in"
    _touch(folder, "a.mp4", "a.vtt", "a.csv")
    with pytest.raises(InputError) as err:
        pairs(_settings(tmp_path), str(folder), "", {})
    assert "a.mp4 has 2 scripts" in err.value.one_line() and "one script per video" in err.value.one_line()


@pytest.mark.parametrize("case", ["missing", "empty", "unpaired", "blank"])
def test_a_folder_without_pairs_is_refused(tmp_path: Path, case: str) -> None:
    folder = tmp_path / "in"
    if case == "empty":
        folder.mkdir()
    elif case == "unpaired":
        _touch(folder, "a.mp4", "b.vtt")
    with pytest.raises(InputError) as err:
        pairs(_settings(tmp_path), "" if case == "blank" else str(folder), "", {})
    assert "folder" in err.value.one_line()


def test_bad_defaults_are_refused_once(tmp_path: Path) -> None:
    folder = tmp_path / "in"
    _touch(folder, "a.mp4", "a.vtt")
    with pytest.raises(ConfigError, match="style"):
        pairs(_settings(tmp_path), str(folder), "", {"style": "shouting"})
