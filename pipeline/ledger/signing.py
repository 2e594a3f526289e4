"""C2PA content credentials (c2pa-python): a manifest signed into every delivered mp4 and m4a.

Signing is the very last step of a job: the publish task signs the muxed files (a content-addressed
`sign` stage, so a re-run reuses them) and then only copies them, byte for byte, to the output location.
Nothing may remux a signed file: ffmpeg would strip the manifest. C2PA cannot embed a manifest in
Matroska, so an mkv is delivered unsigned and the job report says so.

The manifest carries:
- c2pa.actions: c2pa.created, digitalSourceType trainedAlgorithmicMedia (the dub tracks are synthetic
  speech), with dubline as the software agent;
- org.dubline.job: the DAG run (dag id, run id: the job), the delivery's content key, the input file name
  and sha256, languages, models (id, version, weights sha256), parameters;
- org.dubline.consents: the consent records the voices were used under (person, uses, languages,
  projects, validity, sha256 of the consent recording); empty when only stock voices spoke;
- org.dubline.watermark: the scheme, key id and payload of each dub track's inaudible mark.

The signing certificate is project-local (pipeline.ledger.certificates): a small CA and an ES256 end-entity
certificate, made on first use. Verification trusts that CA: a manifest signed by any other certificate reads
as untrusted.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pipeline.core.config import Settings
from pipeline.core.errors import StageError
from pipeline.core.stagerun import JsonDoc, StageResult
from pipeline.ledger.certificates import SignerFiles, init_signer

SIGNABLE = {
    "mp4": "video/mp4",
    "m4a": "audio/mp4",
    "m4b": "audio/mp4",  # an audiobook: MPEG-4 audio with chapters
    "mov": "video/quicktime",
    "wav": "audio/wav",
    "mp3": "audio/mpeg",
}
UNSIGNABLE_REASON = {"mkv": "C2PA cannot embed a manifest in Matroska (mkv): delivered unsigned"}
DIGITAL_SOURCE_TYPE = "http://cv.iptc.org/newscodes/digitalsourcetype/trainedAlgorithmicMedia"
JOB_ASSERTION = "org.dubline.job"
CONSENT_ASSERTION = "org.dubline.consents"
WATERMARK_ASSERTION = "org.dubline.watermark"
UNTRUSTED = "signingCredential.untrusted"


# --- signing -------------------------------------------------------------------------------------------


DUBBED = (
    "dubbed: the dub tracks are synthetic speech (speech recognition, machine translation, text to speech) mixed "
    "over the original's music and effects"
)


def manifest_definition(
    title: str,
    job: dict[str, Any],
    consents: list[dict[str, Any]],
    watermarks: list[dict[str, Any]],
    description: str = DUBBED,
) -> dict[str, Any]:
    from importlib.metadata import PackageNotFoundError, version

    try:
        ours = version("dubline")
    except PackageNotFoundError:  # a checkout run without installing the project
        ours = "0.1.0"
    agent = {"name": "dubline", "version": ours}
    return {
        "claim_generator_info": [agent],
        "title": title,
        "assertions": [
            {
                "label": "c2pa.actions",
                "data": {
                    "actions": [
                        {
                            "action": "c2pa.created",
                            "digitalSourceType": DIGITAL_SOURCE_TYPE,
                            "softwareAgent": agent,
                            "description": description,
                        }
                    ]
                },
            },
            {"label": JOB_ASSERTION, "data": job},
            {"label": CONSENT_ASSERTION, "data": {"consents": consents}},
            {"label": WATERMARK_ASSERTION, "data": {"tracks": watermarks}},
        ],
    }


def sign_file(files: SignerFiles, src: Path, dest: Path, manifest: dict[str, Any]) -> float:
    """Write `dest`: `src` with the signed manifest embedded. Returns the seconds it took."""
    import c2pa

    mime = SIGNABLE.get(src.suffix.lower().lstrip("."))
    if mime is None:
        raise StageError(f"cannot sign {src.name}: C2PA does not embed manifests in {src.suffix} files")
    t0 = time.perf_counter()
    info = c2pa.C2paSignerInfo(c2pa.C2paSigningAlg.ES256, files.chain.read_bytes(), files.key.read_bytes(), None)
    try:
        signer = c2pa.Signer.from_info(info)
        builder = c2pa.Builder(manifest)
        with open(src, "rb") as source, open(dest, "w+b") as out:
            builder.sign(signer, mime, source, out)
    except c2pa.C2paError as e:
        dest.unlink(missing_ok=True)
        raise StageError(f"C2PA signing of {src.name} failed: {e}") from None
    return time.perf_counter() - t0


# --- reading and checking --------------------------------------------------------------------------------


@dataclass
class CredentialCheck:
    """What a file's C2PA manifest says, checked: signature, hash binding (tampering) and trust."""

    path: str
    supported: bool  # a format C2PA can carry a manifest in
    found: bool = False
    state: str = "none"  # none | Invalid | Valid | Trusted (c2pa's validation state)
    label: str = ""
    issuer: str = ""
    failures: list[str] = field(default_factory=list)  # "code: explanation", trust aside
    trusted: bool = False  # signed by this project's CA
    assertions: dict[str, Any] = field(default_factory=dict)
    error: str = ""

    @property
    def intact(self) -> bool:
        return self.found and not self.failures and self.state in ("Valid", "Trusted")

    def lines(self) -> tuple[list[str], list[str]]:
        """(ok lines, problem lines) for `provenance verify`."""
        name = f"C2PA manifest of {self.path}"
        if self.error:
            return [], [f"{name}: unreadable ({self.error})"]
        if not self.found:
            return [], [f"{name}: none found"]
        bad = [f"{name}: {f}" for f in self.failures]
        if not self.trusted:
            bad.append(f"{name}: signed by {self.issuer or 'an unknown issuer'}, not this project's signing CA")
        ok = [] if bad else [f"{name} ({self.label}): signature, hash binding and certificate: ok"]
        return ok, bad


