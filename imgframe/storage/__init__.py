"""Where files live: a local path or an object in a bucket, behind one small interface.

Every place imgframe takes a path (exports, manifests, metrics files, the snapshot store,
``--from``) also takes a URI: ``s3://bucket/key``, ``gs://bucket/key``, ``az://container/key``
(also ``abfs://`` and ``abfss://``) and ``file:///path``. :func:`location` turns either into a
:class:`Location`:

- :class:`~imgframe.storage.local.LocalLocation` keeps imgframe's own durable local writes
  (:mod:`imgframe.durable`: a temporary file beside the target, fsync, rename).
- :class:`~imgframe.storage.remote.ObjectLocation` talks to the object store through
  `obstore <https://developmentseed.org/obstore/>`_ (the Rust ``object_store`` crate that
  DataFusion and others use): multipart uploads sent concurrently, aborted when the writer
  fails (so a failed write never leaves an object), conditional puts (``If-None-Match: *``,
  ``If-Match: <etag>``) for commit files, and each cloud's standard credential chain.

Object stores have neither rename nor locks, so the writers above this layer commit by
manifest: data goes under fresh, unique names, then one small commit file is put last with a
conditional put (see :mod:`imgframe.history` and :mod:`imgframe.export`).

The cloud packages are optional extras (``imgframe[s3]``, ``imgframe[gcs]``,
``imgframe[azure]``); a URI whose extra is missing is one :class:`~imgframe.errors.ConfigError`
line naming the extra to install. No message of this layer holds a secret: errors quote the
store's error code and message only, never its request, and known secrets are masked.

>>> import tempfile
>>> with tempfile.TemporaryDirectory() as tmp:
...     target = location(f"file://{tmp}/a.txt")
...     with target.atomic_write() as fh:
...         _ = fh.write(b"hi")
...     target.read_bytes(), target.is_local
(b'hi', True)
"""

from __future__ import annotations

from .base import (
    REMOTE_SCHEMES,
    Location,
    ObjectInfo,
    WriteConflict,
    is_uri,
    location,
    run_concurrently,
    same_target,
)

__all__ = [
    "REMOTE_SCHEMES",
    "Location",
    "ObjectInfo",
    "WriteConflict",
    "is_uri",
    "location",
    "run_concurrently",
    "same_target",
]
