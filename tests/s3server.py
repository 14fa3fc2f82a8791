"""A real S3 protocol server for the object storage tests: moto's ``ThreadedMotoServer`` on
127.0.0.1, with IAM enforcement switched on per test, and a TCP proxy that cuts uploads.

Nothing here patches a client: imgframe talks HTTP to these servers as it would to AWS.
"""

from __future__ import annotations

import contextlib
import json
import logging
import socket
import struct
import threading
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

#: What the tests' environment holds: the secret must never appear in any output.
ACCESS_KEY_ID = "AKIAIMGFRAMETEST0000"
SECRET_ACCESS_KEY = "imgframe-test-secret-never-printed-0000"
BUCKET = "imgframe-test"


def start_moto() -> tuple[Any, str]:
    """A moto server on a free port of 127.0.0.1 and its endpoint URL."""
    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    return server, f"http://{host}:{port}"


def moto_api(endpoint: str, action: str, body: bytes = b"") -> bytes:
    """POST to moto's control API (``reset``, ``reset-auth``)."""
    request = urllib.request.Request(
        f"{endpoint}/moto-api/{action}",
        data=body,
        method="POST",
        headers={"Content-Type": "text/plain"},
    )
    with urllib.request.urlopen(request, timeout=10) as answer:
        return bytes(answer.read())


@dataclass
class S3:
    """The server of one test: its endpoint, a boto3 client and the test bucket."""

    endpoint: str
    client: Any
    bucket: str = BUCKET

    def uri(self, key: str) -> str:
        return f"s3://{self.bucket}/{key}"

    def keys(self, prefix: str = "") -> list[str]:
        """Every key under ``prefix``, sorted (one real ListObjectsV2 walk)."""
        pages = self.client.get_paginator("list_objects_v2").paginate(
            Bucket=self.bucket, Prefix=prefix
        )
        return sorted(o["Key"] for page in pages for o in page.get("Contents", []))

    def get(self, key: str) -> bytes:
        return bytes(self.client.get_object(Bucket=self.bucket, Key=key)["Body"].read())

    def put(self, key: str, body: bytes) -> None:
        self.client.put_object(Bucket=self.bucket, Key=key, Body=body)

    def enforce_auth(self, monkeypatch: pytest.MonkeyPatch) -> tuple[str, str]:
        """From now on every request is checked: an IAM user allowed only on the test
        bucket; its key and secret are put in the environment and returned."""
        iam = boto_client("iam", self.endpoint)
        iam.create_user(UserName="writer")
        policy = {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Action": "s3:*",
                    "Resource": [f"arn:aws:s3:::{self.bucket}", f"arn:aws:s3:::{self.bucket}/*"],
                }
            ],
        }
        iam.put_user_policy(
            UserName="writer", PolicyName="one-bucket", PolicyDocument=json.dumps(policy)
        )
        key = iam.create_access_key(UserName="writer")["AccessKey"]
        monkeypatch.setenv("AWS_ACCESS_KEY_ID", key["AccessKeyId"])
        monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", key["SecretAccessKey"])
        moto_api(self.endpoint, "reset-auth", b"0")
        self.client = boto_client("s3", self.endpoint, key["AccessKeyId"], key["SecretAccessKey"])
        return key["AccessKeyId"], key["SecretAccessKey"]


def boto_client(
    service: str, endpoint: str, key: str = ACCESS_KEY_ID, secret: str = SECRET_ACCESS_KEY
) -> Any:
    import boto3

    return boto3.client(
        service,
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id=key,
        aws_secret_access_key=secret,
    )


def use_s3(monkeypatch: pytest.MonkeyPatch, endpoint: str) -> None:
    """The environment a user of an S3-compatible store sets, and nothing of the host's."""
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL_S3", "AWS_DEFAULT_REGION"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", ACCESS_KEY_ID)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", SECRET_ACCESS_KEY)
    monkeypatch.setenv("AWS_REGION", "us-east-1")
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.setenv("AWS_ENDPOINT_URL", endpoint)


@pytest.fixture(scope="session")
def moto_endpoint() -> Iterator[str]:
    server, endpoint = start_moto()
    try:
        yield endpoint
    finally:
        server.stop()


@pytest.fixture
def s3(moto_endpoint: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[S3]:
    """An empty server (state reset), the environment pointing at it, one bucket."""
    moto_api(moto_endpoint, "reset")
    use_s3(monkeypatch, moto_endpoint)
    client = boto_client("s3", moto_endpoint)
    client.create_bucket(Bucket=BUCKET)
    try:
        yield S3(moto_endpoint, client)
    finally:
        moto_api(moto_endpoint, "reset-auth", b"inf")


class CutProxy:
    """A TCP proxy on 127.0.0.1 in front of ``port`` that resets every connection once it
    has carried more than ``cut_after`` bytes towards the server: the server dropping in the
    middle of an upload, each time it is retried."""

    def __init__(self, port: int, cut_after: int) -> None:
        self.upstream = ("127.0.0.1", port)
        self.cut_after = cut_after
        self.cuts = 0
        self._lock = threading.Lock()
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.endpoint = f"http://127.0.0.1:{self._listener.getsockname()[1]}"
        threading.Thread(target=self._accept, daemon=True).start()

    def close(self) -> None:
        self._listener.close()

    @staticmethod
    def _reset(sock: socket.socket) -> None:
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            sock.close()
        except OSError:
            pass

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            server = socket.create_connection(self.upstream)
            threading.Thread(target=self._pump, args=(client, server, True), daemon=True).start()
            threading.Thread(target=self._pump, args=(server, client, False), daemon=True).start()

    def _pump(self, source: socket.socket, sink: socket.socket, upstream: bool) -> None:
        carried = 0
        try:
            while data := source.recv(65536):
                carried += len(data) if upstream else 0
                if upstream and carried > self.cut_after:
                    with self._lock:
                        self.cuts += 1
                    self._reset(source)
                    self._reset(sink)
                    return
                sink.sendall(data)
        except OSError:
            pass
        finally:
            for sock in (source, sink):
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
