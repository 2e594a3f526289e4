"""The S3 object store: AWS or any S3-compatible server (SeaweedFS, MinIO, Ceph) through boto3.

Endpoint, region, credentials, retries, multipart sizes and the presign expiry come from Settings
(`DUBLINE_S3_*`); unset credentials, region and endpoint fall back to boto3's own chain (`AWS_*`
variables, ~/.aws, an instance role).

Atomicity: an object is visible whole or not at all. A small file is one PUT; a large one is a multipart
upload that becomes visible only when it is completed, and that boto3's transfer manager aborts when any
part fails (the parts are then discarded by the server). A process killed mid-upload leaves an incomplete
multipart upload that nobody can see; `abort_incomplete_uploads` removes old ones. Downloads into a local
cache go to a temporary name and are renamed when complete.

Every request is retried on connection errors, timeouts, throttling and 5xx answers with exponential
backoff (`s3_max_attempts`, `s3_backoff_s`, `s3_backoff_max_s`). What is still failing after that, or
what retrying cannot fix (refused credentials, a missing bucket), is raised as a ConfigError or StageError
that names the endpoint and says what to check, never a botocore traceback.
"""

from __future__ import annotations

import builtins
import contextlib
import dataclasses
import random
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from models.files import atomic_path
from pipeline.core.errors import ConfigError, DublineError, StageError
from pipeline.core.storage import clean_key

if TYPE_CHECKING:
    from pipeline.core.config import Settings

MB = 1 << 20
MAX_PRESIGN_S = 7 * 24 * 3600  # SigV4's limit

# error codes that mean "these credentials are not accepted": retrying cannot help
_REFUSED = {
    "403",
    "AccessDenied",
    "InvalidAccessKeyId",
    "SignatureDoesNotMatch",
    "InvalidClientTokenId",
    "AuthorizationHeaderMalformed",
    "ExpiredToken",
    "InvalidToken",
    "InvalidSecurity",
}
_MISSING = {"404", "NoSuchKey", "NotFound"}
CREDENTIALS_HINT = (
    "check DUBLINE_S3_ACCESS_KEY and DUBLINE_S3_SECRET_KEY (or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY) "
    "and that this key may read and write the bucket"
)


@dataclass(frozen=True)
class S3Options:
    """How to talk to the S3 server. Empty endpoint/region/keys: boto3's defaults and AWS_* chain."""

    endpoint: str = ""
    region: str = ""
    access_key: str = ""
    secret_key: str = field(default="", repr=False)
    addressing_style: str = ""  # "" = path with a custom endpoint, auto on AWS
    max_attempts: int = 5  # per request, the first try included
    backoff_s: float = 0.5  # delay before the 2nd attempt; doubles each time (with jitter)
    backoff_max_s: float = 20.0
    connect_timeout_s: float = 10.0
    read_timeout_s: float = 60.0
    multipart_threshold_mb: int = 64
    multipart_chunk_mb: int = 16
    max_concurrency: int = 8
    presign_expiry_s: int = 24 * 3600

    @classmethod
    def from_settings(cls, s: Settings) -> S3Options:
        return cls(
            endpoint=s.s3_endpoint,
            region=s.s3_region,
            access_key=s.s3_access_key,
            secret_key=s.s3_secret_key.get_secret_value(),
            addressing_style=s.s3_addressing_style,
            max_attempts=s.s3_max_attempts,
            backoff_s=s.s3_backoff_s,
            backoff_max_s=s.s3_backoff_max_s,
            connect_timeout_s=s.s3_connect_timeout_s,
            read_timeout_s=s.s3_read_timeout_s,
            multipart_threshold_mb=s.s3_multipart_threshold_mb,
            multipart_chunk_mb=s.s3_multipart_chunk_mb,
            max_concurrency=s.s3_max_concurrency,
            presign_expiry_s=s.s3_presign_expiry_s,
        )

    def transfer_config(self) -> Any:
        from boto3.s3.transfer import TransferConfig

        return TransferConfig(
            multipart_threshold=self.multipart_threshold_mb * MB,
            multipart_chunksize=self.multipart_chunk_mb * MB,
            max_concurrency=self.max_concurrency,
            num_download_attempts=self.max_attempts,
        )


