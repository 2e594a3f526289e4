"""dub_video: a video (or audio file) in, the same with dubbed language tracks and subtitles out.

Wiring only: every task calls one function of `pipeline.stages`, imported inside the task so that
parsing this file stays fast and imports no ML library. Tasks pass small dicts of URIs through XCom;
media stays in the object store.
"""

from __future__ import annotations

import os
from datetime import timedelta
from typing import Any

from airflow.sdk import Param, dag, task

RETRIES = int(os.environ.get("DUBLINE_TASK_RETRIES", "2"))


def _stage(fn_name: str, *args: Any, **kwargs: Any) -> dict[str, Any]:
    """Call pipeline.stages.<module>.<fn>; a user-actionable error fails the task without retries."""
    from airflow.sdk.exceptions import AirflowFailException

    from pipeline.core.config import get_settings
    from pipeline.core.errors import ConfigError, ConsentError, InputError, SetupError
    from pipeline.core.stagerun import invoke_stage

    try:
        return invoke_stage(fn_name, get_settings(), *args, **kwargs)
    except (InputError, ConfigError, ConsentError, SetupError) as e:
        raise AirflowFailException(e.one_line()) from e


@dag(
    dag_id="dub_video",
    schedule=None,
    catchup=False,
    max_active_runs=4,
    tags=["dubline", "dubbing"],
    default_args={"retries": RETRIES, "retry_delay": timedelta(seconds=30)},
    params={
        "input": Param("", type="string", description="video or audio: a path, file:// or s3:// URI"),
        "source_language": Param("", type="string", description="ISO 639-1 code; empty = detect"),
        "target_languages": Param(
            ["es"],
            type="array",
            minItems=1,
            items={"type": "string"},
            description="ISO 639-1 codes of the dub languages",
        ),
        "output": Param("", type="string", description="folder, file:// or s3:// location; empty = the store"),
        "containers": Param(
            ["mp4"],
            type="array",
            items={"type": "string", "enum": ["mp4", "mkv", "m4a"]},
            description="containers to deliver: mp4, mkv, m4a (audio only); audio input always gives m4a",
        ),
        "loudness_profile": Param(
            "ebu_r128",
            type="string",
            enum=["ebu_r128", "atsc_a85", "streaming", "acx", "none"],
            description="loudness of every delivered track",
        ),
        "stems": Param(False, type="boolean", description="also deliver the dialogue, bed and dub stems as WAV"),
        "glossary": Param(
            "",
            type="string",
            description="translation glossary: a JSON or TSV file (path or URI) or inline JSON; empty = none",
        ),
        "speakers": Param(0, type="integer", minimum=0, description="number of speakers; 0 = find out"),
        "speaker_people": Param(
            {},
            type="object",
            description='speakers who are enrolled people, e.g. {"S1": "joe"}: their consented, cloned voice',
        ),
        "series": Param(
            "",
            type="string",
            description="series name: each speaker keeps the voice the series gave them (empty = none)",
        ),
        "style": Param(
            "",
            type="string",
            enum=["", "neutral", "warm", "excited", "calm", "serious"],
            description="a delivery style for every line (narration); empty = carry the source's delivery",
        ),
        "subtitle_profile": Param(
            "broadcast",
            type="string",
            enum=["broadcast", "children"],
            description="subtitle reading speed: broadcast 17, children 13 chars/s",
        ),
    },
    doc_md=__doc__,
)
def dub_video() -> None:
    @task
    def ingest(params: dict[str, Any] | None = None) -> dict[str, Any]:
        assert params is not None
        return _stage("ingest.ingest", params["input"])

    @task
    def transcribe(ingested: dict[str, Any], params: dict[str, Any] | None = None) -> dict[str, Any]:
        assert params is not None
        return _stage("transcribe.transcribe", ingested, params["source_language"] or None)

    @task
    def diarize(
        ingested: dict[str, Any], transcribed: dict[str, Any], params: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        assert params is not None
        return _stage("diarize.diarize", ingested, transcribed, int(params.get("speakers") or 0) or None)

    @task
    def cast(
        ingested: dict[str, Any], diarized: dict[str, Any], params: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        assert params is not None
        return _stage("cast.cast", ingested, diarized, params.get("speaker_people") or None)

    @task
    def targets(transcribed: dict[str, Any], params: dict[str, Any] | None = None) -> list[str]:
        assert params is not None
        langs: list[str] = []
        for lang in params["target_languages"]:
            lang = str(lang).strip().lower()
            if lang and lang not in langs:
                langs.append(lang)
        return langs

    @task(map_index_template="{{ target }}")
    def translate(transcribed: dict[str, Any], target: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
        assert params is not None
        return _stage("translate.translate", transcribed, target, params.get("glossary") or None)

    @task
    def synthesize(
        ingested: dict[str, Any], translated: dict[str, Any], params: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        assert params is not None
        return _stage(
            "synthesize.synthesize",
            translated,
            ingested["duration"],
            series=params.get("series") or None,
            style=params.get("style") or None,
        )

    @task
    def fit(ingested: dict[str, Any], synthesized: dict[str, Any]) -> dict[str, Any]:
        return _stage("fit.fit", synthesized, ingested["duration"])

    @task
    def separate(ingested: dict[str, Any], transcribed: dict[str, Any]) -> dict[str, Any]:
        return _stage("separate.separate", ingested, transcribed)

    @task
    def mix(
        ingested: dict[str, Any],
        separated: dict[str, Any],
        fitted: dict[str, Any],
        params: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        assert params is not None
        return _stage("mix.mix", ingested, separated, fitted, params.get("loudness_profile") or None)

    @task
    def mux(
        ingested: dict[str, Any],
        transcribed: dict[str, Any],
        fits: list[dict[str, Any]],
        mixes: list[dict[str, Any]],
        params: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        assert params is not None
        containers = list(params.get("containers") or ["mp4"])
        profile = params.get("subtitle_profile") or None
        loud = params.get("loudness_profile") or None
        return _stage("deliver.mux", ingested, transcribed, list(fits), list(mixes), containers, profile, loud)

    @task
    def publish(
        ingested: dict[str, Any],
        transcribed: dict[str, Any],
        separated: dict[str, Any],
        translated: list[dict[str, Any]],
        synthesized: list[dict[str, Any]],
        fits: list[dict[str, Any]],
        mixes: list[dict[str, Any]],
        muxed: dict[str, Any],
        front: list[dict[str, Any]],
        params: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        assert params is not None
        results = [ingested, *front, transcribed, separated, *translated, *synthesized, *fits, *mixes, muxed]
        return _stage("deliver.publish", ingested, transcribed, results, muxed, params["output"], dict(params))

    ingested = ingest()
    heard = transcribe(ingested)
    diarized = diarize(ingested, heard)
    transcribed = cast(ingested, diarized)  # the Script with speakers, their people and each line's delivery
    translated = translate.partial(transcribed=transcribed).expand(target=targets(transcribed))
    synthesized = synthesize.partial(ingested=ingested).expand(translated=translated)
    fitted = fit.partial(ingested=ingested).expand(synthesized=synthesized)
    separated = separate(ingested, transcribed)
    mixed = mix.partial(ingested=ingested, separated=separated).expand(fitted=fitted)
    muxed = mux(ingested, transcribed, fitted, mixed)
    publish(ingested, transcribed, separated, translated, synthesized, fitted, mixed, muxed, [heard, diarized])


dub_video_dag = dub_video()
