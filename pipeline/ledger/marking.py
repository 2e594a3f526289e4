"""Marking: every synthetic dub track carries an inaudible watermark (pipeline/ledger/watermark.py) whose 32-bit
payload identifies the artifact, and `dubline detect` reads it back from any audio or video file and looks
the payload up in the ledger.

The payload is the first 32 bits of the mix stage's content key (pipeline.core.stagerun), so that the same mix made
again carries the same mark. It is recorded at publish as the `watermark` of the dub track's artifact
(pipeline/ledger/provenance.py), which the published files name as their input. Two different tracks share
a payload with probability 2**-32 per pair: a lookup lists every record with that payload.

The mark goes in after loudness normalization; the track is measured again, and where the mark lifted the
true peak over the profile's ceiling, the track is turned down by that much (the mark does not mind gain).
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import soundfile as sf

from pipeline.audio import loudness
from pipeline.core.config import Settings
from pipeline.core.errors import InputError
from pipeline.ledger import watermark as wm
from pipeline.ledger.watermark_detect import Detection, decode
from pipeline.ledger.watermark_embed import analysis_mark, upsample_mark
from pipeline.ledger.watermark_key import BUILTIN_KEY, is_public, watermark_key

DETECT_RATE = wm.RATE  # streams are decoded straight to the watermark's analysis rate
DETECT_SECONDS = 600.0  # the first 10 minutes of a stream are read: ~150 copies of the payload
BLOCK_S = wm.COLS * wm.TILE_FRAMES * wm.HOP / wm.RATE  # the mark's block (4.096 s): its grid repeats on it


def material(settings: Settings) -> dict[str, str] | None:
    """What the mix stage's key must cover: the scheme and which key (by its public id), or None when off."""
    if not settings.watermark:
        return None
    return {"scheme": wm.SCHEME, "key_id": wm.key_id(watermark_key(settings))}


def payload_for(stage_key: str) -> int:
    """The payload of a mix: the first 32 bits of its stage key (a store prefix ending in the key works too)."""
    key = stage_key.rstrip("/").rsplit("/", 1)[-1]
    return int(key[:8], 16)


@dataclass
class Marked:
    info: dict[str, Any] | None  # what the mix result and the provenance record say about the mark
    measured: loudness.Measurement | None = None  # the track's loudness after marking (None: unchanged)


def mark_track(
    settings: Settings, path: Path, payload: int, prof: loudness.Profile, phase_s: float = 0.0
) -> Marked:
    """Put the mark carrying `payload` into the WAV at `path` (in place, same sample format), then re-measure
    its loudness and keep it inside the profile's peak ceiling.

    `phase_s`: where this audio will start in a longer file that joins several marked parts (an audiobook's
    chapters in its m4b). The mark's grid of blocks then runs on from the parts before it, so the joined file
    reads as one mark; a part marked at phase 0 and joined after another would break the grid.

    The track is streamed: only its mono analysis copy and the mark are held whole, never the multichannel
    programme (a 10-minute stereo mix read whole, marked and compared took about 1 GB more). The marked track
    is written beside `path` and moved over it when done, so a crash leaves the unmarked track, not half a one."""
    if not settings.watermark:
        return Marked(None)
    key = watermark_key(settings)
    info = sf.info(str(path))
    subtype, rate = info.subtype, int(info.samplerate)
    base = {"scheme": wm.SCHEME, "key_id": wm.key_id(key), "payload": payload, "payload_hex": f"{payload:08x}"}
    if is_public(key):  # said in the mark's record, and so in the job report
        base["public_key"] = True
    lead = int(round((phase_s % BLOCK_S) * rate))
    try:
        # a part that starts `lead` samples into the mark's block is marked as if silence came before it
        up = _mark_for(path, lead, rate, payload, key)[lead:]
    except wm.WatermarkError as e:
        return Marked({**base, "skipped": str(e)})
    tmp = path.with_name(f".{path.stem}.marking{path.suffix}")
    snr = _write_marked(path, tmp, up, subtype)
    after = loudness.measure(tmp)
    trim = _peak_trim(after, prof)
    if trim < 0:
        _write_marked(path, tmp, up, subtype, 10 ** (trim / 20))
        after = loudness.measure(tmp)
    os.replace(tmp, path)
    return Marked({**base, "snr_db": round(snr, 1), "trim_db": round(trim, 2)}, after)


