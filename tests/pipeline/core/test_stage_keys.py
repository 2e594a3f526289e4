"""Stage keys hash content, never locations: the same stage inputs under two data folders (or a store that
moved) give the same key, and a store location that sneaks into a key's material is refused."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from pipeline.core.config import Settings
from pipeline.core.errors import StageError
from pipeline.core.stagerun import StageResult, StageRun, key_material, open_settings_store, run_stage

KEY = "0123456789abcdef0123456789abcdef"


class Done(StageResult):
    pass


def _material(settings: Settings) -> dict[str, Any]:
    """What the diarize and fit stages hash: the upstream script and audio as store URIs, a local path."""
    store = open_settings_store(settings)
    return {
        "script": store.uri(f"stages/transcribe/{KEY}/script.json"),
        "audio": store.uri(f"stages/ingest/{KEY}/asr16k.wav"),
        "profiles": [store.uri(f"stages/enroll/{KEY}/profile")],
        "local": Path(settings.data_dir / "store" / "stages" / "fit" / KEY / "x.wav").resolve(),
        "threshold": 0.5,
    }


def _key(settings: Settings, material: dict[str, Any]) -> str:
    return run_stage(settings, "fit", material, lambda run: Done(), Done).key


def test_the_same_inputs_in_two_data_folders_have_the_same_key(tmp_path: Path) -> None:
    one, two = Settings(data_dir=tmp_path / "one"), Settings(data_dir=tmp_path / "elsewhere" / "two")
    m1, m2 = _material(one), _material(two)
    assert m1["script"] != m2["script"]  # different locations...
    assert _key(one, m1) == _key(two, m2)  # ...one key
    assert _key(one, {**m1, "threshold": 0.6}) != _key(one, m1)  # and the key still covers the parameters


def test_no_location_in_the_key_material(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "data")
    free = repr(key_material(open_settings_store(settings), _material(settings)))
    assert "file://" not in free and str(tmp_path) not in free
    assert f"stages/transcribe/{KEY}/script.json" in free  # the content key of what it reads


def test_a_uri_recorded_before_the_data_folder_moved_hashes_as_its_content(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "now")
    old = f"file:///srv/old-data/store/stages/enroll/{KEY}/profile"  # a profile URI the ledger kept
    free = key_material(open_settings_store(settings), {"profile": old, "s3": f"s3://b/p/stages/fit/{KEY}/a.wav"})
    assert free == {"profile": f"stages/enroll/{KEY}/profile", "s3": f"stages/fit/{KEY}/a.wav"}


def test_a_store_location_inside_a_longer_string_is_refused(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "data")
    store = open_settings_store(settings)
    with pytest.raises(StageError, match="names the store location"):
        run_stage(settings, "fit", {"note": f"made from {store.uri('x.wav')}"}, lambda run: Done(), Done)


def test_the_stage_reads_what_the_uri_names(tmp_path: Path) -> None:
    """Only the key is location-free: the stage itself still gets the real URI to read."""
    settings = Settings(data_dir=tmp_path / "data")
    store = open_settings_store(settings)
    uri = store.put_bytes("stages/ingest/" + KEY + "/a.txt", b"hello")
    seen: list[bytes] = []

    def work(run: StageRun) -> Done:
        seen.append(run.fetch(uri).read_bytes())
        return Done()

    run_stage(settings, "fit", {"in": uri}, work, Done)
    assert seen == [b"hello"]
