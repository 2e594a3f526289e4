"""dub_video: a video (or audio file) in, the same with dubbed language tracks and subtitles out.

Wiring only: every task calls one stage function of `pipeline` by reference (dubline_tasks.run), imported
inside the task so that parsing this file stays fast and imports no ML library. `configure` validates the
run's params once into a `DubRequest`; tasks pass the stages' typed results through XCom as small JSON
documents; media stay in the object store.

Review (param `review`): after `cast` the `review_transcript` gate, and after every translation the
`review_translations` gate, wait for a person to approve or hand in an edited script, in Airflow's Required
Actions view or with `dubline review` (dubline_review.py); unanswered after DUBLINE_REVIEW_TIMEOUT_H hours
(default 24), a gate approves and records that it timed out. `revise_transcript` and `revise_translation`
apply the edited scripts (the `scripts` param's and the reviewer's) and record the gate's answer; with review
off the gates pass at once and the revise tasks apply only the `scripts` param (none: the Script unchanged).
"""

from __future__ import annotations

from typing import Any

from airflow.sdk import Param, dag, task
from dubline_review import TRANSCRIPT_BODY, TRANSLATIONS_BODY, ReviewGate
from dubline_tasks import DEFAULT_ARGS, XCom, fail_fast, placed, run


@dag(
    dag_id="dub_video",
    schedule=None,
    catchup=False,
    max_active_runs=4,
    tags=["dubline", "dubbing"],
    default_args=DEFAULT_ARGS,
    params={
        "input": Param("", type="string", description="video or audio: a path, file:// or s3:// URI"),
        "source_language": Param("", type=["string", "null"], description="ISO 639-1 code; empty or null = detect"),
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
        "describe": Param(
            "",
            type="string",
            description="a description script (WebVTT, DAPT, CSV or JSON; path or URI): a described track per dub "
            "language; empty = none",
        ),
        "denoise": Param(
            "",
            type="string",
            enum=["", "off", "auto", "speech", "all"],
            description="denoise before transcription (speech), also before separation (all), when the speech is "
            "noisy (auto); empty = DUBLINE_DENOISE (auto)",
        ),
        "bed": Param(
            "",
            type="string",
            description="a bed under the silent stretches: compose:MOOD, library:MOOD, ambience:KIND or an audio "
            "file; empty = none",
        ),
        "scripts": Param(
            {},
            type="object",
            description='edited scripts to apply, by language: {"es": "edited.srt"} (path or URI; SRT, WebVTT, '
            "DAPT or JSON); the source language's edits the transcript, a target's its translation",
        ),
        "editor": Param(
            "", type="string", description="who edited the scripts (the revision history); empty = the user"
        ),
        "review": Param(
            False,
            type="boolean",
            description="wait for a person to approve (or edit) the transcript and the translations: Required "
            "Actions, or `dubline review`",
        ),
        "retakes": Param(
            {},
            type="object",
            description='per language and line, new delivery: {"es": {"s0007": {"rate": 0.95, "style": "calm"}}}',
        ),
        "profile": Param(
            "",
            type="string",
            enum=["", "fast", "balanced", "best"],
            description="speed profile (README: Speed): fast, balanced or best; empty = the workers' DUBLINE_PROFILE",
        ),
    },
    doc_md=__doc__,
)
def dub_video() -> None:
    @task
    def configure(params: dict[str, object] | None = None) -> XCom:
        from pipeline.core.errors import DublineError
        from pipeline.products.dubbing.contracts import DubRequest

        try:
            return DubRequest.from_params(dict(params or {})).to_xcom()
        except DublineError as e:
            raise fail_fast(e) from e

    @task
    def ingest(request: XCom) -> XCom:
        from pipeline.products.dubbing.contracts import DubRequest
        from pipeline.stages import job_names

        req = DubRequest.from_xcom(request)
        return run(job_names.ingest, req.input, req.denoise)  # named after this job's input

    @task
    def transcribe(ingested: XCom, request: XCom) -> XCom:
        from pipeline.products.dubbing.contracts import DubRequest
        from pipeline.stages import transcribe
        from pipeline.stages.contracts import Ingested

        lang = DubRequest.from_xcom(request).source_language
        return run(transcribe.transcribe, Ingested.from_xcom(ingested), lang)

    @task
    def diarize(ingested: XCom, transcribed: XCom, request: XCom) -> XCom:
        from pipeline.products.dubbing.contracts import DubRequest
        from pipeline.stages import diarize
        from pipeline.stages.contracts import Ingested, Transcribed

        speakers = DubRequest.from_xcom(request).speakers or None
        return run(diarize.diarize, Ingested.from_xcom(ingested), Transcribed.from_xcom(transcribed), speakers)

    @task
    def cast(ingested: XCom, diarized: XCom, request: XCom) -> XCom:
        from pipeline.products.dubbing import cast
        from pipeline.products.dubbing.contracts import DubRequest
        from pipeline.stages.contracts import Ingested, Transcribed

        people = DubRequest.from_xcom(request).speaker_people
        return run(cast.cast, Ingested.from_xcom(ingested), Transcribed.from_xcom(diarized), people)

    review_transcript = ReviewGate(
        task_id="review_transcript",
        subject="Review the transcript of {{ params.input }}",
        body=TRANSCRIPT_BODY,
        params={
            "script": Param(
                "",
                type="string",
                description="the edited transcript (SRT, WebVTT, DAPT or JSON): a path or URI the workers can read; "
                "empty = approve it as it is",
            )
        },
    )

    @task
    def revise_transcript(transcribed: XCom, review: XCom, request: XCom) -> XCom:
        """The transcript with the edited script applied: the `scripts` param's, or the one the reviewer gave."""
        from dubline_review import edited_scripts

        from pipeline.products.dubbing import revise
        from pipeline.products.dubbing.contracts import DubRequest
        from pipeline.stages.contracts import Transcribed

        req, source = DubRequest.from_xcom(request), Transcribed.from_xcom(transcribed)
        given = edited_scripts(review, source.language)
        editor = review.get("approved_by") if given else ""
        return run(
            revise.revise_transcript,
            source,
            {**req.scripts, **given},
            editor or req.editor,
            None if review.get("auto") else review,
            req.subtitle_profile,
        )

    @task
    def targets(request: XCom) -> list[str]:
        from pipeline.products.dubbing.contracts import DubRequest

        return DubRequest.from_xcom(request).target_languages

    @task(map_index_template="{{ target }}")
    def translate(transcribed: XCom, target: str, request: XCom) -> XCom:
        from pipeline.products.dubbing import translate
        from pipeline.products.dubbing.contracts import DubRequest
        from pipeline.stages.contracts import Transcribed

        glossary = DubRequest.from_xcom(request).glossary or None
        return run(translate.translate, Transcribed.from_xcom(transcribed), target, glossary)

    review_translations = ReviewGate(
        task_id="review_translations",
        subject="Review the translations of {{ params.input }}",
        body=TRANSLATIONS_BODY,
        params={
            "scripts": Param(
                {},
                type="object",
                description='edited translations by language, e.g. {"es": "/reviews/talk.es.srt"} (a path or URI '
                "the workers can read; SRT, WebVTT, DAPT or JSON); {} = approve them as they are",
            )
        },
    )

    @task
    def revise_translation(translated: XCom, review: XCom, request: XCom) -> XCom:
        """One language's translation with its edited script applied (the `scripts` param's or the reviewer's)."""
        from dubline_review import edited_scripts

        from pipeline.products.dubbing import revise
        from pipeline.products.dubbing.contracts import DubRequest, Translated

        req, done = DubRequest.from_xcom(request), Translated.from_xcom(translated)
        given = edited_scripts(review)
        editor = review.get("approved_by") if done.language in given else ""
        return run(
            revise.revise_translation,
            done,
            {**req.scripts, **given},
            editor or req.editor,
            None if review.get("auto") else review,
            req.subtitle_profile,
        )

    @task
    def synthesize(ingested: XCom, translated: XCom, request: XCom) -> XCom:
        from pipeline.products.dubbing import synthesize
        from pipeline.products.dubbing.contracts import DubRequest, Translated
        from pipeline.stages.contracts import Ingested

        req, lines = DubRequest.from_xcom(request), Translated.from_xcom(translated)
        return run(
            synthesize.synthesize,
            lines,
            Ingested.from_xcom(ingested).duration,
            series=req.series or None,
            style=req.style or None,
            retakes=req.retakes.get(lines.language),
        )

    @task
    def fit(ingested: XCom, synthesized: XCom) -> XCom:
        from pipeline.products.dubbing import fit
        from pipeline.products.dubbing.contracts import Synthesized
        from pipeline.stages.contracts import Ingested

        return run(fit.fit, Synthesized.from_xcom(synthesized), Ingested.from_xcom(ingested).duration)

    @task
    def separate(ingested: XCom, transcribed: XCom) -> XCom:
        from pipeline.stages import separate
        from pipeline.stages.contracts import Ingested, Transcribed

        return run(separate.separate, Ingested.from_xcom(ingested), Transcribed.from_xcom(transcribed))

    @task
    def mix(ingested: XCom, separated: XCom, fitted: XCom, request: XCom) -> XCom:
        from pipeline.products.dubbing.contracts import DubRequest, Fitted
        from pipeline.stages import mix
        from pipeline.stages.contracts import Ingested, Separated

        return run(
            mix.mix,
            Ingested.from_xcom(ingested),
            Separated.from_xcom(separated),
            Fitted.from_xcom(fitted),
            DubRequest.from_xcom(request).loudness_profile,
            DubRequest.from_xcom(request).bed or None,
        )

    @task
    def describe(ingested: XCom, transcribed: XCom, fits: list[XCom], mixed: XCom, request: XCom) -> XCom:
        """A described track of this dub language (`describe` param); an empty document when none is asked."""
        from pipeline.products.dubbing import describe
        from pipeline.products.dubbing.contracts import DubRequest, Fitted
        from pipeline.stages.contracts import Ingested, Mixed, Transcribed

        req, source = DubRequest.from_xcom(request), Ingested.from_xcom(ingested)
        if not req.describe or not source.has_video:
            return {}
        return run(
            describe.describe_dub,
            req,
            source,
            Transcribed.from_xcom(transcribed),
            [Fitted.from_xcom(f) for f in fits],
            Mixed.from_xcom(mixed),
        )

    @task
    def mux(
        ingested: XCom, transcribed: XCom, fits: list[XCom], mixes: list[XCom], described: list[XCom], request: XCom
    ) -> XCom:
        from pipeline.products.dubbing import mux
        from pipeline.products.dubbing.contracts import DescribedDub, DubRequest, Fitted
        from pipeline.stages.contracts import Ingested, Mixed, Transcribed

        req = DubRequest.from_xcom(request)
        return run(
            mux.mux,
            Ingested.from_xcom(ingested),
            Transcribed.from_xcom(transcribed),
            [Fitted.from_xcom(f) for f in fits],
            [Mixed.from_xcom(m) for m in mixes],
            req.containers,
            req.subtitle_profile,
            req.loudness_profile,
            [DescribedDub.from_xcom(d) for d in described if d],
        )

    @task
    def publish(
        ingested: XCom,
        stages: list[XCom],
        separated: XCom,
        translated: list[XCom],
        synthesized: list[XCom],
        fits: list[XCom],
        mixes: list[XCom],
        described: list[XCom],
        muxed: XCom,
        request: XCom,
    ) -> XCom:
        from pipeline.products.dubbing import publish
        from pipeline.products.dubbing.contracts import DubRequest

        heard, diarized, transcribed = stages
        job = publish.DubOutcome.model_validate(
            {
                "ingested": ingested,
                "heard": heard,
                "diarized": diarized,
                "transcribed": transcribed,
                "separated": separated,
                "translated": list(translated),
                "synthesized": list(synthesized),
                "fits": list(fits),
                "mixes": list(mixes),
                "described": [d for d in described if d],
                "muxed": muxed,
            }
        )
        return run(publish.publish, job, DubRequest.from_xcom(request))

    # Wiring: Airflow hands each task its upstream's XCom document at run time; here they are XComArgs,
    # which the task signatures (XCom documents) do not name, hence Any.
    request: Any = configure()
    ingested: Any = ingest(request)
    heard: Any = transcribe(ingested, request)
    diarized: Any = diarize(ingested, heard, request)
    cast_done: Any = cast(ingested, diarized, request)  # the Script with speakers, people and delivery
    cast_done >> review_transcript  # waits for a person only when the run's `review` param is true
    transcript_review: Any = review_transcript.output  # the gate's record
    transcribed: Any = revise_transcript(cast_done, transcript_review, request)  # + the edited transcript
    translated: Any = translate.partial(transcribed=transcribed, request=request).expand(target=targets(request))
    translated >> review_translations  # one gate for every language
    revised: Any = revise_translation.partial(review=review_translations.output, request=request).expand(
        translated=translated
    )
    synthesized: Any = synthesize.partial(ingested=ingested, request=request).expand(translated=revised)
    fitted: Any = fit.partial(ingested=ingested).expand(synthesized=synthesized)
    separated: Any = separate(ingested, transcribed)
    mixed: Any = mix.partial(ingested=ingested, separated=separated, request=request).expand(fitted=fitted)
    described: Any = describe.partial(
        ingested=ingested, transcribed=transcribed, fits=fitted, request=request
    ).expand(mixed=mixed)
    muxed: Any = mux(ingested, transcribed, fitted, mixed, described, request)
    publish(
        ingested, [heard, diarized, transcribed], separated, revised, synthesized, fitted, mixed, described, muxed,
        request,
    )  # fmt: skip

dub_video_dag = placed(dub_video())
