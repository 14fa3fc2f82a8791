"""What the API documents: enum values, image fields and the frame's columns.

One place for every name the other modules agree on.
"""

from __future__ import annotations

API_VERSION = "2025-09-01"
SERVICE = "zec"

CATEGORIES = (
    "CentOS", "Windows", "Ubuntu", "Debian", "Rocky", "Fedora", "FreeBSD", "Alpine",
    "ArchLinux", "AlmaLinux", "openSUSE", "Gentoo", "Generic", "OTHERS",
)  # fmt: skip
IMAGE_TYPES = ("PUBLIC_IMAGE", "CUSTOM_IMAGE")
IMAGE_SOURCES = ("OFFICIAL", "MARKETING", "CUSTOM", "APP")
OS_TYPES = ("linux", "bsd", "windows", "android", "any")
IMAGE_STATUSES = (
    "CREATING", "AVAILABLE", "UNAVAILABLE", "SYNCING", "FAILED", "DELETING", "PROCESSING",
)  # fmt: skip

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
CATEGORICAL_COLUMNS = ("zoneId", "imageType", "imageSource", "imageStatus", "category", "osType")
STRING_COLUMNS = ("imageId", "imageName", "imageDescription", "imageVersion")
INTEGER_COLUMNS = ("imageSize", "minDiskSize")
LIST_COLUMNS = ("nicNetworkType", "tags")

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
