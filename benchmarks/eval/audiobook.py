"""Audiobook evaluation (`python -m benchmarks.eval audiobook`): issue 14's figures, measured by narrating a
public-domain book end to end with `dubline audiobook` on the embedded defaults.

The book is benchmarks/eval/data/fables.md: 22 of Aesop's Fables in George Fyler Townsend's translation (1867),
public domain, in six chapters (about 2,700 words read, 15,000 characters), grouped into chapters for this
evaluation. It was written down from Townsend's text as Project Gutenberg distributes it (eBook #21) without a
copy at hand to compare: the wording may differ from the original in places (it has not been diffed against
eBook #21). Any such difference changes nothing measured here: the reference of the WER is the file itself.

Per voice profile ("fast": the Piper voice, also dubline's default English voice; "balanced": Kokoro's English
voice), in a fresh data folder (so no stage and no clip is reused from an earlier run) with the installed model
weights, it prints:
- wall time of the whole run, characters of narration per second (characters read / wall seconds) and the
  real-time factor (wall seconds / seconds of audio);
- the ACX checks per chapter from the report (RMS, peak, noise floor, room tone at head and tail) and the pass
  rate;
- the narration heard again: each chapter's MP3 transcribed by the configured Whisper, its word error rate
  against the chapter's text as read (title and paragraphs, models.text.heard_wer), per chapter and overall
  (target at most 0.10);
- the m4b's chapter markers (encode.read_chapters) against the chapter starts: the running sum of the chapter
  WAVs' lengths (the report) and of the MP3s' (ffprobe); the largest difference in ms;
- the re-run after an edit: one word of one sentence in chapter 3 changed in a copy of the book, narrated again
  with the same data folder and output; its wall time and the chunks it synthesized against the first run's.

`--chapters N` narrates only the first N chapters (a quick run); `--no-qa` turns the chunk re-hearing off
(DUBLINE_QA=false). The figures are also written as JSON to var/eval/audiobook.json. On 2 CPU cores one
chapter (about 450 words, under 3 minutes of audio) takes about 2 minutes with Piper and 3 with Kokoro, QA on;
the whole book, both profiles, about half an hour.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
BOOK = Path(__file__).resolve().parent / "data" / "fables.md"
WER_TARGET = 0.10
EDIT_CHAPTER = 3
EDIT = ("dried figs", "fresh figs")  # chapter 3, The Town Mouse and the Country Mouse: one sentence changed
# settings that would point a run at the user's own store, database or Airflow instead of the fresh data folder
_ISOLATE = ("DUBLINE_STORE_URL", "DUBLINE_DB_URL", "DUBLINE_AIRFLOW_HOME", "DUBLINE_C2PA_CERT_DIR")
_ROMAN = {"I": 1, "V": 5, "X": 10, "L": 50, "C": 100}


class RunFailed(Exception):
    pass


# --- the manuscript -----------------------------------------------------------------------------------------


def sections(text: str) -> list[str]:
    """The manuscript cut before each chapter heading (`# `): [front matter, chapter 1, chapter 2, ...]."""
    return re.split(r"(?m)^(?=# )", text)


def trimmed(text: str, chapters: int) -> str:
    """The manuscript with only its first `chapters` chapters (all when 0)."""
    parts = sections(text)
    return "".join(parts[: chapters + 1]) if chapters > 0 else text


def edited(text: str, chapter: int) -> tuple[str, str]:
    """The manuscript with one word of one sentence of chapter `chapter` changed, and what was changed."""
    parts = sections(text)
    body = parts[chapter]
    if chapter == EDIT_CHAPTER and EDIT[0] in body:
        parts[chapter] = body.replace(EDIT[0], EDIT[1], 1)
        return "".join(parts), f"chapter {chapter}: {EDIT[0]!r} -> {EDIT[1]!r}"
    # another book or a shorter run: the first "the" of the chapter's first long paragraph becomes "a"
    for para in body.split("\n\n"):
        if len(para.split()) >= 20 and not para.startswith(("#", "**")) and re.search(r"\bthe\b", para):
            parts[chapter] = body.replace(para, re.sub(r"\bthe\b", "a", para, count=1), 1)
            return "".join(parts), f"chapter {chapter}: 'the' -> 'a' in {para[:40]!r}..."
    raise ValueError(f"chapter {chapter} has no paragraph to edit")


def _arabic(roman: str) -> int:
    values = [_ROMAN[c] for c in roman]
    return sum(-v if i + 1 < len(values) and v < values[i + 1] else v for i, v in enumerate(values))


def references(book: Path) -> list[tuple[str, str]]:
    """Each chapter's (title, text as read): the title, then its paragraphs. A heading's roman numeral is
    written as a number ("Chapter III" -> "Chapter 3"), as Whisper writes what it hears of it."""
    from pipeline.products.audiobook.manuscript import read_manuscript

    out = []
    for c in read_manuscript(book).book.chapters:
        title = re.sub(r"^(Chapter)\s+([IVXLC]+)\b", lambda m: f"{m[1]} {_arabic(m[2])}", c.title)
        text = " ".join([f"{title}."] + [p.text for p in c.paragraphs if p.kind == "text" and p.text.strip()])
        out.append((c.title, text))
    return out


# --- one narration run --------------------------------------------------------------------------------------


def _progress(log: Path, chapters: int) -> str:
    """How far the run is, from the CLI's log: the chapters narrated so far, and the last stage done."""
    try:
        text = log.read_text(errors="replace")
    except OSError:
        return ""
    done = re.findall(r"^\s*done\s+(\S+)", text, flags=re.M)
    narrated = sum(s.startswith("narrate[") for s in done)
    return f"{narrated}/{chapters} chapters narrated" + (f", last done: {done[-1]}" if done else "")


