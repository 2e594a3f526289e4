"""The LLM translator's cache, kept in the object store so that it outlives worker processes and machines.

The LLM line translator knows only the TranslationCache get/put interface (pipeline.text.translation.base);
this backs it with the job's object store (`mt-cache/<2 hex>/<sha256>.json`, one small JSON document per
line rendering). Reading a damaged or
unreachable entry is a miss, never a failure: the line is translated again.
"""

from __future__ import annotations

import logging

from pipeline.core.errors import DublineError
from pipeline.core.storage import ObjectStore

log = logging.getLogger(__name__)

PREFIX = "mt-cache"


class StoreCache:
    def __init__(self, store: ObjectStore, prefix: str = PREFIX) -> None:
        self.store = store
        self.prefix = prefix.strip("/")

    def _key(self, key: str) -> str:
        return f"{self.prefix}/{key[:2]}/{key}.json"

    def get(self, key: str) -> str | None:
        k = self._key(key)
        try:
            if not self.store.exists(k):
                return None
            return self.store.get_bytes(k).decode("utf-8")
        except (DublineError, OSError, UnicodeDecodeError) as e:
            log.warning("translation cache: cannot read %s (%s); translating again", k, e)
            return None

    def put(self, key: str, value: str) -> None:
        k = self._key(key)
        try:
            self.store.put_bytes(k, value.encode("utf-8"))
        except (DublineError, OSError) as e:
            log.warning("translation cache: cannot write %s (%s)", k, e)
