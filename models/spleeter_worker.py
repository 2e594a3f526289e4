"""Runs Spleeter 2-stem separation in its own virtual environment (tensorflow-cpu 2.12, numpy<2).

Standalone on purpose: imports only the standard library, numpy and spleeter, never dubline. Invoked by
models/separation.py as `<spleeter venv>/bin/python spleeter_worker.py IN.wav OUT_DIR [--model-dir D]`;
IN.wav is 44.1 kHz 16-bit stereo; writes OUT_DIR/vocals.npy and OUT_DIR/accompaniment.npy (float32,
(samples, 2)) and prints one JSON line with the timings. A new Separator per file: reusing one returns
the previous file's result.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import wave

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


def _read(path: str):  # type: ignore[no-untyped-def]
    import numpy as np

    with wave.open(path, "rb") as w:
        if w.getsampwidth() != 2 or w.getnchannels() != 2:
            raise SystemExit(f"{path}: expected 16-bit stereo PCM")
        rate = w.getframerate()
        data = np.frombuffer(w.readframes(w.getnframes()), dtype="<i2").reshape(-1, 2)
    return data.astype("float32") / 32768.0, rate


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("input")
    ap.add_argument("out_dir")
    ap.add_argument("--model-dir", default="")
    ap.add_argument("--chunk-s", type=float, default=300.0)
    args = ap.parse_args()
    import numpy as np

    t0 = time.perf_counter()
    waveform, rate = _read(args.input)
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
        # long programmes go through in chunks (memory), each with a new Separator (reuse returns stale
        # results), overlapping by a second and cross-faded
        chunk, overlap = int(args.chunk_s * rate), rate
        out = {k: np.zeros_like(waveform) for k in ("vocals", "accompaniment")}
        weight = np.zeros((len(waveform), 1), dtype="float32")
        start, loads = 0, 0
        while start < len(waveform):
            end = min(len(waveform), start + chunk)
            separator = sp.Separator(multiprocess=False)
            loads += 1
            part = separator.separate(waveform[start:end])
            n = end - start
            ramp = np.ones((n, 1), dtype="float32")
            if start > 0:
                ramp[: min(overlap, n), 0] = np.linspace(0, 1, min(overlap, n), dtype="float32")
            if end < len(waveform):
                ramp[-overlap:, 0] = np.minimum(ramp[-overlap:, 0], np.linspace(1, 0, overlap, dtype="float32"))
            for k in out:
                out[k][start:end] += np.asarray(part[k][:n], dtype="float32") * ramp
            weight[start:end] += ramp
            if end == len(waveform):
                break
            start = end - overlap
        result = {k: v / np.maximum(weight, 1e-6) for k, v in out.items()}
    t2 = time.perf_counter()
    os.makedirs(args.out_dir, exist_ok=True)
    for name in ("vocals", "accompaniment"):
        np.save(os.path.join(args.out_dir, f"{name}.npy"), np.asarray(result[name], dtype="float32"))
    print(json.dumps({"rate": rate, "samples": len(waveform), "read_s": round(t1 - t0, 3),
                      "separate_s": round(t2 - t1, 3), "chunks": loads}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
