"""Run one service and start it again whenever it exits: what `restart: unless-stopped` does in
docker/compose.yaml, for the cluster that tools/cluster.py runs as plain processes.

    python tools/supervise.py --name scheduler -- python -m airflow scheduler

Airflow's scheduler, dag-processor and triggerer exit when their database goes away (a PostgreSQL restart);
in a deployment the container runtime or systemd starts them again, and here this does. The wait before a
restart doubles from 1 s up to --max-wait-s while the service keeps dying within a minute of its start, and
goes back to 1 s once it has run longer. SIGTERM or SIGINT stops the service (forwarded to it) and then this,
without a restart. Standard library only: it runs before anything else is importable.
"""

from __future__ import annotations

import argparse
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime
from types import FrameType

STABLE_S = 60.0  # a service that ran this long before exiting is restarted after the shortest wait


def _say(name: str, text: str) -> None:
    stamp = datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    print(f"{stamp} [supervise] {name}: {text}", file=sys.stderr, flush=True)


def supervise(name: str, argv: list[str], max_wait_s: float = 10.0) -> int:
    stopping = False
    child: subprocess.Popen[bytes] | None = None

    def stop(signum: int, _frame: FrameType | None) -> None:
        nonlocal stopping
        stopping = True
        if child is not None and child.poll() is None:
            child.send_signal(signum)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    wait_s, code = 1.0, 0
    while not stopping:
        started = time.monotonic()
        child = subprocess.Popen(argv)
        code = child.wait()
        if stopping:
            break
        ran = time.monotonic() - started
        wait_s = 1.0 if ran >= STABLE_S else min(max_wait_s, wait_s * 2)
        _say(name, f"exited with {code} after {ran:.0f} s; starting it again in {wait_s:.0f} s")
        deadline = time.monotonic() + wait_s
        while not stopping and time.monotonic() < deadline:
            time.sleep(0.2)
    return code if code >= 0 else 128 - code


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="supervise", description=__doc__.split("\n\n")[0])
    ap.add_argument("--name", required=True, help="the service's name, for the log")
    ap.add_argument("--max-wait-s", type=float, default=10.0, help="the longest wait before a restart")
    ap.add_argument("command", nargs=argparse.REMAINDER, help="-- then the service's command line")
    args = ap.parse_args(argv)
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not command:
        ap.error("give the service's command after --")
    return supervise(args.name, command, args.max_wait_s)


if __name__ == "__main__":
    sys.exit(main())
