"""Consent recordings and voice references are denoised before they are checked (the words heard, the speaker
cosines), so a phone recording in a noisy room is judged on the voice, not on the room. The files themselves
are kept as given (the evidence is what the person recorded); the checks run on cleaned copies, and what the
denoiser measured and did is recorded beside the check's figures, so no recording is ever cleaned silently.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from models.registry import sha256_file
from pipeline.core.config import Settings


@contextmanager
def cleaned_for_checks(settings: Settings, paths: list[Path]) -> Iterator[tuple[list[Path], list[dict[str, Any]]]]:
    """Cleaned copies of `paths` (in the same order) and, per file, what was done: its name and sha256, the
    denoiser and the SNR before and after. With `consent_denoise` off: the files themselves and no figures.
    The copies are deleted on exit."""
    if not settings.consent_denoise or not paths:
        yield list(paths), []
        return
    from pipeline.audio.denoise import clean_audio

    with tempfile.TemporaryDirectory(prefix="dubline-clean-") as tmp:
        out: list[Path] = []
        figures: list[dict[str, Any]] = []
        for n, p in enumerate(paths):
            done = clean_audio(Path(p), Path(tmp) / f"{n:03d}_{Path(p).stem}.wav", settings.denoise_engine)
            out.append(done.path)
            figures.append({"file": Path(p).name, "sha256": sha256_file(Path(p)), **done.as_dict()})
        yield out, figures
