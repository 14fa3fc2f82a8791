"""Output paths: placeholders filled in, and checked before anything is fetched."""

from __future__ import annotations

import os
import re
import string
from collections.abc import Sequence
from datetime import UTC, datetime

from ..errors import InvalidArgument


def expand_placeholders(
    path_template: str | os.PathLike[str], *, now: datetime, zones: Sequence[str] | None
) -> str:
    """Fill ``{date}``, ``{time}`` and ``{zone}`` in an output path.

    ``{date}`` is ``now`` as ``YYYY-MM-DD`` in UTC and ``{time}`` as ``HHMMSS`` in UTC (``now``
    must be timezone-aware). ``{zone}`` is the zone id when ``zones`` holds exactly one,
    ``multi`` when it holds several, and ``all`` when it is ``None`` or empty (every zone was
    fetched). Characters other than letters, digits, ``.``, ``_`` and ``-`` in a zone id become
    ``_``, and a zone id that would be a hidden or relative path part (``.``, ``..``, a leading
    dot) is refused, so ``{zone}`` never writes outside the directory the template names.
    ``{{`` and ``}}`` are literal braces; any other placeholder, or a format spec on one, is an
    :class:`~imgframe.errors.InvalidArgument`.

    >>> when = datetime(2025, 3, 1, 8, 30, 5, tzinfo=UTC)
    >>> expand_placeholders("out/{date}/images-{zone}-{time}.parquet", now=when,
    ...                     zones=["asia-east-1a"])
    'out/2025-03-01/images-asia-east-1a-083005.parquet'
    >>> expand_placeholders("images-{zone}.csv", now=when, zones=["a", "b"])
    'images-multi.csv'
    """
    if now.tzinfo is None or now.utcoffset() is None:
        raise InvalidArgument("expand_placeholders: `now` must be timezone-aware")
    template = os.fspath(path_template)
    utc = now.astimezone(UTC)
    unique = list(dict.fromkeys(zones or ()))
    if not unique:
        zone = "all"
    elif len(unique) == 1:
        zone = re.sub(r"[^A-Za-z0-9._-]", "_", unique[0]) or "_"
        if zone.startswith("."):
            raise InvalidArgument(
                f"zone id {unique[0][:40]!r} cannot fill {{zone}} in an output path "
                "(it would name a hidden or parent directory)"
            )
    else:
        zone = "multi"
    values = {"date": utc.strftime("%Y-%m-%d"), "time": utc.strftime("%H%M%S"), "zone": zone}
    try:
        fields = list(string.Formatter().parse(template))
    except ValueError as exc:
        raise InvalidArgument(f"bad output path template {template!r}: {exc}") from None
    for _, name, spec, conversion in fields:
        if name is None:
            continue
        if name not in values:
            raise InvalidArgument(
                f"unknown placeholder {{{name}}} in {template!r}; use {{date}}, {{time}}, "
                "{zone} (and {{ }} for literal braces)"
            )
        if spec or conversion:
            shown = name + (f"!{conversion}" if conversion else "") + (f":{spec}" if spec else "")
            written = "{" + shown + "}"
            raise InvalidArgument(
                f"placeholder {written} in {template!r} takes no format: write {{{name}}}"
            )
    return template.format_map(values)
