"""The audiobook inbox: manuscripts dropped in a folder or an S3 prefix, each new content started once.

`scan` lists the inbox (one level, manuscripts only) and hashes each file's content; `claim` records in the
project's object store (`inbox/claims/<sha256>.json`) that a content hash has been started, and refuses a
second claim for the same hash, whatever the file is called; `pending` does both and gives the `audiobook`
DAG runs to start. An edited manuscript has another hash and is started again (its chunks being
content-addressed, only what changed is narrated again); a renamed or re-uploaded copy is not.

Claims are atomic on a local store: the claim is written completely to a temporary file and linked to its
name, which fails when the name exists (no two claimers both win, and a crash leaves no empty claim). S3 has
no such primitive here (the store writes with plain PUTs), so there a claim is a check then a put; the
`audiobook_inbox` DAG runs with max_active_runs=1, which serialises claimers, and each run it starts has an
id made from the content hash, so Airflow itself refuses a second run of the same content.

The claim is made before the run is started: should starting it fail for good (the `start_book` task failed
after its retries), delete `inbox/claims/<sha256>.json` and the next inbox run starts it. To narrate the same
content again, start `audiobook` by hand (or delete its claim and its earlier DAG run).
No Airflow here: the DAG (dags/audiobook_inbox.py) calls `pending`.
"""

from __future__ import annotations

import errno
import hashlib
import json
import logging
import os
import secrets
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

from pipeline.core.config import Settings
from pipeline.core.errors import InputError
from pipeline.core.stagerun import Contract, digest, open_settings_store
from pipeline.core.storage import LocalStore, clean_key, open_store, put_json
from pipeline.products.audiobook.contracts import BookRequest

log = logging.getLogger(__name__)

MANUSCRIPT_SUFFIXES = (".epub", ".md", ".markdown", ".txt")
# Names that are files still being written or an editor's, never manuscripts, whatever their suffix.
_TEMP_MARKERS = (".part", ".partial", ".tmp", ".crdownload", ".download", ".swp")
CLAIMS = "inbox/claims"
_LOCATION_HINT = "set the inbox (DUBLINE_AUDIOBOOK_INBOX or the DAG's `inbox` param) to a folder, file:// or s3:// URI"


class InboxItem(Contract):
    """One manuscript found in the inbox."""

    uri: str  # file:// or s3://
    name: str  # its file name
    sha256: str  # of its content
    size: int  # bytes


def is_manuscript(name: str) -> bool:
    """A manuscript's name: a known suffix (any case), not a dotfile, a temporary or an editor's lock file."""
    lower = name.lower()
    if not lower or lower.startswith((".", "~")) or lower.endswith(_TEMP_MARKERS) or lower.endswith("~"):
        return False
    return lower.endswith(MANUSCRIPT_SUFFIXES)


def run_id(item: InboxItem) -> str:
    """The `audiobook` DAG run id for this content: the same content never gets two runs."""
    return f"inbox__{item.sha256[:16]}"


