"""`dubline describe draft VIDEO`: a draft description script read from the picture, for a describer to edit.

Two signals from the video: where the picture changes (ffmpeg's scene score, `select='gt(scene,T)'` and
`metadata=print`, on a small, 5 fps copy of the picture), and what text each new picture carries (Tesseract
OCR of one frame shortly after the change). Each change whose frame shows new text becomes a cue ("Slide:
<title>. <the rest>"); a cut (a change scoring CUT_THRESHOLD or more) without new text becomes "Scene
change." where no other cue is near, so the describer sees where the picture moves on. Cues are untimed (no
end: the system places them), anchored at the dialogue gap nearest to the change, at or after it where one
is near, and marked as drafts.

On the thresholds: ffmpeg's scene score is about the share of the picture that changed. A film cut scores
0.3 and more, but a new slide on the same template changes only its text: 0.03 to 0.06 on a generated 720p
deck where the title and one body line change, 0.03 where only a short title changes, under 0.005 where
only a number does (those are missed). So text is looked for at every change over DEFAULT_THRESHOLD (0.02),
where a false change (camera motion reaches about 0.03) costs one OCR and makes no cue unless new text is
on screen; the textless "Scene change." marks need a real cut.
"""

from __future__ import annotations

import difflib
import re
import shutil
import tempfile
import textwrap
from collections.abc import Iterable, Mapping, Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any

import ffmpeg

from pipeline.audio.media import run as run_ffmpeg
from pipeline.core.errors import InputError, SetupError, StageError
from pipeline.text.descriptions.cues import Cue, DescriptionScript

DEFAULT_THRESHOLD = 0.02  # ffmpeg scene score where text is looked for; slide changes score 0.03-0.06
CUT_THRESHOLD = 0.3  # ffmpeg scene score of a cut: a change without new text is marked only from here
DETECT_FPS = 5  # pictures per second the scene score compares
DETECT_WIDTH = 320  # pixels across the picture the scene score is computed on
SETTLE_S = 0.5  # the frame read for OCR is this long after the change (or half-way to the next one)
MIN_CONFIDENCE = 60.0  # Tesseract's word confidence (0-100); lines below it on average are dropped
NEAR_S = 5.0  # a "Scene change." cue only where no other cue is this close
LOOK_AHEAD_S = 15.0  # how far after a change a gap may start and still be "at or after" it
REST_CHARS = 150  # the slide's text after its title, shortened to about this many characters
SAME_TEXT = 0.9  # similarity (difflib ratio) above which two pictures' texts count as the same
DESC_TYPE_SCENE = "scene"  # DAPT registered daptm:descType for a scene identifier
DESC_TYPE_TEXT = "x-onScreenText"  # not in DAPT's registry: user-defined values take the "x-" prefix
TESSERACT_HINT = "install tesseract-ocr and its language data (make setup)"

# ISO 639-1 -> Tesseract's traineddata names
TESSERACT_LANGS = {"en": "eng", "es": "spa", "fr": "fra", "de": "deu", "ca": "cat", "it": "ita", "pt": "por"}

_PTS_TIME = re.compile(r"\bpts_time:\s*(-?[0-9.]+(?:[eE][-+]?[0-9]+)?)")
_SCORE = re.compile(r"lavfi\.scene_score=\s*([0-9.]+(?:[eE][-+]?[0-9]+)?)")


# --- where the picture changes -------------------------------------------------------------------------------


def _ffmpeg_tail(e: ffmpeg.Error) -> str:
    lines = (e.stderr or b"").decode(errors="replace").strip().splitlines()
    return " | ".join(lines[-3:]) if lines else str(e)


def _require_video_file(video: Path) -> None:
    if not video.is_file():
        raise InputError(f"video {video} does not exist", "check the path and try again")
    if shutil.which("ffmpeg") is None:
        raise SetupError("ffmpeg is not installed", "run `make setup` (apt-get install ffmpeg)")


def parse_scene_log(stderr: str) -> list[tuple[float, float]]:
    """(pts_time, scene score) of every frame that ffmpeg's `metadata=print` filter logged, in order."""
    found: list[tuple[float, float]] = []
    t: float | None = None
    for line in stderr.splitlines():
        if "Parsed_metadata" not in line:
            continue
        m = _PTS_TIME.search(line)
        if m:
            t = float(m.group(1))
            continue
        m = _SCORE.search(line)
        if m and t is not None:
            found.append((t, float(m.group(1))))
            t = None
    return found


