"""The inventory: images with who holds them, where they are available, and whether anything
uses them, across one account or several.

:func:`fetch_inventory` runs three listings of each account concurrently, under one bound on
requests in flight shared by every listing and account:

- DescribeImages of the zones asked for: the image frame;
- DescribeCustomImages (account-wide): ``regionIdList``, ``resourceGroupId`` and
  ``resourceGroupName`` of each custom image (NA for public images);
- DescribeInstances of the same zones (one account-wide listing for ``"all"``), unless
  ``usage=False``: ``instanceCount``, how many instances in that zone run that image (0:
  none; NA when usage was not fetched, or the key may not call DescribeInstances, which is
  a warning, never a failed run).

Every row carries its ``profile`` (the account), so the row key is (``profile``, ``zoneId``,
``imageId``): public images share ids across zones and accounts. The columns are the same
whatever is fetched (:data:`INVENTORY_COLUMNS`).

Instances whose image the zone no longer lists (a deleted custom image) are not rows; they
are counted in ``attrs["imgframe"]["unlistedImagesInUse"]`` (when no image filter narrowed the
listing, so that "not listed" means "gone").
"""

from __future__ import annotations

import copy
import logging
import warnings
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, Literal, Unpack

import pandas as pd

from .cache import Refresh, TtlLike
from .client import Client, ConnectionArgs
from .credentials import list_profiles
from .defaults import DEFAULT_CONCURRENCY, DEFAULT_PAGE_SIZE
from .errors import ImgframeError, InvalidArgument, PermissionDeniedError
from .filters import (
    CUSTOM_IMAGE_FILTERS,
    IMAGE_FILTERS,
    INSTANCE_FILTERS,
    CustomImageFilterArgs,
    ImageFilterArgs,
    InstanceFilterArgs,
    check_concurrency,
    filter_signature,
)
from .frame import concat_frames
from .schema import FETCHED_COLUMNS
from .transport import Slots

__all__ = [
    "INVENTORY_COLUMNS",
    "fetch_custom_images",
    "fetch_instances",
    "fetch_inventory",
]

log = logging.getLogger("imgframe.inventory")

#: What an inventory adds to the image frame, and where: ``profile`` first, the rest after
#: the image fields (fields the API adds later come between them and ``fetchedAt``).
INVENTORY_ADDED = ("regionIdList", "resourceGroupId", "resourceGroupName", "instanceCount")
#: The columns of every inventory frame, in order.
INVENTORY_COLUMNS = ("profile", *FETCHED_COLUMNS[:-1], *INVENTORY_ADDED, "fetchedAt")

Usage = Literal["fetched", "not permitted", "skipped"]
#: What DescribeCustomImages adds to an image.
_HELD = ("regionIdList", "resourceGroupId", "resourceGroupName")


class UsageWarning(Warning):
    """Usage (DescribeInstances) could not be fetched; ``instanceCount`` is NA."""


