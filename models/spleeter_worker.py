"""Runs Spleeter 2-stem separation in its own virtual environment (tensorflow-cpu 2.12, numpy<2).

Standalone on purpose: imports only the standard library, numpy and spleeter, never dubline. Invoked by
models/separation.py as `<spleeter venv>/bin/python spleeter_worker.py IN.wav OUT_DIR [--model-dir D]`;
IN.wav is 44.1 kHz 16-bit stereo; writes OUT_DIR/vocals.npy and OUT_DIR/accompaniment.npy (float32,
(samples, 2)) and prints one JSON line with the timings.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import wave

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


class _Feed:
    """Spleeter's data generator, fed one chunk at a time: its own yields the current chunk again and again, so
    the estimator's prefetch hands a reused Separator the previous chunk (the "stale result"). This one yields
    each chunk once, waiting for the next; None ends it. One Separator (one graph, one checkpoint restore) then
    serves every chunk."""

    def __init__(self) -> None:
        import queue

        self._queue: queue.Queue = queue.Queue()  # type: ignore[type-arg]

    def update_data(self, data) -> None:  # type: ignore[no-untyped-def]
        self._queue.put(data)

    def close(self) -> None:
        self._queue.put(None)

    def __call__(self):  # type: ignore[no-untyped-def]
        while True:
            item = self._queue.get()
            if item is None:
                return
            yield item


def _open(path: str):  # type: ignore[no-untyped-def]
    w = wave.open(path, "rb")
    if w.getsampwidth() != 2 or w.getnchannels() != 2:
        raise SystemExit(f"{path}: expected 16-bit stereo PCM")
    return w


def _frames(w, start: int, n: int):  # type: ignore[no-untyped-def]
    import numpy as np

    w.setpos(start)
    return np.frombuffer(w.readframes(n), dtype="<i2").reshape(-1, 2).astype("float32") / 32768.0


def _chunk_length(total: int, longest: int, overlap: int) -> int:
    """The length of equal chunks, at most `longest`, that cover `total` samples overlapping by `overlap`: a
    short last chunk separates badly (little context), so the programme is split evenly."""
    if total <= longest:
        return max(total, 1)
    count = -(-(total - overlap) // (longest - overlap))
    return -(-(total + (count - 1) * overlap) // count)


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("input")
    ap.add_argument("out_dir")
    ap.add_argument("--model-dir", default="")
    ap.add_argument("--chunk-s", type=float, default=12.0)
    args = ap.parse_args()
    import numpy as np

    t0 = time.perf_counter()
    w = _open(args.input)
    rate, total = w.getframerate(), w.getnframes()
    import contextlib
    import io

    with contextlib.redirect_stdout(io.StringIO()):  # spleeter prints progress chatter
        from spleeter import separator as sp

        if args.model_dir:  # an operator's own 2-stem checkpoint folder instead of the packaged one
            original = sp.create_estimator

            def create_estimator(params, mwf):  # type: ignore[no-untyped-def]
                est = original(params, mwf)
                params["model_dir"] = args.model_dir
                return sp.tf.estimator.Estimator(model_fn=sp.model_fn, model_dir=args.model_dir, params=params,
                                                 config=est.config)

            sp.create_estimator = create_estimator
        t1 = time.perf_counter()
        # the programme goes through in chunks: the network's activations grow with the chunk (the worker peaks
        # at 1.86 GiB for a whole minute, 1.33 GiB for 30 s chunks, 0.92 GiB for 12 s), and Spleeter itself cuts
        # the spectrogram into 512-frame (11.9 s) segments, so 12 s chunks lose little context. They are read
        # from the WAV and the stems are written as they are made (plain writes, not a memory map, whose pages
        # would count as this process's memory), so neither is held whole; chunks overlap by a second and are
        # cross-faded (the two linear ramps sum to one).
        overlap = rate
        chunk = _chunk_length(total, max(int(args.chunk_s * rate), 3 * overlap), overlap)
        os.makedirs(args.out_dir, exist_ok=True)
        parts = {k: os.path.join(args.out_dir, f"{k}.npy.part") for k in ("vocals", "accompaniment")}
        out = {k: open(path, "wb") for k, path in parts.items()}  # noqa: SIM115 - closed below, each
        for f in out.values():
            np.lib.format.write_array_header_1_0(f, {"descr": "<f4", "fortran_order": False, "shape": (total, 2)})
        separator = sp.Separator(multiprocess=False)
        feed = _Feed()
        separator._data_generator = feed
        start, chunks = 0, 0
        carry: dict[str, np.ndarray] = {}  # each stem's faded-out last second, to add to the next chunk's start
        while start < total:
            end = min(total, start + chunk)
            n = end - start
            part = separator.separate(_frames(w, start, n))
            chunks += 1
            ramp = np.ones((n, 1), dtype="float32")
            if start > 0:
                ramp[:overlap, 0] = np.linspace(0, 1, overlap, dtype="float32")
            if end < total:
                ramp[-overlap:, 0] = np.linspace(1, 0, overlap, dtype="float32")
            for k, f in out.items():
                y = np.asarray(part[k][:n], dtype="float32") * ramp
                if start > 0:
                    y[:overlap] += carry[k]
                if end < total:
                    carry[k] = y[-overlap:].copy()
                    y = y[:-overlap]
                f.write(np.ascontiguousarray(y, dtype="<f4").tobytes())
            if end == total:
                break
            start = end - overlap
        feed.close()
        for k, f in out.items():
            f.close()
            os.replace(parts[k], os.path.join(args.out_dir, f"{k}.npy"))
        w.close()
    t2 = time.perf_counter()
    print(json.dumps({"rate": rate, "samples": total, "read_s": round(t1 - t0, 3),
                      "separate_s": round(t2 - t1, 3), "chunks": chunks}), flush=True)
    return 0


if __name__ == "__main__":
    try:
        code = main()
    except SystemExit as stop:  # a bad input, said on stderr
        print(stop, file=sys.stderr) if isinstance(stop.code, str) else None
        code = stop.code if isinstance(stop.code, int) else 2
    except BaseException:  # noqa: BLE001 - any failure: its traceback for the parent's error, then out
        import traceback

        traceback.print_exc()
        code = 1
    sys.stdout.flush()
    sys.stderr.flush()
    # the stems are written and renamed and the result printed: leave without the interpreter's shutdown, in
    # which TensorFlow's input threads can wait forever on the finished feed (seen once in a few runs)
    os._exit(code)
