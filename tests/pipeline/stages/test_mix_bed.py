"""The mix stage with a bed (`--bed`): the bed is heard in the programme's silent stretches, not under its
sound, ducked under the dub's speech; the track still meets its loudness profile; the bed's provenance says it
is generated; a bed changes the stage's key (no reuse of the mix without it)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from pipeline.core.config import Settings
from pipeline.stages.contracts import SpeechTrack

RATE = 48000


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(data_dir=tmp_path / "data", denoise="off")


def _programme(path: Path) -> Path:
    """10 s: a loud tone from 0 to 4 s (the programme's own sound), then silence."""
    x = np.zeros(10 * RATE, dtype=np.float32)
    x[: 4 * RATE] = 0.3 * np.sin(2 * np.pi * 330 * np.arange(4 * RATE) / RATE)
    sf.write(str(path), np.stack([x, x], axis=1), RATE)
    return path


def _speech(settings: Settings, tmp_path: Path) -> SpeechTrack:
    from pipeline.core.stagerun import open_settings_store

    x = np.zeros(10 * RATE, dtype=np.float32)
    x[6 * RATE : 7 * RATE] = 0.3 * np.sin(2 * np.pi * 200 * np.arange(RATE) / RATE)  # "speech" at 6-7 s
    path = tmp_path / "dub.wav"
    sf.write(str(path), x, RATE, subtype="FLOAT")
    uri = open_settings_store(settings).put_file("test/dub.wav", path)
    return SpeechTrack(language="es", dub_speech_uri=uri, spans=[(6.0, 7.0)], key="dub-test")


def _rms_db(x: np.ndarray) -> float:
    return float(20 * np.log10(np.sqrt(np.mean(np.square(x, dtype=np.float64))) + 1e-12))


def test_a_bed_fills_the_silence_ducks_under_speech_and_is_marked_generated(settings: Settings, tmp_path: Path):
    from pipeline.core.stagerun import open_settings_store
    from pipeline.stages.ingest import ingest
    from pipeline.stages.mix import mix

    ingested = ingest(settings, str(_programme(tmp_path / "programme.wav")))
    speech = _speech(settings, tmp_path)
    plain = mix(settings, ingested, None, speech, "ebu_r128", bed="")
    laid = mix(settings, ingested, None, speech, "ebu_r128", bed="ambience:rain")
    assert plain.bed is None and laid.key != plain.key
    assert laid.bed is not None and laid.bed["generated"] and laid.bed["spec"] == "ambience:rain"
    assert laid.loudness["meets"], laid.loudness
    store = open_settings_store(settings)

    def read(uri: str) -> np.ndarray:
        data, _ = sf.read(str(store.local_path(uri.split("/store/", 1)[-1], tmp_path / "cache")), always_2d=True)
        return data.mean(axis=1)

    a, b = read(plain.mix_uri), read(laid.mix_uri)
    assert _rms_db(b[8 * RATE : 10 * RATE]) - _rms_db(a[8 * RATE : 10 * RATE]) > 20  # the silence now has the bed
    under_tone = b[1 * RATE : 3 * RATE] - a[1 * RATE : 3 * RATE] * (np.std(b[: 3 * RATE]) / np.std(a[: 3 * RATE]))
    assert _rms_db(under_tone) < _rms_db(b[8 * RATE : 10 * RATE]) - 15  # not under the programme's own sound
    assert 3.0 < laid.bed["heard_s"] < 6.0  # 4-10 s, less the speech at 6-7 s and the fades


def test_the_ad_mix_lays_a_bed_too_and_its_key_names_it(settings: Settings, tmp_path: Path):
    from pipeline.products.description.admix import mix_description
    from pipeline.products.description.contracts import Described, DescribeRequest
    from pipeline.stages.ingest import ingest

    ingested = ingest(settings, str(_programme(tmp_path / "programme.wav")))
    speech = _speech(settings, tmp_path)  # a "description" at 6-7 s
    described = Described.model_construct(
        language="en", track_uri=speech.dub_speech_uri, spans=[(6.0, 7.0)], key="described-test", extended=False
    )
    request = DescribeRequest(video="programme.mp4", script="s.vtt")
    plain = mix_description(settings, request, ingested, described)
    laid = mix_description(settings, request.model_copy(update={"bed": "ambience:wind"}), ingested, described)
    assert plain.bed is None and laid.key != plain.key
    assert laid.bed is not None and laid.bed["spec"] == "ambience:wind" and laid.bed["generated"] is True
    assert 3.0 < laid.bed["heard_s"] < 6.0 and laid.loudness["meets"], (laid.bed, laid.loudness)