@filter_signature(IMAGE_FILTERS, ImageFilterArgs)
def fetch_inventory(
    zone_id: str | Sequence[str] = "all",
    *,
    profiles: Sequence[str] | Literal["all"] | None = None,
    usage: bool = True,
    allow_partial: bool = False,
    client: Client | None = None,
    page_size: int = DEFAULT_PAGE_SIZE,
    progress: bool | None = None,
    verify: bool = False,
    allow_incomplete: bool = False,
    cache: TtlLike | None = None,
    refresh: Refresh = None,
    connection: ConnectionArgs | None = None,
    **filters: Unpack[ImageFilterArgs],
) -> pd.DataFrame:
    """The image frame of each account, with ``regionIdList``, ``resourceGroupId``,
    ``resourceGroupName``, ``instanceCount`` and ``profile`` (see the module docstring).

    ``profiles`` names accounts in the official CLI's ``~/.zenlayer/credentials.json``
    (``"all"``: every profile there); ``None`` uses ``client``, or one client built from
    ``connection`` (:class:`~imgframe.client.ConnectionArgs`; its ``max_concurrency`` bounds
    the requests in flight across every account). A profile that fails fails the run,
    naming it, unless ``allow_partial=True``: then the others are kept and
    ``attrs["imgframe"]["failedProfiles"]`` says which failed and why. ``usage=False`` skips
    DescribeInstances (``instanceCount`` NA). ``cache`` and ``refresh`` apply to every
    listing, as for :meth:`~imgframe.client.Client.fetch_images`. The image filters narrow
    DescribeImages.

    >>> import imgframe
    >>> with imgframe.sandbox.running(images=500) as sb, imgframe.Client.for_sandbox(sb) as c:
    ...     df = fetch_inventory("asia-east-1a", client=c, os_type="windows")
    >>> list(df.columns) == list(INVENTORY_COLUMNS)
    True
    """
    options: dict[str, Any] = {
        "page_size": page_size,
        "progress": progress,
        "verify": verify,
        "allow_incomplete": allow_incomplete,
        "cache": cache,
        "refresh": refresh,
    }
    if profiles is None:
        if client is not None:
            return _one_account(client, zone_id, usage, filters, options)
        with Client(**(connection or {})) as own:
            return _one_account(own, zone_id, usage, filters, options)
    names = list_profiles() if profiles == "all" else list(dict.fromkeys(profiles))
    if not names:
        raise InvalidArgument("profiles is empty; give profile names or 'all'")
    base: ConnectionArgs = dict(connection or {})  # type: ignore[assignment]
    concurrency = check_concurrency(base.get("max_concurrency", DEFAULT_CONCURRENCY))
    slots = Slots(concurrency)
    clients = {}
    for name in names:
        settings: ConnectionArgs = {**base, "profile": name, "max_concurrency": concurrency}
        settings["slots"] = slots
        clients[name] = Client(**settings)
    try:
        with ThreadPoolExecutor(len(names), thread_name_prefix="imgframe-account") as pool:
            runs = {
                name: pool.submit(_one_account, c, zone_id, usage, filters, options, name)
                for name, c in clients.items()
            }
            return _combine(runs, allow_partial)
    finally:
        for c in clients.values():
            c.close()


def _one_account(
    client: Client,
    zone_id: str | Sequence[str],
    usage: bool,
    filters: ImageFilterArgs,
    options: dict[str, Any],
    profile: str | None = None,
) -> pd.DataFrame:
    """One account's inventory: images, custom images and instances side by side."""
    name = profile or client.profile or "default"
    before = client.transport.stats.snapshot()
    with ThreadPoolExecutor(2, thread_name_prefix="imgframe-inventory") as side:
        listing = {
            "page_size": options["page_size"],
            "progress": False,
            "cache": options["cache"],
            "refresh": options["refresh"],
        }
        # Only the fields the join needs are read: most of each record is skipped unparsed.
        customs = side.submit(client.fetch_custom_images, columns=_HELD, **listing)
        instances: Future[pd.DataFrame] | None = (
            side.submit(client.fetch_instances, zone_id, columns=("zoneId", "imageId"), **listing)
            if usage
            else None
        )
        images = client.fetch_images(zone_id, **options, **filters)
        custom = customs.result()
        used, state = _usage(instances)
    frame = _enriched(images, custom, used, name)
    record = dict(images.attrs.get("imgframe", {}))
    record["profiles"] = [name]
    record["endpoint"] = client.transport.host
    record["usage"] = state
    record["unlistedImagesInUse"] = (
        _unlisted(images, used) if used is not None and not record.get("filters") else None
    )
    # The three listings share the transport: count what the account's run took in all.
    record.update(client.transport.stats.since(before))
    for part in (custom, used):
        if part is not None:
            extra = part.attrs.get("imgframe", {})
            record["warnings"] = [*record.get("warnings", []), *extra.get("warnings", [])]
            record["requestIds"] = [*record.get("requestIds", []), *extra.get("requestIds", [])]
            record["complete"] = record.get("complete", True) and extra.get("complete", True)
    if state == "not permitted":
        record["warnings"] = [*record.get("warnings", []), _DENIED]
    frame.attrs["imgframe"] = record
    return frame