def _context(settings: Settings) -> Any:
    import c2pa

    ca = SignerFiles(settings.resolved_c2pa_cert_dir).ca_cert
    if not ca.is_file():
        return None
    return c2pa.Context.from_dict({"verify": {"verify_trust": True}, "trust": {"trust_anchors": ca.read_text()}})


def check_file(settings: Settings, path: Path) -> CredentialCheck:
    """Read and validate the C2PA manifest embedded in `path` (trusting this project's CA)."""
    import c2pa

    mime = SIGNABLE.get(path.suffix.lower().lstrip("."))
    result = CredentialCheck(str(path), supported=mime is not None)
    if mime is None:
        return result
    try:
        with open(path, "rb") as fh:
            ctx = _context(settings)
            reader = c2pa.Reader.try_create(mime, fh, None, ctx) if ctx else c2pa.Reader.try_create(mime, fh)
            if reader is None:
                return result
            with reader:
                result.found = True
                result.state = reader.get_validation_state() or "none"
                active = reader.get_active_manifest() or {}
                results = reader.get_validation_results() or {}
    except c2pa.C2paError as e:
        result.error = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        return result
    except OSError as e:
        result.error = str(e)
        return result
    result.label = str(active.get("label", ""))
    result.issuer = str((active.get("signature_info") or {}).get("issuer", ""))
    result.assertions = {a.get("label"): a.get("data") for a in active.get("assertions", [])}
    failures = (results.get("activeManifest") or {}).get("failure", [])
    result.trusted = result.state == "Trusted" and not any(f.get("code") == UNTRUSTED for f in failures)
    result.failures = [
        f"{f.get('code')}: {f.get('explanation', '')}".rstrip(": ") for f in failures if f.get("code") != UNTRUSTED
    ]
    if result.state == "Invalid" and not result.failures:
        result.failures.append("validation state Invalid")
    return result


def summary(check: CredentialCheck) -> dict[str, Any]:
    """A JSON-able digest for reports."""
    return {
        "found": check.found,
        "state": check.state,
        "label": check.label,
        "trusted": check.trusted,
        "failures": check.failures,
        "assertions": json.loads(json.dumps(check.assertions, default=str)),
    }


def sign_checked(
    settings: Settings,
    src: Path,
    dest: Path,
    title: str,
    job: dict[str, Any],
    consent_ids: list[int],
    watermarks: list[dict[str, Any]],
    description: str,
) -> dict[str, Any]:
    """Write `dest`, `src` signed with a manifest of `job` (the DAG run added), the consents and the marks, and
    verify it. Returns what a report says of it: {label, seconds, signer}."""
    from pipeline.ledger import db
    from pipeline.ledger.job_facts import consent_docs, run_context

    files, _ = init_signer(settings)
    with db.session(settings) as s:
        consents = consent_docs(s, consent_ids)
    ctx = run_context()
    doc = manifest_definition(
        title, {**job, "dag_id": ctx["dag_id"], "run_id": ctx["run_id"]}, consents, watermarks, description
    )
    seconds = sign_file(files, src, dest, doc)
    check = check_file(settings, dest)
    if not check.intact:
        raise StageError(f"the signed {title} does not verify: {'; '.join(check.failures) or check.error}")
    return {"label": check.label, "seconds": round(seconds, 3), "signer": files.fingerprint()}


