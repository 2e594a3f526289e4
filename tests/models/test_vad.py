"""Silero VAD adapter: the packaged model is verified and finds speech; bad input and bad files are refused."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from models.base import EngineError, EngineUnavailable
from models.vad import SAMPLE_RATE, SileroVAD, packaged_model_path, speech_regions


def _require_silero() -> None:
    try:
        if not packaged_model_path().is_file():
            pytest.skip("silero-vad's model file is missing")
    except EngineUnavailable as e:
        pytest.skip(str(e))


def test_silence_and_tiny_input_have_no_speech() -> None:
    _require_silero()
    assert speech_regions(np.zeros(SAMPLE_RATE * 2, dtype=np.float32)) == []
    assert speech_regions(np.zeros(100, dtype=np.float32)) == []


def test_bad_input_is_refused() -> None:
    with pytest.raises(EngineError, match="mono"):
        speech_regions(np.zeros((2, SAMPLE_RATE), dtype=np.float32))
    with pytest.raises(EngineError, match="threshold"):
        speech_regions(np.zeros(SAMPLE_RATE, dtype=np.float32), threshold=1.5)


def test_synthetic_speech_is_found(espeak_wav: Path) -> None:
    _require_silero()
    from models.speaker import decode_audio

    samples = decode_audio(espeak_wav)
    pad = np.zeros(SAMPLE_RATE, dtype=np.float32)
    regions = speech_regions(np.concatenate([pad, samples, pad]))
    assert regions, "no speech found in espeak's 'one two three four five'"
    assert all(0 <= s < e for s, e in regions)
    assert all(a[1] <= b[0] for a, b in zip(regions, regions[1:], strict=False))  # ordered, disjoint
    assert regions[0][0] >= 0.8  # the leading second of silence is not speech
    assert regions[-1][1] <= 1.2 + len(samples) / SAMPLE_RATE
    speech = sum(e - s for s, e in regions)
    assert speech >= 0.6 * len(samples) / SAMPLE_RATE


def test_importing_silero_keeps_torchs_thread_count() -> None:
    _require_silero()
    torch = pytest.importorskip("torch")
    before = torch.get_num_threads()
    SileroVAD().speech_regions(np.zeros(SAMPLE_RATE, dtype=np.float32))
    assert torch.get_num_threads() == before


def test_a_file_with_the_wrong_hash_is_refused(tmp_path: Path) -> None:
    bad = tmp_path / "vad.onnx"
    bad.write_bytes(b"not a model")
    vad = SileroVAD(model_path=bad, sha256="0" * 64)
    with pytest.raises(EngineUnavailable, match="sha256"):
        vad.speech_regions(np.zeros(SAMPLE_RATE, dtype=np.float32))


def test_an_operators_unloadable_file_says_so(tmp_path: Path) -> None:
    _require_silero()
    bad = tmp_path / "mine.onnx"
    bad.write_bytes(b"not a model")
    with pytest.raises(EngineUnavailable, match="could not be loaded"):
        SileroVAD(model_path=bad).speech_regions(np.zeros(SAMPLE_RATE, dtype=np.float32))


def test_an_operators_model_file_is_a_path_change(tmp_path: Path) -> None:
    """The packaged file under another path, with its hash given, loads through the same code."""
    _require_silero()
    import shutil

    from models.vad import SILERO_ONNX_SHA256

    mine = tmp_path / "silero_vad.onnx"
    shutil.copy(packaged_model_path(), mine)
    vad = SileroVAD(model_path=mine, sha256=SILERO_ONNX_SHA256)
    assert vad.speech_regions(np.zeros(SAMPLE_RATE, dtype=np.float32)) == []
    assert vad.info.sha256 == SILERO_ONNX_SHA256


@pytest.mark.fixtures
def test_a_real_lecture_has_pauses(fixtures_dir: Path) -> None:
    _require_silero()
    from models.speaker import decode_audio

    samples = decode_audio(fixtures_dir / "lecture_en_60s.wav")
    regions = speech_regions(samples)
    speech = sum(e - s for s, e in regions)
    assert len(regions) >= 8  # a lecturer pauses between phrases
    assert 35.0 <= speech <= 58.0
