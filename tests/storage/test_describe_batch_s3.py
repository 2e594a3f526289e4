"""describe_batch over an S3 prefix of the real test server (SeaweedFS): videos and scripts paired by base
name, one run each, the same ids when listed again, a new id for an edited script."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pipeline.core.config import Settings
from pipeline.products.description.batch import pairs

VTT = "WEBVTT\n\nd1\n00:00:01.000 --> 00:00:02.000\nA lecturer.\n"


def test_pairs_of_an_s3_prefix(s3_settings: Callable[..., Settings], s3_store: Callable[..., Any], s3_url: str) -> None:
    store = s3_store()
    for name, data in [
        ("a.mp4", b"video a"), ("a.vtt", VTT.encode()),
        ("b.mkv", b"video b"), ("b.dapt.xml", b"<tt/>"),
        ("c.mp4", b"no script"), ("nested/d.vtt", VTT.encode()),
    ]:  # fmt: skip
        store.put_bytes(name, data)
    settings = s3_settings()
    runs = pairs(settings, s3_url, "s3://out/ad", {"extended": True})
    assert [r["conf"]["video"] for r in runs] == [f"{s3_url}/a.mp4", f"{s3_url}/b.mkv"]
    assert [r["conf"]["script"] for r in runs] == [f"{s3_url}/a.vtt", f"{s3_url}/b.dapt.xml"]
    assert [r["conf"]["output"] for r in runs] == ["s3://out/ad/a", "s3://out/ad/b"]
    again = pairs(settings, s3_url, "s3://out/ad", {"extended": True})
    assert [r["trigger_run_id"] for r in again] == [r["trigger_run_id"] for r in runs]
    store.put_bytes("a.vtt", VTT.replace("A lecturer.", "A teacher.").encode())  # edited: another run
    edited = pairs(settings, s3_url, "s3://out/ad", {"extended": True})
    assert edited[0]["trigger_run_id"] != runs[0]["trigger_run_id"]
    assert edited[1]["trigger_run_id"] == runs[1]["trigger_run_id"]
