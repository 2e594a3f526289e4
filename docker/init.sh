#!/usr/bin/env bash
# The `init` service of docker/compose.yaml: runs once before the Airflow services and workers start (they wait
# for it to complete successfully) and again on every `docker compose up`; each step is idempotent.
#   1. Airflow's metadata database: `airflow db migrate`
#   2. the project's database (consent ledger, provenance, audit chain): `dubline db upgrade`
#   3. the pool of the heavy stages (DUBLINE_HEAVY_POOL, DUBLINE_HEAVY_POOL_SLOTS from docker/cluster.env)
#   4. the C2PA signing certificate and key, in the dubline-keys volume (never in the image): made at the first
#      start, only checked afterwards; an operator's own files placed there are kept
#   5. the S3 bucket of DUBLINE_STORE_URL
set -euo pipefail

# a secret still at the example's placeholder stops the cluster here (every service waits for init)
unset_secrets=$(env | grep -E '^[A-Za-z_][A-Za-z0-9_]*=change-me$' | cut -d= -f1 | paste -sd' ' || true)
if [ -n "${unset_secrets}" ]; then
  echo "init: error: still change-me in docker/dubline.env: ${unset_secrets}; set them (docker/README.md)" >&2
  exit 1
fi

echo "init: Airflow's database"
airflow db migrate

echo "init: the project's database"
dubline db upgrade

pool="${DUBLINE_HEAVY_POOL:-heavy}"
slots="${DUBLINE_HEAVY_POOL_SLOTS:-2}"
echo "init: pool ${pool} (${slots} slots)"
airflow pools set "${pool}" "${slots}" "heavy stages (transcribe, separate, synthesize, LLM translation)"

echo "init: C2PA signing certificate"
dubline provenance init-signer

echo "init: the S3 bucket"
python - <<'PY'
"""Create the bucket of DUBLINE_STORE_URL if it is missing (dubline's own S3 client: its endpoint, keys, retries)."""
from urllib.parse import urlparse

from botocore.exceptions import ClientError

from pipeline.core.config import get_settings
from pipeline.core.s3store import S3Options, make_client

settings = get_settings()
url = urlparse(settings.store_url)
if url.scheme != "s3" or not url.netloc:
    raise SystemExit(f"DUBLINE_STORE_URL={settings.store_url!r} is not s3://BUCKET/...: fix docker/cluster.env")
client = make_client(S3Options.from_settings(settings))
try:
    client.head_bucket(Bucket=url.netloc)
    print(f"bucket {url.netloc} present at {settings.s3_endpoint}")
except ClientError as e:
    if e.response.get("Error", {}).get("Code") not in ("404", "NoSuchBucket", "NotFound"):
        raise
    client.create_bucket(Bucket=url.netloc)
    print(f"bucket {url.netloc} created at {settings.s3_endpoint}")
PY
echo "init: done"
