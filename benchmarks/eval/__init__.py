"""`make eval`: quality evaluations that print figures. Each module of this package listed in
EVALUATIONS has a `main(argv)`; `python -m benchmarks.eval [NAME ...]` runs them (all by default)."""

EVALUATIONS = [
    "translation", "mix", "watermark", "diarization", "cloning", "prosody", "qa", "audiobook", "description",
    "fairness", "denoise",
]