def _sha256_file(path: Path) -> str:
    with open(path, "rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()


def scan(settings: Settings, location: str, *, settle_s: float = 0.0) -> list[InboxItem]:
    """The manuscripts directly in `location` (a folder, file:// or s3:// URI), sorted by name, each hashed.
    A local file modified less than `settle_s` seconds ago is left for the next scan (it may still be being
    copied in; an S3 object appears only when its upload is complete)."""
    loc = location.strip()
    if not loc:
        raise InputError("no audiobook inbox given", _LOCATION_HINT)
    parsed = urlparse(loc)
    if parsed.scheme in ("", "file"):
        folder = Path(unquote(parsed.path) if parsed.scheme else loc).expanduser()
        return _scan_folder(folder, loc, settle_s)
    if parsed.scheme == "s3":
        return _scan_s3(settings, loc)
    raise InputError(f"audiobook inbox {loc!r} is not a folder, file:// or s3:// URI", _LOCATION_HINT)


def _scan_folder(folder: Path, location: str, settle_s: float) -> list[InboxItem]:
    if not folder.is_dir():
        what = "is not a folder" if folder.exists() else "does not exist"
        raise InputError(f"audiobook inbox {location} {what}", f"create it, or {_LOCATION_HINT}")
    try:
        entries = sorted(folder.iterdir())
    except OSError as e:
        raise InputError(
            f"audiobook inbox {location} cannot be read ({e.strerror or e})",
            "give the user Airflow runs as read access to it",
        ) from None
    newest = time.time() - settle_s
    items: list[InboxItem] = []
    for path in entries:
        if not is_manuscript(path.name):
            continue
        try:
            if not path.is_file():
                continue
            stat = path.stat()
            if settle_s > 0 and stat.st_mtime > newest:
                log.info("inbox: %s was modified in the last %.0f s; left for the next scan", path, settle_s)
                continue
            sha = _sha256_file(path)
        except FileNotFoundError:  # moved away since the listing
            continue
        except OSError as e:  # one unreadable file does not hold up the others; it is tried again next scan
            log.warning("inbox: skipping %s, which cannot be read (%s)", path, e.strerror or e)
            continue
        items.append(InboxItem(uri=path.resolve().as_uri(), name=path.name, sha256=sha, size=stat.st_size))
    return items


def _scan_s3(settings: Settings, location: str) -> list[InboxItem]:
    store = open_store(location, settings)
    cache = settings.data_dir / "work" / "inbox" / digest(store.url)[:16]
    items: list[InboxItem] = []
    for key in store.list(""):
        if "/" in key or not is_manuscript(key):  # one level only; "folder/" markers and subfolders skipped
            continue
        path = store.local_path(key, cache)  # downloaded once, again only when the object changes (ETag)
        items.append(InboxItem(uri=store.uri(key), name=key, sha256=_sha256_file(path), size=path.stat().st_size))
    return items


def claim(settings: Settings, item: InboxItem, run_conf: dict[str, Any]) -> bool:
    """Record that `item`'s content has been started with `run_conf`; False when it already was (under this
    or any other name)."""
    store = open_settings_store(settings)
    key = f"{CLAIMS}/{item.sha256}.json"
    doc = {
        "item": item.to_xcom(),
        "claimed_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "run_id": run_id(item),
        "conf": run_conf,
    }
    if isinstance(store, LocalStore):
        return _claim_local(store.root / clean_key(key), doc)
    # S3: check, then put (see the module's docstring: the inbox DAG serialises its runs, and run ids dedupe)
    if store.exists(key):
        return False
    put_json(store, key, doc)
    return True


def _claim_local(dest: Path, doc: dict[str, Any]) -> bool:
    """Write the claim completely under a temporary name, then link it to `dest`: the link fails when `dest`
    exists, so of two claimers exactly one wins, and `dest` is never seen half-written."""
    if dest.exists():
        return False
    data = json.dumps(doc, indent=1, sort_keys=True, default=str).encode()
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_name(f".{dest.name}.{secrets.token_hex(6)}.part")  # the store's listings skip .part
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        try:
            os.link(tmp, dest)
            return True
        except FileExistsError:
            return False
        except OSError as e:
            if e.errno not in (errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EXDEV):
                raise
    finally:
        tmp.unlink(missing_ok=True)
    # a filesystem without hard links: create the name exclusively, then fill it
    try:
        fd = os.open(dest, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    except FileExistsError:
        return False
    with os.fdopen(fd, "wb") as out:
        out.write(data)
    return True


def book_conf(item: InboxItem, output: str, defaults: dict[str, Any]) -> dict[str, Any]:
    """The `audiobook` DAG run conf for `item`: `defaults` (voice, style, language, ...) with the book and its
    output folder (`output`/<the manuscript's stem>, or the store when `output` is empty); validated."""
    out = output.strip()
    if out:
        out = f"{out.rstrip('/')}/{Path(item.name).stem}"
    params = {k: v for k, v in defaults.items() if v is not None}
    params.update(book=item.uri, output=out)
    return BookRequest.from_params(params).to_xcom()


def pending(
    settings: Settings, location: str, output: str, defaults: dict[str, Any], *, settle_s: float = 0.0
) -> list[dict[str, Any]]:
    """The `audiobook` runs to start for the inbox's new content, each claimed: one dict per manuscript,
    {"trigger_run_id": inbox__<sha256[:16]>, "conf": the BookRequest params}, ready for
    TriggerDagRunOperator.expand_kwargs. A manuscript whose content was claimed before is left out."""
    starts: list[dict[str, Any]] = []
    found = scan(settings, location, settle_s=settle_s)
    confs = [book_conf(item, output, defaults) for item in found]  # bad defaults fail before anything is claimed
    for item, conf in zip(found, confs, strict=True):
        if claim(settings, item, conf):
            log.info("inbox: starting %s (%s) as %s", item.name, item.sha256[:16], run_id(item))
            starts.append({"trigger_run_id": run_id(item), "conf": conf})
        else:
            log.info("inbox: %s (%s) was started before", item.name, item.sha256[:16])
    return starts
