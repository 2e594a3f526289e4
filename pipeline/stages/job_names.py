"""A job's names come from the job's input, never from a reused stage result.

Stages are keyed by content: the ingest stage that stored `a.mp4` is reused for a byte-identical `b.mp4`,
and the result it recorded still says `a.mp4`. The deliverables (`<stem>.dub.mp4`, the subtitles, the
report), the content credentials' title and the provenance are named after the job's input, so the name is
set on the result after the stage returns; the stage's key stays content-only.
"""

from __future__ import annotations

import os
from pathlib import Path, PurePosixPath
from typing import TypeVar
from urllib.parse import unquote, urlparse

from pipeline.core.config import Settings
from pipeline.core.stagerun import StageResult
from pipeline.stages.contracts import Ingested

R = TypeVar("R", bound=StageResult)


def input_name(uri: str) -> str:
    """The file name the user gave for the job's input (a path, a file:// or an s3:// URI); a symlink keeps
    its own name. Empty when the input names no file."""
    parsed = urlparse(uri)
    if parsed.scheme in ("file", "s3"):
        return PurePosixPath(unquote(parsed.path)).name
    if parsed.scheme:
        return ""
    return Path(os.path.abspath(os.path.expanduser(uri))).name


def named_for(result: R, name: str) -> R:
    """`result` with its `filename` and `stem` set to `name` (unchanged when `name` is empty)."""
    if not name:
        return result
    return result.model_copy(update={"filename": name, "stem": Path(name).stem})


def ingest(settings: Settings, input_uri: str, denoise: str = "") -> Ingested:
    """The ingest stage, its result named after this job's input (what the DAGs' ingest tasks call)."""
    from pipeline.stages import ingest as stage

    return named_for(stage.ingest(settings, input_uri, denoise), input_name(input_uri))
