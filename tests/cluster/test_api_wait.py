"""Api.wait_runs rides out an api-server that does not answer for a while (restarting, its database away)."""

from __future__ import annotations

import urllib.error
from typing import Any

from tools.cluster import Api


class FlakyApi(Api):
    def __init__(self, answers: list[Any]) -> None:
        super().__init__("http://127.0.0.1:9", "admin", "x")
        self.answers = answers

    def run(self, dag_id: str, run_id: str) -> dict[str, Any]:
        answer = self.answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return {"state": answer}


def test_wait_runs_asks_again_when_the_api_server_does_not_answer() -> None:
    api = FlakyApi([urllib.error.URLError("refused"), ConnectionResetError(), "running", "success"])
    ended = api.wait_runs("dub_video", {"a": "run-a"}, timeout=10, poll_s=0.01)
    assert set(ended) == {"a"}
    assert api.answers == []


def test_wait_runs_gives_up_at_its_timeout() -> None:
    api = FlakyApi([urllib.error.URLError("refused")] * 1000)
    assert api.wait_runs("dub_video", {"a": "run-a"}, timeout=0.2, poll_s=0.01) == {}