class _Backoff:
    """Exponential backoff with equal jitter: attempt n waits backoff_s * 2**(n-1), capped, 50-100 %."""

    def __init__(self, base_s: float, max_s: float) -> None:
        self.base_s = base_s
        self.max_s = max_s

    def delay_amount(self, context: Any) -> float:
        delay = min(self.max_s, self.base_s * 2 ** max(0, context.attempt_number - 1))
        return float(delay * (0.5 + random.random() / 2))


def make_client(opts: S3Options) -> Any:
    """A new boto3 S3 client for these options, with botocore's standard retry conditions (connection
    errors, timeouts, throttling, 5xx) and our backoff."""
    import boto3
    from botocore.config import Config
    from botocore.retries import quota, standard

    style = opts.addressing_style or ("path" if opts.endpoint else "auto")
    config = Config(
        connect_timeout=opts.connect_timeout_s,
        read_timeout=opts.read_timeout_s,
        retries={"mode": "standard", "total_max_attempts": max(1, opts.max_attempts)},
        s3={"addressing_style": style},
        signature_version="s3v4",  # presigned links too (botocore would sign those with SigV2)
        max_pool_connections=max(10, opts.max_concurrency + 2),
    )
    from botocore.exceptions import ProfileNotFound

    try:
        session = boto3.session.Session()  # one per client: the default session is not thread-safe
        client = session.client(
            "s3",
            endpoint_url=opts.endpoint or None,
            region_name=opts.region or None,
            aws_access_key_id=opts.access_key or None,
            aws_secret_access_key=opts.secret_key or None,
            config=config,
        )
    except ProfileNotFound as e:
        raise ConfigError(
            f"the AWS profile {e.kwargs.get('profile', '')!r} (AWS_PROFILE) is not configured",
            "name a profile of your AWS config file, or unset AWS_PROFILE and give the S3 keys",
        ) from None
    # botocore's standard handler, with our backoff instead of its fixed one (base 1 s, cap 20 s)
    adapter = standard.RetryEventAdapter()
    handler = standard.RetryHandler(
        retry_policy=standard.RetryPolicy(
            retry_checker=standard.StandardRetryConditions(max_attempts=max(1, opts.max_attempts)),
            retry_backoff=_Backoff(opts.backoff_s, opts.backoff_max_s),
        ),
        retry_event_adapter=adapter,
        retry_quota=standard.RetryQuotaChecker(quota.RetryQuota(), standard.ThrottlingErrorDetector(adapter)),
        service_name="s3",
    )
    client.meta.events.unregister("needs-retry.s3", unique_id="retry-config-s3")
    client.meta.events.register("needs-retry.s3", handler.needs_retry, unique_id="retry-config-s3")
    return client


@lru_cache(maxsize=8)
def _shared_client(opts: S3Options) -> Any:
    return make_client(opts)  # boto3 clients are thread-safe; making one costs ~100 ms