# --- the sign stage ----------------------------------------------------------------------------------------


class Signed(StageResult):
    """The `sign` stage's result: the media to deliver ({ext: uri}), what was signed ({ext: {label, seconds,
    signer}}) and what was not ({ext: reason})."""

    media: dict[str, str]
    signed: dict[str, JsonDoc]
    skipped: dict[str, str]


def sign_outputs(
    settings: Settings,
    ingested: dict[str, Any],
    stage_results: list[dict[str, Any]],
    muxed: dict[str, Any],
    params: dict[str, Any],
) -> Signed:
    """The `sign` stage: every deliverable media file of the job signed. Content-addressed (by the delivered
    set, its inputs, models, parameters, consents, marks and the signer; not by where it goes), so the same
    job run again, wherever it delivers, reuses the signed files; the manifest then names the DAG run that
    signed them first. Returns the stage result: `media` {ext: uri} to deliver instead of the muxed files,
    `signed` {ext: {label, seconds, signer}}, `skipped` {ext: reason}."""
    from pipeline.core.stagerun import StageRun, run_stage
    from pipeline.ledger import db
    from pipeline.ledger.job_facts import consent_docs, model_entries, run_context

    media: dict[str, str] = dict(muxed.get("media") or {muxed["media_ext"]: muxed["media_uri"]})
    if not settings.c2pa_sign:
        return Signed(stage="sign", media=media, signed={}, skipped=dict.fromkeys(media, "signing is off"))
    files, _ = init_signer(settings)
    consent_ids = sorted(
        {int(c) for r in stage_results if r.get("stage") == "synthesize" for c in r.get("consents", [])}
    )
    with db.session(settings) as s:
        consents = consent_docs(s, consent_ids)
    job = {
        "delivery_key": muxed["key"],  # the mux stage's content key: this set of tracks and subtitles
        "input": {"filename": ingested["filename"], "sha256": ingested["source_sha256"]},
        "source_language": muxed.get("source_language"),
        "target_languages": muxed.get("languages", []),
        "models": model_entries(stage_results),
        "parameters": {k: v for k, v in sorted(params.items()) if k not in ("input", "output")},
    }
    generated = [{"language": r.get("language"), **r["bed"]} for r in stage_results if r.get("bed")]
    if generated:  # a bed laid under the silent stretches is machine-made: said so in the credentials
        job["generated_audio"] = generated
    watermarks = [
        {"language": r["language"], **{k: r["watermark"][k] for k in ("scheme", "key_id", "payload")}}
        for r in stage_results
        if r.get("stage") == "mix" and r.get("watermark") and "payload" in r["watermark"]
    ]
    material = {
        "mux": muxed["key"],
        "media": media,
        "job": job,
        "consents": consents,
        "watermarks": watermarks,
        "signer": files.fingerprint(),
    }

    def work(run: StageRun) -> Signed:
        ctx = run_context()
        out: dict[str, str] = {}
        signed: dict[str, dict[str, Any]] = {}
        skipped: dict[str, str] = {}
        for ext, uri in media.items():
            if ext not in SIGNABLE:
                out[ext] = uri
                skipped[ext] = UNSIGNABLE_REASON.get(ext, f"C2PA cannot embed a manifest in .{ext} files")
                continue
            title = f"{ingested['stem']}.dub.{ext}"
            doc = manifest_definition(
                title, {**job, "dag_id": ctx["dag_id"], "run_id": ctx["run_id"]}, consents, watermarks
            )
            dest = run.scratch / f"dub.{ext}"
            seconds = sign_file(files, run.fetch(uri), dest, doc)
            check = check_file(settings, dest)
            if not check.intact:
                raise StageError(f"the signed {title} does not verify: {'; '.join(check.failures) or check.error}")
            out[ext] = run.put(dest.name, dest)
            signed[ext] = {"label": check.label, "seconds": round(seconds, 3), "signer": files.fingerprint()}
        return Signed(media=out, signed=signed, skipped=skipped)

    return run_stage(settings, "sign", material, work, Signed)
