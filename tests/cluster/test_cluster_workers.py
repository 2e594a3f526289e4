"""tools.cluster's worker layouts: today's light and heavy workers by default, N alike workers with --workers N
(what benchmarks/cluster_throughput.py compares)."""

from __future__ import annotations

from tools.cluster import Worker, _workers


def test_default_is_a_light_and_a_heavy_worker() -> None:
    assert _workers(4, {}) == [Worker("light", ["default"], 2), Worker("heavy", ["heavy"], 4)]


def test_n_alike_workers_serve_both_queues() -> None:
    shared = {"DUBLINE_HEAVY_QUEUE": "big", "AIRFLOW__CELERY__WORKER_CONCURRENCY": "3"}
    assert _workers(2, shared, 1) == [Worker("w1", ["default", "big"], 3)]
    assert _workers(4, shared, 2) == [Worker("w1", ["default", "big"], 4), Worker("w2", ["default", "big"], 4)]