def mark_copy(settings: Settings, src: Path, dest: Path, payload: int) -> dict[str, Any] | None:
    """Write `dest`: the WAV `src` (a dub speech stem) with the mark carrying `payload`, scaled down where the
    mark lifted its peak over full scale. None when marking is off or the audio is too short to carry it
    (then nothing is written). Streamed, like mark_track."""
    if not settings.watermark:
        return None
    key = watermark_key(settings)
    info = sf.info(str(src))
    try:
        up = _mark_for(src, 0, int(info.samplerate), payload, key)
    except wm.WatermarkError:
        return None
    peak = 0.0
    for _, marked in _marked_blocks(src, up):
        if marked.size:
            peak = max(peak, float(np.max(np.abs(marked))))
    snr = _write_marked(src, dest, up, info.subtype, divisor=peak if peak > 1.0 else None, clip=False)
    return {"scheme": wm.SCHEME, "key_id": wm.key_id(key), "payload": payload, "snr_db": round(snr, 1)}


_STEP = 1 << 18  # samples per block when streaming a track (the blocks of mark_snr_db: the same sums)


def _mark_for(path: Path, lead: int, rate: int, payload: int, key: str | bytes) -> np.ndarray:
    """The mark (float32, at `rate`) for the WAV at `path` after `lead` samples of silence (what
    watermark_embed.embed adds to it). Only the track's mono analysis copy is held while the mark is made:
    the full-rate mono copy is dropped as soon as it is resampled."""
    if rate < wm.RATE:
        raise wm.WatermarkError(f"the watermark needs audio at {wm.RATE} Hz or more (got {rate} Hz)")
    full = _mono64(path, lead)
    n = len(full)
    x = wm.resample(full, rate, wm.RATE)
    del full
    mark = analysis_mark(x, payload, key)
    del x
    return upsample_mark(mark, rate, n)


def _mono64(path: Path, lead: int) -> np.ndarray:
    """The WAV at `path` as float64 mono (channels averaged as watermark.mono does), after `lead` zeros."""
    n = int(sf.info(str(path)).frames)
    x = np.zeros(lead + n, dtype=np.float64)
    i = lead
    with sf.SoundFile(str(path)) as f:
        for block in f.blocks(blocksize=_STEP, dtype="float32", always_2d=True):
            x[i : i + len(block)] = block.mean(axis=1, dtype=np.float64)
            i += len(block)
    return x[:i]


def _marked_blocks(path: Path, up: np.ndarray) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """(original, marked) float32 blocks of the WAV at `path`, the mark `up` added to every channel."""
    i = 0
    with sf.SoundFile(str(path)) as f:
        for a in f.blocks(blocksize=_STEP, dtype="float32", always_2d=True):
            yield a, a + up[i : i + len(a), None]
            i += len(a)


def _write_marked(
    src: Path,
    dest: Path,
    up: np.ndarray,
    subtype: str,
    scale: float | None = None,
    divisor: float | None = None,
    clip: bool = True,
) -> float:
    """Write `dest`: `src` with the mark `up`, times `scale` or over `divisor` (when given), clipped to full
    scale (when `clip`),
    in `subtype`. Returns the mark's SNR (mark_snr_db of the unscaled marked track, summed block by block)."""
    num = den = 0.0
    info = sf.info(str(src))
    with sf.SoundFile(str(dest), "w", int(info.samplerate), info.channels, subtype) as out:
        for a, marked in _marked_blocks(src, up):
            o = np.asarray(a, dtype=np.float64)
            d = np.asarray(marked, dtype=np.float64) - o
            num, den = num + float(np.sum(o**2)), den + float(np.sum(d**2))
            if scale is not None:
                marked = marked * scale
            if divisor is not None:
                marked = marked / divisor
            out.write(np.clip(marked, -1.0, 1.0) if clip else marked)
    return float("inf") if den == 0 else 10 * np.log10(num / den)


def _peak_trim(m: loudness.Measurement, prof: loudness.Profile) -> float:
    """The gain (dB, <= 0) that brings the peak back under the profile's ceiling."""
    if prof.name == "none":
        return 0.0
    peak = m.sample_peak_dbfs if prof.rms_range is not None else m.true_peak_dbtp
    excess = peak - prof.true_peak
    return -(excess + 0.05) if excess > 0 else 0.0


# --- detection ----------------------------------------------------------------------------------------


@dataclass
class StreamReading:
    index: int  # the audio stream's index among the file's audio streams
    language: str
    title: str
    codec: str
    seconds: float  # how much of it was read
    detection: Detection
    records: list[dict[str, Any]] = field(default_factory=list)
    public_key: bool = False  # read with dubline's public built-in key (the mark proves nothing)


def _local(path_or_uri: str) -> Path:
    from urllib.parse import unquote, urlparse

    p = urlparse(path_or_uri)
    if p.scheme not in ("", "file"):
        raise InputError(f"{path_or_uri}: detect reads local files", "download it first, or give a path")
    path = Path(unquote(p.path) if p.scheme else path_or_uri).expanduser()
    if not path.exists():
        raise InputError(f"{path}: no such file", "give the path of an audio or video file")
    if not path.is_file():
        raise InputError(f"{path} is not a file", "give the path of an audio or video file")
    return path


