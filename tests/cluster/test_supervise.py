"""tools/supervise.py: a service that exits is started again; SIGTERM stops it and the supervisor, with no
restart."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from tools.cluster_env import REPO

SUPERVISE = [sys.executable, str(REPO / "tools" / "supervise.py")]


def _wait_for(probe: Callable[[], object], timeout: float = 20.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if probe():
            return True
        time.sleep(0.1)
    return False


def test_a_service_that_exits_is_started_again(tmp_path: Path) -> None:
    starts = tmp_path / "starts"
    code = f"open({str(starts)!r}, 'a').write('x'); raise SystemExit(3)"
    proc = subprocess.Popen(
        [*SUPERVISE, "--name", "flaky", "--max-wait-s", "1", "--", sys.executable, "-c", code],
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert _wait_for(lambda: starts.is_file() and len(starts.read_text()) >= 3), "not started again"
    finally:
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=20)
    assert "[supervise] flaky: exited with 3" in err
    assert "starting it again" in err


def test_sigterm_stops_the_service_and_the_supervisor_without_a_restart(tmp_path: Path) -> None:
    started = tmp_path / "started"
    code = f"import time; open({str(started)!r}, 'a').write('x'); time.sleep(600)"
    proc = subprocess.Popen(
        [*SUPERVISE, "--name", "steady", "--", sys.executable, "-c", code], stderr=subprocess.PIPE, text=True
    )
    assert _wait_for(started.is_file), "the service did not start"
    time.sleep(0.3)  # the signal handlers are set before the service starts; give the child its time
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=20)
    assert proc.returncode != 0  # the service died of SIGTERM: the supervisor says so in its exit status
    assert started.read_text() == "x", "started again after SIGTERM"
    assert "starting it again" not in err


def test_no_command_is_a_usage_error() -> None:
    done = subprocess.run([*SUPERVISE, "--name", "x"], capture_output=True, text=True, timeout=30)
    assert done.returncode == 2
    assert "give the service's command after --" in done.stderr
