"""Inventory frames as the coming ``imgframe.fetch_inventory`` will give them, built from a
sandbox :class:`~imgframe.sandbox.Catalog` (its ground truth, no HTTP).

The contract: the fetched frame's columns (``FETCHED_COLUMNS``) plus ``profile``,
``regionIdList``, ``resourceGroupId``, ``resourceGroupName`` (custom images; NA for public)
and ``instanceCount`` (instances in that zone running the image), and ``attrs["imgframe"]``
with the fetch's metadata, ``profiles``, ``endpoint``, ``usage`` and
``unlistedImagesInUse``. Used by the report tests, the xlsx tests and
``scripts/screenshots.py``.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pandas as pd
import pyarrow as pa

from imgframe import sandbox
from imgframe.frame import frame_from_records, join_zones, zones_frame

FETCHED_AT = datetime(2026, 3, 14, 12, 0, tzinfo=UTC)
ENDPOINT = "console.zenlayer.com"


def inventory_frame(
    catalog: sandbox.Catalog,
    *,
    usage: bool = True,
    profile: str = "default",
    fetched_at: datetime = FETCHED_AT,
) -> pd.DataFrame:
    """Every image of ``catalog``, zone by zone in zone id order, with the inventory columns
    (``usage=False``: without ``instanceCount``, as when usage is skipped)."""
    records: list[dict[str, Any]] = []
    for zone in sorted(catalog.zone_ids):
        for record in catalog.images(zone):
            records.append({"zoneId": zone, **record})
    frame = frame_from_records(records, fetched_at=fetched_at)
    frame = join_zones(frame, zones_frame(catalog.zones))
    custom = {c["imageId"]: c for c in catalog.custom_images()}
    ids = frame["imageId"].astype(str).tolist()
    found = [custom.get(i) for i in ids]
    frame.insert(0, "profile", pd.Categorical([profile] * len(frame)))
    frame["regionIdList"] = pd.array(
        pa.array([c["regionIdList"] if c else None for c in found], pa.list_(pa.string())),
        dtype=pd.ArrowDtype(pa.list_(pa.string())),
    )
    for name in ("resourceGroupId", "resourceGroupName"):
        frame[name] = pd.array([c[name] if c else None for c in found], dtype="string[pyarrow]")
    counts = catalog.usage()
    listed = set(zip(frame["zoneId"].astype(str), ids, strict=True))
    if usage:
        frame["instanceCount"] = pd.array(
            [counts.get(key, 0) for key in zip(frame["zoneId"].astype(str), ids, strict=True)],
            dtype="Int64",
        )
    unlisted = [
        {"zoneId": z, "imageId": i, "instances": n}
        for (z, i), n in sorted(counts.items())
        if (z, i) not in listed
    ]
    zones = sorted(catalog.zone_ids)
    frame.attrs["imgframe"] = {
        "filters": {},
        "zones": zones,
        "totalCounts": {z: int((frame["zoneId"] == z).sum()) for z in zones},
        "rows": {z: int((frame["zoneId"] == z).sum()) for z in zones},
        "complete": True,
        "incomplete": {},
        "warnings": [],
        "fetchedAt": fetched_at.isoformat(),
        "requests": 0,
        "retries": 0,
        "profiles": [profile],
        "endpoint": ENDPOINT,
        "usage": "fetched" if usage else "skipped",
        **({"unlistedImagesInUse": unlisted} if usage else {}),
    }
    return frame