def audio_streams(path: Path) -> list[dict[str, Any]]:
    """The file's audio streams (ffprobe), or an InputError that says what is wrong."""
    import ffmpeg

    from pipeline.audio import media

    media.require_ffmpeg()
    if path.stat().st_size == 0:
        raise InputError(f"{path} is empty (0 bytes)", "give a complete audio or video file")
    try:
        streams = ffmpeg.probe(str(path)).get("streams", [])
    except ffmpeg.Error as e:
        detail = (e.stderr or b"").decode(errors="replace").strip().splitlines()
        raise InputError(
            f"{path} is not a media file ffmpeg can read ({detail[-1] if detail else 'unknown format'})",
            "give an audio or video file (wav, mp3, m4a, mp4, mkv, ...)",
        ) from None
    audio = [s for s in streams if s.get("codec_type") == "audio"]
    if not audio:
        raise InputError(f"{path} has no audio stream", "give a file with sound")
    return audio


def read_stream(path: Path, index: int, seconds: float = DETECT_SECONDS) -> np.ndarray:
    """Audio stream `index` of `path`, mono at the watermark's analysis rate (the first `seconds`)."""
    cmd = ["ffmpeg", "-v", "error", "-nostdin", "-t", f"{seconds:.3f}", "-i", str(path)]
    cmd += ["-map", f"0:a:{index}", "-ac", "1", "-ar", str(DETECT_RATE), "-f", "f32le", "-"]
    proc = subprocess.run(cmd, capture_output=True)
    if proc.returncode != 0:
        tail = proc.stderr.decode(errors="replace").strip().splitlines()
        raise InputError(
            f"{path}: audio stream {index} cannot be decoded ({tail[-1] if tail else 'ffmpeg failed'})",
            "check the file",
        )
    return np.frombuffer(proc.stdout, dtype=np.float32)


def detect_file(settings: Settings, path_or_uri: str) -> list[StreamReading]:
    """Read the mark of every audio stream of a file."""
    path = _local(path_or_uri)
    key = watermark_key(settings)
    out = []
    for i, st in enumerate(audio_streams(path)):
        audio = read_stream(path, i)
        tags = st.get("tags", {})
        det = decode(audio, DETECT_RATE, key) if len(audio) else Detection(False, None, 0.0, (), False, 0, 0.0, 0.0)
        public = is_public(key)
        if len(audio) and not det.present and not public:  # a mark made with the old public key stays readable
            legacy = decode(audio, DETECT_RATE, BUILTIN_KEY)
            det, public = (legacy, True) if legacy.present else (det, False)
        out.append(
            StreamReading(
                index=i,
                language=str(tags.get("language", "")),
                title=str(tags.get("title", "")),
                codec=str(st.get("codec_name", "")),
                seconds=round(len(audio) / DETECT_RATE, 2),
                detection=det,
                public_key=public and det.present,
            )
        )
    return out


def lookup(settings: Settings, payload: int) -> list[dict[str, Any]]:
    """The ledger's records of dub tracks marked with `payload`: the track, the job that made it (DAG run,
    input), its models and consents, and the published files it went into."""
    from sqlalchemy import select

    from pipeline.ledger import db
    from pipeline.ledger.tables import Artifact, ArtifactInput

    out: list[dict[str, Any]] = []
    with db.session(settings) as s:
        for art in s.scalars(select(Artifact).where(Artifact.watermark == payload).order_by(Artifact.id)):
            doc = art.manifest or {}
            published = s.scalars(
                select(Artifact)
                .join(ArtifactInput, ArtifactInput.artifact_id == Artifact.id)
                .where(ArtifactInput.input_artifact_id == art.id)
                .order_by(Artifact.id)
            ).all()
            source: dict[str, Any] = next((i for i in doc.get("inputs", []) if i.get("role") == "source"), {})
            out.append(
                {
                    "artifact": art.id,
                    "uri": art.uri,
                    "sha256": art.sha256,
                    "language": doc.get("artifact", {}).get("language"),
                    "created_at": art.created_at.isoformat(),
                    "job": {**doc.get("job", {}), "dag_id": art.dag_id, "run_id": art.run_id},
                    "input": {"uri": source.get("uri"), "sha256": source.get("sha256")},
                    "models": art.models,
                    "consents": doc.get("consents", []),
                    "published": sorted({p.uri for p in published}),
                    "flag": art.flag,
                    "flag_reason": art.flag_reason,
                }
            )
    return out
