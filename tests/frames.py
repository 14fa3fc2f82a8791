"""Fixture frames holding every awkward value an export, a chart or a report must survive.

``fixture_records()`` gives API-shaped image dicts; ``fixture_frame()`` runs them through
:func:`imgframe.frame.frame_from_records` like a real fetch, so dtypes are the real ones.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pandas as pd

from imgframe.frame import frame_from_records, join_zones

FETCHED_AT = datetime(2025, 3, 1, 8, 30, 5, 123456, tzinfo=UTC)

#: Strings that break naive CSV, HTML, Markdown or terminal output.
HOSTILE = (
    "<script>alert(1)</script>",
    "=SUM(A1)",
    "+1",
    "-2",
    "@x",
    "\tstarts with a tab",
    "\rstarts with a CR",
    "'=already quoted",
    'say "hi", then, go',
    "line one\nline two",
    "pipe | in | cells",
    "rtl \u202eevil\u202c text",
    "\x1b[31mred\x1b[0m",
    "$x^2$ not math",
)
LONG = "long-" + "x" * 3000
UNICODE = "Ubuntu 日本語 Ünïcödé 🚀"


def _tags(*pairs: tuple[str | None, str | None]) -> dict[str, Any]:
    return {"tags": [{"key": k, "value": v} for k, v in pairs]}


def fixture_records() -> list[dict[str, Any]]:
    """Twenty-odd images over three zones: public and custom, every status seen in practice,
    missing values, empty lists, and hostile text in every text field."""
    records: list[dict[str, Any]] = [
        {
            "zoneId": "asia-east-1a",
            "imageId": "ubuntu2404_20240712",
            "imageName": "Ubuntu Server 24.04 LTS",
            "imageType": "PUBLIC_IMAGE",
            "imageSource": "OFFICIAL",
            "imageSize": "20",
            "minDiskSize": 20,
            "imageDescription": None,
            "imageVersion": "Server 24.04 LTS",
            "imageStatus": "AVAILABLE",
            "nicNetworkType": ["FailOver", "VirtioOnly"],
            "category": "Ubuntu",
            "osType": "linux",
            "tags": None,
        },
        {
            "zoneId": "asia-east-1a",
            "imageId": "win2022_std",
            "imageName": "Windows Server 2022",
            "imageType": "PUBLIC_IMAGE",
            "imageSource": "OFFICIAL",
            "imageSize": "40",
            "minDiskSize": 40,
            "imageDescription": "",
            "imageVersion": "2022",
            "imageStatus": "AVAILABLE",
            "nicNetworkType": [],
            "category": "Windows",
            "osType": "windows",
            "tags": {"tags": []},
        },
        {
            "zoneId": "asia-east-1a",
            "imageId": "img-custom-ok",
            "imageName": UNICODE,
            "imageType": "CUSTOM_IMAGE",
            "imageSource": "CUSTOM",
            "imageSize": "25",
            "minDiskSize": 25,
            "imageDescription": LONG,
            "imageVersion": None,
            "imageStatus": "AVAILABLE",
            "nicNetworkType": ["VirtioOnly"],
            "category": "Ubuntu",
            "osType": "linux",
            "tags": _tags(("owner", "ops"), ("env", "prod")),
        },
        {
            "zoneId": "na-west-1a",
            "imageId": "img-failed",
            "imageName": "broken build",
            "imageType": "CUSTOM_IMAGE",
            "imageSource": "CUSTOM",
            "imageSize": None,
            "minDiskSize": None,
            "imageDescription": None,
            "imageVersion": None,
            "imageStatus": "FAILED",
            "nicNetworkType": None,
            "category": "CentOS",
            "osType": "linux",
            "tags": None,
        },
        {
            "zoneId": "na-west-1a",
            "imageId": "img-unavailable",
            "imageName": "old snapshot",
            "imageType": "CUSTOM_IMAGE",
            "imageSource": "CUSTOM",
            "imageSize": "30",
            "minDiskSize": 30,
            "imageDescription": "kept for audit",
            "imageVersion": "1",
            "imageStatus": "UNAVAILABLE",
            "nicNetworkType": ["FailOver"],
            "category": "Debian",
            "osType": "linux",
            "tags": _tags(("env", "=cmd|' /C calc'!A0"), ("", None)),
        },
        {
            "zoneId": "eu-central-1a",
            "imageId": "img-no-status",
            "imageName": None,
            "imageType": None,
            "imageSource": None,
            "imageSize": "0",
            "minDiskSize": 0,
            "imageDescription": None,
            "imageVersion": "",
            "imageStatus": None,
            "nicNetworkType": [""],
            "category": None,
            "osType": None,
            "tags": None,
        },
        {
            "zoneId": "eu-central-1a",
            "imageId": "img-creating",
            "imageName": "fresh",
            "imageType": "CUSTOM_IMAGE",
            "imageSource": "CUSTOM",
            "imageSize": "10",
            "minDiskSize": 10,
            "imageDescription": None,
            "imageVersion": None,
            "imageStatus": "CREATING",
            "nicNetworkType": ["VirtioOnly"],
            "category": "Rocky",
            "osType": "linux",
            "tags": _tags(("owner", "data-team")),
        },
    ]
    for number, text in enumerate(HOSTILE):
        records.append(
            {
                "zoneId": ("asia-east-1a", "na-west-1a", "eu-central-1a")[number % 3],
                "imageId": f"img-hostile-{number:02d}",
                "imageName": text,
                "imageType": "CUSTOM_IMAGE",
                "imageSource": "CUSTOM",
                "imageSize": str(5 + number),
                "minDiskSize": 5 + number,
                "imageDescription": text,
                "imageVersion": text,
                "imageStatus": "AVAILABLE",
                "nicNetworkType": [text, "VirtioOnly"],
                "category": "Generic" if number % 2 else "OTHERS",
                "osType": "any",
                "tags": _tags((text, text)) if number % 4 else _tags(("owner", text)),
            }
        )
    # Hostile text in a categorical column too, and an extra (undocumented) text field.
    records[-1]["category"] = '=HYPERLINK("http://x")'
    for record in records:
        record["imageFamily"] = None
    records[0]["imageFamily"] = "ubuntu"
    records[-2]["imageFamily"] = "-rm -rf"
    return records


def fixture_frame(*, zones: bool = False) -> pd.DataFrame:
    """The fixture records as a frame; ``zones`` adds the joined zone columns."""
    frame = frame_from_records(fixture_records(), fetched_at=FETCHED_AT)
    if zones:
        frame = join_zones(frame, zone_table())
    return frame


def zone_table() -> pd.DataFrame:
    """A DescribeZones-like frame for the fixture's zones (text columns)."""
    text = "string[pyarrow]"
    return pd.DataFrame(
        {
            "zoneId": pd.array(["asia-east-1a", "na-west-1a", "eu-central-1a"], dtype=text),
            "regionId": pd.array(["asia-east-1", "na-west-1", "eu-central-1"], dtype=text),
            "zoneName": pd.array(["Hong Kong 1", "Los Angeles 1", None], dtype=text),
            "cityName": pd.array(["Hong Kong", "Los Angeles", "Frankfurt"], dtype=text),
            "countryCode": pd.array(["HK", "US", "DE"], dtype=text),
        }
    )


def small_frame(n: int = 3, *, zone: str = "asia-east-1a", start: int = 0) -> pd.DataFrame:
    """A plain frame of ``n`` available custom images in one zone (for append tests)."""
    return frame_from_records(
        [
            {
                "imageId": f"img-{i:04d}",
                "imageName": f"image {i}",
                "imageType": "CUSTOM_IMAGE",
                "imageSource": "CUSTOM",
                "imageSize": "20",
                "minDiskSize": 20,
                "imageStatus": "AVAILABLE",
                "nicNetworkType": ["VirtioOnly"],
                "category": "Ubuntu",
                "osType": "linux",
                "tags": _tags(("owner", "ops")),
            }
            for i in range(start, start + n)
        ],
        zone_id=zone,
        fetched_at=FETCHED_AT,
    )
