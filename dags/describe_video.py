"""describe_video: a video and its description script in; the video with an audio-description track (and, on
request, an extended-description video), the descriptions' stem, the script as placed and a report out.

Wiring only: every task calls one stage function by reference (dubline_tasks.run), imported inside the task so
that parsing this file stays fast and imports no ML library. `configure` validates the run's params once into
a `DescribeRequest`; ingest and transcribe are the shared stages; `read_script` reads and checks the script
against the programme; `map_dialogue` finds where people speak; `voice` speaks and places every description
(consent checked before each line); `mix` ducks the programme under them; `render` builds the media and the
scripts as placed; `publish` delivers them with the report and provenance.

Started by hand, by `dubline describe`, or by `describe_batch` for each video and script pair of a folder.
"""

from __future__ import annotations

from typing import Any

from airflow.sdk import Param, dag, task
from dubline_tasks import DEFAULT_ARGS, XCom, fail_fast, placed, run


@dag(
    dag_id="describe_video",
    schedule=None,
    catchup=False,
    max_active_runs=2,
    tags=["dubline", "audio_description"],
    default_args=DEFAULT_ARGS,
    params={
        "video": Param("", type="string", minLength=1, description="the programme: a path, file:// or s3:// URI"),
        "script": Param(
            "",
            type="string",
            minLength=1,
            description="the descriptions: WebVTT, DAPT (TTML2), CSV or JSON; a path, file:// or s3:// URI",
        ),
        "output": Param("", type="string", description="folder, file:// or s3:// location; empty = the store"),
        "extended": Param(False, type="boolean", description="also render extended description (picture pauses)"),
        "voice": Param(
            "",
            type="string",
            description="describer: ENGINE:VOICE (a stock voice), person:ID (their consented, cloned voice), or "
            "empty (the stock voice for the language)",
        ),
        "style": Param(
            "", type="string", enum=["", "neutral", "calm", "warm", "serious"], description="delivery style"
        ),
        "language": Param(
            "", type="string", description="ISO 639-1 code of the descriptions; empty = the script's or programme's"
        ),
        "containers": Param(
            ["mp4"],
            type="array",
            items={"type": "string", "enum": ["mp4", "mkv"]},
            description="containers of the described video",
        ),
        "loudness_profile": Param(
            "ebu_r128",
            type="string",
            enum=["ebu_r128", "atsc_a85", "streaming", "none"],
            description="loudness of the delivered tracks",
        ),
        "duck_db": Param(-10.0, type="number", minimum=-40, maximum=0, description="programme gain under speech"),
        "description_gain_db": Param(
            0.0, type="number", minimum=-12, maximum=12, description="description level relative to the programme"
        ),
        "denoise": Param(
            "",
            type="string",
            enum=["", "off", "auto", "speech"],
            description="denoise the speech the dialogue map hears (auto: when it is noisy); empty = DUBLINE_DENOISE",
        ),
        "bed": Param(
            "",
            type="string",
            description="a bed under the programme's silent stretches: compose:MOOD, library:MOOD, ambience:KIND or "
            "an audio file; empty = none",
        ),
        "lookahead_s": Param(
            10.0, type="number", minimum=0, maximum=120, description="how far after its time a description may go"
        ),
    },
    doc_md=__doc__,
)
def describe_video() -> None:
    @task
    def configure(params: dict[str, object] | None = None) -> XCom:
        from pipeline.core.errors import DublineError
        from pipeline.products.description.contracts import DescribeRequest

        try:
            return DescribeRequest.from_params(dict(params or {})).to_xcom()
        except DublineError as e:
            raise fail_fast(e) from e

    @task
    def ingest(request: XCom) -> XCom:
        from pipeline.products.description.contracts import DescribeRequest
        from pipeline.stages import job_names

        req = DescribeRequest.from_xcom(request)
        return run(job_names.ingest, req.video, req.denoise)  # named after this job's input

    @task
    def read_script(request: XCom, ingested: XCom) -> XCom:
        from pipeline.products.description import read
        from pipeline.products.description.contracts import DescribeRequest
        from pipeline.stages.contracts import Ingested

        return run(read.read_description_script, DescribeRequest.from_xcom(request), Ingested.from_xcom(ingested))

    @task
    def transcribe(ingested: XCom, script: XCom) -> XCom:
        from pipeline.products.description.contracts import ScriptRead
        from pipeline.stages import transcribe
        from pipeline.stages.contracts import Ingested

        # the programme's language is heard, not taken from the script (the map needs only where people speak)
        ScriptRead.from_xcom(script)  # after the script is read: a bad script is refused before Whisper runs
        return run(transcribe.transcribe, Ingested.from_xcom(ingested), None, require_speech=False)

    @task
    def map_dialogue(ingested: XCom, transcribed: XCom) -> XCom:
        from pipeline.products.description import listen
        from pipeline.stages.contracts import Ingested, Transcribed

        return run(listen.map_dialogue, Ingested.from_xcom(ingested), Transcribed.from_xcom(transcribed))

    @task
    def voice(request: XCom, ingested: XCom, script: XCom, transcribed: XCom, mapped: XCom) -> XCom:
        from pipeline.products.description import voicing
        from pipeline.products.description.contracts import DescribeRequest, DialogueMapped, ScriptRead
        from pipeline.stages.contracts import Ingested, Transcribed

        return run(
            voicing.voice_descriptions,
            DescribeRequest.from_xcom(request),
            Ingested.from_xcom(ingested),
            ScriptRead.from_xcom(script),
            Transcribed.from_xcom(transcribed),
            DialogueMapped.from_xcom(mapped),
        )

    @task
    def mix(request: XCom, ingested: XCom, described: XCom) -> XCom:
        from pipeline.products.description import admix
        from pipeline.products.description.contracts import Described, DescribeRequest
        from pipeline.stages.contracts import Ingested

        return run(
            admix.mix_description,
            DescribeRequest.from_xcom(request),
            Ingested.from_xcom(ingested),
            Described.from_xcom(described),
        )

    @task
    def render(request: XCom, ingested: XCom, script: XCom, described: XCom, mixed: XCom) -> XCom:
        from pipeline.products.description import render
        from pipeline.products.description.contracts import ADMixed, Described, DescribeRequest, ScriptRead
        from pipeline.stages.contracts import Ingested

        return run(
            render.render_described,
            DescribeRequest.from_xcom(request),
            Ingested.from_xcom(ingested),
            ScriptRead.from_xcom(script),
            Described.from_xcom(described),
            ADMixed.from_xcom(mixed),
        )

    @task
    def publish(request: XCom, stages: list[XCom]) -> XCom:
        from pipeline.products.description import publish
        from pipeline.products.description.contracts import DescribeRequest

        ingested, script, transcribed, mapped, described, mixed, rendered = stages
        job = publish.DescribeOutcome.model_validate(
            {
                "ingested": ingested,
                "read": script,
                "transcribed": transcribed,
                "mapped": mapped,
                "described": described,
                "mixed": mixed,
                "rendered": rendered,
            }
        )
        return run(publish.publish_described, DescribeRequest.from_xcom(request), job)

    # Wiring: Airflow hands each task its upstream's XCom document at run time; here they are XComArgs,
    # which the task signatures (XCom documents) do not name, hence Any.
    request: Any = configure()
    ingested: Any = ingest(request)
    script: Any = read_script(request, ingested)
    transcribed: Any = transcribe(ingested, script)
    mapped: Any = map_dialogue(ingested, transcribed)
    described: Any = voice(request, ingested, script, transcribed, mapped)
    mixed: Any = mix(request, ingested, described)
    rendered: Any = render(request, ingested, script, described, mixed)
    publish(request, [ingested, script, transcribed, mapped, described, mixed, rendered])


describe_video_dag = placed(describe_video())
