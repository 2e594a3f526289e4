"""The search of Kokoro's style space for the style closest to a person (the "kokoro-search" backend), and the
reference-independent bank of candidate styles it starts from. Pure numpy: `evaluate` (styles -> embeddings)
is the caller's, so tests run it on fakes with a known optimum."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from models.cloning.embedding import cos, unit


@dataclass
class SearchResult:
    best: np.ndarray
    best_score: float
    start_score: float
    evaluations: int
    generations: int
    seconds: float
    styles: np.ndarray  # every style heard (N, d), seeds first
    scores: np.ndarray  # their cosine to the target
    history: list[tuple[float, float]] = field(default_factory=list)  # (seconds, best score)

    def finalists(self, k: int, min_distance: float = 1e-6) -> list[np.ndarray]:
        """The k best distinct styles heard."""
        out: list[np.ndarray] = []
        for i in np.argsort(-self.scores):
            s = self.styles[i]
            if all(float(np.linalg.norm(s - o)) > min_distance for o in out):
                out.append(s)
            if len(out) == k:
                break
        return out


def _ridge_gradient(z: np.ndarray, y: np.ndarray, target: np.ndarray, at: np.ndarray, lam: float = 0.1) -> np.ndarray:
    """Gradient at `at` of cos(f(z), target), f the ridge regression z -> y fitted on (z, y) (dual form)."""
    zbar, ybar = z.mean(axis=0), y.mean(axis=0)
    zc, yc = z - zbar, y - ybar
    gram = zc @ zc.T
    reg = lam * (np.trace(gram) / max(1, len(z)) + 1e-9)
    coef = np.linalg.solve(gram + reg * np.eye(len(z)), yc)  # (N, dy)
    w = zc.T @ coef  # (dz, dy)
    pred = ybar + (at - zbar) @ w
    pn, tn = float(np.linalg.norm(pred)), float(np.linalg.norm(target))
    if pn == 0 or tn == 0:
        return np.zeros_like(at)
    dcos = target / (pn * tn) - float(pred @ target) * pred / (pn**3 * tn)
    return np.asarray(w @ dcos)


def search_styles(
    evaluate: Callable[[list[np.ndarray]], list[np.ndarray]],
    target: np.ndarray,
    seeds: np.ndarray,
    seed_embeddings: np.ndarray,
    *,
    budget_s: float,
    scale: np.ndarray | None = None,
    center: np.ndarray | None = None,
    batch: int = 8,
    mu: int = 4,
    sigma0: float = 0.35,
    bound: float = 4.0,
    rng: np.random.Generator | None = None,
    progress: Callable[[str, float], None] | None = None,
    clock: Callable[[], float] = time.monotonic,
    cost_hint_s: float = 0.0,
) -> SearchResult:
    """Search style space for the style whose embedding (evaluate: styles -> embeddings) is closest to target.

    Works in standardised coordinates z = (style - center) / scale (center, scale: e.g. the stock styles' mean
    and per-dimension spread), z kept within +-bound. Each generation proposes `batch` styles: half are steps of
    several lengths along the gradient of a ridge-regression linear model style -> embedding (refitted on all
    that was heard, seeds included) from the elite mean and from the best style, the rest Gaussian samples
    around the elite mean (sigma adapted: x1.2 after an improving generation, x0.8 otherwise). The elite are
    the `mu` best heard so far (elitist). A generation shrinks to what the time left allows (the cost of one
    candidate judged by the slowest seen so far, or `cost_hint_s` before any) and the search stops when fewer
    than 2 candidates fit, so it does not overrun `budget_s`. Seeds count as already heard: they cost nothing.
    """
    t0 = clock()
    rng = rng or np.random.default_rng(0)
    seeds = np.asarray(seeds, dtype=np.float64)
    d = seeds.shape[1]
    center = np.zeros(d) if center is None else np.asarray(center, np.float64)
    scale = np.ones(d) if scale is None else np.maximum(np.asarray(scale, np.float64), 1e-6)
    tgt = unit(np.asarray(target, np.float64))
    z = (seeds - center) / scale
    y = np.asarray(seed_embeddings, dtype=np.float64)
    scores = np.array([cos(e, tgt) for e in y])
    start = float(scores.max())
    history = [(0.0, start)]
    sigma = sigma0
    gens, evals, per_candidate = 0, 0, max(0.0, cost_hint_s)
    while True:
        elapsed = clock() - t0
        room = budget_s - elapsed
        n = batch if per_candidate <= 0 else min(batch, int(room / per_candidate))
        if room <= 0 or n < 2:
            break
        g_start = clock()
        order = np.argsort(-scores)
        elite = z[order[:mu]]
        weights = np.log(mu + 0.5) - np.log(np.arange(1, len(elite) + 1))
        mean = (weights / weights.sum()) @ elite
        best_z = z[order[0]]
        proposals: list[np.ndarray] = []
        n_grad = n // 2
        if len(z) >= 3 and n_grad:
            radius = sigma * np.sqrt(d)
            steps = np.linspace(0.5, 1.5, max(1, n_grad // 2))
            for origin in (mean, best_z):
                g = _ridge_gradient(z, y, tgt, origin)
                gn = float(np.linalg.norm(g))
                if gn == 0:
                    continue
                for s in steps:
                    if len(proposals) < n_grad:
                        proposals.append(origin + g / gn * radius * s)
        while len(proposals) < n:
            proposals.append(mean + sigma * rng.standard_normal(d))
        proposals = [np.clip(p, -bound, bound) for p in proposals]
        embs = evaluate([center + scale * p for p in proposals])
        new_scores = np.array([cos(e, tgt) for e in embs])
        improved = float(new_scores.max()) > float(scores.max())
        z = np.vstack([z, np.asarray(proposals)])
        y = np.vstack([y, np.asarray(embs, dtype=np.float64)])
        scores = np.concatenate([scores, new_scores])
        sigma = min(1.5, sigma * 1.2) if improved else max(0.05, sigma * 0.8)
        gens += 1
        evals += len(proposals)
        per_candidate = max(per_candidate, (clock() - g_start) / len(proposals))
        history.append((clock() - t0, float(scores.max())))
        if progress:
            progress(
                f"generation {gens}: best similarity {scores.max():.3f} (start {start:.3f})",
                min(1.0, (clock() - t0) / budget_s) if budget_s > 0 else 1.0,
            )
    best_i = int(np.argmax(scores))
    styles = center + scale * z
    return SearchResult(
        best=styles[best_i],
        best_score=float(scores[best_i]),
        start_score=start,
        evaluations=evals,
        generations=gens,
        seconds=clock() - t0,
        styles=styles,
        scores=scores,
        history=history,
    )


# --- the Kokoro style bank -----------------------------------------------------------------------


def stock_vectors(styles: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Each stock style as one 256-vector: the mean of the rows used for short sentences (20-120 phonemes)."""
    return {
        name: np.asarray(arr, np.float64).reshape(-1, arr.shape[-1])[20:120].mean(axis=0)
        for name, arr in styles.items()
    }


def bank_candidates(stock: dict[str, np.ndarray], n_random: int = 20, seed: int = 7) -> tuple[list[str], np.ndarray]:
    """Reference-independent candidate styles: stock, pairwise blends, extrapolations away from the stock mean,
    and random perturbations of the mean by the stock spread. Returns (labels, (N, 256))."""
    names = sorted(stock)
    vecs = np.stack([stock[n] for n in names])
    mean, spread = vecs.mean(axis=0), np.maximum(vecs.std(axis=0), 1e-3)
    labels, out = list(names), list(vecs)
    for i in range(len(names)):
        for j in range(i + 1, len(names)):
            labels.append(f"{names[i]}+{names[j]}")
            out.append((vecs[i] + vecs[j]) / 2)
    for i, n in enumerate(names):
        labels.append(f"{n}*1.5")
        out.append(mean + 1.5 * (vecs[i] - mean))
    rng = np.random.default_rng(seed)
    for k in range(n_random):
        labels.append(f"random{k}")
        out.append(mean + spread * rng.standard_normal(len(mean)) * 1.2)
    return labels, np.stack(out)