def merge_changes(changes: Iterable[tuple[float, float]], min_interval_s: float) -> list[tuple[float, float]]:
    """(0.0, 1.0) for the first picture, then each change at least `min_interval_s` after the last one kept;
    a change closer than that is folded into the kept one, which keeps the higher score."""
    kept = [(0.0, 1.0)]
    for t, score in sorted((max(0.0, t), s) for t, s in changes):
        if t - kept[-1][0] >= min_interval_s:
            kept.append((round(t, 3), score))
        else:
            kept[-1] = (kept[-1][0], max(kept[-1][1], score))
    return kept


def detect_scenes(
    video: Path, threshold: float = DEFAULT_THRESHOLD, min_interval_s: float = 1.0
) -> list[tuple[float, float]]:
    """(seconds, ffmpeg scene score 0-1) of each picture change scoring over `threshold`, (0.0, 1.0) first.
    The score is computed on a DETECT_WIDTH-wide, DETECT_FPS copy of the picture, so times are to
    1/DETECT_FPS s; changes closer than `min_interval_s` to the one before are folded into it."""
    _require_video_file(video)
    graph = (
        ffmpeg.input(str(video))
        .video.filter("fps", DETECT_FPS)
        .filter("scale", DETECT_WIDTH, -2)
        .filter("select", f"gt(scene,{threshold})")
        .filter("metadata", "print", key="lavfi.scene_score")
        .output("-", format="null")
        .global_args("-nostdin", "-hide_banner")
    )
    try:
        _, err = graph.run(capture_stdout=True, capture_stderr=True)
    except ffmpeg.Error as e:
        raise InputError(
            f"cannot read the picture of video {video} ({_ffmpeg_tail(e)})",
            "give a video file with a picture (mp4, mkv, mov, webm)",
        ) from None
    except FileNotFoundError:
        raise SetupError("ffmpeg is not installed", "run `make setup` (apt-get install ffmpeg)") from None
    return merge_changes(parse_scene_log(err.decode(errors="replace")), min_interval_s)


def scene_changes(video: Path, threshold: float = DEFAULT_THRESHOLD, min_interval_s: float = 1.0) -> list[float]:
    """Seconds at which the picture changes (scene score over `threshold`), 0.0 (the first picture) always
    first; see `detect_scenes`."""
    return [t for t, _ in detect_scenes(video, threshold, min_interval_s)]


def grab_frame(video: Path, t: float, dest: Path, *, settle_s: float = 0.2) -> Path:
    """A PNG of the picture at `t` + `settle_s` seconds (after a change, so a transition has settled);
    at `t` itself where that is past the end."""
    _require_video_file(video)
    dest.parent.mkdir(parents=True, exist_ok=True)
    for at in (t + settle_s, t):
        dest.unlink(missing_ok=True)
        graph = ffmpeg.input(str(video), ss=f"{max(0.0, at):.3f}").video.output(str(dest), vframes=1)
        run_ffmpeg(graph, f"read the frame at {at:.2f} s of {video}")
        if dest.is_file() and dest.stat().st_size > 0:
            return dest
    raise StageError(f"video {video} has no picture at {t:.2f} s")


# --- what the picture says -----------------------------------------------------------------------------------


def _pytesseract() -> Any:
    try:
        import pytesseract
    except ImportError:
        raise SetupError("the OCR wrapper pytesseract is not installed", "reinstall dubline (make setup)") from None
    if shutil.which(pytesseract.pytesseract.tesseract_cmd) is None:
        raise SetupError("tesseract is not installed, so on-screen text cannot be read", TESSERACT_HINT)
    return pytesseract


def require_tesseract() -> None:
    """SetupError unless Tesseract and its Python wrapper are usable here."""
    _pytesseract()


@lru_cache(maxsize=1)
def installed_languages() -> frozenset[str]:
    """Tesseract's installed language data (traineddata names: eng, spa, ...)."""
    return frozenset(_pytesseract().get_languages(config=""))


