"""`make bench-storage`: upload and download throughput of a large file to SeaweedFS, through dubline's
S3Store against plain boto3 `upload_file` / `download_file` on the same file and server.

Starts a throwaway SeaweedFS on 127.0.0.1 (tools/seaweed.py), writes a random file (500 MB
by default), then for each of --runs rounds times, in alternating order: S3Store.put_file and
S3Store.local_path (dubline's settings: multipart threshold, part size, concurrency, retries) and
boto3's client.upload_file and client.download_file with boto3's default TransferConfig. Every download
is checked against the source's sha256. Prints MB/s (1 MB = 10^6 bytes) per run and the median.

    python -m benchmarks.bench_storage [--size-mb 500] [--runs 3] [--dir /tmp] [--json out.json]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pipeline.core.config import Settings
from pipeline.core.s3store import S3Options, S3Store, make_client
from tools import seaweed


def _random_file(path: Path, size: int) -> str:
    h = hashlib.sha256()
    block = 8 << 20
    with open(path, "wb") as f:
        left = size
        while left:
            chunk = os.urandom(min(block, left))
            f.write(chunk)
            h.update(chunk)
            left -= len(chunk)
    return h.hexdigest()


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(8 << 20):
            h.update(block)
    return h.hexdigest()


def _timed(fn: Callable[[], Any]) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def run(size_mb: int, runs: int, workdir: Path) -> dict[str, Any]:
    size = size_mb * 1_000_000
    src = workdir / "payload.bin"
    print(f"writing {size_mb} MB of random data to {src} ...", flush=True)
    digest = _random_file(src, size)
    results: dict[str, list[float]] = {
        k: [] for k in ("dubline upload", "boto3 upload", "dubline download", "boto3 download")
    }
    with seaweed.running(workdir / "seaweed", bucket="bench") as server:
        settings = Settings(
            s3_endpoint=server.endpoint,
            s3_region="us-east-1",
            s3_access_key=server.access_key,
            s3_secret_key=server.secret_key,  # type: ignore[arg-type]
        )
        opts = S3Options.from_settings(settings)
        store = S3Store("bench", "dubline", options=opts, client=make_client(opts))
        plain = server.client()  # boto3 defaults: 8 MB threshold and parts, 10 threads
        print(
            f"SeaweedFS at {server.endpoint}; dubline: multipart from {opts.multipart_threshold_mb} MB, "
            f"{opts.multipart_chunk_mb} MB parts, {opts.max_concurrency} threads; boto3: its defaults",
            flush=True,
        )

        def dubline_up(i: int) -> float:
            return _timed(lambda: store.put_file(f"run{i}/payload.bin", src))

        def boto_up(i: int) -> float:
            return _timed(lambda: plain.upload_file(str(src), "bench", f"plain/run{i}/payload.bin"))

        def dubline_down(i: int) -> float:
            cache = workdir / f"cache{i}"
            t = _timed(lambda: store.local_path(f"run{i}/payload.bin", cache))
            got = cache / f"run{i}" / "payload.bin"
            assert _sha256(got) == digest, "dubline download differs from the source"
            shutil.rmtree(cache)
            return t

        def boto_down(i: int) -> float:
            dest = workdir / f"plain{i}.bin"
            t = _timed(lambda: plain.download_file("bench", f"plain/run{i}/payload.bin", str(dest)))
            assert _sha256(dest) == digest, "boto3 download differs from the source"
            dest.unlink()
            return t

        for i in range(runs):
            order = [("dubline", dubline_up, dubline_down), ("boto3", boto_up, boto_down)]
            if i % 2:
                order.reverse()
            for name, up, down in order:
                results[f"{name} upload"].append(up(i))
                results[f"{name} download"].append(down(i))
            line = ", ".join(f"{k} {size / 1e6 / v[-1]:.0f} MB/s" for k, v in results.items())
            print(f"run {i + 1}/{runs}: {line}", flush=True)
            store.delete_prefix(f"run{i}")
            plain.delete_object(Bucket="bench", Key=f"plain/run{i}/payload.bin")
    summary = {
        k: {"median_mb_s": round(size / 1e6 / statistics.median(v), 1), "runs_s": [round(x, 2) for x in v]}
        for k, v in results.items()
    }
    return {"size_mb": size_mb, "runs": runs, "cpus": os.cpu_count(), "results": summary}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--size-mb", type=int, default=500)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--dir", type=Path, default=None, help="work folder (default: a temporary one)")
    ap.add_argument("--json", type=Path, default=None, help="also write the figures here")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="dubline-bench-s3-", dir=args.dir) as tmp:
        report = run(args.size_mb, args.runs, Path(tmp))
    print(f"\n{args.size_mb} MB file, SeaweedFS on 127.0.0.1, {report['cpus']} CPUs, median of {args.runs} runs:")
    for k, v in report["results"].items():
        print(f"  {k:18s} {v['median_mb_s']:8.1f} MB/s   (runs: {', '.join(f'{s:.2f} s' for s in v['runs_s'])})")
    if args.json:
        args.json.write_text(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
