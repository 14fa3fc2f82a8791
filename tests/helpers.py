"""Plain helpers and constants shared by the test modules (fixtures live in ``conftest.py``).

How to connect to a sandbox with fast retries, what the shared session sandbox serves, and
the data files under ``tests/data``.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from imgframe import sandbox
from imgframe.transport import RetryPolicy, Timeouts

DATA = Path(__file__).resolve().parent / "data"

#: The catalog of the session sandbox (the ``sb`` fixture).
CATALOG_IMAGES = 3000
CATALOG_SEED = 7

#: The documented image frame, column by column in order, with each column's dtype: written
#: out here so a test of the schema does not compare the code with itself.
IMAGE_DTYPES = {
    "zoneId": "category",
    "imageId": "string",
    "imageName": "string",
    "imageType": "category",
    "imageSource": "category",
    "imageSize": "Int64",
    "minDiskSize": "Int64",
    "imageDescription": "string",
    "imageVersion": "string",
    "imageStatus": "category",
    "nicNetworkType": "list<item: string>[pyarrow]",
    "category": "category",
    "osType": "category",
    "tags": "list<item: struct<key: string, value: string>>[pyarrow]",
    "fetchedAt": "datetime64[us, UTC]",
}

#: What every fetched frame (and :func:`imgframe.empty_frame`) holds: the zone columns too.
FETCHED_DTYPES = {
    "zoneId": "category",
    **dict.fromkeys(("regionId", "zoneName", "cityName", "countryCode"), "string"),
    **{k: v for k, v in IMAGE_DTYPES.items() if k != "zoneId"},
}

#: The dtypes of an inventory (what the commands fetch): the profile, the zone columns after
#: zoneId, then who holds each custom image, where it is available, and how many use it.
INVENTORY_DTYPES = {
    "profile": "category",
    **{c: t for c, t in FETCHED_DTYPES.items() if c != "fetchedAt"},
    "regionIdList": "list<item: string>[pyarrow]",
    "resourceGroupId": "string",
    "resourceGroupName": "string",
    "instanceCount": "Int64",
    "fetchedAt": "datetime64[us, UTC]",
}

#: The image fields an export holds exactly as the API record has them.
PLAIN_FIELDS = (
    "imageId", "imageName", "imageType", "imageSource", "minDiskSize", "imageDescription",
    "imageVersion", "imageStatus", "nicNetworkType", "category", "osType",
)  # fmt: skip


def inventory_rows(
    catalog: sandbox.Catalog,
    zones: Sequence[str] | None = None,
    profile: str = "default",
    **filters: Any,
) -> list[dict[str, Any]]:
    """What an inventory of ``zones`` (default: all, as fetched: sorted) with image ``filters`` (API names) must
    hold, straight from a sandbox catalog: one plain row per image in the order the API
    pages them, zone columns joined, the custom image fields from the catalog's custom
    images and ``instanceCount`` from its fleet; ``fetchedAt`` left out."""
    zone_info = {z["zoneId"]: z for z in catalog.zones}
    held = {r["imageId"]: r for r in catalog.custom_images()}
    usage = catalog.usage()
    rows = []
    for zone in sorted(catalog.zone_ids) if zones is None else zones:
        joined = {
            c: zone_info[zone][c] for c in ("regionId", "zoneName", "cityName", "countryCode")
        }
        for r in catalog.query(zone, **filters):
            size = r.get("imageSize")
            custom = held.get(r["imageId"], {})
            rows.append(
                {
                    "profile": profile,
                    "zoneId": zone,
                    **joined,
                    **{c: r.get(c) for c in PLAIN_FIELDS},
                    "imageSize": None if size is None else int(size),
                    "tags": (r.get("tags") or {}).get("tags") or [],
                    **{
                        c: custom.get(c)
                        for c in ("regionIdList", "resourceGroupId", "resourceGroupName")
                    },
                    "instanceCount": usage.get((zone, r["imageId"]), 0),
                }
            )
    return rows


#: Fast retries for tests: the behaviour is the same, the waits are short.
FAST_RETRY = RetryPolicy(max_attempts=4, base_delay=0.01, max_delay=0.05, max_total=5.0)
FAST_TIMEOUTS = Timeouts(connect=2.0, read=1.0, total=5.0)


def client_kwargs(server: sandbox.Sandbox, **extra: Any) -> dict[str, Any]:
    """Connection arguments for a sandbox, with fast retries unless overridden."""
    kwargs: dict[str, Any] = {
        "endpoint": server.endpoint,
        "access_key_id": server.access_key_id,
        "access_key_secret": server.access_key_secret,
        "retry": FAST_RETRY,
        "timeouts": FAST_TIMEOUTS,
    }
    kwargs.update(extra)
    return kwargs


def plain_rows(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """The rows of ``frame`` as plain Python, to compare with literal or catalog values:
    None for every missing value, lists for list cells."""
    cells = frame.astype(object)
    records: list[dict[str, Any]] = cells.where(cells.notna(), None).to_dict("records")
    return [
        {k: v.tolist() if hasattr(v, "tolist") else v for k, v in record.items()}
        for record in records
    ]


def signature_vectors() -> list[dict[str, str]]:
    """The official ZC2-HMAC-SHA256 test vectors (``tests/data/signature-vectors.json``)."""
    cases: list[dict[str, str]] = json.loads(
        (DATA / "signature-vectors.json").read_text(encoding="utf-8")
    )["cases"]
    return cases