def tesseract_language(language: str) -> str:
    """Tesseract's name for an ISO 639-1 code ("es" -> "spa"); "eng" where that language's data is not
    installed; SetupError where no usable language data is."""
    base = language.split("-")[0].split("_")[0].lower()
    wanted = TESSERACT_LANGS.get(base, base)
    have = installed_languages()
    for code in (wanted, "eng"):
        if code in have:
            return code
    usable = sorted(have - {"osd", "equ"})
    if not usable:
        raise SetupError("tesseract has no language data installed", "install tesseract-ocr-eng (make setup)")
    return usable[0]


def is_text_line(line: str) -> bool:
    """Whether an OCR line is worth keeping: at least 3 characters, and mostly letters."""
    chars = [c for c in line if not c.isspace()]
    letters = sum(c.isalpha() for c in chars)
    return len(line) >= 3 and letters >= 3 and letters >= 0.5 * len(chars)


def clean_lines(lines: Iterable[str]) -> list[str]:
    """OCR lines tidied: whitespace collapsed, stray bullets and marks at the start dropped, and lines that
    are not text (too short, mostly symbols or digits) left out."""
    out = []
    for raw in lines:
        line = " ".join(raw.split())
        line = re.sub(r"^[^\w(\"'¡¿]+", "", line).strip()
        if is_text_line(line):
            out.append(line)
    return out


def lines_from_data(data: Mapping[str, Sequence[Any]], min_confidence: float = MIN_CONFIDENCE) -> list[str]:
    """The lines of text in pytesseract's image_to_data dictionary, in reading order, each with its words'
    mean confidence at least `min_confidence`."""
    lines: dict[tuple[int, int, int], list[tuple[str, float]]] = {}
    for i, word in enumerate(data["text"]):
        conf = float(data["conf"][i])
        if not str(word).strip() or conf < 0:
            continue
        key = (int(data["block_num"][i]), int(data["par_num"][i]), int(data["line_num"][i]))
        lines.setdefault(key, []).append((str(word).strip(), conf))
    kept = []
    for words in lines.values():  # dicts keep insertion order: Tesseract's reading order
        if sum(c for _, c in words) / len(words) >= min_confidence:
            kept.append(" ".join(w for w, _ in words))
    return kept


def ocr_text(image: Path, language: str) -> str:
    """The text on screen in `image`, one line per line of text, cleaned (see `clean_lines`); "" if none."""
    tess = _pytesseract()
    from PIL import Image

    lang = tesseract_language(language)
    with Image.open(image) as img:
        gray = img.convert("L")
    if gray.width < 1000:  # Tesseract reads small text better a little larger
        gray = gray.resize((gray.width * 2, gray.height * 2), Image.Resampling.LANCZOS)
    try:
        data = tess.image_to_data(gray, lang=lang, output_type=tess.Output.DICT)
    except tess.TesseractError as e:
        raise StageError(f"tesseract failed on {image}: {e}") from None
    return "\n".join(clean_lines(lines_from_data(data)))


# --- from text to cues ---------------------------------------------------------------------------------------


def title_of(text: str) -> str:
    """The slide's title: its first substantial line (one with a word of three letters or more), without
    trailing punctuation; "" where there is none."""
    for line in text.splitlines():
        line = " ".join(line.split())
        if re.search(r"[^\W\d_]{3,}", line):
            return line.rstrip(" .:;,-–—")
    return ""


def _sentence(line: str) -> str:
    return line if line[-1:] in ".!?…" else line + "."


def describe_text(text: str) -> str:
    """The cue text for a picture's text: "Slide: <title>. <the rest, about REST_CHARS characters>" where it
    has several lines, "On screen: <text>." where it has one; "" for no text."""
    lines = [" ".join(ln.split()) for ln in text.splitlines() if ln.strip()]
    title = title_of(text)
    if not title:
        return ""
    if len(lines) == 1:
        return f"On screen: {_sentence(title)}"
    after = lines[[ln.rstrip(" .:;,-–—") for ln in lines].index(title) + 1 :]
    rest = " ".join(_sentence(ln) for ln in after)
    head = f"Slide: {_sentence(title)}"
    return f"{head} {textwrap.shorten(rest, REST_CHARS, placeholder=' …')}" if rest else head