_DENIED = "usage not fetched: this key may not call DescribeInstances; instanceCount is NA"


def _usage(instances: Future[pd.DataFrame] | None) -> tuple[pd.DataFrame | None, Usage]:
    if instances is None:
        return None, "skipped"
    try:
        return instances.result(), "fetched"
    except PermissionDeniedError:
        warnings.warn(_DENIED, UsageWarning, stacklevel=4)
        return None, "not permitted"


def _enriched(
    images: pd.DataFrame, custom: pd.DataFrame, used: pd.DataFrame | None, profile: str
) -> pd.DataFrame:
    """The image frame in :data:`INVENTORY_COLUMNS` order, the added columns joined on."""
    out = images.copy(deep=False)
    out.insert(0, "profile", pd.Series(pd.Categorical([profile] * len(out)), index=out.index))
    held = custom[["imageId", "regionIdList", "resourceGroupId", "resourceGroupName"]]
    held = held.drop_duplicates("imageId")
    joined = out[["imageId"]].merge(held, on="imageId", how="left", validate="many_to_one")
    for name in ("regionIdList", "resourceGroupId", "resourceGroupName"):
        out[name] = joined[name].array
    out["instanceCount"] = _counts(out, used)
    extras = [c for c in out.columns if c not in INVENTORY_COLUMNS]
    order = [*INVENTORY_COLUMNS[:-5], *extras, *INVENTORY_ADDED, "fetchedAt"]
    return out[[c for c in order if c in out.columns]]


def _counts(frame: pd.DataFrame, used: pd.DataFrame | None) -> pd.Series:
    """Instances per (zone, image) for each row: 0 for none, NA when usage is unknown."""
    if used is None:
        return pd.Series(pd.NA, index=frame.index, dtype="Int64")
    per = used.groupby(
        [used["zoneId"].astype("string[pyarrow]"), used["imageId"].astype("string[pyarrow]")],
        observed=True,
    ).size()
    keys = pd.MultiIndex.from_arrays(
        [frame["zoneId"].astype("string[pyarrow]"), frame["imageId"].astype("string[pyarrow]")]
    )
    counts = per.reindex(keys).fillna(0).astype("int64").to_numpy()
    return pd.Series(counts, index=frame.index, dtype="Int64")


def _unlisted(images: pd.DataFrame, used: pd.DataFrame) -> list[dict[str, Any]]:
    """Instances, in the zones fetched, whose image the zone does not list."""
    listed = pd.MultiIndex.from_arrays(
        [images["zoneId"].astype("string[pyarrow]"), images["imageId"].astype("string[pyarrow]")]
    )
    zone = used["zoneId"].astype("string[pyarrow]")
    image = used["imageId"].astype("string[pyarrow]")
    runs = pd.MultiIndex.from_arrays([zone, image])
    fetched_zone = zone.isin(set(images["zoneId"].astype(str))).to_numpy(dtype=bool)
    gone = fetched_zone & ~runs.isin(listed)
    counts = pd.Series(1, index=runs[gone]).groupby(level=[0, 1]).size().sort_index()
    zones, ids = counts.index.get_level_values(0), counts.index.get_level_values(1)
    return [
        {"zoneId": str(z), "imageId": str(i), "instances": int(n)}
        for z, i, n in zip(zones, ids, counts.to_numpy(), strict=True)
    ]


