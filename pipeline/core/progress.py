"""Progress events from stages to whoever listens (the CLI's display; structured logs otherwise)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

log = logging.getLogger("dubline")

Listener = Callable[[str, str, dict[str, Any]], None]
_listeners: list[Listener] = []


def subscribe(fn: Listener) -> Callable[[], None]:
    _listeners.append(fn)
    return lambda: _listeners.remove(fn) if fn in _listeners else None


def emit(stage: str, event: str, **info: Any) -> None:
    """event: 'start', 'step' (info: done, total), 'done', 'cached' or 'failed' (info: error)."""
    log.info("stage=%s event=%s %s", stage, event, " ".join(f"{k}={v}" for k, v in info.items()))
    for fn in list(_listeners):
        try:
            fn(stage, event, info)
        except Exception:  # noqa: BLE001 - a broken display must never fail a stage
            log.exception("progress listener failed")
