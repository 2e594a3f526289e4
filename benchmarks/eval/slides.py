"""Generated slide videos, and the figure `dubline describe draft` is judged by on them.

`make_slide_video` renders one slide per title (a large title and a smaller body line, dark on a light
background, the way lecture slides look) for a fixed number of seconds each, with a silent audio track, into
an mp4. It draws with ffmpeg's drawtext and a DejaVu font where both are there, and otherwise renders the
slides as PNGs with Pillow and joins them with ffmpeg. Tests use it; `main` prints the share of slide titles
that the draft script finds (`python -m benchmarks.eval slides`).
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import tempfile
import time
from functools import lru_cache
from pathlib import Path

import ffmpeg

FONT_NAMES = ("DejaVuSans-Bold.ttf", "DejaVuSans.ttf", "LiberationSans-Bold.ttf", "LiberationSans-Regular.ttf")
BACKGROUND = "0xF4F4F0"
INK = "0x1A1A2E"
FPS = 25
EVAL_TITLES = [
    "Introduction to Signals",
    "Sampling and Aliasing",
    "The Fourier Transform",
    "Filters in Practice",
    "Noise and Distortion",
    "Summary and Questions",
]


@lru_cache(maxsize=1)
def _font() -> Path | None:
    """A TrueType font from the system's font folders (DejaVu Sans on Debian), or None."""
    for name in FONT_NAMES:
        for root in (Path("/usr/share/fonts"), Path("/usr/local/share/fonts")):
            found = sorted(root.rglob(name)) if root.is_dir() else []
            if found:
                return found[0]
    return None


@lru_cache(maxsize=1)
def _has_drawtext() -> bool:
    try:
        out = subprocess.run(["ffmpeg", "-hide_banner", "-filters"], capture_output=True, text=True, check=True)
    except (OSError, subprocess.CalledProcessError):
        return False
    return re.search(r"^\s*\S+\s+drawtext\s", out.stdout, re.MULTILINE) is not None


def _body(i: int, title: str) -> str:
    return f"Part {i + 1}: notes on {title.lower()}"


