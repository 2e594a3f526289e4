"""read_script: the description script (a path, file:// or s3:// URI) read into cues and checked against the
programme: a cue starting at or past its end is refused (naming the cue's line or element), one whose end runs
past it is clipped. The cues (JSON) and the script as given go to the store; content-addressed by the script's
sha256, the programme's and the language asked for.

Everything a user can fix in the script is refused here, before anything is spoken.
"""

from __future__ import annotations

from models.registry import sha256_file
from pipeline.core.config import Settings
from pipeline.core.stagerun import StageRun, run_stage
from pipeline.core.storage import get_json, key_of, put_json
from pipeline.products.description.contracts import DescribeRequest, ScriptRead
from pipeline.stages.contracts import Ingested
from pipeline.text.descriptions.cues import DescriptionScript
from pipeline.text.descriptions.scripts import (
    check_against_programme,
    clip_to_programme,
    locate_script,
    read_script,
    read_script_at,
)

READER_VERSION = 1  # bump when the readers change what they read from the same script


def preflight(settings: Settings, request: DescribeRequest, duration: float | None = None) -> DescriptionScript:
    """Read the script (and, given the programme's duration, check its cues against it): what the CLI calls
    before it starts a run, and what the stage checks before it stores anything."""
    return read_script_at(settings, request.script, duration, request.language)[0]


def read_description_script(settings: Settings, request: DescribeRequest, ingested: Ingested) -> ScriptRead:
    path = locate_script(settings, request.script)
    sha = sha256_file(path)
    material = {
        "sha256": sha,
        "programme": ingested.source_sha256,
        "duration": round(ingested.duration, 3),
        "language": request.language,
        "v": READER_VERSION,
    }

    def work(run: StageRun) -> ScriptRead:
        script = read_script(path, name=path.name, language=request.language)  # the file located above
        check_against_programme(script, ingested.duration, path.name)
        checked = clip_to_programme(script, ingested.duration)
        by_id = {c.id: c for c in script.cues}
        clipped = [c.id for c in checked.cues if by_id[c.id].end != c.end]
        language = request.language or checked.language
        checked = checked.model_copy(update={"language": language})
        source_uri = run.put(f"script{path.suffix.lower() or '.txt'}", path)
        cues_uri = put_json(run.store, f"{run.prefix}/cues.json", checked.model_dump(mode="json"))
        return ScriptRead(
            filename=path.name,
            stem=ingested.stem,
            sha256=sha,
            source_uri=source_uri,
            format=checked.format,
            language=language,
            cues_uri=cues_uri,
            cues=len(checked.cues),
            drafts=sum(c.draft for c in checked.cues),
            clipped=clipped,
        )

    done = run_stage(settings, "read_script", material, work, ScriptRead, label=path.stem)
    # keyed by content: a reused result keeps the names of the job that made it; the names are this job's
    return done.model_copy(update={"filename": path.name, "stem": ingested.stem})


def load_cues(settings: Settings, read: ScriptRead) -> DescriptionScript:
    from pipeline.core.stagerun import open_settings_store

    store = open_settings_store(settings)
    return DescriptionScript.model_validate(get_json(store, key_of(store, read.cues_uri)))
