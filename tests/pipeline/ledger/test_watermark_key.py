"""The watermark key: one per installation, kept with the signing keys (0600), never the public built-in key
unless an operator sets it, and then said in the log and the mark's record; marks made with the built-in key
stay readable."""

from __future__ import annotations

import logging
import stat
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from pydantic import SecretStr

from pipeline.core.config import Settings
from pipeline.ledger import marking
from pipeline.ledger import watermark as wm
from pipeline.ledger import watermark_embed as wme
from pipeline.ledger import watermark_key as wk

RATE = 48000


def _installation(root: Path) -> Settings:
    return Settings(data_dir=root, watermark_key=SecretStr(""))  # nothing configured: the installation's key


def _speechlike(seconds: float) -> np.ndarray:
    t = np.arange(int(seconds * RATE)) / RATE
    f0 = 140 + 30 * np.sin(2 * np.pi * 0.7 * t)
    phase = 2 * np.pi * np.cumsum(f0) / RATE
    voice = sum(np.sin(k * phase) / k for k in range(1, 16))
    syllables = np.clip(np.sin(2 * np.pi * 4 * t), 0, None) ** 2
    noise = np.random.default_rng(3).standard_normal(len(t)) * 0.01
    return (0.2 * voice * syllables + noise).astype(np.float32)


def test_each_installation_makes_its_own_private_key(tmp_path: Path) -> None:
    one, two = _installation(tmp_path / "one"), _installation(tmp_path / "two")
    key = wk.watermark_key(one)
    path = wk.key_path(one)
    assert path.parent == one.resolved_c2pa_cert_dir  # kept with the signing keys
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert len(key) == 64 and key != wk.BUILTIN_KEY
    assert wk.watermark_key(one) == key  # made once, then read
    assert wk.watermark_key(two) != key
    assert marking.material(one) == {"scheme": wm.SCHEME, "key_id": wm.key_id(key)}


def test_init_key_is_idempotent(tmp_path: Path) -> None:
    settings = _installation(tmp_path)
    path, made = wk.init_key(settings)
    assert made and wk.init_key(settings) == (path, False)


def test_an_operators_key_is_used_as_given(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, watermark_key=SecretStr("studio secret"))
    assert wk.watermark_key(settings) == "studio secret"
    assert not wk.key_path(settings).exists()


def test_the_public_key_is_said_in_the_log_and_the_marks_record(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    from pipeline.audio import loudness

    monkeypatch.setattr(wk, "_warned", set())
    settings = Settings(data_dir=tmp_path, watermark_key=SecretStr(wk.BUILTIN_KEY))
    wav = tmp_path / "dub.wav"
    sf.write(str(wav), _speechlike(10), RATE)
    with caplog.at_level(logging.WARNING, logger=wk.__name__):
        done = marking.mark_track(settings, wav, 0x1234ABCD, loudness.profile("none"))
    assert "public built-in key" in caplog.text
    assert done.info is not None and done.info["public_key"] is True
    mine = marking.mark_track(_installation(tmp_path / "own"), wav, 0x1234ABCD, loudness.profile("none"))
    assert mine.info is not None and "public_key" not in mine.info


def test_a_mark_made_with_the_old_public_key_is_still_read(tmp_path: Path) -> None:
    settings = _installation(tmp_path)
    old = tmp_path / "old.wav"
    sf.write(str(old), wme.embed(_speechlike(16), RATE, 0x0BADCAFE, wk.BUILTIN_KEY), RATE)
    (reading,) = marking.detect_file(settings, str(old))
    assert reading.detection.payload == 0x0BADCAFE and reading.public_key
    new = tmp_path / "new.wav"
    sf.write(str(new), wme.embed(_speechlike(16), RATE, 0x0BADCAFE, wk.watermark_key(settings)), RATE)
    (reading,) = marking.detect_file(settings, str(new))
    assert reading.detection.payload == 0x0BADCAFE and not reading.public_key


def test_the_job_report_warns_of_the_public_key() -> None:
    from types import SimpleNamespace

    from pipeline.products.dubbing.publish import _public_mark

    job = SimpleNamespace(mixes=[SimpleNamespace(watermark={"payload": 1, "public_key": True})])
    assert _public_mark(job) == [wk.PUBLIC_KEY_WARNING]  # type: ignore[arg-type]
    assert _public_mark(SimpleNamespace(mixes=[SimpleNamespace(watermark={"payload": 1})])) == []  # type: ignore[arg-type]


def test_init_signer_makes_the_key_beside_the_signing_keys(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from typer.testing import CliRunner

    from pipeline.cli.app import app
    from pipeline.core.config import reset_settings

    monkeypatch.setenv("DUBLINE_DATA_DIR", str(tmp_path))
    monkeypatch.delenv("DUBLINE_WATERMARK_KEY", raising=False)
    reset_settings()
    try:
        result = CliRunner().invoke(app, ["provenance", "init-signer"])
    finally:
        reset_settings()
    assert result.exit_code == 0, result.output
    key = tmp_path / "c2pa" / "watermark.key"
    assert "watermark key made" in result.output and "public built-in" not in result.output
    assert stat.S_IMODE(key.stat().st_mode) == 0o600 and (tmp_path / "c2pa" / "signer.key").is_file()


def test_every_products_report_says_so() -> None:
    """The audiobook's and the described video's reports take their warning from the same helper."""
    import inspect

    from pipeline.products.audiobook import publish as book
    from pipeline.products.description import publish as described

    assert wk.public_key_warnings([None, {"payload": 1}]) == []
    assert wk.public_key_warnings([{"payload": 1, "public_key": True}]) == [wk.PUBLIC_KEY_WARNING]
    assert "public_key_warnings([packaged.watermark])" in inspect.getsource(book.build_report)
    assert "public_key_warnings([m.watermark])" in inspect.getsource(described)
