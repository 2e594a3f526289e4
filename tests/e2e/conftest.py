from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def sample_video(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The project's own ~30 s sample: English narration (Piper) over a music bed, with a picture."""
    from pipeline.audio.sample import make_sample
    from pipeline.core.config import get_settings

    out = tmp_path_factory.mktemp("sample") / "talk.mp4"
    return make_sample(out, get_settings(), seconds=30.0)
