"""The typed hand-offs of dubbing: the run configuration (DubRequest) is normalised and checked in one place,
a bad parameter is a ConfigError naming it; a stage result refuses a field it does not have; a contract
travels through XCom as plain JSON and comes back equal."""

from __future__ import annotations

import json
from typing import Any

import pytest
from pydantic import ValidationError

from pipeline.core.errors import ConfigError
from pipeline.core.stagerun import StageResult
from pipeline.products.dubbing.contracts import DubRequest, Fitted, Translated, parse_speaker_people
from pipeline.products.dubbing.publish import DubOutcome
from pipeline.stages.contracts import Ingested


def _request(**params: Any) -> DubRequest:
    return DubRequest.from_params({"input": "talk.mp4", "target_languages": ["es"], **params})


def test_languages_are_normalised_once_each_in_order() -> None:
    assert _request(target_languages="ES, ca").target_languages == ["es", "ca"]
    assert _request(target_languages=["ES, ca", " es ", "CA", ""]).target_languages == ["es", "ca"]
    assert _request(source_language=" EN ").source_language == "en"
    assert _request(source_language="").source_language is None
    assert _request(source_language=None).source_language is None


def test_defaults_and_normalised_text() -> None:
    r = _request(containers=[".MP4", "mkv", "mp4"], style=" Warm ", series=" rivers ", output=" /tmp/out ")
    assert r.containers == ["mp4", "mkv"] and r.style == "warm" and r.series == "rivers" and r.output == "/tmp/out"
    d = _request()
    assert (d.containers, d.loudness_profile, d.subtitle_profile, d.speakers, d.stems) == (
        ["mp4"],
        "ebu_r128",
        "broadcast",
        0,
        False,
    )
    assert d.speaker_people == {} and d.glossary == "" and d.style == ""


def test_speaker_people_from_text_and_from_a_mapping() -> None:
    assert _request(speaker_people="S1=joe,s2=ann").speaker_people == {"S1": "joe", "S2": "ann"}
    assert _request(speaker_people={"s1": " joe ", "S2": "ann"}).speaker_people == {"S1": "joe", "S2": "ann"}
    assert _request(speaker_people={"S1": "joe", "S3": ""}).speaker_people == {"S1": "joe"}  # empty dropped
    assert _request(speaker_people="").speaker_people == {}
    assert _request(speaker_people=None).speaker_people == {}
    assert parse_speaker_people("S1=joe; S2=ann") == {"S1": "joe", "S2": "ann"}


@pytest.mark.parametrize(
    ("params", "names", "says"),
    [
        ({"source_language": "ES", "target_languages": ["es", "ca"]}, "dub parameter", "is the source language"),
        ({"containers": ["avi"]}, "containers", ""),
        ({"loudness_profile": "loud"}, "loudness_profile", ""),
        ({"subtitle_profile": "cinema"}, "subtitle_profile", ""),
        ({"style": "angry"}, "style", ""),
        ({"speakers": -1}, "speakers", ""),
        ({"speaker_people": "S1joe"}, "speaker_people", "is not SPEAKER=PERSON"),
        ({"speaker_people": 3}, "speaker_people", ""),
        ({"target_languages": []}, "target_languages", ""),
        ({"target_languages": " , "}, "target_languages", ""),
        ({"input": "  "}, "input", ""),
    ],
)
def test_a_bad_parameter_is_a_config_error_naming_it(params: dict[str, Any], names: str, says: str) -> None:
    with pytest.raises(ConfigError) as err:
        _request(**params)
    line = err.value.one_line()
    assert line.startswith("dub parameter") and names in line and says in line, line
    assert err.value.exit_code == 3


def test_target_equal_to_source_names_the_language() -> None:
    with pytest.raises(ConfigError, match="target language es is the source language"):
        _request(source_language="es", target_languages="ca, ES")


def test_a_request_refuses_an_unknown_parameter() -> None:
    with pytest.raises(ConfigError, match="dub parameter speeker_people"):
        _request(speeker_people={"S1": "joe"})


def test_a_stage_result_refuses_a_misspelt_field() -> None:
    class Made(StageResult):
        script_uri: str

    with pytest.raises(ValidationError, match="scirpt_uri"):
        Made(scirpt_uri="file:///s.json")  # type: ignore[call-arg]
    with pytest.raises(ValidationError, match="langauge"):
        Made.from_xcom({"script_uri": "file:///s.json", "langauge": "es"})
    assert Made(script_uri="s").model_dump() == {
        "stage": "",
        "label": "",
        "key": "",
        "elapsed_s": 0.0,
        "cached": False,
        "model_load_s": 0.0,
        "model_loads": {},
        "script_uri": "s",
    }
    with pytest.raises(ValidationError, match="lines"):
        Translated.from_xcom({"language": "es", "script_uri": "s"})  # a field left out is refused too


def _ingested() -> Ingested:
    return Ingested(
        stage="ingest",
        key="k" * 32,
        elapsed_s=1.5,
        source_uri="file:///store/sources/talk.mp4",
        source_sha256="a" * 64,
        filename="talk.mp4",
        stem="talk",
        duration=30.0,
        has_video=True,
        video_codec="h264",
        asr_audio_uri="file:///store/asr.wav",
        full_audio_uri="file:///store/full.wav",
        script_uri="file:///store/script.json",
    )


def test_contracts_round_trip_through_xcom() -> None:
    request = _request(target_languages="es,ca", speaker_people="S1=joe", containers=["mkv"], stems=True)
    fitted = Fitted(
        stage="fit",
        label="es",
        key="f" * 32,
        cached=True,
        language="es",
        dub_speech_uri="file:///store/dub.wav",
        spans=[(0.5, 2.0), (3.0, 4.25)],
        script_uri="file:///store/script.json",
        summary={"lines": 2, "isochrony": 0.9},
        timing_report_uri="file:///store/timing.json",
    )
    for contract in (request, _ingested(), fitted):
        doc = contract.to_xcom()
        text = json.dumps(doc)  # what XCom stores: plain JSON
        back = type(contract).from_xcom(json.loads(text))
        assert back == contract and back.to_xcom() == doc
    assert fitted.to_xcom()["spans"] == [[0.5, 2.0], [3.0, 4.25]]


def test_the_outcome_of_a_job_is_validated_from_the_tasks_documents() -> None:
    """What the DAG's publish task does with its upstream documents: a misspelt one fails there."""
    bad = {**_ingested().to_xcom(), "durration": 3.0}
    with pytest.raises(ValidationError, match=r"ingested\.durration"):
        DubOutcome.model_validate({"ingested": bad})


def test_sound_parameters_are_checked_where_the_job_enters(tmp_path: Any) -> None:
    assert _request(denoise=" AUTO ", bed=" compose:calm ").denoise == "auto"
    assert _request(bed="ambience:rain").bed == "ambience:rain"
    for params, says in (
        ({"denoise": "loud"}, "denoise"),
        ({"bed": "compose:jolly"}, "unknown mood 'jolly'"),
        ({"bed": "ambience:sea"}, "unknown ambience kind 'sea'"),
        ({"bed": str(tmp_path / "missing.wav")}, "does not exist"),
    ):
        with pytest.raises(ConfigError) as err:
            _request(**params)
        line = err.value.one_line()
        assert line.startswith("dub parameter") and says in line, line
