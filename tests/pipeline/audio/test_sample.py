"""`dubline sample --seconds N` makes a sample N seconds long: as many sentences of the talk as fit, then its
closing sentence, all of the speech inside; a length too short for one sentence is refused."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import soundfile as sf

from pipeline.audio.sample import TALK
from pipeline.core.config import Settings
from pipeline.core.errors import ConfigError


def _truth(path: Path) -> dict:
    return json.loads(path.with_name(path.name + ".json").read_text())


@pytest.mark.parametrize("seconds", [12.0, 45.0])
def test_the_sample_is_as_long_as_asked(tmp_path: Path, seconds: float) -> None:
    from typer.testing import CliRunner

    from pipeline.cli.app import app

    out = tmp_path / "talk.wav"
    result = CliRunner().invoke(app, ["sample", str(out), "--seconds", str(seconds)])
    assert result.exit_code == 0, result.output
    assert sf.info(str(out)).duration == pytest.approx(seconds, abs=0.01)
    truth = _truth(out)
    assert truth["duration"] == seconds
    speech = truth["speech"]
    assert speech[-1]["text"] == TALK[-1] and speech[-1]["end"] <= seconds - 0.5
    assert all(a["end"] < b["start"] for a, b in zip(speech, speech[1:], strict=False))
    if seconds > 30:
        assert len(speech) > len(TALK)  # the body goes on past the short talk
    else:
        assert 2 <= len(speech) < len(TALK)


def test_a_length_too_short_for_a_sentence_is_refused(tmp_path: Path) -> None:
    from pipeline.audio.sample import make_sample

    with pytest.raises(ConfigError, match="--seconds 2 is too short"):
        make_sample(tmp_path / "x.wav", Settings(data_dir=tmp_path / "data"), 2.0)
    assert not (tmp_path / "x.wav").exists()


def test_another_talk_is_spoken_with_its_closing_sentence_last(tmp_path: Path) -> None:
    from pipeline.audio.sample import make_sample

    talk = ["Bees live in hives.", "A queen lays the eggs.", "That is all, thank you."]
    out = make_sample(tmp_path / "bees.wav", Settings(data_dir=tmp_path / "data"), 12.0, talk=talk)
    said = [s["text"] for s in _truth(out)["speech"]]
    assert said[-1] == talk[-1] and set(said) <= set(talk) and not set(said) & set(TALK)
