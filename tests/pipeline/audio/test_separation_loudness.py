"""Separation (DSP fallback and the Spleeter environment) and loudness normalization."""

from __future__ import annotations

import subprocess
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from models.registry import spleeter_python
from pipeline.audio.loudness import PROFILES, measure, normalize, profile
from pipeline.audio.separation import _filter, dsp_separate, dsp_separate_file
from pipeline.stages.separate import fit_length

RATE = 48000


def _tone(freq: float, seconds: float, amp: float) -> np.ndarray:
    t = np.arange(int(seconds * RATE)) / RATE
    return (amp * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def test_dsp_removes_centre_speech_band_only_inside_speech() -> None:
    music_side = _tone(220, 8, 0.1)  # wide (anti-phase) music
    speech = _tone(1000, 8, 0.2) * ((np.arange(8 * RATE) / RATE > 3) & (np.arange(8 * RATE) / RATE < 5))
    x = np.stack([music_side + speech, -music_side + speech], axis=1)
    dialogue, bed = dsp_separate(x, RATE, [(3.0, 5.0)])
    inside = slice(int(3.5 * RATE), int(4.5 * RATE))
    outside = slice(0, int(2 * RATE))
    rms = lambda a: float(np.sqrt(np.mean(a**2)))  # noqa: E731
    assert rms(bed[inside, 0]) < 1.1 * rms(music_side[inside])  # the centre tone is gone from the bed
    assert rms(dialogue[inside, 0]) > 0.9 * 0.2 / np.sqrt(2)  # and is in the dialogue (a 0.2 sine: RMS 0.141)
    assert np.max(np.abs(bed[outside] - x[outside])) < 1e-4  # outside speech the bed is the input


def test_dsp_mono_input() -> None:
    x = (_tone(1000, 3, 0.2))[:, None]
    dialogue, bed = dsp_separate(x, RATE, [(1.0, 2.0)])
    assert bed.shape == x.shape and dialogue.shape == x.shape


def _one_pass_filter(x: np.ndarray, gain, n_fft: int, hop: int) -> np.ndarray:  # type: ignore[no-untyped-def]
    """The STFT filter over the whole signal at once (how it was written before it was streamed)."""
    win = np.hanning(n_fft + 1)[:-1].astype(np.float32)
    pad = np.pad(x, (n_fft, n_fft + hop))
    view = np.lib.stride_tricks.sliding_window_view(pad, n_fft)[::hop]
    total = (len(view) - 1) * hop + n_fft
    out, norm = np.zeros(total), np.zeros(total)
    for c0 in range(0, len(view), 512):
        spec = np.fft.rfft(view[c0 : c0 + 512] * win, axis=1)
        frames = np.fft.irfft(spec * gain(c0, c0 + len(spec)), n=n_fft, axis=1) * win
        for j, f in enumerate(frames):
            out[(c0 + j) * hop : (c0 + j) * hop + n_fft] += f
            norm[(c0 + j) * hop : (c0 + j) * hop + n_fft] += win**2
    out /= np.maximum(norm, 1e-8)
    return out[n_fft : n_fft + len(x)].astype(np.float32)


@pytest.mark.parametrize("n", [0, 100, 2047, 5000, 700_000])
def test_the_streamed_filter_gives_the_one_pass_samples(n: int) -> None:
    """The filter streams its input and output (chunks of 512 frames) and still gives, bit for bit, what one
    pass over the whole signal gives: the same frames, the same sums in the same order."""
    x = np.random.default_rng(n).standard_normal(n).astype(np.float32) * 0.2
    rows = np.random.default_rng(1).uniform(0.0, 1.0, (3000, 1025))

    def gain(f0: int, f1: int) -> np.ndarray:
        return rows[f0 % 2000 : f0 % 2000 + (f1 - f0)]

    np.testing.assert_array_equal(_filter(x, gain, 2048, 512), _one_pass_filter(x, gain, 2048, 512))


@pytest.mark.parametrize(("channels", "block"), [(2, 1000), (2, 1 << 18), (1, 4096)])
def test_dsp_separate_file_streams_the_same_stems(tmp_path: Path, channels: int, block: int) -> None:
    """The separate stage's DSP path reads and writes blocks: its stems are dsp_separate's on the whole input."""
    x = (np.random.default_rng(7).standard_normal((int(6.3 * RATE), channels)) * 0.2).astype(np.float32)
    src = tmp_path / "full.wav"
    sf.write(str(src), x, RATE, subtype="FLOAT")
    speech = [(0.5, 2.0), (3.1, 5.9)]
    dialogue, bed = dsp_separate(x, RATE, speech)
    dsp_separate_file(src, tmp_path / "d.wav", tmp_path / "b.wav", speech, block=block)
    for path, expected in ((tmp_path / "d.wav", dialogue), (tmp_path / "b.wav", bed)):
        got, rate = sf.read(str(path), dtype="float32", always_2d=True)
        assert rate == RATE and sf.info(str(path)).subtype == "FLOAT"
        np.testing.assert_array_equal(got, expected)


def test_fit_length_cuts_pads_and_leaves_an_exact_stem_alone(tmp_path: Path) -> None:
    path = tmp_path / "stem.wav"
    x = np.random.default_rng(3).uniform(-0.5, 0.5, (1000, 2)).astype(np.float32)
    sf.write(str(path), x, RATE, subtype="PCM_16")
    as16, _ = sf.read(str(path), dtype="float32", always_2d=True)
    fit_length(path, 700, block=128)
    got, _ = sf.read(str(path), dtype="float32", always_2d=True)
    assert sf.info(str(path)).subtype == "FLOAT"
    np.testing.assert_array_equal(got, as16[:700])
    fit_length(path, 1300, block=128)
    got, _ = sf.read(str(path), dtype="float32", always_2d=True)
    np.testing.assert_array_equal(got[:700], as16[:700])
    assert got.shape == (1300, 2) and not got[700:].any()
    before = path.stat().st_mtime_ns
    fit_length(path, 1300)
    assert path.stat().st_mtime_ns == before  # already right: not rewritten
    assert [p.name for p in tmp_path.iterdir()] == ["stem.wav"]


@pytest.mark.parametrize("name", ["ebu_r128", "atsc_a85", "streaming", "acx"])
def test_normalize_meets_each_profile(tmp_path: Path, name: str) -> None:
    t = np.arange(20 * RATE) / RATE
    # speech-like: a modulated tone with pauses, well below the targets to start with
    sig = 0.05 * np.sin(2 * np.pi * 300 * t) * (np.sin(2 * np.pi * 0.5 * t) > 0) + 0.3 * (t % 5 < 0.01)
    src = tmp_path / "in.wav"
    sf.write(str(src), np.stack([sig, sig], 1).astype(np.float32), RATE, subtype="FLOAT")
    before, after = normalize(src, tmp_path / "out.wav", profile(name), RATE)
    assert not before.meets(PROFILES[name])
    assert after.meets(PROFILES[name]), after


def test_measure_reports_true_peak_and_lra(tmp_path: Path) -> None:
    path = tmp_path / "t.wav"
    sf.write(str(path), _tone(997, 5, 0.5), RATE)
    m = measure(path)
    assert -7.5 < m.true_peak_dbtp < -5.5 and m.lra_lu >= 0


def test_unknown_profile_is_a_clear_error() -> None:
    from pipeline.core.errors import ConfigError

    with pytest.raises(ConfigError, match="unknown loudness profile"):
        profile("loud")


@pytest.mark.skipif(not spleeter_python().is_file(), reason="Spleeter's environment is made by `make setup`")
def test_spleeter_separates_in_its_own_environment(tmp_path: Path) -> None:
    from models.separation import SpleeterSeparator

    src = tmp_path / "in.wav"
    t = np.arange(4 * RATE) / RATE
    sig = 0.2 * np.sin(2 * np.pi * 110 * t) * (1 + np.sin(2 * np.pi * 2 * t))
    sf.write(str(src), np.stack([sig, sig], 1).astype(np.float32), RATE, subtype="FLOAT")
    stems = SpleeterSeparator(spleeter_python()).separate(src, tmp_path / "out", RATE)
    for path in (stems.dialogue, stems.bed):
        info = sf.info(str(path))
        assert info.samplerate == RATE and info.channels == 2 and abs(info.duration - 4.0) < 0.05
    out = subprocess.run(
        [str(spleeter_python()), "-c", "import numpy; print(numpy.__version__)"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert out.stdout.startswith("1.")  # the isolated environment keeps numpy<2


@pytest.mark.skipif(not spleeter_python().is_file(), reason="Spleeter's environment is made by `make setup`")
def test_spleeter_chunks_reuse_one_separator_without_stale_results(tmp_path: Path) -> None:
    """In 3 s chunks (one Separator for all), each chunk's stems are its own: the two stems add up to the input
    second by second (Spleeter's masks sum to one), and the silent second half stays silent. A stale chunk
    (the previous chunk's result, what a reused Separator gives with Spleeter's own feed) breaks both."""
    from models.separation import SpleeterSeparator

    src = tmp_path / "in.wav"
    freq = np.repeat(np.random.default_rng(7).uniform(120, 400, 9), RATE)  # a new tone every second
    sig = 0.2 * np.sin(2 * np.pi * np.cumsum(freq) / RATE) * (np.arange(len(freq)) < 4.5 * RATE)
    sf.write(str(src), np.stack([sig, sig], 1).astype(np.float32), RATE, subtype="FLOAT")
    parts = SpleeterSeparator(spleeter_python(), chunk_s=3).separate(src, tmp_path / "parts", RATE)
    assert parts.chunks == 4
    total = (sf.read(str(parts.dialogue))[0] + sf.read(str(parts.bed))[0])[: len(sig), 0]
    for i in range(0, 4 * RATE, RATE):
        err = np.sum((total[i : i + RATE] - sig[i : i + RATE]) ** 2)
        assert 10 * np.log10(np.sum(sig[i : i + RATE] ** 2) / err) > 40, f"second {i // RATE}"
    assert np.max(np.abs(total[5 * RATE :])) < 1e-4
    assert not list((tmp_path / "parts").glob("*.npy*"))


def test_spleeter_stems_are_written_from_a_memory_map_in_blocks(tmp_path: Path) -> None:
    """The worker's .npy stem becomes a float WAV with the same samples, across block boundaries (a block
    that does not divide the length), and the .npy is removed."""
    from models.separation import SPLEETER_RATE, _npy_to_wav

    x = np.random.default_rng(5).standard_normal((10_007, 2)).astype(np.float32) * 0.3
    np.save(tmp_path / "vocals.npy", x)
    _npy_to_wav(tmp_path / "vocals.npy", tmp_path / "v.wav", block=1000)
    got, rate = sf.read(str(tmp_path / "v.wav"), dtype="float32", always_2d=True)
    assert rate == SPLEETER_RATE and sf.info(str(tmp_path / "v.wav")).subtype == "FLOAT"
    assert np.array_equal(got, x)
    assert not (tmp_path / "vocals.npy").exists()


def test_rms_and_peak_are_read_in_blocks(tmp_path: Path) -> None:
    """The blockwise RMS and peak equal the whole-array figures (a block smaller than the file)."""
    from pipeline.audio.loudness import _rms_and_peak

    rng = np.random.default_rng(3)
    x = (rng.standard_normal((48_000 * 3, 2)) * 0.1).astype(np.float32)
    x[70_000, 1] = -0.9
    path = tmp_path / "x.wav"
    sf.write(str(path), x, 48_000, subtype="FLOAT")
    rms, peak = _rms_and_peak(path, block=10_000)
    assert rms == pytest.approx(float(np.sqrt(np.mean(x.astype(np.float64) ** 2))), rel=1e-9)
    assert peak == pytest.approx(0.9)
    empty = tmp_path / "empty.wav"
    sf.write(str(empty), np.zeros((0, 2), dtype=np.float32), 48_000)
    assert _rms_and_peak(empty) == (0.0, 0.0)
