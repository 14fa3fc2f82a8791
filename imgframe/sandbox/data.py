"""The static reference data the sandbox catalog is generated from.

Zones, the public image line-up and the vocabulary custom images are drawn from. Nothing here
is random; :mod:`imgframe.sandbox.catalog` combines it with a seeded generator.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

#: The zone the API reference uses for its seed example (``osType=linux``, 16 matches).
REFERENCE_ZONE = "asia-east-1a"

#: Day 0 of every catalog; custom images are dated up to it, day n adds images dated n later.
BASE_DATE = dt.date(2026, 3, 14)
#: The oldest custom image's date.
OLDEST_CUSTOM = dt.date(2023, 6, 1)

# nicNetworkType values, comma-joined (a listing kind holds one string; see
# imgframe.sandbox.listing).
NIC_BOTH = "FailOver,VirtioOnly"
NIC_VIRTIO = "VirtioOnly"
NIC_FAILOVER = "FailOver"


def _zone(
    zone_id: str,
    zone_name: str,
    time_zone: str,
    city: str,
    city_code: str,
    country_code: str,
    country: str,
    ha_vip: bool,
    security_group: bool,
) -> dict[str, object]:
    # Field order follows schema.ZONE_FIELDS so answers read like the API's.
    return {
        "zoneId": zone_id,
        "regionId": zone_id[:-1],
        "zoneName": zone_name,
        "timeZone": time_zone,
        "cityName": city,
        "cityCode": city_code,
        "countryCode": country_code,
        "countryName": country,
        "supportHaVip": ha_vip,
        "supportSecurityGroup": security_group,
    }


#: DescribeZones records, in the order the API lists them.
ZONES: tuple[dict[str, object], ...] = (
    _zone("asia-east-1a", "Hong Kong A", "Asia/Hong_Kong", "Hong Kong", "HKG", "HK",
          "Hong Kong", True, True),
    _zone("asia-southeast-1a", "Singapore A", "Asia/Singapore", "Singapore", "SIN", "SG",
          "Singapore", True, True),
    _zone("asia-south-1a", "Mumbai A", "Asia/Kolkata", "Mumbai", "BOM", "IN",
          "India", False, True),
    _zone("asia-north-1a", "Tokyo A", "Asia/Tokyo", "Tokyo", "TYO", "JP",
          "Japan", True, True),
    _zone("asia-southwest-1a", "Dubai A", "Asia/Dubai", "Dubai", "DXB", "AE",
          "United Arab Emirates", False, False),
    _zone("sa-north-1a", "São Paulo A", "America/Sao_Paulo", "São Paulo", "SAO", "BR",
          "Brazil", False, True),
    _zone("na-west-1a", "Los Angeles A", "America/Los_Angeles", "Los Angeles", "LAX", "US",
          "United States", True, True),
    _zone("eu-west-1a", "Frankfurt A", "Europe/Berlin", "Frankfurt", "FRA", "DE",
          "Germany", True, False),
)  # fmt: skip

#: How custom images spread over zones (uneven on purpose, like a real account).
ZONE_WEIGHTS: dict[str, int] = {
    "asia-east-1a": 10,
    "asia-southeast-1a": 26,
    "asia-south-1a": 8,
    "asia-north-1a": 12,
    "asia-southwest-1a": 3,
    "sa-north-1a": 5,
    "na-west-1a": 20,
    "eu-west-1a": 16,
}


@dataclass(frozen=True)
class PublicImage:
    """One entry of the public line-up (the same in every zone that carries it)."""

    image_id: str
    name: str
    source: str
    size: str
    min_disk: int | None  # None: the field is absent, as in the API reference's example
    description: str | None
    version: str
    nic: str
    category: str
    os_type: str
    only_in: tuple[str, ...] = ()  # non-empty: carried by these zones only
    not_in: tuple[str, ...] = ()
    unavailable_in: tuple[str, ...] = ()  # retired images still listed, status UNAVAILABLE


def _pub(
    image_id: str,
    name: str,
    version: str,
    category: str,
    os_type: str = "linux",
    *,
    source: str = "OFFICIAL",
    size: str = "20",
    min_disk: int | None = 20,
    description: str | None = None,
    nic: str = NIC_BOTH,
    only_in: tuple[str, ...] = (),
    not_in: tuple[str, ...] = (),
    unavailable_in: tuple[str, ...] = (),
) -> PublicImage:
    return PublicImage(
        image_id, name, source, size, min_disk, description, version, nic, category, os_type,
        only_in, not_in, unavailable_in,
    )  # fmt: skip


#: The public line-up in served order. The first three are the API reference's seed example,
#: field for field (which is why they carry no ``minDiskSize``); asia-east-1a carries exactly
#: the 16 linux images the example's ``totalCount`` announces, plus BSD and Windows.
PUBLIC_IMAGES: tuple[PublicImage, ...] = (
    _pub("ubuntu2404_20240712", "Ubuntu Server 24.04 LTS", "Server 24.04 LTS", "Ubuntu",
         min_disk=None),
    _pub("ubuntu2204_20240712", "Ubuntu Server 22.04 LTS", "Server 22.04 LTS", "Ubuntu",
         min_disk=None),
    _pub("ubuntu2004_20240712", "Ubuntu Server 20.04 LTS", "Server 20.04 LTS", "Ubuntu",
         source="MARKETING", min_disk=None),
    _pub("debian12_20240715", "Debian 12 (Bookworm)", "12.6", "Debian"),
    _pub("debian11_20240715", "Debian 11 (Bullseye)", "11.10", "Debian"),
    _pub("centos79_20240220", "CentOS 7.9", "7.9.2009", "CentOS",
         description="CentOS 7 reached end of life on 2024-06-30; no further updates.",
         unavailable_in=("eu-west-1a", "na-west-1a")),
    _pub("centosstream9_20240610", "CentOS Stream 9", "Stream 9", "CentOS"),
    _pub("rocky94_20240605", "Rocky Linux 9.4", "9.4", "Rocky"),
    _pub("rocky810_20240605", "Rocky Linux 8.10", "8.10", "Rocky"),
    _pub("almalinux94_20240606", "AlmaLinux 9.4", "9.4", "AlmaLinux"),
    _pub("almalinux810_20240606", "AlmaLinux 8.10", "8.10", "AlmaLinux"),
    _pub("fedora40_20240423", "Fedora Server 40", "Server 40", "Fedora",
         not_in=("asia-southwest-1a",)),
    _pub("alpine320_20240522", "Alpine Linux 3.20", "3.20", "Alpine", size="10", min_disk=10,
         nic=NIC_VIRTIO),
    _pub("archlinux_20240701", "Arch Linux", "rolling 2024.07.01", "ArchLinux",
         not_in=("sa-north-1a", "asia-south-1a")),
    _pub("opensuse156_20240612", "openSUSE Leap 15.6", "Leap 15.6", "openSUSE",
         not_in=("asia-southwest-1a",)),
    _pub("generic_cloudinit_20240301", "Generic Linux (cloud-init)", "cloud-init 24.1",
         "Generic", description="Minimal kernel and cloud-init; bring your own userland."),
    _pub("gentoo_20240708", "Gentoo Linux", "rolling 2024.07.08", "Gentoo",
         only_in=("eu-west-1a", "asia-north-1a")),
    _pub("docker2604_ubuntu2204_20240801", "Docker CE 26 on Ubuntu 22.04", "26.1 / 22.04",
         "Ubuntu", source="MARKETING", size="30", min_disk=30,
         description="Docker CE and Compose preinstalled.",
         only_in=("asia-southeast-1a", "na-west-1a", "eu-west-1a")),
    _pub("wordpress65_debian12_20240805", "WordPress 6.5 on Debian 12", "6.5 / 12", "OTHERS",
         source="APP", size="30", min_disk=30,
         description="LAMP stack with WordPress; finish setup at http://<ip>/wp-admin.",
         only_in=("na-west-1a", "sa-north-1a")),
    _pub("android13_cloudphone_20240520", "Android 13 Cloud Phone", "13", "OTHERS",
         "android", source="MARKETING", size="32", min_disk=32, nic=NIC_VIRTIO,
         only_in=("asia-southeast-1a",)),
    _pub("freebsd141_20240604", "FreeBSD 14.1", "14.1-RELEASE", "FreeBSD", "bsd",
         nic=NIC_VIRTIO),
    _pub("freebsd134_20240604", "FreeBSD 13.4", "13.4-RELEASE", "FreeBSD", "bsd",
         nic=NIC_VIRTIO, not_in=("sa-north-1a",)),
    _pub("win2022dc_20240611", "Windows Server 2022 Datacenter", "2022 Datacenter 21H2",
         "Windows", "windows", size="40", min_disk=40, nic=NIC_FAILOVER),
    _pub("win2019dc_20240611", "Windows Server 2019 Datacenter", "2019 Datacenter 1809",
         "Windows", "windows", size="40", min_disk=40, nic=NIC_FAILOVER),
)  # fmt: skip


@dataclass(frozen=True)
class Base:
    """What a custom image was built from: its OS family and the sizes it comes in."""

    slug: str
    category: str
    os_type: str
    version: str
    nic: str
    sizes: tuple[str, ...]
    weight: int


_LINUX_SIZES = ("20", "20", "20", "30", "40", "40", "50", "80", "100", "200")
_WINDOWS_SIZES = ("40", "40", "50", "60", "80", "100", "200")

#: Custom image bases with their relative frequency.
BASES: tuple[Base, ...] = (
    Base("ubuntu2404", "Ubuntu", "linux", "Server 24.04 LTS", NIC_BOTH, _LINUX_SIZES, 22),
    Base("ubuntu2204", "Ubuntu", "linux", "Server 22.04 LTS", NIC_BOTH, _LINUX_SIZES, 26),
    Base("ubuntu2004", "Ubuntu", "linux", "Server 20.04 LTS", NIC_BOTH, _LINUX_SIZES, 8),
    Base("debian12", "Debian", "linux", "12.6", NIC_BOTH, _LINUX_SIZES, 12),
    Base("debian11", "Debian", "linux", "11.10", NIC_BOTH, _LINUX_SIZES, 4),
    Base("centos79", "CentOS", "linux", "7.9.2009", NIC_BOTH, _LINUX_SIZES, 4),
    Base("rocky9", "Rocky", "linux", "9.4", NIC_BOTH, _LINUX_SIZES, 8),
    Base("rocky8", "Rocky", "linux", "8.10", NIC_BOTH, _LINUX_SIZES, 3),
    Base("alma9", "AlmaLinux", "linux", "9.4", NIC_BOTH, _LINUX_SIZES, 4),
    Base("fedora40", "Fedora", "linux", "Server 40", NIC_BOTH, _LINUX_SIZES, 1),
    Base("alpine320", "Alpine", "linux", "3.20", NIC_VIRTIO, ("10", "10", "20"), 2),
    Base("arch", "ArchLinux", "linux", "rolling", NIC_BOTH, _LINUX_SIZES, 1),
    Base("opensuse156", "openSUSE", "linux", "Leap 15.6", NIC_BOTH, _LINUX_SIZES, 1),
    Base("freebsd14", "FreeBSD", "bsd", "14.1-RELEASE", NIC_VIRTIO, _LINUX_SIZES, 1),
    Base("win2022", "Windows", "windows", "2022 Datacenter 21H2", NIC_FAILOVER,
         _WINDOWS_SIZES, 4),
    Base("win2019", "Windows", "windows", "2019 Datacenter 1809", NIC_FAILOVER,
         _WINDOWS_SIZES, 2),
    Base("imported", "OTHERS", "any", "1.0", NIC_BOTH, _LINUX_SIZES, 1),
)  # fmt: skip

#: The account's Hong Kong images are Windows builds. That keeps the reference zone's linux
#: listing exactly the documented 16 public images for every seed, size and day.
REFERENCE_ZONE_BASES: tuple[Base, ...] = tuple(b for b in BASES if b.os_type == "windows")

APPS = (
    "web", "api", "db", "cache", "worker", "ml", "ci-runner", "gateway", "etl", "vpn",
    "mail", "monitor", "search", "auth", "cdn-edge", "game",
)  # fmt: skip
ENVS = ("prod", "prod", "prod", "staging", "staging", "dev", "dev", "qa")
TEAMS = ("platform", "data", "web", "payments", "infra", "ml", "security", "growth")
OWNERS = (
    "alice", "bob", "chen.wei", "priya", "marta", "kenji", "joão.silva", "olga", "sam",
    "李伟", "nguyen.an", "fatima",
)  # fmt: skip
COST_CENTERS = tuple(f"cc-{n}" for n in range(1001, 1013))
#: Owners and cost centers follow the team, as in a real account (and it keeps the number of
#: distinct tag sets realistic).
TEAM_OWNERS: dict[str, tuple[str, str]] = {
    "platform": ("alice", "kenji"),
    "data": ("chen.wei", "priya"),
    "web": ("bob", "marta"),
    "payments": ("joão.silva", "fatima"),
    "infra": ("olga", "sam"),
    "ml": ("李伟", "priya"),
    "security": ("nguyen.an", "olga"),
    "growth": ("marta", "sam"),
}
TEAM_COST_CENTERS: dict[str, str] = dict(zip(TEAMS, COST_CENTERS, strict=False))
BACKUPS = ("daily", "daily", "weekly", "none")

#: Tag keys in the order they appear on an image.
TAG_KEYS = ("env", "team", "app", "owner", "cost-center", "backup")

#: Custom image statuses with their relative frequency (mostly AVAILABLE).
STATUS_WEIGHTS: dict[str, int] = {
    "AVAILABLE": 85,
    "CREATING": 4,
    "SYNCING": 3,
    "UNAVAILABLE": 2,
    "FAILED": 2,
    "DELETING": 2,
    "PROCESSING": 2,
}

DESCRIPTIONS = (
    "Golden image for {app} ({env})",
    "Built by Packer from {slug}",
    "{app} {env} baseline, CIS hardened",
    "Snapshot before upgrade of {app}",
    "Nightly build of {app}",
)
UNICODE_DESCRIPTIONS = (
    "Imagen base para producción",
    "生产环境镜像 ({app})",
    "Ünïcode build ✓ {app}",
    "日本語の説明: {app} 用イメージ",
    "Образ для {env}",
    'Rebuilt after "incident" #42\nsee runbook\\{app}',
)
UNICODE_NAME_PREFIXES = ("café", "über", "東京", "são")

# -- resource groups, the instance fleet --------------------------------------------------------

DEFAULT_RESOURCE_GROUP = "Default Resource Group"
#: The resource group a team's images and instances go to, when its account has one.
TEAM_GROUP_NAMES: dict[str, str] = {
    "platform": "Platform",
    "data": "Data Engineering",
    "web": "Web",
    "payments": "Payments",
    "infra": "Infrastructure",
    "ml": "ML Research",
    "security": "Security",
    "growth": "Growth",
}

#: DescribeInstances ``status`` values, in lifecycle order. Not listed by the SDK or the API
#: reference; this is the set the sandbox serves (and validates the ``status`` filter
#: against), with the relative frequency of each in a day-0 fleet. (The Terraform provider
#: also names DEPLOYING, REBUILDING, REINSTALL_FAILED and RESIZING, which the sandbox never
#: serves.)
INSTANCE_STATUS_WEIGHTS: dict[str, int] = {
    "PENDING": 12,
    "CREATING": 15,
    "RUNNING": 720,
    "STOPPING": 10,
    "STOPPED": 110,
    "BOOTING": 12,
    "REBOOTING": 10,
    "RELEASING": 12,
    "RECYCLING": 12,
    "RECYCLED": 45,
    "CREATE_FAILED": 16,
}
INSTANCE_STATUSES: tuple[str, ...] = tuple(INSTANCE_STATUS_WEIGHTS)


@dataclass(frozen=True)
class InstanceType:
    """A ZEC instance type; ``name`` None is a GPU instance (the API serves no instanceType)."""

    name: str | None
    series: str | None
    cpu: int
    memory: int  # GiB
    weight: int


INSTANCE_TYPES: tuple[InstanceType, ...] = (
    InstanceType("z2a.cpu.1", "z2a", 1, 2, 14),
    InstanceType("z2a.cpu.2", "z2a", 2, 4, 28),
    InstanceType("z2a.cpu.4", "z2a", 4, 8, 22),
    InstanceType("z2a.cpu.8", "z2a", 8, 16, 10),
    InstanceType("z2a.cpu.16", "z2a", 16, 32, 3),
    InstanceType("z2a.mem.4", "z2a", 4, 32, 5),
    InstanceType("z2a.mem.8", "z2a", 8, 64, 2),
    InstanceType("z3i.cpu.2", "z3i", 2, 4, 6),
    InstanceType("z3i.cpu.4", "z3i", 4, 8, 5),
    InstanceType("z3i.cpu.8", "z3i", 8, 16, 2),
    InstanceType(None, None, 16, 128, 3),
)
DISK_CATEGORIES = ("Standard NVMe SSD", "Basic NVMe SSD")
SYSTEM_DISK_SIZES = (20, 20, 40, 40, 40, 50, 80, 100, 100, 200)
DATA_DISK_SIZES = (50, 100, 100, 200, 200, 500, 500, 1000, 2000, 4000)

#: How often each public image is chosen by an instance that runs a public image (others: 1).
PUBLIC_IMAGE_POPULARITY: dict[str, int] = {
    "ubuntu2204_20240712": 30,
    "ubuntu2404_20240712": 24,
    "ubuntu2004_20240712": 9,
    "debian12_20240715": 10,
    "debian11_20240715": 3,
    "centos79_20240220": 5,
    "rocky94_20240605": 5,
    "almalinux94_20240606": 3,
    "docker2604_ubuntu2204_20240801": 4,
    "win2022dc_20240611": 6,
    "win2019dc_20240611": 3,
}
#: What a scaled-out instance runs when the image of the one it copies is gone.
FALLBACK_IMAGE = "ubuntu2204_20240712"

#: Names people give instances outside the house convention (about 3% of them).
ODD_INSTANCE_NAMES = (
    "test", "ubuntu-temp", "benchmark runner #3", "李伟的测试机", "do-not-delete",
    "jenkins", "vpn-gateway", "Olga's sandbox", "tmp-é", "k8s-node",
)  # fmt: skip