def narrate(
    book: Path, voice: str, out: Path, env: dict[str, str], log: Path, chapters: int
) -> tuple[float, dict[str, Any]]:
    """Run `dubline audiobook` on `book`; (wall seconds, the report). Progress every 30 s from its log."""
    cmd = [sys.executable, "-m", "pipeline.cli.app", "audiobook", str(book), "--voice", voice, "--out", str(out)]
    t0 = time.perf_counter()
    with log.open("w") as f:
        proc = subprocess.Popen(cmd, env=env, stdout=f, stderr=subprocess.STDOUT, cwd=REPO)
        note = 30.0
        while proc.poll() is None:
            time.sleep(0.5)
            elapsed = time.perf_counter() - t0
            if elapsed >= note:
                print(f"    ... {elapsed:4.0f} s: {_progress(log, chapters)}", flush=True)
                note += 30.0
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        text = log.read_text(errors="replace")
        tail = text[-3000:]
        for task_log in re.findall(r"see (\S+\.log)", text):  # the Airflow task log the CLI points at
            if Path(task_log).is_file():
                tail += f"\n--- {task_log} (end):\n" + Path(task_log).read_text(errors="replace")[-4000:]
        raise RunFailed(f"`dubline audiobook {book.name} --voice {voice}` exited {proc.returncode}:\n{tail}")
    reports = sorted(out.glob(f"{book.stem}.report.json")) or sorted(out.glob("*.report.json"))
    if not reports:
        raise RunFailed(f"no report in {out} (see {log})")
    return wall, json.loads(reports[0].read_text())


def _output(report: dict[str, Any], out: Path, suffix: str) -> Path:
    """A delivered file by its name's ending (the report's outputs, else the output folder)."""
    for name, where in (report.get("outputs") or {}).items():
        if str(name).endswith(suffix):
            return Path(str(where))
    found = sorted(out.glob(f"*{suffix}"))
    if not found:
        raise RunFailed(f"no *{suffix} in {out}")
    return found[0]


# --- the measures -------------------------------------------------------------------------------------------


def acx_figures(report: dict[str, Any]) -> list[dict[str, Any]]:
    rows = []
    for c in report["chapters"]:
        acx = c.get("acx") or {}
        rows.append(
            {
                "index": c["index"],
                "passed": bool(acx.get("passed")),
                "rms_db": acx.get("rms_db"),
                "peak_db": acx.get("peak_db"),
                "noise_floor_db": acx.get("noise_floor_db"),
                "head_s": acx.get("head_s"),
                "tail_s": acx.get("tail_s"),
                "failures": list(acx.get("failures") or []),
            }
        )
    return rows


