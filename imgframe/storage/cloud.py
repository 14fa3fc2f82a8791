"""Clients of each cloud's object store, configured from its standard environment, and the
one-line, secret-free text of their errors.

S3 (and S3-compatible stores such as MinIO or Ceph): ``AWS_ACCESS_KEY_ID``,
``AWS_SECRET_ACCESS_KEY``, ``AWS_SESSION_TOKEN``, ``AWS_REGION`` (or ``AWS_DEFAULT_REGION``),
``AWS_ENDPOINT_URL_S3`` or ``AWS_ENDPOINT_URL``; without keys in the environment,
``AWS_PROFILE`` and ``~/.aws/credentials``/``~/.aws/config`` are read with boto3 (part of the
``s3`` extra: obstore itself reads no profile files), and then the instance's or container's
role. An ``http://`` endpoint (a local MinIO) is allowed because it was given explicitly.
GCS: ``GOOGLE_APPLICATION_CREDENTIALS`` / ``GOOGLE_SERVICE_ACCOUNT`` and the metadata
server. Azure: ``AZURE_STORAGE_ACCOUNT_NAME`` with ``AZURE_STORAGE_ACCOUNT_KEY``, a SAS token
or a service principal (``AZURE_CLIENT_ID``...), as the Azure SDKs read them.
"""

from __future__ import annotations

import os
import re
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from ..errors import ConfigError

if TYPE_CHECKING:
    from .base import Location

__all__ = [
    "describe_error",
    "environment_secret_values",
    "is_not_found",
    "make_store",
    "redact",
]

_STORES: dict[tuple[str, ...], Any] = {}
_LOCK = threading.Lock()


def make_store(scheme: str, bucket: str) -> Any:
    """The obstore client of one bucket, shared by every location in it (one connection
    pool); made anew when the environment it was configured from changes."""
    settings = _s3_settings() if scheme in ("s3", "s3a") else ()
    key = (scheme, bucket, *settings)
    with _LOCK:
        store = _STORES.get(key)
        if store is None:
            store = _STORES[key] = _new_store(scheme, bucket)
        return store


def _s3_settings() -> tuple[str, ...]:
    names = (
        "AWS_ACCESS_KEY_ID",
        "AWS_REGION",
        "AWS_DEFAULT_REGION",
        "AWS_ENDPOINT_URL",
        "AWS_ENDPOINT_URL_S3",
        "AWS_PROFILE",
        "AWS_SESSION_TOKEN",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_METADATA_ENDPOINT",
    )
    return tuple(os.environ.get(n, "") for n in names)


def _new_store(scheme: str, bucket: str) -> Any:
    from obstore.store import AzureStore, GCSStore

    if scheme in ("s3", "s3a"):
        return _s3_store(bucket)
    if scheme in ("gs", "gcs"):
        return GCSStore(bucket)
    return AzureStore(bucket)


def _s3_store(bucket: str) -> Any:
    from obstore.store import S3Store

    env = os.environ
    endpoint = env.get("AWS_ENDPOINT_URL_S3") or env.get("AWS_ENDPOINT_URL")
    region = env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION")
    options: dict[str, Any] = {}
    provider = None
    if not env.get("AWS_ACCESS_KEY_ID") and _has_profile_files():
        try:
            import boto3
            from obstore.auth.boto3 import Boto3CredentialProvider
        except ImportError:
            raise ConfigError(
                "reading AWS_PROFILE or ~/.aws files needs boto3: pip install 'imgframe[s3]'"
            ) from None
        session = boto3.Session()
        region = region or session.region_name
        if not endpoint:
            configured = session.client("s3", region_name=region or "us-east-1").meta.endpoint_url
            if "amazonaws.com" not in configured:
                endpoint = configured
        try:
            provider = Boto3CredentialProvider(session)
        except Exception as exc:  # botocore's profile and credential errors
            raise ConfigError(f"AWS credentials: {redact(str(exc))}") from None
    config: dict[str, Any] = {"region": region or "us-east-1"}
    if endpoint:
        config["endpoint"] = endpoint.rstrip("/")
        if endpoint.startswith("http://"):
            options["allow_http"] = True
    return S3Store(
        bucket,
        config=cast(Any, config),
        client_options=cast(Any, options),
        credential_provider=provider,
    )


