"""The project-local C2PA signing certificate (pipeline.ledger.signing signs and checks with it).

A small CA and an ES256 end-entity certificate (key usage digitalSignature; extended key usages
emailProtection and documentSigning, as C2PA requires) under DUBLINE_C2PA_CERT_DIR (default
<data dir>/c2pa). `dubline provenance init-signer` makes them (make setup runs it); signing makes them on
first use too. Verification trusts that CA: a manifest signed by any other certificate reads as untrusted.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import hashlib
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from models.files import atomic_write_bytes
from pipeline.core.config import Settings
from pipeline.core.errors import SetupError

CA_DAYS, SIGNER_DAYS, RENEW_DAYS = 3650, 825, 30


@dataclass(frozen=True)
class SignerFiles:
    folder: Path

    @property
    def ca_cert(self) -> Path:
        return self.folder / "ca.pem"

    @property
    def ca_key(self) -> Path:
        return self.folder / "ca.key"

    @property
    def chain(self) -> Path:  # the signer's certificate, then the CA's
        return self.folder / "signer.pem"

    @property
    def key(self) -> Path:
        return self.folder / "signer.key"

    def fingerprint(self) -> str:
        """sha256 of the signer's certificate chain (public), short."""
        return hashlib.sha256(self.chain.read_bytes()).hexdigest()[:16]

    def problem(self) -> str | None:
        """Why these files cannot sign (None: they can)."""
        from cryptography import x509
        from cryptography.hazmat.primitives import serialization

        for p in (self.ca_cert, self.chain, self.key):
            if not p.is_file():
                return f"{p} is missing"
        try:
            cert = x509.load_pem_x509_certificates(self.chain.read_bytes())[0]
            key = serialization.load_pem_private_key(self.key.read_bytes(), password=None)
        except ValueError as e:
            return f"{self.folder}: unreadable certificate or key ({e})"
        if cert.public_key().public_numbers() != key.public_key().public_numbers():  # type: ignore[union-attr]
            return f"{self.key} does not belong to {self.chain}"
        left = cert.not_valid_after_utc - dt.datetime.now(dt.UTC)
        if left < dt.timedelta(days=RENEW_DAYS):
            return f"{self.chain} expires on {cert.not_valid_after_utc:%Y-%m-%d}"
        return None


PRIVATE_DIR_MODE = 0o700  # the signing folder holds the private keys: its owner's only


@contextlib.contextmanager
def _locked(folder: Path) -> Iterator[None]:
    folder.mkdir(mode=PRIVATE_DIR_MODE, parents=True, exist_ok=True)
    if folder.stat().st_mode & 0o077:  # made before dubline kept it private
        with contextlib.suppress(PermissionError):
            folder.chmod(PRIVATE_DIR_MODE)
    with open(os.open(folder / ".lock", os.O_WRONLY | os.O_CREAT, 0o600), "w") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)  # two workers starting at once make one set of files
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def _write(path: Path, data: bytes, private: bool = False) -> None:
    """Atomically; a private key readable by its owner only (0600), the rest 0644 (less the umask)."""
    atomic_write_bytes(path, data, mode=0o600 if private else 0o644)


def init_signer(settings: Settings, force: bool = False) -> tuple[SignerFiles, bool]:
    """The project's signing files, made when missing, unusable or about to expire (or with `force`).
    Returns (files, made now). Idempotent: a second call only checks."""
    files = SignerFiles(settings.resolved_c2pa_cert_dir)
    try:
        with _locked(files.folder):
            if not force and files.problem() is None:
                return files, False
            _make(files)
    except OSError as e:
        raise SetupError(
            f"cannot write the C2PA signing certificate in {files.folder}: {e}",
            "set DUBLINE_C2PA_CERT_DIR to a writable folder",
        ) from None
    return files, True


def _make(files: SignerFiles) -> None:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID, ObjectIdentifier

    now = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=5)
    ca_key: Any = None
    ca: Any = None
    if files.ca_cert.is_file() and files.ca_key.is_file():  # keep the CA a verifier may already trust
        try:
            ca = x509.load_pem_x509_certificate(files.ca_cert.read_bytes())
            ca_key = serialization.load_pem_private_key(files.ca_key.read_bytes(), password=None)
            if ca.not_valid_after_utc - now < dt.timedelta(days=SIGNER_DAYS):
                ca = None
        except ValueError:
            ca = None
    name = lambda cn: x509.Name(  # noqa: E731
        [x509.NameAttribute(NameOID.COMMON_NAME, cn), x509.NameAttribute(NameOID.ORGANIZATION_NAME, "dubline")]
    )
    if ca is None:
        ca_key = ec.generate_private_key(ec.SECP256R1())
        ca = (
            x509.CertificateBuilder()
            .subject_name(name("dubline local signing CA"))
            .issuer_name(name("dubline local signing CA"))
            .public_key(ca_key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now)
            .not_valid_after(now + dt.timedelta(days=CA_DAYS))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(_usage(cert_sign=True), critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
            .sign(ca_key, hashes.SHA256())
        )
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(name("dubline content credentials"))
        .issuer_name(ca.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(now + dt.timedelta(days=SIGNER_DAYS))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(_usage(cert_sign=False), critical=True)
        .add_extension(
            x509.ExtendedKeyUsage([ExtendedKeyUsageOID.EMAIL_PROTECTION, ObjectIdentifier("1.3.6.1.5.5.7.3.36")]),
            critical=False,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    pem = serialization.Encoding.PEM
    private = (pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    _write(files.ca_key, ca_key.private_bytes(*private), private=True)
    _write(files.ca_cert, ca.public_bytes(pem))
    _write(files.key, key.private_bytes(*private), private=True)
    _write(files.chain, cert.public_bytes(pem) + ca.public_bytes(pem))


def _usage(cert_sign: bool) -> Any:
    from cryptography import x509

    return x509.KeyUsage(
        digital_signature=not cert_sign,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=cert_sign,
        crl_sign=cert_sign,
        encipher_only=False,
        decipher_only=False,
    )