class S3Store:
    """An S3 bucket, optionally under a key prefix: s3://bucket/prefix."""

    def __init__(
        self,
        bucket: str,
        prefix: str = "",
        endpoint_url: str | None = None,
        *,
        options: S3Options | None = None,
        client: Any = None,
    ) -> None:
        opts = options or S3Options()
        if endpoint_url:
            opts = dataclasses.replace(opts, endpoint=endpoint_url)
        self.options = opts
        self.bucket = bucket
        self.prefix = prefix.strip("/")
        self.url = f"s3://{bucket}/{self.prefix}".rstrip("/")
        self._s3 = client if client is not None else _shared_client(opts)
        self._transfer = opts.transfer_config()

    @property
    def endpoint(self) -> str:
        return str(self._s3.meta.endpoint_url)

    def _key(self, key: str) -> str:
        key = clean_key(key)
        return f"{self.prefix}/{key}" if self.prefix else key

    def uri(self, key: str) -> str:
        return f"s3://{self.bucket}/{self._key(key)}"

    # errors --------------------------------------------------------------------------------------

    @contextlib.contextmanager
    def _errors(self, action: str, key: str = "") -> Iterator[None]:
        """Turn what boto3 raises into the project's errors; anything else (a local OSError) passes."""
        try:
            yield
        except DublineError:
            raise
        except Exception as e:
            translated = self._translate(e, action, key)
            if translated is None:
                raise
            raise translated from e

    def _translate(self, exc: Exception, action: str, key: str) -> DublineError | None:
        from boto3.exceptions import RetriesExceededError, S3TransferFailedError, S3UploadFailedError
        from botocore.exceptions import (
            BotoCoreError,
            ClientError,
            HTTPClientError,
            NoCredentialsError,
            PartialCredentialsError,
        )
        from botocore.exceptions import ConnectionError as BotoConnectionError

        what = f"{action} {self.uri(key) if key else self.url}"
        where = f"the S3 server at {self.endpoint}"
        if isinstance(exc, RetriesExceededError):  # a download whose body kept breaking off
            inner = exc.last_exception
            return (self._translate(inner, action, key) if isinstance(inner, Exception) else None) or StageError(
                f"could not {what} ({where}) after {self.options.max_attempts} attempts: {inner}",
                "check the network and the server",
            )
        if isinstance(exc, S3UploadFailedError | S3TransferFailedError):  # wraps the ClientError it caught
            inner = exc.__cause__ or exc.__context__
            if isinstance(inner, Exception):
                exc = inner
        if isinstance(exc, NoCredentialsError | PartialCredentialsError):
            return ConfigError(f"no S3 credentials to {what} ({where})", CREDENTIALS_HINT)
        if isinstance(exc, ClientError):
            err = exc.response.get("Error", {})
            code = str(err.get("Code", ""))
            status = int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0)
            if code in _REFUSED or status == 403:
                return ConfigError(
                    f"{where} refused the credentials for {self.url} ({code or status})", CREDENTIALS_HINT
                )
            if code == "NoSuchBucket":
                return ConfigError(
                    f"bucket {self.bucket!r} does not exist at {self.endpoint}",
                    "create it, or fix the bucket in DUBLINE_STORE_URL / the output location",
                )
            if code in _MISSING or status == 404:
                return StageError(f"object {self.uri(key)} is missing from the store")
            attempts = exc.response.get("ResponseMetadata", {}).get("RetryAttempts", 0) + 1
            if status >= 500 or code in ("SlowDown", "Throttling", "RequestTimeout"):
                return StageError(
                    f"{where} kept failing to {what}: {code or status} after {attempts} attempts",
                    "the server is overloaded or unwell; the task is retried, or run it again later "
                    "(DUBLINE_S3_MAX_ATTEMPTS sets the retries)",
                )
            return StageError(f"could not {what}: {code} {err.get('Message', '')}".strip())
        if isinstance(exc, BotoConnectionError | HTTPClientError):  # refused, reset, timeouts, DNS: already retried
            return StageError(
                f"could not reach {where} to {what} after {self.options.max_attempts} attempts: {exc}",
                "check DUBLINE_S3_ENDPOINT (or AWS_ENDPOINT_URL), the network, and that the server is running",
            )
        if isinstance(exc, BotoCoreError):
            return StageError(f"could not {what} ({where}): {exc}")
        return None

    # the ObjectStore interface -------------------------------------------------------------------

    def exists(self, key: str) -> bool:
        from botocore.exceptions import ClientError

        with self._errors("check", key):
            try:
                self._s3.head_object(Bucket=self.bucket, Key=self._key(key))
                return True
            except ClientError as e:
                if e.response.get("Error", {}).get("Code") in _MISSING:
                    return False
                raise

    def put_file(self, key: str, path: Path) -> str:
        """Upload a file: one PUT below the multipart threshold, else a multipart upload (aborted on failure)."""
        with self._errors("upload to", key):
            self._s3.upload_file(str(path), self.bucket, self._key(key), Config=self._transfer)
        return self.uri(key)

    def put_fileobj(self, key: str, fileobj: IO[bytes]) -> str:
        with self._errors("upload to", key):
            self._s3.upload_fileobj(fileobj, self.bucket, self._key(key), Config=self._transfer)
        return self.uri(key)

    def put_bytes(self, key: str, data: bytes) -> str:
        with self._errors("write", key):
            self._s3.put_object(Bucket=self.bucket, Key=self._key(key), Body=data)
        return self.uri(key)

    def get_bytes(self, key: str) -> bytes:
        with self._errors("read", key):
            obj = self._s3.get_object(Bucket=self.bucket, Key=self._key(key))
            return bytes(obj["Body"].read())

    def local_path(self, key: str, cache_dir: Path) -> Path:
        """Download into cache_dir (to a temporary name, renamed when complete). A cached copy is reused
        while its ETag (kept beside it) still matches the object's."""
        dest = cache_dir / clean_key(key)
        tag_file = dest.with_name(f".{dest.name}.etag")
        with self._errors("download", key):
            etag = str(self._s3.head_object(Bucket=self.bucket, Key=self._key(key))["ETag"])
        if dest.is_file() and tag_file.is_file() and tag_file.read_text() == etag:
            return dest
        with atomic_path(dest, suffix=".part") as tmp, self._errors("download", key):
            self._s3.download_file(self.bucket, self._key(key), str(tmp), Config=self._transfer)
        tag_file.write_text(etag)
        return dest

    def list(self, prefix: str) -> list[str]:
        full = self._key(prefix) + "/" if prefix.strip("/") else (f"{self.prefix}/" if self.prefix else "")
        out: list[str] = []
        with self._errors("list", prefix.strip("/")):
            for page in self._s3.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=full):
                for obj in page.get("Contents", []):
                    k = obj["Key"]
                    out.append(k[len(self.prefix) + 1 :] if self.prefix else k)
        return sorted(out)

    def delete_prefix(self, prefix: str) -> None:
        clean_key(prefix)  # refuses "" (the whole store)
        keys = self.list(prefix)
        with self._errors("delete", prefix):
            for i in range(0, len(keys), 1000):
                batch = [{"Key": self._key(k)} for k in keys[i : i + 1000]]
                self._s3.delete_objects(Bucket=self.bucket, Delete={"Objects": batch, "Quiet": True})

    def presign(self, key: str, expires_s: int | None = None) -> str:
        """A time-limited HTTPS (or HTTP, per the endpoint) GET link to the object; no request is made."""
        expires = int(expires_s if expires_s is not None else self.options.presign_expiry_s)
        if not 1 <= expires <= MAX_PRESIGN_S:
            raise ConfigError(
                f"a presigned link cannot last {expires} s",
                f"choose 1 to {MAX_PRESIGN_S} s (7 days) in DUBLINE_S3_PRESIGN_EXPIRY_S",
            )
        with self._errors("presign", key):
            url = self._s3.generate_presigned_url(
                "get_object", Params={"Bucket": self.bucket, "Key": self._key(key)}, ExpiresIn=expires
            )
        return str(url)

    # S3 only -------------------------------------------------------------------------------------

    def copy_from(self, src: S3Store, src_key: str, key: str) -> str:
        """Server-side copy from another S3Store on the same server (multipart copy when large)."""
        with self._errors("copy to", key):
            self._s3.copy(
                {"Bucket": src.bucket, "Key": src._key(src_key)}, self.bucket, self._key(key), Config=self._transfer
            )
        return self.uri(key)

    def incomplete_uploads(self) -> builtins.list[dict[str, Any]]:
        """Multipart uploads under this store's prefix that were started and neither completed nor aborted."""
        out: builtins.list[dict[str, Any]] = []
        with self._errors("list uploads in"):
            paginator = self._s3.get_paginator("list_multipart_uploads")
            for page in paginator.paginate(Bucket=self.bucket, Prefix=f"{self.prefix}/" if self.prefix else ""):
                out.extend(page.get("Uploads", []))
        return out

    def abort_incomplete_uploads(self, older_than_s: float = 24 * 3600) -> int:
        """Abort multipart uploads left by crashed processes (older than older_than_s). Returns how many."""
        cutoff = datetime.now(UTC) - timedelta(seconds=older_than_s)
        n = 0
        for up in self.incomplete_uploads():
            if up["Initiated"] <= cutoff:
                with self._errors("abort an upload in"):
                    self._s3.abort_multipart_upload(Bucket=self.bucket, Key=up["Key"], UploadId=up["UploadId"])
                n += 1
        return n
