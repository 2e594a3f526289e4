"""Delivering a job's files: every product's publish copies its outputs from the store to the output location
(a local folder, or a store prefix such as s3://bucket/out) under their delivered names, each written whole
(a temporary name, then renamed; on S3 an object appears only once complete), and the report last: a report
present means the whole set is there."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from models.files import atomic_path, atomic_write_bytes
from pipeline.core.config import Settings
from pipeline.core.stagerun import open_settings_store
from pipeline.core.storage import copy_object, is_local_location, key_of, local_dir, open_store

# delivered files are readable by the other accounts of a studio's pipeline whatever the umask (the ledger
# and the keys are the private ones: 0600)
DELIVERED_MODE = 0o644


@dataclass(frozen=True)
class Delivered:
    location: str  # the folder, or the store location
    files: dict[str, str]  # delivered name -> where it is now
    report: str  # where the report is
    links: dict[str, str] | None  # presigned links (a store location), or None (a folder)


def deliver(
    settings: Settings,
    names: dict[str, str],
    location: str,
    report_name: str,
    make_report: Callable[[dict[str, str]], dict[str, Any]],
) -> Delivered:
    """Copy each `names` entry (delivered name -> store URI) to `location`, then write the report that
    `make_report` builds from where every file will be ({name: path or URI, "report": ...})."""
    store = open_settings_store(settings)
    scratch = settings.data_dir / "work" / "publish"
    if is_local_location(location):
        folder = local_dir(location)
        folder.mkdir(parents=True, exist_ok=True)
        files = {n: str(folder / n) for n in names}
        report = make_report({**files, "report": str(folder / report_name)})
        for name, uri in names.items():
            src = store.local_path(key_of(store, uri), scratch)
            with atomic_path(folder / name, exact_mode=DELIVERED_MODE) as tmp:
                shutil.copyfile(src, tmp)
        atomic_write_bytes(folder / report_name, json.dumps(report, indent=1).encode(), exact_mode=DELIVERED_MODE)
        return Delivered(str(folder), files, str(folder / report_name), None)
    target = open_store(location, settings)
    files = {n: target.uri(n) for n in names}
    report = make_report({**files, "report": target.uri(report_name)})
    for name, uri in names.items():
        copy_object(store, key_of(store, uri), target, name, scratch)
    target.put_bytes(report_name, json.dumps(report, indent=1).encode())
    # delivery links: presigned (S3, expiring after DUBLINE_S3_PRESIGN_EXPIRY_S) or file:// URIs
    links = {n: target.presign(n) for n in [*names, report_name]}
    return Delivered(location, files, target.uri(report_name), links)
