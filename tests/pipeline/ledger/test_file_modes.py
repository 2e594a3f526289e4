"""Who may read what: the consent ledger (people, consents, voice embeddings) and the keys are their owner's
only (0600, the signing folder 0700); delivered files are readable by the other accounts of a studio's
pipeline (0644), whatever the umask."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text

from pipeline.core.config import Settings


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture
def umask_077() -> Iterator[None]:
    old = os.umask(0o077)
    try:
        yield
    finally:
        os.umask(old)


def test_a_new_ledger_is_private(tmp_path: Path) -> None:
    from pipeline.ledger import db

    path = tmp_path / "data" / "dubline.db"
    engine = db.get_engine(f"sqlite:///{path}")
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE people (name TEXT)"))
        conn.execute(text("INSERT INTO people VALUES ('joe')"))
    assert _mode(path) == 0o600


def test_an_existing_world_readable_ledger_is_made_private(tmp_path: Path) -> None:
    from pipeline.ledger import db

    path = tmp_path / "old.db"
    path.touch(mode=0o644)
    path.chmod(0o644)
    journal = tmp_path / "old.db-journal"
    journal.touch()
    journal.chmod(0o644)
    db.get_engine(f"sqlite:///{path}")
    assert _mode(path) == 0o600 and _mode(journal) == 0o600


def test_the_signing_folder_and_its_keys_are_private(tmp_path: Path) -> None:
    from pipeline.ledger.certificates import init_signer
    from pipeline.ledger.watermark_key import init_key

    settings = Settings(data_dir=tmp_path)
    files, _ = init_signer(settings)
    key, _ = init_key(settings)
    assert _mode(files.folder) == 0o700
    assert {p.name: _mode(p) for p in (files.ca_key, files.key, key, files.folder / ".lock")} == {
        "ca.key": 0o600,
        "signer.key": 0o600,
        "watermark.key": 0o600,
        ".lock": 0o600,
    }


def test_a_signing_folder_made_before_is_made_private(tmp_path: Path) -> None:
    from pipeline.ledger.certificates import init_signer

    folder = tmp_path / "c2pa"
    folder.mkdir(mode=0o755)
    folder.chmod(0o755)
    init_signer(Settings(data_dir=tmp_path))
    assert _mode(folder) == 0o700


def test_deliverables_are_readable_whatever_the_umask(tmp_path: Path, umask_077: None) -> None:
    from pipeline.core.deliver import deliver
    from pipeline.core.stagerun import open_settings_store

    settings = Settings(data_dir=tmp_path / "data")
    store = open_settings_store(settings)
    uri = store.put_bytes("stages/mux/k/dub.mp4", b"media")
    out = tmp_path / "out"
    done = deliver(settings, {"talk.dub.mp4": uri}, str(out), "talk.report.json", lambda where: {"files": where})
    assert _mode(out / "talk.dub.mp4") == 0o644 and _mode(Path(done.report)) == 0o644
    assert (out / "talk.dub.mp4").read_bytes() == b"media"
