"""Translation quality and length control of each MT backend on the project's parallel test set.

For every direction (default en->es, en->fr, en->de and back) and every backend installed here (apertium,
llm), translates the 68 sentences of data/dialogue.tsv and reports sacrebleu's corpus chrF and BLEU, speed,
and, with a length budget of 110 % of the source line, chrF again and the share of lines that meet it (also
the share that happen to meet it without being asked). The LLM is measured on its own (no fallback), and as
deployed ("llm+fb": lines it rejects go to Apertium where Apertium has the pair). LLM outputs are cached in
var/eval/mt-cache (a re-run costs nothing; --no-cache to time the model again).

    make eval EVAL=translation                  # or: python -m benchmarks.eval translation
    python -m benchmarks.eval.translation --pairs en-de,de-en --limit 20 --no-cache
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import resource
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pipeline.text.translation.base import Rendering, Translator
from pipeline.text.translation.choose import translate_lines

DATA = Path(__file__).resolve().parent / "data" / "dialogue.tsv"
DEFAULT_PAIRS = ("en-es", "en-fr", "en-de", "es-en", "fr-en", "de-en")
BUDGET_RATIO = 1.10


def load_rows(path: Path = DATA) -> list[dict[str, str]]:
    with open(path, encoding="utf-8") as f:
        lines = [line for line in f if not line.startswith("#")]
    return list(csv.DictReader(lines, delimiter="\t"))


@dataclass
class Run:
    backend: str
    pair: str
    outputs: list[str]
    seconds: float
    budgets: list[int | None] | None = None
    engines: list[str] = field(default_factory=list)
    flags: list[tuple[str, ...]] = field(default_factory=list)
    generated: int = 0  # lines that went to the model (not from the cache)


def scores(hyps: list[str], refs: list[str]) -> tuple[float, float]:
    import sacrebleu

    chrf = sacrebleu.corpus_chrf(hyps, [refs]).score
    bleu = sacrebleu.corpus_bleu(hyps, [refs]).score
    return round(chrf, 1), round(bleu, 1)


def budget_share(outputs: list[str], budgets: list[int]) -> float:
    return round(sum(len(o) <= b for o, b in zip(outputs, budgets, strict=True)) / max(len(budgets), 1), 3)


def _run(backend: str, tr: Translator, pair: str, sources: list[str], budgets: list[int | None] | None) -> Run:
    src, tgt = pair.split("-")
    stats = getattr(tr, "stats", None)
    generated0 = stats.generated if stats is not None else 0
    t0 = time.perf_counter()
    rendered: list[Rendering] = translate_lines(tr, sources, src, tgt, budgets)
    seconds = time.perf_counter() - t0
    generated = (stats.generated - generated0) if stats is not None else len(sources)
    return Run(
        backend,
        pair,
        [r.text for r in rendered],
        seconds,
        budgets,
        [r.engine for r in rendered],
        [r.flags for r in rendered],
        generated,
    )


def _rss_mb() -> tuple[float, float]:
    """(current, peak) resident memory of this process, MB."""
    cur = 0.0
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                cur = int(line.split()[1]) / 1024
    except OSError:
        pass
    return round(cur, 1), round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def build_translators(cache_dir: Path | None, threads: int) -> dict[str, Translator]:
    from pipeline.core.config import Settings
    from pipeline.text.translation.base import DiskCache
    from pipeline.text.translation.engines import get_translators
    from pipeline.text.translation.llm import LLMTranslator

    settings = Settings(mt_engines=["apertium", "llm"])
    if threads:
        settings = settings.model_copy(update={"mt_llm_threads": threads})
    out: dict[str, Translator] = {}
    for tr in get_translators(settings):
        if not tr.pairs():
            continue
        if isinstance(tr, LLMTranslator):
            out["llm"] = tr.with_fallback(None, cache=DiskCache(cache_dir) if cache_dir else None)
        else:
            out[str(getattr(tr, "name", tr.info.id))] = tr
    return out


def evaluate(
    pairs: list[str], limit: int | None, cache_dir: Path | None, threads: int = 0, budget: bool = True
) -> dict[str, Any]:
    rows = load_rows()[: limit or None]
    translators = build_translators(cache_dir, threads)
    report: dict[str, Any] = {"sentences": len(rows), "budget_ratio": BUDGET_RATIO, "directions": {}, "backends": {}}
    for name, tr in translators.items():
        report["backends"][name] = tr.info.as_dict()
    llm = translators.get("llm")
    if llm is not None:  # load the model up front, to time it apart from translating
        from models.llama import load_seconds

        before = _rss_mb()[0]
        t0 = time.perf_counter()
        llm.model.load()  # type: ignore[attr-defined]
        load_s = load_seconds().get(str(llm.model.model_path), time.perf_counter() - t0)  # type: ignore[attr-defined]
        after = _rss_mb()[0]
        report["llm_load"] = {"seconds": round(load_s, 2), "rss_mb_before": before, "rss_mb_after": after}
    for pair in pairs:
        src, tgt = pair.split("-")
        sources = [r[src] for r in rows]
        refs = [r[tgt] for r in rows]
        budgets: list[int | None] = [math.ceil(BUDGET_RATIO * len(s)) for s in sources]
        plain_budgets = [b for b in budgets if b is not None]
        d: dict[str, Any] = {}
        runs: dict[str, Run] = {}
        for name, tr in translators.items():
            if (src, tgt) not in tr.pairs():
                d[name] = None
                continue
            free = _run(name, tr, pair, sources, None)
            runs[name] = free
            chrf, bleu = scores(free.outputs, refs)
            entry: dict[str, Any] = {
                "chrF": chrf,
                "BLEU": bleu,
                "sentences_per_s": round(free.generated / free.seconds, 2) if free.generated and free.seconds else None,
                "within_110pct_unasked": budget_share(free.outputs, plain_budgets),
            }
            if name == "llm":
                rejected = [i for i, f in enumerate(free.flags) if "unvalidated" in f]
                entry["rejected_lines"] = len(rejected)
                entry["retried_or_flagged"] = sum(1 for f in free.flags if f)
            if budget:
                tight = _run(name, tr, pair, sources, budgets)
                b_chrf, b_bleu = scores(tight.outputs, refs)
                entry["budget"] = {"chrF": b_chrf, "BLEU": b_bleu, "met": budget_share(tight.outputs, plain_budgets)}
            d[name] = entry
        if "llm" in runs and "apertium" in runs:  # as deployed: rejected LLM lines replaced by Apertium's
            mixed = [
                a if "unvalidated" in f else o
                for o, a, f in zip(runs["llm"].outputs, runs["apertium"].outputs, runs["llm"].flags, strict=True)
            ]
            chrf, bleu = scores(mixed, refs)
            d["llm+fb"] = {"chrF": chrf, "BLEU": bleu}
        d["examples"] = {name: run.outputs[:3] for name, run in runs.items()}
        report["directions"][pair] = d
        print(_line(pair, d), flush=True)
    if llm is not None:
        st = llm.stats  # type: ignore[attr-defined]
        report["llm_stats"] = {
            "lines": st.lines,
            "cached": st.cached,
            "generated": st.generated,
            "model_calls": st.model_calls,
            "retries": st.retries,
            "seconds_in_model": round(st.seconds, 1),
            "sentences_per_s": round(st.generated / st.seconds, 2) if st.seconds else None,
            "problems": st.problems,
        }
    report["rss_mb"], report["peak_rss_mb"] = _rss_mb()
    return report


def _fmt(x: Any) -> str:
    return "-" if x is None else f"{x}"


def _line(pair: str, d: dict[str, Any]) -> str:
    parts = [f"{pair}:"]
    for name in ("apertium", "llm", "llm+fb"):
        e = d.get(name)
        if not e:
            parts.append(f"{name} n/a")
            continue
        s = f"{name} chrF {e['chrF']} BLEU {e['BLEU']}"
        if "budget" in e:
            s += f" | budget 110%: met {e['budget']['met']:.0%} (unasked {e['within_110pct_unasked']:.0%}),"
            s += f" chrF {e['budget']['chrF']}"
        parts.append(s)
    return "  ".join(parts)


def print_table(report: dict[str, Any]) -> None:
    from rich.console import Console
    from rich.table import Table

    t = Table(title=f"translation, {report['sentences']} sentences (benchmarks/eval/data/dialogue.tsv)")
    for col in ("pair", "backend", "chrF", "BLEU", "sent/s", "<=110% unasked", "budget met", "chrF w/ budget"):
        t.add_column(col, justify="right")
    for pair, d in report["directions"].items():
        for name in ("apertium", "llm", "llm+fb"):
            e = d.get(name)
            if not e:
                if name != "llm+fb":
                    t.add_row(pair, name, "n/a", "", "", "", "", "")
                continue
            b = e.get("budget") or {}
            unasked = e.get("within_110pct_unasked")
            t.add_row(
                pair,
                name,
                _fmt(e["chrF"]),
                _fmt(e["BLEU"]),
                _fmt(e.get("sentences_per_s")),
                f"{unasked:.0%}" if unasked is not None else "",
                f"{b['met']:.0%}" if b else "",
                _fmt(b.get("chrF")) if b else "",
            )
    Console().print(t)
    if "llm_load" in report:
        print(f"LLM load: {report['llm_load']}  stats: {report.get('llm_stats')}")
    print(f"memory: RSS {report['rss_mb']} MB, peak {report['peak_rss_mb']} MB")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m benchmarks.eval.translation", description=__doc__.split("\n")[0])
    ap.add_argument("--pairs", default=",".join(DEFAULT_PAIRS), help="comma-separated, e.g. en-es,es-en")
    ap.add_argument("--limit", type=int, default=0, help="only the first N sentences")
    ap.add_argument("--no-budget", action="store_true", help="skip the 110 %% budget runs")
    ap.add_argument("--no-cache", action="store_true", help="translate again even what is cached")
    ap.add_argument("--cache-dir", type=Path, default=Path("var/eval/mt-cache"))
    ap.add_argument("--threads", type=int, default=0, help="llama.cpp threads (0 = all cores)")
    ap.add_argument("--json", type=Path, default=Path("var/eval/translation.json"), help="where to write the report")
    args = ap.parse_args(argv)
    try:
        import sacrebleu  # noqa: F401
    except ImportError:
        print("sacrebleu is not installed: run `make setup` (it is in the dev extra)", file=sys.stderr)
        return 4
    pairs = [p.strip() for p in args.pairs.split(",") if p.strip()]
    report = evaluate(pairs, args.limit, None if args.no_cache else args.cache_dir, args.threads, not args.no_budget)
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(report, indent=1, ensure_ascii=False))
    print_table(report)
    print(f"report: {args.json}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