def _drawtext_video(
    dest: Path, titles: list[str], seconds: float, size: tuple[int, int], font: Path, tmp: Path
) -> None:
    """One colour source for the whole video; each slide's text enabled only during its seconds."""
    w, h = size
    video = ffmpeg.input(f"color=c={BACKGROUND}:s={w}x{h}:r={FPS}:d={seconds * len(titles)}", f="lavfi")
    for i, title in enumerate(titles):
        # the text goes through files: no escaping of quotes, colons or percent signs in a filter graph
        title_file, body_file = tmp / f"title{i}.txt", tmp / f"body{i}.txt"
        title_file.write_text(title, encoding="utf-8")
        body_file.write_text(_body(i, title), encoding="utf-8")
        when = f"between(t,{i * seconds},{(i + 1) * seconds - 0.001})"
        common = {"fontfile": str(font), "fontcolor": INK, "expansion": "none", "enable": when}
        video = video.drawtext(textfile=str(title_file), fontsize=h // 10, x="(w-text_w)/2", y=h // 4, **common)
        video = video.drawtext(textfile=str(body_file), fontsize=h // 22, x="(w-text_w)/2", y=h // 2, **common)
    _encode(video, dest, seconds * len(titles))


def _pillow_video(
    dest: Path, titles: list[str], seconds: float, size: tuple[int, int], font: Path | None, tmp: Path
) -> None:
    """Slides as PNGs drawn with Pillow, each looped for its seconds and concatenated."""
    from PIL import Image, ImageDraw, ImageFont

    w, h = size

    def face(px: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
        return ImageFont.truetype(str(font), px) if font else ImageFont.load_default(size=px)

    parts = []
    for i, title in enumerate(titles):
        img = Image.new("RGB", size, "#" + BACKGROUND[2:])
        draw = ImageDraw.Draw(img)
        for text, px, y in ((title, h // 10, h // 4), (_body(i, title), h // 22, h // 2)):
            f = face(px)
            left, _, right, _ = draw.textbbox((0, 0), text, font=f)
            draw.text(((w - (right - left)) // 2, y), text, fill="#" + INK[2:], font=f)
        png = tmp / f"slide{i}.png"
        img.save(png)
        parts.append(ffmpeg.input(str(png), loop=1, t=seconds, framerate=FPS))
    video = ffmpeg.concat(*parts, v=1, a=0) if len(parts) > 1 else parts[0]
    _encode(video, dest, seconds * len(titles))


def _encode(video: ffmpeg.nodes.FilterableStream, dest: Path, duration: float) -> None:
    audio = ffmpeg.input("anullsrc=r=48000:cl=mono", f="lavfi", t=duration)
    out = ffmpeg.output(
        video.filter("format", "yuv420p"),
        audio,
        str(dest),
        vcodec="libx264",
        preset="ultrafast",
        r=FPS,
        acodec="aac",
        t=duration,
        movflags="+faststart",
    )
    try:
        out.overwrite_output().run(capture_stdout=True, capture_stderr=True)
    except ffmpeg.Error as e:
        tail = (e.stderr or b"").decode(errors="replace").strip().splitlines()[-3:]
        raise RuntimeError(f"ffmpeg could not render the slide video {dest}: {' | '.join(tail)}") from None


def make_slide_video(
    dest: Path, titles: list[str], seconds_per_slide: float = 4.0, size: tuple[int, int] = (1280, 720)
) -> Path:
    """Render `titles` as slides (a large title and a smaller body line each), `seconds_per_slide` each,
    into the mp4 `dest` with a silent mono track. Slide i shows from i * seconds_per_slide."""
    if not titles:
        raise ValueError("make_slide_video needs at least one title")
    if shutil.which("ffmpeg") is None:
        raise RuntimeError("ffmpeg is not installed (run `make setup`)")
    dest.parent.mkdir(parents=True, exist_ok=True)
    font = _font()
    with tempfile.TemporaryDirectory(prefix="slides-") as tmp:
        if font is not None and _has_drawtext():
            _drawtext_video(dest, titles, seconds_per_slide, size, font, Path(tmp))
        else:
            _pillow_video(dest, titles, seconds_per_slide, size, font, Path(tmp))
    return dest


def titles_found(titles: list[str], texts: list[str]) -> list[bool]:
    """For each title, whether it appears (case-insensitively, spacing aside) in any of the texts."""
    joined = " ".join(" ".join(t.lower().split()) for t in texts)
    return [" ".join(t.lower().split()) in joined for t in titles]


def main(argv: list[str]) -> int:
    """Generate a slide video, draft its description, print the share of slide titles found."""
    from pipeline.core.errors import DublineError
    from pipeline.products.description.draft import draft_cues

    seconds = 4.0
    with tempfile.TemporaryDirectory(prefix="eval-slides-") as tmp:
        video = make_slide_video(Path(tmp) / "slides.mp4", EVAL_TITLES, seconds)
        duration = seconds * len(EVAL_TITLES)
        t0 = time.perf_counter()
        try:
            cues = draft_cues(video, [(0.0, duration)], "en", duration=duration)
        except DublineError as e:
            print(f"draft: not available here ({e.one_line()})")
            return 0
        wall = time.perf_counter() - t0
    found = titles_found(EVAL_TITLES, [c.text for c in cues])
    print(f"draft: slide titles found {sum(found)}/{len(found)} ({sum(found) / len(found):.0%})")
    print(f"draft: {len(cues)} cues for {len(EVAL_TITLES)} slides; wall {wall:.1f} s for {duration:.0f} s of video")
    for title, ok in zip(EVAL_TITLES, found, strict=True):
        if not ok:
            print(f"draft: missed title {title!r}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
