"""Cleaning files: the blind SNR estimate, WAV and container outputs (length, rate, channels, alignment, the
video copied bit for bit), the CLI, and the errors a user can act on."""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from pathlib import Path

import ffmpeg
import numpy as np
import pytest
import soundfile as sf

from pipeline.audio.denoise import (
    LOW_SNR_DB,
    Cleaned,
    clean_audio,
    estimate_snr_db,
    needs_denoise,
)
from pipeline.audio.denoise_media import clean_media
from pipeline.core.errors import ConfigError, InputError


def speech_like(seconds: float, rate: int, seed: int = 0) -> np.ndarray:
    """Gliding harmonic 'syllables' with pauses between them."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * rate)) / rate
    f0 = 140 + 40 * np.sin(2 * np.pi * 0.7 * t) + 10 * rng.standard_normal() * np.sin(2 * np.pi * 3.1 * t)
    phase = 2 * np.pi * np.cumsum(f0) / rate
    voice = sum(np.sin(h * phase) / h for h in range(1, 12))
    return (0.2 * voice * np.clip(np.sin(2 * np.pi * 2.2 * t), 0, None) ** 0.5).astype(np.float32)


def with_noise(clean: np.ndarray, snr_db: float, seed: int = 1) -> np.ndarray:
    noise = np.random.default_rng(seed).standard_normal(clean.shape)
    noise *= np.sqrt(np.mean(clean.astype(np.float64) ** 2) / np.mean(noise**2) / 10 ** (snr_db / 10))
    return (clean + noise).astype(np.float32)


def lag(reference: np.ndarray, output: np.ndarray, reach: int = 3000) -> int:
    n = 1 << int(np.ceil(np.log2(2 * len(reference))))
    cc = np.fft.irfft(np.fft.rfft(output, n) * np.conj(np.fft.rfft(reference, n)), n)
    return int(np.argmax(np.concatenate([cc[-reach:], cc[: reach + 1]]))) - reach


def video_md5(path: Path) -> str:
    args = ["ffmpeg", "-nostdin", "-v", "error", "-i", str(path), "-map", "0:v", "-c", "copy", "-f", "md5", "-"]
    return subprocess.run(args, capture_output=True, check=True, text=True).stdout.strip()


def test_estimate_snr_ranks_clean_speech_above_noisy() -> None:
    clean = with_noise(speech_like(4.0, 16000), 45.0, seed=5)  # a quiet room's tone under the voice
    noisy = with_noise(clean, 5.0)
    assert estimate_snr_db(clean, 16000) > estimate_snr_db(noisy, 16000) + 20
    assert abs(estimate_snr_db(noisy, 16000) - 5.0) < 3  # it reads the global SNR when there are pauses
    assert estimate_snr_db(np.zeros(16000, np.float32), 16000) == 100.0  # digital silence: nothing to clean
    stereo = np.stack([noisy, noisy], axis=1)
    assert estimate_snr_db(stereo, 16000) == pytest.approx(estimate_snr_db(noisy, 16000))


def test_needs_denoise_below_the_threshold() -> None:
    assert needs_denoise(LOW_SNR_DB - 1) and not needs_denoise(LOW_SNR_DB + 1)
    assert needs_denoise(20.0, threshold=25.0)


@pytest.mark.parametrize("rate", [48000, 44100])
def test_clean_audio_keeps_rate_channels_length_and_alignment(tmp_path: Path, rate: int) -> None:
    clean = speech_like(2.5, rate)
    noisy = np.stack([with_noise(clean, 5.0, seed=1), with_noise(clean, 5.0, seed=2)], axis=1)
    noisy = noisy[: len(noisy) - 77]  # not a whole number of frames
    src = tmp_path / "noisy.wav"
    sf.write(str(src), noisy, rate, subtype="PCM_16")
    done = clean_audio(src, tmp_path / "out" / "clean.wav", "dsp" if rate == 44100 else "auto")
    assert isinstance(done, Cleaned) and done.path.is_file()
    out, out_rate = sf.read(str(done.path), dtype="float32", always_2d=True)
    assert out_rate == rate and out.shape == noisy.shape and sf.info(str(done.path)).subtype == "PCM_16"
    for c in range(2):
        assert lag(clean[: len(out)], out[:, c]) == 0
    assert done.snr_after_db > done.snr_before_db + 5
    assert (
        done.seconds > 0 and done.realtime_factor > 0 and done.duration_s == pytest.approx(len(noisy) / rate, abs=1e-3)
    )
    assert done.as_dict()["engine"]["id"] in ("deepfilternet3", "dsp-spectral-gate")
    assert [p.name for p in (tmp_path / "out").iterdir()] == ["clean.wav"]  # no temporary file left


@pytest.fixture(scope="module")
def noisy_mp4(ffmpeg_make: Callable[..., Path]) -> Path:
    """2 s of test picture with a 300 Hz tone in white noise (AAC, 44.1 kHz, stereo) and a subtitle track."""
    return ffmpeg_make(
        "noisy.mp4",
        "-f", "lavfi", "-i", "testsrc=size=96x64:rate=25:duration=2",
        "-f", "lavfi", "-i", "sine=frequency=300:duration=2:sample_rate=44100",
        "-f", "lavfi", "-i", "anoisesrc=color=white:amplitude=0.05:duration=2:sample_rate=44100",
        "-filter_complex",
        "[1:a]volume=0.5,apulsator=hz=1.5[s];[s][2:a]amix=inputs=2:normalize=0,pan=stereo|c0=c0|c1=c0[a]",
        "-map", "0:v", "-map", "[a]", "-c:v", "libx264", "-pix_fmt", "yuv420p", "-c:a", "aac",
        "-metadata:s:a:0", "language=eng", "-shortest",
    )  # fmt: skip


def test_clean_media_copies_the_video_and_keeps_the_container(noisy_mp4: Path, tmp_path: Path) -> None:
    dest = tmp_path / "noisy.clean.mp4"
    done = clean_media(noisy_mp4, dest, "dsp")
    assert done.path == dest and done.snr_after_db > done.snr_before_db
    assert video_md5(dest) == video_md5(noisy_mp4)
    before, after = ffmpeg.probe(str(noisy_mp4)), ffmpeg.probe(str(dest))
    assert after["format"]["format_name"] == before["format"]["format_name"]
    a0 = [s for s in before["streams"] if s["codec_type"] == "audio"][0]
    a1 = [s for s in after["streams"] if s["codec_type"] == "audio"][0]
    assert (a1["codec_name"], a1["channels"], a1["sample_rate"]) == ("aac", 2, "44100")
    assert a1["tags"]["language"] == "eng"
    assert float(a1["start_time"]) == pytest.approx(float(a0["start_time"]), abs=1e-3)
    assert float(a1["duration"]) == pytest.approx(float(a0["duration"]), abs=0.03)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["noisy.clean.mp4"]


def test_clean_media_keeps_subtitles_their_tags_and_the_sync(noisy_mp4: Path, tmp_path: Path) -> None:
    srt = tmp_path / "sub.srt"
    srt.write_text("1\n00:00:00,500 --> 00:00:01,500\nhello\n")
    src = tmp_path / "talk.mkv"
    args = ["ffmpeg", "-nostdin", "-v", "error", "-i", str(noisy_mp4), "-i", str(srt), "-map", "0", "-map", "1"]
    args += ["-c", "copy", "-c:s", "srt", "-metadata:s:s:0", "language=spa", str(src)]
    subprocess.run(args, check=True)
    dest = clean_media(src, tmp_path / "talk.clean.mkv", "dsp").path
    assert video_md5(dest) == video_md5(src)
    kinds = [(s["codec_type"], s.get("tags", {}).get("language")) for s in ffmpeg.probe(str(dest))["streams"]]
    assert kinds[1:] == [("audio", "eng"), ("subtitle", "spa")]

    def first(path: Path, stream: str) -> float:  # time of the first decoded frame
        frames = ffmpeg.probe(str(path), select_streams=stream, show_frames=None, read_intervals="%+#8")["frames"]
        return float(frames[0]["best_effort_timestamp_time"])

    # as ffmpeg's own re-encode does: the audio's place against the picture is kept to the millisecond
    assert first(dest, "a:0") - first(dest, "v:0") == pytest.approx(first(src, "a:0") - first(src, "v:0"), abs=0.025)


def test_clean_media_of_an_audio_container(ffmpeg_make: Callable[..., Path], tmp_path: Path) -> None:
    src = ffmpeg_make(
        "noisy.flac", "-f", "lavfi", "-i", "anoisesrc=amplitude=0.1:duration=1:sample_rate=32000", "-c:a", "flac"
    )
    done = clean_media(src, tmp_path / "clean.flac", "dsp")
    info = ffmpeg.probe(str(done.path))["streams"][0]
    assert (info["codec_name"], info["sample_rate"]) == ("flac", "32000")


def test_bad_inputs_are_input_errors(ffmpeg_make: Callable[..., Path], noisy_mp4: Path, tmp_path: Path) -> None:
    with pytest.raises(InputError, match="does not exist"):
        clean_media(tmp_path / "missing.mp4", tmp_path / "out.mp4")
    with pytest.raises(InputError, match="does not exist"):
        clean_audio(tmp_path / "missing.wav", tmp_path / "out.wav")
    silent = ffmpeg_make(
        "silent.mp4", "-f", "lavfi", "-i", "testsrc=size=64x64:rate=10:duration=1", "-c:v", "libx264", "-an"
    )
    with pytest.raises(InputError, match="no audio stream"):
        clean_media(silent, tmp_path / "silent.clean.mp4")
    junk = tmp_path / "junk.mp4"
    junk.write_bytes(b"\x00garbage" * 100)
    with pytest.raises(InputError, match="not a media file"):
        clean_audio(junk, tmp_path / "junk.wav")
    with pytest.raises(InputError, match="container"):
        clean_media(noisy_mp4, tmp_path / "other.mkv")
    with pytest.raises(ConfigError, match="unknown denoise engine"):
        clean_audio(noisy_mp4, tmp_path / "x.wav", engine="magic")
    with pytest.raises(ConfigError, match="negative"):
        clean_audio(noisy_mp4, tmp_path / "x.wav", atten_lim_db=-3)
    assert not any(p.suffix in (".mp4", ".wav", ".mkv") and p.name != "junk.mp4" for p in tmp_path.iterdir())


def test_cli_clean_writes_beside_the_input_and_fails_in_one_line(noisy_mp4: Path, tmp_path: Path) -> None:
    import typer
    from typer.testing import CliRunner

    from pipeline.cli.clean import clean

    app = typer.Typer()
    app.command("clean")(clean)
    app.command("other")(lambda: None)  # two commands: `clean` is a sub-command as in dubline
    src = tmp_path / "talk.mp4"
    src.write_bytes(noisy_mp4.read_bytes())
    result = CliRunner().invoke(app, ["clean", str(src), "--engine", "dsp"])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "talk.clean.mp4").is_file()
    assert "dsp-spectral-gate" in result.output and "SNR" in result.output
    result = CliRunner().invoke(app, ["clean", str(src), "--out", str(tmp_path / "talk.wav"), "--engine", "dsp"])
    assert result.exit_code == 0 and sf.info(str(tmp_path / "talk.wav")).channels == 2
    result = CliRunner().invoke(app, ["clean", str(tmp_path / "none.mp4")])
    assert result.exit_code == 2 and "does not exist" in result.output and "Traceback" not in result.output