def _has_profile_files() -> bool:
    if os.environ.get("AWS_PROFILE"):
        return True
    home = Path.home() / ".aws"
    shared = os.environ.get("AWS_SHARED_CREDENTIALS_FILE") or home / "credentials"
    config = os.environ.get("AWS_CONFIG_FILE") or home / "config"
    return Path(shared).is_file() or Path(config).is_file()


# -- errors

_CODE = re.compile(r"<Code>([^<]{1,100})</Code>")
_MESSAGE = re.compile(r"<Message>([^<]{1,300})</Message>")
_STATUS = re.compile(r"status code: (\d{3}[^:<]{0,40})")
_RETRIES = re.compile(r"after (\d+) retries")
_TAIL = re.compile(r" - (HTTP error: [^\n<]{1,120}|[A-Za-z][^\n<]{1,120})$")
#: The instance metadata service's credential paths (EC2's IMDS, ECS's task endpoint).
_METADATA = re.compile(r"/latest/api/token|/latest/meta-data/iam/|169\.254\.170\.2")
_SECRET_PARAMS = re.compile(
    r"((?:X-Amz-)?(?:Signature|Security-Token|Credential)=)[^&\s\"'<]+", re.IGNORECASE
)

#: obstore's error types meaning "no such object" (Python's own FileNotFoundError too).
_NOT_FOUND = ("NotFoundError", "FileNotFoundError")


def is_not_found(exc: BaseException) -> bool:
    return type(exc).__name__ in _NOT_FOUND or isinstance(exc, FileNotFoundError)


def describe_error(doing: str, where: Location | str, exc: BaseException) -> str:
    """``cannot write s3://b/k: AccessDenied: Access Denied`` - the store's error code and
    message when it sent one, else what failed (``PUT failed after 10 retries: ...``);
    never the request, its URL's query, headers or signature."""
    text = str(exc)
    code, message = _CODE.search(text), _MESSAGE.search(text)
    if _METADATA.search(text.split("\n", 1)[0]):
        # Nothing in the environment or the config files: the instance's metadata service
        # was the last place to look, and it gave nothing.
        status = _STATUS.search(text)
        answer = f"answered HTTP {status.group(1).strip()}" if status else "did not answer"
        detail = (
            "no AWS credentials found: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or "
            f"AWS_PROFILE (the instance metadata service, the last place looked, {answer})"
        )
    elif code:
        detail = code.group(1) + (f": {message.group(1)}" if message else "")
    elif type(exc).__module__.startswith("obstore") or "Error performing" in text:
        first = text.strip().splitlines()[0] if text.strip() else type(exc).__name__
        verb = re.search(r"Error performing (\w+)", first)
        status = _STATUS.search(first)
        retries = _RETRIES.search(first)
        tail = _TAIL.search(first)
        pieces = [f"{verb.group(1)} failed" if verb else type(exc).__name__]
        if status:
            pieces.append(f"HTTP {status.group(1).strip()}")
            if status.group(1).startswith("403"):  # a HEAD's answer has no body to quote
                pieces[-1] += " (the credentials are wrong or not allowed here)"
        if retries:
            pieces.append(f"after {retries.group(1)} retries")
        if tail and not status:
            pieces.append(tail.group(1).strip())
        if not verb and not status:
            pieces = [re.sub(r"^Generic \w+ error: ", "", first)[:200]]
        detail = ", ".join(pieces)
    else:
        detail = f"{type(exc).__name__}: {text}"
    line = " ".join(f"{doing} {where}: {detail}".split())
    return redact(line if len(line) <= 400 else line[:397] + "...")


def redact(text: str) -> str:
    """``text`` without signatures, tokens or the environment's cloud secrets."""
    text = _SECRET_PARAMS.sub(r"\1***", text)
    for secret in environment_secret_values():
        text = text.replace(secret, "***")
    return text


def environment_secret_values() -> list[str]:
    """The cloud secrets in the environment (masked wherever text is shown)."""
    names = (
        "AWS_SECRET_ACCESS_KEY",
        "AWS_SESSION_TOKEN",
        "AZURE_STORAGE_ACCOUNT_KEY",
        "AZURE_STORAGE_SAS_TOKEN",
        "AZURE_CLIENT_SECRET",
    )
    return [v for n in names if (v := os.environ.get(n)) and len(v) >= 6]