def same_text(a: str, b: str) -> bool:
    """Whether two OCR readings say the same (case, punctuation and small misreadings aside)."""
    na, nb = (" ".join(re.findall(r"\w+", s.lower())) for s in (a, b))
    if not na or not nb:
        return na == nb
    return na == nb or difflib.SequenceMatcher(None, na, nb).ratio() >= SAME_TEXT


def anchor(t: float, gaps: Sequence[tuple[float, float]], duration: float) -> float:
    """Where a cue about the picture at `t` goes: `t` itself inside a gap; else the start of the first gap
    starting within LOOK_AHEAD_S after it; else the start of the nearest gap; `t` where there are no gaps."""
    limit = max(0.0, duration - 0.001) if duration > 0 else float("inf")
    usable = sorted((s, e) for s, e in gaps if e > s and s < limit)
    if not usable:
        return min(t, limit)
    for s, e in usable:
        if s <= t < e:
            return min(t, limit)
    after = [s for s, _ in usable if t <= s <= t + LOOK_AHEAD_S]
    if after:
        return after[0]
    nearest = min(usable, key=lambda g: min(abs(g[0] - t), abs(g[1] - t)))
    return max(0.0, nearest[0])


def _read_scenes(video: Path, times: list[float], language: str, duration: float) -> list[tuple[float, str]]:
    """(time, OCR text) for each scene change before the end."""
    read = []
    with tempfile.TemporaryDirectory(prefix="dubline-draft-") as tmp:
        for i, t in enumerate(times):
            if duration > 0 and t >= duration:
                break
            nxt = times[i + 1] if i + 1 < len(times) else t + 2 * SETTLE_S
            frame = grab_frame(video, t, Path(tmp) / f"scene{i:04d}.png", settle_s=min(SETTLE_S, (nxt - t) / 2))
            read.append((t, ocr_text(frame, language)))
    return read


def draft_cues(
    video: Path,
    gaps: list[tuple[float, float]],
    language: str,
    *,
    duration: float,
    threshold: float = DEFAULT_THRESHOLD,
    cut_threshold: float = CUT_THRESHOLD,
) -> list[Cue]:
    """Draft cues for `video`: one per picture change (scene score over `threshold`) whose picture carries
    new text, and "Scene change." for a cut (score `cut_threshold` or more) without new text where no other
    cue is within NEAR_S. Untimed (end None), anchored in `gaps` (dialogue gaps, programme seconds),
    `draft=True`, ids draft-001, draft-002, ... in time order."""
    require_tesseract()
    tesseract_language(language)  # fail before the scene pass where no language data is usable
    changes = detect_scenes(video, threshold)
    scores = dict(changes)
    scenes = _read_scenes(video, [t for t, _ in changes], language, duration)
    texts: list[tuple[float, str]] = []
    quiet: list[float] = []  # cuts without new text
    previous = ""
    for t, text in scenes:
        said = describe_text(text)
        if said and not same_text(text, previous):
            texts.append((t, said))
        elif scores[t] >= cut_threshold:
            quiet.append(t)
        previous = text if said else ""
    marks: list[float] = []
    for t in quiet:
        if all(abs(t - other) >= NEAR_S for other in [s for s, _ in texts] + marks):
            marks.append(t)
    found = sorted(
        [(t, said, DESC_TYPE_TEXT) for t, said in texts] + [(t, "Scene change.", DESC_TYPE_SCENE) for t in marks]
    )
    return [
        Cue(
            id=f"draft-{n:03d}",
            start=round(anchor(t, gaps, duration), 3),
            text=said,
            desc_type=kind,
            draft=True,
            where=f"picture at {t:.2f} s",
        )
        for n, (t, said, kind) in enumerate(found, start=1)
    ]


def draft_script(
    video: Path,
    gaps: list[tuple[float, float]],
    language: str,
    duration: float,
    *,
    threshold: float = DEFAULT_THRESHOLD,
) -> DescriptionScript:
    """The draft description script of `video` (format "dapt", draft cues; see `draft_cues`)."""
    cues = draft_cues(video, gaps, language, duration=duration, threshold=threshold)
    return DescriptionScript(format="dapt", language=language, title=f"Draft description: {video.stem}", cues=cues)
