"""What the API documents: enum values, fields and limits, and the frame's columns.

One place for every name the other modules agree on. This module imports nothing heavy (the
command line reads its choices from here at start-up); the Arrow types of the same columns
are in :mod:`imgframe.schema.arrow`.

Each documented enum is a ``Literal`` type, and its tuple of values is derived from it, so
the type users see and the values the code checks cannot drift apart:

>>> OS_TYPES
('linux', 'bsd', 'windows', 'android', 'any')
"""

from __future__ import annotations

from typing import Literal, get_args

API_VERSION = "2025-09-01"
SERVICE = "zec"

Category = Literal[
    "CentOS", "Windows", "Ubuntu", "Debian", "Rocky", "Fedora", "FreeBSD", "Alpine",
    "ArchLinux", "AlmaLinux", "openSUSE", "Gentoo", "Generic", "OTHERS",
]  # fmt: skip
ImageType = Literal["PUBLIC_IMAGE", "CUSTOM_IMAGE"]
ImageSource = Literal["OFFICIAL", "MARKETING", "CUSTOM", "APP"]
OsType = Literal["linux", "bsd", "windows", "android", "any"]
ImageStatus = Literal[
    "CREATING", "AVAILABLE", "UNAVAILABLE", "SYNCING", "FAILED", "DELETING", "PROCESSING"
]

CATEGORIES: tuple[Category, ...] = get_args(Category)
IMAGE_TYPES: tuple[ImageType, ...] = get_args(ImageType)
IMAGE_SOURCES: tuple[ImageSource, ...] = get_args(ImageSource)
OS_TYPES: tuple[OsType, ...] = get_args(OsType)
IMAGE_STATUSES: tuple[ImageStatus, ...] = get_args(ImageStatus)

#: Request limits the API documents.
MAX_PAGE_SIZE = 1000
MAX_TAGS = 20
MAX_TAG_LENGTH = 64

#: Image fields as the API names them, in the order the frame shows them.
IMAGE_FIELDS = (
    "imageId",
    "imageName",
    "imageType",
    "imageSource",
    "imageSize",
    "minDiskSize",
    "imageDescription",
    "imageVersion",
    "imageStatus",
    "nicNetworkType",
    "category",
    "osType",
    "tags",
)

#: The frame's columns: the zone, the image fields, then the fetch time.
IMAGE_COLUMNS = ("zoneId", *IMAGE_FIELDS, "fetchedAt")

#: Columns stored as pandas categoricals (Arrow dictionaries).
CATEGORICAL_COLUMNS = (
    "zoneId", "imageType", "imageSource", "imageStatus", "category", "osType", "profile",
)  # fmt: skip
STRING_COLUMNS = (
    "imageId", "imageName", "imageDescription", "imageVersion", "resourceGroupId",
    "resourceGroupName",
)  # fmt: skip
INTEGER_COLUMNS = ("imageSize", "minDiskSize", "instanceCount")
LIST_COLUMNS = ("nicNetworkType", "tags", "regionIdList")

#: Zone fields DescribeZones answers, joined onto images fetched from several zones.
ZONE_FIELDS = (
    "zoneId",
    "regionId",
    "zoneName",
    "timeZone",
    "cityName",
    "cityCode",
    "countryCode",
    "countryName",
    "supportHaVip",
    "supportSecurityGroup",
)
#: The zone columns joined onto an image frame (after ``zoneId``).
ZONE_JOIN_COLUMNS = ("regionId", "zoneName", "cityName", "countryCode")

#: The columns of every fetched frame, in order (fields the API adds later come after
#: ``tags``): one zone, a list or all zones, the same columns.
FETCHED_COLUMNS = ("zoneId", *ZONE_JOIN_COLUMNS, *IMAGE_FIELDS, "fetchedAt")
