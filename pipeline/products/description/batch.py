"""A batch of described videos: a folder or S3 prefix of videos and their description scripts, paired by base
name (`lecture1.mp4` + `lecture1.vtt`), one `describe_video` run per pair (the `describe_batch` DAG maps them).

A video without a script, or a script without a video, is reported and left out (so are dubline's own
outputs: `<stem>.draft.dapt.xml` is a draft to edit and rename `<stem>.dapt.xml`); a base name with two scripts
(`a.vtt` and `a.csv`) is refused for that pair (say which). Each run's id comes from the pair's names, the
video's size, the script's content (sha256) and the batch's settings, so starting the same batch twice does
not start the same work twice; an edited script is a new run. No Airflow here: the DAG
(dags/describe_batch.py) calls `pairs`.
"""

from __future__ import annotations

import logging
import re
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

from pipeline.core.config import Settings
from pipeline.core.errors import InputError
from pipeline.core.stagerun import digest
from pipeline.core.storage import open_store
from pipeline.products.description.contracts import DescribeRequest

log = logging.getLogger(__name__)

VIDEO_SUFFIXES = (".mp4", ".mkv", ".mov", ".webm", ".avi", ".m4v")
SCRIPT_SUFFIXES = (".vtt", ".xml", ".ttml", ".dapt", ".csv", ".json")
# what dubline writes itself (a draft to edit, the as-placed scripts): never taken for a describer's script
OUR_OUTPUTS = (".draft.dapt.xml", ".description.vtt", ".description.dapt.xml")
_HINT = "give a folder, file:// or s3:// prefix holding videos and their scripts (same base name)"


def _listing(settings: Settings, location: str) -> list[tuple[str, str, int]]:
    """(name, uri, size) of the files directly in `location`."""
    parsed = urlparse(location)
    if parsed.scheme in ("", "file"):
        folder = Path(unquote(parsed.path) if parsed.scheme else location).expanduser()
        if not folder.is_dir():
            raise InputError(
                f"batch folder {location} {'is not a folder' if folder.exists() else 'does not exist'}", _HINT
            )
        return [(p.name, str(p.resolve()), p.stat().st_size) for p in sorted(folder.iterdir()) if p.is_file()]
    if parsed.scheme == "s3":
        store = open_store(location, settings)
        out = []
        for key in store.list(""):
            if "/" not in key:
                out.append((key, store.uri(key), 0))
        return out
    raise InputError(f"batch location {location!r} is not a folder, file:// or s3:// URI", _HINT)


def _content_sha(settings: Settings, location: str, name: str, uri: str) -> str:
    """sha256 of a script's bytes (scripts are small; a video is named by its name and size)."""
    import hashlib

    if urlparse(location).scheme == "s3":
        data = open_store(location, settings).get_bytes(name)
    else:
        data = Path(uri).read_bytes()
    return hashlib.sha256(data).hexdigest()


def script_stem(name: str) -> str:
    """The video name a script belongs to: `lecture1.vtt`, `lecture1.dapt.xml`, `lecture1.ttml.xml` -> lecture1."""
    stem = Path(name).stem
    for inner in (".dapt", ".ttml"):
        if stem.lower().endswith(inner):
            return stem[: -len(inner)]
    return stem


def _visible(name: str) -> bool:
    return not name.startswith((".", "~")) and not name.endswith("~")


def pairs(settings: Settings, location: str, output: str, defaults: dict[str, Any]) -> list[dict[str, Any]]:
    """The `describe_video` runs to start: [{"trigger_run_id", "conf"}], one per video with a script. Each run's
    output is `<output>/<video stem>` (empty output: the store). The defaults are checked once, here."""
    loc = location.strip()
    if not loc:
        raise InputError("no batch folder given", _HINT)
    files = [f for f in _listing(settings, loc) if _visible(f[0])]
    videos = {Path(n).stem: (n, u, s) for n, u, s in files if n.lower().endswith(VIDEO_SUFFIXES)}
    scripts: dict[str, list[tuple[str, str, int]]] = {}
    for n, u, s in files:
        if n.lower().endswith(SCRIPT_SUFFIXES) and not n.lower().endswith(OUR_OUTPUTS):
            scripts.setdefault(script_stem(n), []).append((n, u, s))
    out: list[dict[str, Any]] = []
    for stem, (vname, vuri, vsize) in sorted(videos.items()):
        found = scripts.get(stem, [])
        if not found:
            log.warning("batch: %s has no description script (%s.vtt, .xml, .csv or .json); left out", vname, stem)
            continue
        if len(found) > 1:
            raise InputError(
                f"batch: {vname} has {len(found)} scripts ({', '.join(n for n, _, _ in found)})",
                "keep one script per video (same base name)",
            )
        sname, suri, ssize = found[0]
        where = f"{output.rstrip('/')}/{stem}" if output.strip() else ""
        conf = DescribeRequest.from_params({**defaults, "video": vuri, "script": suri, "output": where}).to_xcom()
        script_sha = _content_sha(settings, loc, sname, suri)  # an edited script is new work, even at one size
        ident = digest({"video": [vname, vsize], "script": [sname, ssize, script_sha], "conf": conf})[:16]
        safe = re.sub(r"[^A-Za-z0-9_.~:+-]", "_", stem)[:40]  # Airflow's run id alphabet
        out.append({"trigger_run_id": f"batch__{safe}__{ident}", "conf": conf})
    for stem, found in sorted(scripts.items()):
        if stem not in videos:
            log.warning("batch: %s has no video of the same name; left out", found[0][0])
    if not out:
        raise InputError(f"batch folder {loc} has no video with a description script", _HINT)
    return out