def _combine(runs: dict[str, Future[pd.DataFrame]], allow_partial: bool) -> pd.DataFrame:
    """Every account's frame in one, the fetch records merged (per profile, and summed)."""
    frames: dict[str, pd.DataFrame] = {}
    failed: dict[str, str] = {}
    for name, run in runs.items():
        try:
            frames[name] = run.result()
        except ImgframeError as exc:
            if not allow_partial:
                raise _naming(exc, name) from exc
            failed[name] = str(exc)
    if not frames:
        raise ImgframeError(
            "every profile failed: " + "; ".join(f"{n}: {m}" for n, m in failed.items())
        )
    combined = concat_frames(list(frames.values()))
    combined = combined[list(frames[next(iter(frames))].columns)]
    records = {name: f.attrs.get("imgframe", {}) for name, f in frames.items()}
    merged: dict[str, Any] = {
        "profiles": list(frames),
        "failedProfiles": failed,
        "perProfile": records,
        "complete": all(r.get("complete", True) for r in records.values()) and not failed,
        "warnings": [f"profile {n}: {w}" for n, r in records.items() for w in r.get("warnings", [])]
        + [f"profile {n} failed: {m}" for n, m in failed.items()],
    }
    for key in ("zones", "fetchedAt", "filters", "endpoint", "usage"):
        merged[key] = next(iter(records.values())).get(key)
    for key in ("totalCounts", "rows"):
        merged[key] = {f"{n}/{z}": v for n, r in records.items() for z, v in r.get(key, {}).items()}
    for key in ("retries", "throttled", "bytesReceived"):
        merged[key] = sum(int(r.get(key, 0)) for r in records.values())
    requests: dict[str, int] = {}
    for r in records.values():
        for action, n in r.get("requests", {}).items():
            requests[action] = requests.get(action, 0) + n
    merged["requests"] = requests
    merged["requestIds"] = [i for r in records.values() for i in r.get("requestIds", [])]
    combined.attrs["imgframe"] = merged
    return combined


def _naming(exc: ImgframeError, profile: str) -> ImgframeError:
    """``exc`` again (same class and attributes) with the profile leading its message."""
    named = copy.copy(exc)
    named.args = (f"profile {profile}: {exc}", *exc.args[1:])
    return named


# --------------------------------------------------------------------------------------------
# Module-level shortcuts


class _CustomCall(ConnectionArgs, CustomImageFilterArgs, total=False):
    """What :func:`fetch_custom_images` takes besides its own options."""


class _InstancesCall(ConnectionArgs, InstanceFilterArgs, total=False):
    """What :func:`fetch_instances` takes besides its own options."""


_CONNECTION = frozenset(ConnectionArgs.__annotations__)


def _shortcut(
    client: Client | None, kwargs: dict[str, Any], call: Callable[[Client, dict[str, Any]], Any]
) -> Any:
    connection = {k: v for k, v in kwargs.items() if k in _CONNECTION}
    rest = {k: v for k, v in kwargs.items() if k not in _CONNECTION}
    if client is not None:
        return call(client, rest)
    with Client(**connection) as temporary:
        return call(temporary, rest)


@filter_signature(CUSTOM_IMAGE_FILTERS, CustomImageFilterArgs)
def fetch_custom_images(
    region_id: str | None = None,
    /,
    *,
    client: Client | None = None,
    page_size: int = DEFAULT_PAGE_SIZE,
    **kwargs: Unpack[_CustomCall],
) -> pd.DataFrame:
    """The account's custom images; see :meth:`Client.fetch_custom_images`. Connection
    arguments build a temporary client when ``client`` is not given."""
    frame: pd.DataFrame = _shortcut(
        client,
        dict(kwargs),
        lambda c, f: c.fetch_custom_images(region_id, page_size=page_size, **f),
    )
    return frame


@filter_signature(INSTANCE_FILTERS, InstanceFilterArgs)
def fetch_instances(
    zone_id: str | Sequence[str] = "all",
    *,
    client: Client | None = None,
    page_size: int = DEFAULT_PAGE_SIZE,
    **kwargs: Unpack[_InstancesCall],
) -> pd.DataFrame:
    """Instances; see :meth:`Client.fetch_instances`. Connection arguments build a temporary
    client when ``client`` is not given."""
    frame: pd.DataFrame = _shortcut(
        client, dict(kwargs), lambda c, f: c.fetch_instances(zone_id, page_size=page_size, **f)
    )
    return frame
