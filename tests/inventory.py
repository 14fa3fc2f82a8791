"""Inventory frames for the report, xlsx and screenshot tests: what
:func:`imgframe.fetch_inventory` gives for a sandbox :class:`~imgframe.sandbox.Catalog`,
fetched over HTTP from a sandbox serving it, with the fetch time and endpoint pinned so
that pages rendered from it are the same on every run.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pandas as pd

import imgframe
from imgframe import sandbox

from .helpers import client_kwargs

FETCHED_AT = datetime(2026, 3, 14, 12, 0, tzinfo=UTC)
ENDPOINT = "console.zenlayer.com"


def inventory_frame(
    catalog: sandbox.Catalog,
    *,
    usage: bool = True,
    profile: str = "default",
    fetched_at: datetime = FETCHED_AT,
) -> pd.DataFrame:
    """Every image of ``catalog`` as fetched (``usage=False``: DescribeInstances skipped,
    ``instanceCount`` NA), ``fetchedAt`` and the recorded endpoint pinned."""
    with (
        sandbox.running(catalog=catalog) as server,
        imgframe.Client(**client_kwargs(server)) as client,
    ):
        frame = imgframe.fetch_inventory(client=client, usage=usage, progress=False)
    frame["fetchedAt"] = pd.Series(
        pd.Timestamp(fetched_at), index=frame.index, dtype=frame["fetchedAt"].dtype
    )
    if profile != "default":
        frame["profile"] = pd.Categorical([profile] * len(frame))
    record = frame.attrs["imgframe"]
    record.update(fetchedAt=fetched_at.isoformat(), endpoint=ENDPOINT, profiles=[profile])
    return frame