def wer_figures(report: dict[str, Any], out: Path, refs: list[tuple[str, str]], asr: Any, tmp: Path) -> dict[str, Any]:
    """Each chapter's MP3 heard by Whisper against its text; per chapter and overall (errors over words)."""
    from models.text import heard_wer, wer_tokens

    rows: list[dict[str, Any]] = []
    errors = words = 0.0
    for c, (_, reference) in zip(report["chapters"], refs, strict=True):
        mp3 = _output(report, out, f".ch{int(c['index']):02d}.mp3")
        wav = tmp / f"heard-ch{int(c['index']):02d}.wav"
        subprocess.run(
            [
                "ffmpeg",
                "-hide_banner",
                "-nostdin",
                "-v",
                "error",
                "-y",
                "-i",
                str(mp3),
                "-ac",
                "1",
                "-ar",
                "16000",
                str(wav),
            ],
            check=True,
        )
        t0 = time.perf_counter()
        heard = " ".join(s.text.strip() for s in asr.transcribe(wav, language="en").segments)
        n = len(wer_tokens(reference, "en"))
        wer = heard_wer(reference, heard, "en")
        errors, words = errors + wer * n, words + n
        rows.append({"index": c["index"], "words": n, "wer": round(wer, 4), "heard": heard})
        print(
            f"    chapter {c['index']}: WER {wer:.3f} over {n} words (heard in {time.perf_counter() - t0:.0f} s)",
            flush=True,
        )
        wav.unlink(missing_ok=True)
    return {"chapters": rows, "overall": round(errors / max(words, 1.0), 4), "words": int(words)}


def marker_figures(report: dict[str, Any], out: Path) -> dict[str, Any]:
    """The m4b's chapter starts against the running sums of the chapter WAVs' and MP3s' lengths."""
    from pipeline.audio.media import probe
    from pipeline.products.audiobook.encode import read_chapters

    m4b = _output(report, out, ".m4b")
    markers = read_chapters(m4b)
    chapters = report["chapters"]
    wav_starts, mp3_starts, t_wav, t_mp3 = [], [], 0.0, 0.0
    for c in chapters:
        wav_starts.append(t_wav)
        mp3_starts.append(t_mp3)
        t_wav += float(c["duration_s"])
        t_mp3 += probe(_output(report, out, f".ch{int(c['index']):02d}.mp3")).duration
    starts = [float(_field(m, "start_s")) for m in markers]
    titles_ok = sum(str(_field(m, "title")) == str(c["title"]) for m, c in zip(markers, chapters, strict=False))
    n = min(len(starts), len(chapters))
    d_wav = [abs(starts[i] - wav_starts[i]) * 1000 for i in range(n)]
    d_mp3 = [abs(starts[i] - mp3_starts[i]) * 1000 for i in range(n)]
    end = float(_field(markers[-1], "end_s")) if markers else 0.0
    return {
        "markers": len(markers),
        "chapters": len(chapters),
        "titles_matching": titles_ok,
        "starts_s": [round(s, 3) for s in starts],
        "max_diff_wav_ms": round(max(d_wav, default=0.0), 1),
        "max_diff_mp3_ms": round(max(d_mp3, default=0.0), 1),
        "end_diff_ms": round((end - t_wav) * 1000, 1),
        "m4b_duration_s": round(probe(m4b).duration, 3),
        "wav_total_s": round(t_wav, 3),
    }


def _field(m: Any, key: str) -> Any:
    return m[key] if isinstance(m, dict) else getattr(m, key)


def _narrated_now(report: dict[str, Any]) -> set[int]:
    """The chapters whose narration stage ran in this run (not reused from the store)."""
    ran = set()
    for s in report.get("stages") or []:
        if s.get("stage") == "narrate" and not s.get("cached"):
            digits = re.sub(r"\D", "", str(s.get("label") or ""))
            if digits:
                ran.add(int(digits))
    return ran


# --- the profiles -------------------------------------------------------------------------------------------


def voices(settings: Any) -> dict[str, str | None]:
    """The voice of each profile: fast = Piper (Pico where it is absent), balanced = Kokoro; None = absent."""
    from pipeline.core.engines import get_tts_engines

    engines = {e.name: e for e in get_tts_engines(settings)}

    def spec(name: str) -> str | None:
        e = engines.get(name)
        if e is None or "en" not in e.languages():
            return None
        return f"{name}:{e.voice_for('en').id}"

    return {"fast": spec("piper") or spec("pico"), "balanced": spec("kokoro")}


