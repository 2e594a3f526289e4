"""Diarization logic with fake voice activity and fake embeddings: clustering, turns, the re-split of segments
at speaker changes, speaker numbering, the one-speaker path, the DER measure and the stage; one slow test on
two real voices."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest

from benchmarks.eval.diarization import der
from pipeline.core.config import Settings
from pipeline.core.script import Script, Segment, SourceInfo, WordTiming
from pipeline.speech import diarize as dz
from pipeline.speech import speaker_turns as tl
from pipeline.stages.contracts import Ingested, Transcribed

RATE = tl.SAMPLE_RATE
DIM = 64


def _voices(n: int, seed: int = 0) -> np.ndarray:
    return tl._unit(np.random.default_rng(seed).normal(size=(n, DIM)))


class FakeVoices:
    """Speech regions and window embeddings from a known timeline: (start, end, speaker index)."""

    def __init__(self, timeline: Sequence[tuple[float, float, int]], noise: float = 0.5, seed: int = 1) -> None:
        self.timeline = list(timeline)
        self.v = _voices(max(k for *_, k in timeline) + 1)
        self.noise = noise
        self.rng = np.random.default_rng(seed)

    def vad(self, samples: np.ndarray) -> list[tuple[float, float]]:
        return [(s, e) for s, e, _ in self.timeline]

    def embed(self, samples: np.ndarray, windows: list[tuple[float, float]]) -> np.ndarray:
        rows = []
        for ws, we in windows:
            mix = sum(max(0.0, min(we, e) - max(ws, s)) * self.v[k] for s, e, k in self.timeline)
            rows.append(tl._unit(mix) + self.noise * self.rng.normal(size=DIM) / np.sqrt(DIM))
        return np.stack(rows)


def _settings(**kw: object) -> Settings:
    return Settings(**{"diarize_threshold": 0.35, "diarize_window_s": 1.5, "diarize_hop_s": 0.75, **kw})


def _audio(seconds: float) -> np.ndarray:
    return np.zeros(int(seconds * RATE), dtype=np.float32)


def _script(segments: list[Segment], duration: float = 30.0) -> Script:
    src = SourceInfo(uri="file:///x.wav", sha256="a" * 64, filename="x.wav", duration=duration, has_video=False)
    return Script(source=src, segments=segments)


def _seg(i: int, words: list[tuple[str, float, float]]) -> Segment:
    ws = [WordTiming(text=t, start=s, end=e) for t, s, e in words]
    return Segment(id=f"s{i:04d}", start=ws[0].start, end=ws[-1].end, text=" ".join(t for t, _, _ in words), words=ws)


# --- windows and clustering ----------------------------------------------------------------------------------------


def test_windows_cover_each_region_and_skip_scraps() -> None:
    w = tl.make_windows([(0.0, 5.0), (6.0, 6.3), (7.0, 8.0)], 1.5, 0.75)
    assert w[0] == (0.0, 1.5) and w[-2][1] == pytest.approx(5.0)  # the last one ends at the region's end
    assert all(b[0] - a[0] <= 0.75 + 1e-9 for a, b in zip(w[:-2], w[1:-1], strict=False))
    assert (7.0, 8.0) in w  # a region shorter than a window is one window
    assert not any(6.0 <= s < 6.3 for s, _ in w)  # 0.3 s is too short to embed


def _blobs(sizes: Sequence[int], spread: float, seed: int = 3) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    v = _voices(len(sizes), seed)
    truth = np.concatenate([np.full(n, k) for k, n in enumerate(sizes)])
    x = v[truth] + spread * rng.normal(size=(len(truth), DIM)) / np.sqrt(DIM)
    return x, truth


def test_clustering_finds_the_number_of_voices() -> None:
    x, truth = _blobs([30, 20, 25], spread=0.6)
    labels = tl.cluster_embeddings(x, threshold=0.35)
    assert len(set(labels)) == 3
    for k in range(3):  # every true voice falls in one cluster
        assert len(set(labels[truth == k])) == 1
    assert labels[0] == 0  # numbered by first appearance


def test_one_voice_is_one_cluster_and_a_given_count_is_kept() -> None:
    x, _ = _blobs([40], spread=0.6)
    assert set(tl.cluster_embeddings(x, threshold=0.35)) == {0}
    x3, _ = _blobs([20, 20, 20], spread=0.6)
    assert len(set(tl.cluster_embeddings(x3, threshold=0.35, speakers=2))) == 2
    assert len(set(tl.cluster_embeddings(x3, threshold=0.35, max_speakers=2))) == 2


def test_a_few_stray_windows_are_not_a_speaker() -> None:
    x, _ = _blobs([40, 30], spread=0.5)
    stray = _voices(3, seed=99)[:2]  # two windows unlike anyone (a cough, a door)
    labels = tl.cluster_embeddings(np.vstack([x, stray]), threshold=0.35)
    assert len(set(labels)) == 2


def test_degenerate_inputs() -> None:
    assert len(tl.cluster_embeddings(np.zeros((0, DIM)), threshold=0.35)) == 0
    assert list(tl.cluster_embeddings(np.ones((1, DIM)), threshold=0.35)) == [0]


# --- turns ---------------------------------------------------------------------------------------------------------


def test_turns_follow_the_speakers() -> None:
    fake = FakeVoices([(0.2, 9.8, 0), (10.3, 19.6, 1), (20.0, 29.5, 0)])
    dia = tl.diarize_audio(_audio(30), _settings(), vad=fake.vad, embed=fake.embed)
    assert dia.clusters == 2
    assert [lab for *_, lab in dia.turns] == [0, 1, 0]
    for (s, e, _), (ts, te, _) in zip(dia.turns, fake.timeline, strict=True):
        assert abs(s - ts) <= 0.5 and abs(e - te) <= 0.5


def test_a_change_inside_continuous_speech_is_found_within_half_a_second() -> None:
    fake = FakeVoices([(0.0, 12.0, 0), (12.0, 22.0, 1)], noise=0.3)
    fake_vad = lambda samples: [(0.0, 22.0)]  # noqa: E731  (no pause at the change)
    dia = tl.diarize_audio(_audio(22), _settings(), vad=fake_vad, embed=fake.embed)
    assert len(dia.turns) == 2
    assert abs(dia.turns[1][0] - 12.0) <= 0.5


def test_short_blips_are_absorbed() -> None:
    labels = np.array([0] * 40 + [1] * 5 + [0] * 40 + [-1] * 10 + [1] * 40)
    out = tl.smooth_labels(labels, lambda a, b: np.array([1.0, 0.0]), min_frames=20)
    assert list(out) == [0] * 85 + [-1] * 10 + [1] * 40


def test_no_speech_and_too_little_speech() -> None:
    none = tl.diarize_audio(_audio(5), _settings(), vad=lambda s: [], embed=None)
    assert none.turns == [] and none.clusters == 0
    short = tl.diarize_audio(_audio(1), _settings(), vad=lambda s: [(0.1, 0.4)], embed=None)
    assert short.clusters == 1 and [lab for *_, lab in short.turns] == [0]


def test_a_given_count_is_used(monkeypatch: pytest.MonkeyPatch) -> None:
    fake = FakeVoices([(0.0, 10.0, 0), (10.5, 20.0, 1), (20.5, 30.0, 2)])
    dia = tl.diarize_audio(_audio(30), _settings(diarize_speakers=2), vad=fake.vad, embed=fake.embed)
    assert dia.clusters == 2


# --- the Script ----------------------------------------------------------------------------------------------------


def _two_speaker_script() -> tuple[Script, tl.Diarization]:
    fake = FakeVoices([(0.0, 6.0, 1), (6.6, 14.0, 0), (14.5, 20.0, 1)])  # voice 1 speaks first
    dia = tl.diarize_audio(_audio(20), _settings(), vad=fake.vad, embed=fake.embed)
    segs = [
        _seg(1, [("Hello", 0.1, 0.6), ("there,", 0.7, 1.2), ("friends.", 1.3, 5.8)]),
        # one ASR segment across the change at 6.0-6.6: words of both voices
        _seg(2, [("Welcome", 6.7, 7.2), ("back.", 7.3, 7.8)]),
        _seg(
            3,
            [
                ("Thanks", 8.0, 8.5),
                ("a", 8.6, 8.7),
                ("lot.", 8.8, 13.9),
                ("Now", 14.6, 15.0),
                ("we", 15.1, 15.3),
                ("go.", 15.4, 19.9),
            ],
        ),
    ]
    return _script(segs), dia


def test_a_segment_with_two_voices_is_split_between_words() -> None:
    script, dia = _two_speaker_script()
    new, report = dz.apply_diarization(script, dia)
    texts = [(s.id, s.speaker, s.text) for s in new.segments]
    assert texts == [
        ("s0001", "S1", "Hello there, friends."),
        ("s0002", "S2", "Welcome back."),
        ("s0003", "S2", "Thanks a lot."),
        ("s0004", "S1", "Now we go."),
    ]
    assert [w.text for w in new.segments[3].words] == ["Now", "we", "go."]  # words stay with their segment
    assert new.segments[3].start == 14.6 and new.segments[2].end == 13.9
    assert new.speakers == ["S1", "S2"]
    assert report["split_segments"] == 1 and report["speakers"] == 2 and report["turns"] == 3
    assert set(new.speaker_info) == {"S1", "S2"}
    assert new.speaker_info["S1"].segments == 2 and new.speaker_info["S1"].embedding is not None
    assert new.speaker_info["S2"].seconds == pytest.approx(7.4, abs=0.6)
    assert new.revision == script.revision + 1 and new.history[-1] == "diarize"


def test_the_split_goes_to_the_pause_nearest_the_change() -> None:
    words = [
        WordTiming(text=t, start=s, end=e)
        for t, s, e in [("a", 0.0, 0.5), ("b", 0.55, 1.0), ("c", 1.6, 2.0), ("d", 2.05, 2.5)]
    ]
    assert dz.split_points(words, [1.3]) == [2]
    assert dz.split_points(words, [1.0]) == [2]  # the long pause near the change, not the first gap it touches
    assert dz.split_points(words, [5.0]) == [3]  # far from every pause: the nearest one


def test_one_speaker_splits_nothing() -> None:
    fake = FakeVoices([(0.0, 6.0, 0), (6.6, 14.0, 0)])
    dia = tl.diarize_audio(_audio(15), _settings(), vad=fake.vad, embed=fake.embed)
    script = _script([_seg(1, [("One", 0.1, 3.0), ("two", 3.1, 6.0)]), _seg(2, [("Three", 6.7, 13.9)])])
    new, report = dz.apply_diarization(script, dia)
    assert [s.model_dump() for s in new.segments] == [s.model_dump() for s in script.segments]
    assert new.speakers == ["S1"] and report["split_segments"] == 0 and report["speakers"] == 1


def test_no_speech_found_keeps_one_speaker() -> None:
    dia = tl.diarize_audio(_audio(5), _settings(), vad=lambda s: [], embed=None)
    script = _script([_seg(1, [("Hm", 1.0, 1.5)])])
    new, report = dz.apply_diarization(script, dia)
    assert [s.speaker for s in new.segments] == ["S1"] and new.speakers == ["S1"]
    assert new.speaker_info["S1"].seconds == pytest.approx(0.5) and report["speakers"] == 1


def test_voice_presentation_from_f0() -> None:
    t = np.arange(RATE * 2) / RATE
    low = (0.3 * np.sign(np.sin(2 * np.pi * 110 * t)) * np.hanning(len(t))).astype(np.float32)
    f0, spread = dz.f0_stats(low)
    assert f0 is not None and 100 <= f0 <= 120 and spread is not None
    assert dz.presentation(f0) == "low"
    assert (
        dz.presentation(220.0) == "high" and dz.presentation(162.0) == "unknown" and dz.presentation(None) == "unknown"
    )


# --- DER -----------------------------------------------------------------------------------------------------------


def test_der_is_zero_for_a_relabelled_perfect_answer() -> None:
    ref = [(0.0, 5.0, "A"), (5.0, 10.0, "B")]
    assert der(ref, [(0.0, 5.0, "x"), (5.0, 10.0, "y")])["der"] == 0.0


def test_der_parts() -> None:
    ref = [(0.0, 10.0, "A"), (10.0, 20.0, "B")]
    m = der(ref, [(0.0, 20.0, "x")], collar=0.0)
    assert m["confusion"] == pytest.approx(0.5, abs=0.01) and m["miss"] == 0.0 and m["fa"] == 0.0
    m = der(ref, [(0.0, 10.0, "x")], collar=0.0)
    assert m["miss"] == pytest.approx(0.5, abs=0.01) and m["der"] == pytest.approx(0.5, abs=0.01)
    m = der(ref, [(0.0, 10.0, "x"), (10.0, 20.0, "y"), (25.0, 30.0, "y")], collar=0.0)
    assert m["fa"] == pytest.approx(0.25, abs=0.01)
    overlap = [(0.0, 10.0, "A"), (8.0, 20.0, "B")]  # single-speaker output misses the overlap
    m = der(overlap, [(0.0, 9.0, "x"), (9.0, 20.0, "y")], collar=0.0)
    assert m["miss"] == pytest.approx(2 / 22, abs=0.01)


def test_the_collar_forgives_boundaries() -> None:
    ref = [(0.0, 10.0, "A"), (10.0, 20.0, "B")]
    hyp = [(0.0, 10.2, "x"), (10.2, 20.0, "y")]
    assert der(ref, hyp, collar=0.0)["confusion"] > 0
    assert der(ref, hyp, collar=0.25)["der"] == 0.0


# --- the stage -----------------------------------------------------------------------------------------------------


def _stage_inputs(settings: Settings, script: Script) -> tuple[Ingested, Transcribed]:
    from pipeline.core.storage import open_store

    store = open_store(settings.resolved_store_url)
    ingested = Ingested(
        source_uri="file:///x.wav",
        source_sha256="a" * 64,
        filename="x.wav",
        stem="x",
        duration=20.0,
        has_video=False,
        asr_audio_uri=store.put_bytes("t/asr.wav", b"RIFF"),
        full_audio_uri="file:///x.wav",
        script_uri="file:///x.json",
    )
    transcribed = Transcribed(
        script_uri=store.put_bytes("t/script.json", script.to_json()),
        language="en",
        language_probability=0.9,
        segments=len(script.segments),
        words=sum(len(s.words) for s in script.segments),
        model={"name": "fake-asr"},
        key="k" * 32,
        stage="transcribe",
    )
    return ingested, transcribed


def test_stage_off_returns_the_transcription(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, diarize=False)
    script, _ = _two_speaker_script()
    ingested, transcribed = _stage_inputs(settings, script)
    from pipeline.stages.diarize import diarize

    assert diarize(settings, ingested, transcribed).model_dump() == {**transcribed.model_dump(), "speakers": 1}


def test_stage_writes_the_revised_script(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    settings = Settings(data_dir=tmp_path)
    script, dia = _two_speaker_script()
    ingested, transcribed = _stage_inputs(settings, script)
    seen: dict[str, int] = {}

    def fake_diarize_script(s: Script, audio: Path, st: Settings, progress: object = None) -> tuple[Script, dict]:
        seen["speakers"] = st.diarize_speakers
        return dz.apply_diarization(s, dia)

    monkeypatch.setattr(dz, "diarize_script", fake_diarize_script)
    from pipeline.core.storage import open_store
    from pipeline.stages.common import load_script
    from pipeline.stages.diarize import diarize

    result = diarize(settings, ingested, transcribed, speakers=2)
    assert seen["speakers"] == 2
    assert result.speakers == 2 and result.segments == 4 and result.language == "en"
    assert result.stage == "diarize" and result.key != transcribed.key
    assert result.diarization is not None and result.diarization["split_segments"] == 1
    revised = load_script(open_store(settings.resolved_store_url), result.script_uri)
    assert [s.speaker for s in revised.segments] == ["S1", "S2", "S2", "S1"]
    again = diarize(settings, ingested, transcribed, speakers=2)
    assert again.cached and again.script_uri == result.script_uri


# --- real voices ---------------------------------------------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.fixtures
def test_two_real_voices_are_two_speakers(fixtures_dir: Path) -> None:
    """jfk.flac then the first 30 s of lecture_en_60s.wav: two speakers, the change found within 0.5 s."""
    from models.speaker import decode_audio

    jfk = decode_audio(fixtures_dir / "jfk.flac")
    lecture = decode_audio(fixtures_dir / "lecture_en_60s.wav")[: 30 * RATE]
    pause = np.zeros(RATE // 2, dtype=np.float32)
    samples = np.concatenate([jfk, pause, lecture])
    change = (len(jfk) + len(pause)) / RATE
    dia = tl.diarize_audio(samples, Settings())
    assert dia.clusters == 2, dia.turns
    changes = [b[0] for a, b in zip(dia.turns, dia.turns[1:], strict=False) if a[2] != b[2]]
    assert len(changes) == 1 and abs(changes[0] - change) <= 0.5, dia.turns
