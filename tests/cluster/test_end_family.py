"""tools.cluster.end_family: what `cluster down` and the standalone harness use to end a service and all it
started."""

from __future__ import annotations

import subprocess
import sys
import time

import psutil

from tools.cluster import end_family


def test_a_group_and_its_stray_descendant_are_ended() -> None:
    # a leader in a group of its own, with a child that leaves the group (as a daemonising service does)
    code = (
        "import subprocess, sys, time; "
        "subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(600)'], start_new_session=True); "
        "time.sleep(600)"
    )
    leader = subprocess.Popen([sys.executable, "-c", code], start_new_session=True)
    proc = psutil.Process(leader.pid)
    deadline = time.monotonic() + 20
    while not proc.children(recursive=True) and time.monotonic() < deadline:
        time.sleep(0.1)
    family = [proc, *proc.children(recursive=True)]
    assert len(family) == 2
    end_family([leader.pid], family, grace_s=5.0)
    leader.poll()
    assert not any(p.is_running() and p.status() != psutil.STATUS_ZOMBIE for p in family)