def evaluate_profile(
    name: str, voice: str, book: Path, refs: list[tuple[str, str]], asr: Any, tmp: Path, qa: bool
) -> dict[str, Any]:
    data, out, work = tmp / f"data-{name}", tmp / f"out-{name}", tmp / f"work-{name}"
    work.mkdir()
    env = {k: v for k, v in os.environ.items() if k not in _ISOLATE}
    env["DUBLINE_DATA_DIR"] = str(data)
    if not qa:
        env["DUBLINE_QA"] = "false"
    print(f"\n== {name}: {voice}, data folder {data}", flush=True)
    print(f"  narrating {book.name} ({len(refs)} chapters)", flush=True)
    wall, report = narrate(book, voice, out, env, work / "run1.log", len(refs))
    chapters = report["chapters"]
    chars = sum(int(c.get("chars") or 0) for c in chapters)
    audio = float(report.get("duration_s") or sum(float(c["duration_s"]) for c in chapters))
    chunks = sum(int(c.get("chunks") or 0) for c in chapters)
    synthesized = sum(int(c.get("synthesized") or 0) for c in chapters)
    print(
        f"  done in {wall:.0f} s: {audio:.0f} s of audio, {chars} characters, {synthesized}/{chunks} chunks", flush=True
    )
    print("  hearing the chapters again (WER)", flush=True)
    wer = wer_figures(report, out, refs, asr, work)
    markers = marker_figures(report, out)

    edited_book = work / "edited" / book.name
    edited_book.parent.mkdir()
    chapter = min(EDIT_CHAPTER, len(chapters))
    text, change = edited(book.read_text(encoding="utf-8"), chapter)
    edited_book.write_text(text, encoding="utf-8")
    print(f"  re-run after an edit ({change})", flush=True)
    rewall, rereport = narrate(edited_book, voice, out, env, work / "run2.log", len(refs))
    ran = _narrated_now(rereport)
    resynth = sum(int(c.get("synthesized") or 0) for c in rereport["chapters"] if int(c["index"]) in ran)
    print(
        f"  re-run done in {rewall:.0f} s: chapters narrated again {sorted(ran)}, {resynth} chunk(s) synthesized",
        flush=True,
    )
    qa_doc = report.get("qa") or {}
    acx = acx_figures(report)
    return {
        "profile": name,
        "voice": voice,
        "engine": (report.get("voice") or {}).get("engine"),
        "wall_s": round(wall, 2),
        "audio_s": round(audio, 2),
        "chars": chars,
        "chars_per_s": round(chars / wall, 2),
        "rtf": round(wall / max(audio, 1e-9), 4),
        "stage_time_s": report.get("stage_time_s"),
        "stages": {
            f"{s['stage']}[{s['label']}]" if s.get("label") else s["stage"]: s.get("elapsed_s")
            for s in report.get("stages") or []
        },
        "chunks": chunks,
        "synthesized": synthesized,
        "qa": {
            "on": qa,
            "chunks": qa_doc.get("chunks"),
            "passed": qa_doc.get("passed"),
            "failed": len(qa_doc.get("failed") or []),
        },
        "acx": acx,
        "acx_pass_rate": round(sum(c["passed"] for c in acx) / max(len(chapters), 1), 3),
        "durations_s": [c["duration_s"] for c in chapters],
        "wer": wer,
        "markers": markers,
        "rerun": {
            "edit": change,
            "wall_s": round(rewall, 2),
            "chapters_narrated": sorted(ran),
            "synthesized": resynth,
            "first_run_synthesized": synthesized,
            "chunks": chunks,
        },
    }


def _num(v: Any, fmt: str) -> str:
    return format(v, fmt) if isinstance(v, int | float) else "-"


