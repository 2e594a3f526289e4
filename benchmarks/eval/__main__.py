"""Run the evaluations: `python -m benchmarks.eval` (all) or `python -m benchmarks.eval mix translation`."""

from __future__ import annotations

import importlib
import sys
import time

from benchmarks.eval import EVALUATIONS


def main(argv: list[str]) -> int:
    names = argv or EVALUATIONS
    unknown = [n for n in names if n not in EVALUATIONS]
    if unknown:
        print(f"unknown evaluation(s): {', '.join(unknown)}; choose from {', '.join(EVALUATIONS)}", file=sys.stderr)
        return 2
    failed = 0
    for name in names:
        try:
            module = importlib.import_module(f"benchmarks.eval.{name}")
        except ModuleNotFoundError as e:
            if e.name == f"benchmarks.eval.{name}":
                print(f"== {name}: not available in this checkout")
                continue
            raise
        print(f"\n== {name}", flush=True)
        t0 = time.perf_counter()
        rc = module.main([])
        print(f"== {name} done in {time.perf_counter() - t0:.0f} s (exit {rc})", flush=True)
        failed += rc != 0
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
