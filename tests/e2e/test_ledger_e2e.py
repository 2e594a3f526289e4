"""End to end through the dub_video DAG: a person's voice is refused without consent, and with one the
published outputs carry provenance manifests that verify, and `consent impact` lists what was made."""

from __future__ import annotations

import hashlib
import json
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from pipeline.cli.runner import run_dag
from pipeline.core.config import get_settings, reset_settings
from pipeline.core.errors import DublineError

pytestmark = pytest.mark.slow


@pytest.fixture
def joe_speaks_spanish(monkeypatch: pytest.MonkeyPatch) -> Any:
    """The Spanish voice stands for person joe's (DUBLINE_PERSON_VOICES), for the DAG's tasks too."""
    monkeypatch.setenv("DUBLINE_PERSON_VOICES", '{"es": "joe"}')
    reset_settings()
    yield get_settings()
    reset_settings()


def _conf(video: Path, out: Path) -> dict[str, Any]:
    return {"input": str(video), "source_language": "en", "target_languages": ["es"], "output": str(out)}


def test_person_voice_without_consent_fails_the_run(
    joe_speaks_spanish: Any, sample_video: Path, tmp_path: Path
) -> None:
    from pipeline.ledger import db

    settings = joe_speaks_spanish
    with pytest.raises(DublineError) as err:
        run_dag(settings, "dub_video", _conf(sample_video, tmp_path), log_path=settings.data_dir / "logs" / "e2e-p.log")
    assert err.value.exit_code == 6 and "no consent lets the voice of person joe" in err.value.one_line()
    assert list(tmp_path.iterdir()) == []
    last = db.recent_jobs(settings, 1)[0]
    assert last.status == "failed" and "person joe" in (last.error or "")


def test_person_voice_with_consent_is_published_with_provenance(
    joe_speaks_spanish: Any, sample_video: Path, tmp_path: Path
) -> None:
    from pipeline.cli.app import app
    from pipeline.core.stagerun import open_settings_store
    from pipeline.ledger import consents as ledger
    from pipeline.ledger import db

    settings = joe_speaks_spanish
    evidence = b"joe reading the statement"
    rec_uri = open_settings_store(settings).put_bytes("consent/recordings/e2e.wav", evidence)
    with db.session(settings) as s:
        p = ledger.ensure_person(s, "joe", "Joe Example")
        c = ledger.request(s, p, ["dubbing"], ["es"], None, date.today(), None, "statement", "12345")
        ledger.record_grant(s, c, rec_uri, hashlib.sha256(evidence).hexdigest(), {"words": {}}, [])
        cid = c.id
    result = run_dag(
        settings, "dub_video", _conf(sample_video, tmp_path), log_path=settings.data_dir / "logs" / "e2e-c.log"
    )
    media = tmp_path / "talk.dub.mp4"
    manifest = json.loads((tmp_path / "talk.dub.mp4.provenance.json").read_text())
    assert [c["id"] for c in manifest["consents"]] == [cid]
    assert manifest["run"]["dag_id"] == "dub_video" and manifest["run"]["task_id"] == "publish"
    assert manifest["run"]["run_id"] == result["run_id"]
    assert {m["role"] for m in manifest["models"]} == {"asr", "mt", "tts"}
    runner = CliRunner()
    r = runner.invoke(app, ["provenance", "verify", str(media)])
    assert r.exit_code == 0 and "mismatch" not in r.output and f"consent {cid} recording" in r.output, r.output
    r = runner.invoke(app, ["consent", "impact", "--person", "joe"])
    assert r.exit_code == 0 and "synthesize" in r.output and "publish" in r.output, r.output