def print_profile(f: dict[str, Any]) -> None:
    print(f"\n== {f['profile']} ({f['voice']})")
    print(
        f"  wall {f['wall_s']:.0f} s for {f['audio_s']:.0f} s of audio: real-time factor {f['rtf']:.3f}, "
        f"{f['chars_per_s']:.1f} characters/s ({f['chars']} characters, {f['chunks']} chunks)"
    )
    q = f["qa"]
    print("  QA: " + (f"{q['passed']}/{q['chunks']} chunks passed, {q['failed']} still failing" if q["on"] else "off"))
    wers = {int(w["index"]): w for w in f["wer"]["chapters"]}
    print(
        f"  {'ch':>2} {'length':>7} {'ACX':>4} {'RMS dB':>7} {'peak dB':>7} {'floor dB':>8} {'head s':>6} "
        f"{'tail s':>6} {'WER':>6}"
    )
    for a, d in zip(f["acx"], f["durations_s"], strict=True):
        w = wers.get(int(a["index"]), {})
        print(
            f"  {a['index']:>2} {time.strftime('%M:%S', time.gmtime(float(d))):>7} "
            f"{'pass' if a['passed'] else 'FAIL':>4} "
            f"{_num(a['rms_db'], '.1f'):>7} {_num(a['peak_db'], '.1f'):>7} {_num(a['noise_floor_db'], '.1f'):>8} "
            f"{_num(a['head_s'], '.2f'):>6} {_num(a['tail_s'], '.2f'):>6} {_num(w.get('wer'), '.3f'):>6}"
            + (f"  {'; '.join(a['failures'])}" if a["failures"] else "")
        )
    overall = f["wer"]["overall"]
    print(
        f"  ACX pass rate {f['acx_pass_rate']:.0%}; WER overall {overall:.3f} over {f['wer']['words']} words "
        f"({'meets' if overall <= WER_TARGET else 'misses'} the target of at most {WER_TARGET:.2f})"
    )
    m = f["markers"]
    print(
        f"  markers: {m['markers']} for {m['chapters']} chapters, {m['titles_matching']} titles matching; start vs "
        f"chapter WAVs max |diff| {m['max_diff_wav_ms']:.1f} ms, vs MP3s {m['max_diff_mp3_ms']:.1f} ms; "
        f"last end vs total {m['end_diff_ms']:+.1f} ms"
    )
    r = f["rerun"]
    print(
        f"  re-run after an edit ({r['edit']}): {r['wall_s']:.0f} s (first run {f['wall_s']:.0f} s), "
        f"{r['synthesized']} chunk(s) synthesized (first run {r['first_run_synthesized']} of {r['chunks']}), "
        f"chapters narrated again {r['chapters_narrated']}"
    )


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(prog="python -m benchmarks.eval audiobook", description=__doc__.split("\n")[0])
    ap.add_argument("--profile", choices=["fast", "balanced", "all"], default="all", help="voice profile(s) to run")
    ap.add_argument("--chapters", type=int, default=0, help="narrate only the first N chapters (0 = all)")
    ap.add_argument("--no-qa", action="store_true", help="do not re-hear the chunks (DUBLINE_QA=false)")
    ap.add_argument("--book", type=Path, default=BOOK, help="the Markdown manuscript (default: the fables)")
    ap.add_argument("--json", type=Path, default=REPO / "var" / "eval" / "audiobook.json", help="report file")
    ap.add_argument("--keep", action="store_true", help="keep the working folder (data, outputs, logs)")
    args = ap.parse_args(argv)
    if args.chapters < 0:
        ap.error("--chapters must be 0 or more")

    from pipeline.core.config import Settings
    from pipeline.core.engines import get_asr

    tmp = Path(tempfile.mkdtemp(prefix="dubline-eval-audiobook-"))
    try:
        settings = Settings(data_dir=tmp / "data-eval")
        chosen = voices(settings)
        names = ["fast", "balanced"] if args.profile == "all" else [args.profile]
        book = tmp / args.book.name
        book.write_text(trimmed(args.book.read_text(encoding="utf-8"), args.chapters), encoding="utf-8")
        refs = references(book)
        words = sum(len(t.split()) for _, t in refs)
        print(f"book: {args.book.name}, {len(refs)} chapters, {words} words, {sum(len(t) for _, t in refs)} characters")
        try:
            asr = get_asr(settings)
        except Exception as e:
            print(f"audiobook: no Whisper to hear the narration with ({e})")
            return 1
        print(f"hearing with {asr.info.id} ({settings.asr_backend}); QA {'off' if args.no_qa else 'on'}", flush=True)
        figures = []
        failed = 0
        for name in names:
            voice = chosen.get(name)
            if voice is None:
                print(f"\n== {name}: its voice engine is not installed here, skipped")
                continue
            try:
                figures.append(evaluate_profile(name, voice, book, refs, asr, tmp, not args.no_qa))
            except RunFailed as e:
                print(f"\n== {name}: FAILED\n{e}", flush=True)
                failed += 1
        for f in figures:
            print_profile(f)
        result = {"book": {"file": args.book.name, "chapters": len(refs), "words": words}, "profiles": figures}
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(result, indent=1, ensure_ascii=False))
        print(f"\nreport: {args.json}")
        return 1 if failed or not figures else 0
    finally:
        if args.keep:
            print(f"working folder kept: {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
