"""The DescribeImages catalog is byte-for-byte what it was before generation was vectorised.

Every digest below was recorded with the per-image generator the sandbox shipped before
(commit 8dd0c72), so these tests pin the served bytes of every (images, seed, day,
tags_shape) case listed, after churn and along day walks: the catalog may get faster, not
different."""

from __future__ import annotations

import hashlib
import json
from typing import Any

import pytest

from imgframe import sandbox
from imgframe.sandbox.filters import parse_filter

#: (images, seed, day, tags_shape, digest(), len(), digest of filtered pages)
CATALOGS: list[tuple[int, int, int, str, str, int, str]] = [
    (
        0,
        7,
        0,
        "wrapper",
        "85d6415d9f5c853b6661867840b41187fd88307540718f5945b01705da761aed",
        163,
        "d90a2ec18eb43a7580add59d8ed24b195c54e7476c741607cf097f2ad087e21f",
    ),
    (
        1,
        7,
        0,
        "wrapper",
        "85d6415d9f5c853b6661867840b41187fd88307540718f5945b01705da761aed",
        163,
        "d90a2ec18eb43a7580add59d8ed24b195c54e7476c741607cf097f2ad087e21f",
    ),
    (
        50,
        7,
        0,
        "wrapper",
        "85d6415d9f5c853b6661867840b41187fd88307540718f5945b01705da761aed",
        163,
        "d90a2ec18eb43a7580add59d8ed24b195c54e7476c741607cf097f2ad087e21f",
    ),
    (
        163,
        7,
        0,
        "wrapper",
        "85d6415d9f5c853b6661867840b41187fd88307540718f5945b01705da761aed",
        163,
        "d90a2ec18eb43a7580add59d8ed24b195c54e7476c741607cf097f2ad087e21f",
    ),
    (
        164,
        7,
        0,
        "wrapper",
        "5b25f8f6d2b0bb35871a31b0ff319ff65137fd2a57f082024abb8f7a8e94e5c2",
        164,
        "a39033f02303ecb22407908d699fcf7b2d356e91afb7afa9aba2b4ce1412d3ef",
    ),
    (
        165,
        7,
        0,
        "wrapper",
        "ffd16dbf224ed26d00636105539b227594f3495ca3083d5774ae43d94b63ac58",
        165,
        "63ba0460c08ce29de03b2566dc2afcb3fa0f4d17785d8730581ce8a875c71092",
    ),
    (
        170,
        7,
        0,
        "wrapper",
        "91645fe25bf91f0cca7c778f0219a61699e717cda58e4b0426d7f9f2d79b30a5",
        170,
        "9aa87547cd4941afd1333074f16e9a62037bd7ef756a78c72be28d18d36afd2b",
    ),
    (
        200,
        7,
        0,
        "wrapper",
        "5a3c77161494de173177c0cae44fa5f0b9af2a434b2641f423823c9263c08cf7",
        200,
        "45d94332d95f696d4df80452c20cdbbabf9dccc8a563b737ce278fc7c60b3774",
    ),
    (
        333,
        7,
        0,
        "wrapper",
        "fa339221c07733eb08e279dd5a1285a054a217d15761b5b0ca44bdfaef17c86e",
        333,
        "fb5766dc11d3496653727f97b19ba243b2108be912dfe356ba36a93d7bc229ca",
    ),
    (
        2000,
        7,
        0,
        "wrapper",
        "e97ad3d867f0873c316d36e8069b520abf9c63d369c04bd4e8a3b377f82edcb8",
        2000,
        "e72b2bee3d2aa61fe425c78a733775881298b7ed7fedcfa8f48323be8044b6e4",
    ),
    (
        20000,
        7,
        0,
        "wrapper",
        "b476273dcd2b71a0d288011a5f5da6fd0e8a1995510346d5238f1d48bd572f0e",
        20000,
        "b1fc1aa666239685a8faa729c7f5e48fb4c224d6ae7eaae1d791ca335161d70b",
    ),
    (
        2000,
        0,
        0,
        "wrapper",
        "9bf5538752d4776574802f785e67918aea3f2ff80a5193775076e1fd74b82cfe",
        2000,
        "010c4be49aad883ba0379ffe36c51451e31da4253f475a07067d0dbf19146db8",
    ),
    (
        2000,
        1,
        0,
        "wrapper",
        "84f383cc6bb313646fff861c6177fc4c56c6e3af3f2cea416af5fb7c4bf41944",
        2000,
        "7e2ec2a3c8b32e670f1610d844db6dd691090d5bf00365dca385288ffa5fb165",
    ),
    (
        2000,
        8,
        0,
        "wrapper",
        "7844e9259f71208e36f8d9ca3ac5194e68f66e14d963e359282df546e3f56218",
        2000,
        "5b4cf18dd1e16372b5d3dee328e5fa9ce2b8262820c490a6aebeeb13c03e09df",
    ),
    (
        2000,
        42,
        0,
        "wrapper",
        "2a2f8de300f8bc92fce4a00c362f59251081d5f17b1714a3d71d33228ca0ee00",
        2000,
        "da47e7c7ecd462b793f516cadbccfa55e1cdfa611ff3691bfae589e9e16468fc",
    ),
    (
        2000,
        123456789,
        0,
        "wrapper",
        "b82fb9e03126c4ad1f60cb77667831366f4bde8818fc2ed242a6894abccf1e30",
        2000,
        "f413cfc6508a57b8c5a34781d1bef92ddb881369fc3fddee2fbeb14f8d6ca78d",
    ),
    (
        2000,
        7,
        0,
        "wrapper",
        "e97ad3d867f0873c316d36e8069b520abf9c63d369c04bd4e8a3b377f82edcb8",
        2000,
        "e72b2bee3d2aa61fe425c78a733775881298b7ed7fedcfa8f48323be8044b6e4",
    ),
    (
        600,
        3,
        0,
        "mixed",
        "d3a8b8523c9a94fe1c3f8eaf191adcb6d2801d1d5a6e8a6204d4bec85623286b",
        600,
        "7317a32e6fbd202d9b8351d4200b1bb5f787a6e70847e007896d8e9a4db800ce",
    ),
    (
        2000,
        7,
        1,
        "wrapper",
        "bf1f102c2d6145c75048d8f0b3c526d0db7fed3e7fc748fd7641576ca65edf89",
        1981,
        "14372d186d775bf121bb8ccc6477cbc3d045fa27de504ca00aaa4b2e0014a950",
    ),
    (
        600,
        3,
        1,
        "mixed",
        "2fdd30614c8f5cdc0d9b3ee16bb222fb44db94d1e163ced0c2ab1d20f62b25fd",
        593,
        "35940e6503cb18140086293459632f39fd7ab875f97377e6ea5d78862e18f885",
    ),
    (
        2000,
        7,
        2,
        "wrapper",
        "b920075679bb0b7e2404fcb5e701d3196f0eadc453e57333d80c8fc4c57684ec",
        1991,
        "9db3cede102fdd57b03df50d732e0232f801cbeb99a4d3bc91e40db217faf19d",
    ),
    (
        600,
        3,
        2,
        "mixed",
        "2ff72a6a03f29dfa4131ecf86359cb00a0dc826c1e453ac5cb5daee9b7bae27e",
        595,
        "aa142c711e7bfaff677e43e3af92aa5177445128e4b76a90e904f0648f8f12b7",
    ),
    (
        2000,
        7,
        3,
        "wrapper",
        "21b13e1e2e582988f66a9b9a0c22f8b78af386658a494817571280e89aa0f59d",
        1995,
        "4c7a8c22c973f20ec7873dadfb724836a1b6ad6bc8df91be7e4d636df004a8fb",
    ),
    (
        600,
        3,
        3,
        "mixed",
        "b8a99af97e8131fcfda1cb903d108cb7a447aee7db4967c470924bc27dab7e60",
        591,
        "c0a0aab78fc26c84384f6ed4a4176158bb23eaa74c683adb8a2077f6880acaf3",
    ),
    (
        2000,
        7,
        4,
        "wrapper",
        "802f9e7f73fc15152eb34a6d2f229bb823cb57618643cf9bc77ab9f4b1ed2feb",
        1997,
        "59e7b5c2148a6d3e38559809c1f049885902198baef643d291c0bb52751f954c",
    ),
    (
        600,
        3,
        4,
        "mixed",
        "4be4ef16cf1337c86e25bcbe7d3c8303a440196c10f2b326b69ff2222dd608ae",
        590,
        "264ddc16d7cd2e07a91d5fd769c4d4e7cb735eb97e801cb16f70e702e42e9b97",
    ),
    (
        2000,
        7,
        5,
        "wrapper",
        "7ac3c1576f26cb1edeb1fcd7cf2e728d1fda3e15b831dd8222da82c54f8021c1",
        2001,
        "05a6678c33758a24e865fb523ac3766e5ff729c11bb2f21d970f820c8f9253ed",
    ),
    (
        600,
        3,
        5,
        "mixed",
        "41e5f37c1637ebf41573c471d358488ee04229f36f57f9fe86d24dc42549dff8",
        592,
        "1269116c4df35012af87a139bc52cd60815b91c87a57d594552e25eed3abed87",
    ),
    (
        1500,
        3,
        2,
        "wrapper",
        "e0ed5dfbfa15bbee9b9bdb50898c8936b68d9bfdaa50e7b0d4b2fbd8d56753e3",
        1487,
        "d1e63e9f95cf0ff9ea6f154a4c12efd33287ab274c6acd73a46b4e9d37e10dc5",
    ),
    (
        20000,
        11,
        1,
        "wrapper",
        "8bba49cbef00239ad1965b907d21c7dd30a71c087605c4504e5d703b1c019814",
        19691,
        "974891fc0b8b789c562ba99aa61701a5bd38f428dff8fc33026a151e7d3fb42f",
    ),
    (
        1500,
        3,
        2,
        "list",
        "9762cb23a0d426279453ef010809f0ee2462e115a25b99bc60a202fbbfdc8588",
        1487,
        "d092772fbc72f33cdf5a0f4d64d4dd089f74d2942a2d5f40c378610442143a2c",
    ),
    (
        20000,
        11,
        1,
        "list",
        "a41ebd96036dc8732ad6dc26bcd58ad955757d6dc9bc7824ed5f8cc7b156dfd3",
        19691,
        "277ff577d37a7fbf70efa431c577e053421aee1fb686501d01af67ffd96b15af",
    ),
    (
        1500,
        3,
        2,
        "mixed",
        "ca0b7dec751c95cd3ba9b1e3a9325bb8621add328c84b45cfd089c867e3fbdca",
        1487,
        "905c2fa70a05382bbaad64a6cc057eeab192b13b2c37a5c3ce5a4dbd47322a79",
    ),
    (
        20000,
        11,
        1,
        "mixed",
        "352304f201b84b7a8d08c79593f7ae7721c357b96c364bece511835c4e50a71b",
        19691,
        "f768a1abf0ca085f1ab2bd49a5c0cb7db2d777208ffab0cebe09c66ee8b0f138",
    ),
    (
        20000,
        7,
        5,
        "wrapper",
        "5351a7589bd1e391da94c37a05cd83afb9556bec89ab6bade992036213536e85",
        19927,
        "9e4d30611fe108d23621dc5e5dc81683f0051b43099e4805e768b7c313fb85f3",
    ),
    (
        50,
        9,
        4,
        "list",
        "c60f22ae581b2707dd3c95e2e551bfd17544fe01241f2e80bcc94bf6e530faec",
        167,
        "c60197c486ed68bcde091eb0677a502dc91c62210fd272c0dc80c9bb14c2dde6",
    ),
]

#: (images, seed, day, [(zone, count, mode), ...], sha256 of the churn results as JSON,
#: digest() after each churn, digest() after set_day(day + 1))
CHURNS: list[tuple[int, int, int, list[tuple[str, int, str]], str, list[str], str]] = [
    (
        1000,
        7,
        0,
        [
            ("asia-southeast-1a", 4, "balanced"),
            ("asia-southeast-1a", 4, "balanced"),
            ("asia-southeast-1a", 4, "balanced"),
            ("asia-southeast-1a", 4, "balanced"),
            ("asia-southeast-1a", 4, "balanced"),
        ],
        "0d51ab7a58ad6c6d5acb8622fa1a2baceba805f4a81dd3a3e48ec2d550f7b999",
        [
            "965468ff7336b96e5032d56c3f6ece6307103cb2c2da44860a9c2bc51356d1f1",
            "c74eab4dd566cf83f75d33a01df85b6e16a040b8a221bff986646aed409fbcf8",
            "1e81fb39f65e4ad5ffa1c547b94e0707abb2861f5bfbe2da1aa86edeefb48d73",
            "e1309fc7539326f22afc0790b20797ff3f3fb3448efdae5bb216c50ae36b7536",
            "598e70c2e47fa693eb1ef459037feb0046e667457d975a87a5e1f770669b4b49",
        ],
        "d5b0c8e2585c425780a1d1c8d2eb98db5bf771b8441c9f6d49c35056e314db75",
    ),
    (
        2000,
        7,
        2,
        [
            ("na-west-1a", 10, "create"),
            ("na-west-1a", 3, "delete"),
            ("eu-west-1a", 7, "balanced"),
            ("asia-east-1a", 2, "balanced"),
        ],
        "1a399810b09fe28ea67b037245463acd2d6961b7dabc4934b9169e6d78c31b41",
        [
            "39033b8f00dcc87b7e973d865e52f41232c852b05e6342bd20315304ea41cb19",
            "dca34be6af59e6796fb460f731fd3d331b6e8a0ce0e2348a76c1b90e09bf826f",
            "1df34c79ae5c76c8f8266f514debe79ddad170d7668a00f635b1d93b3d4fc777",
            "ac396f60989fb261f6166759680347684885b07cc8ede0b64e9a891c51c64c0f",
        ],
        "21b13e1e2e582988f66a9b9a0c22f8b78af386658a494817571280e89aa0f59d",
    ),
    (
        400,
        11,
        0,
        [("sa-north-1a", 50, "delete"), ("sa-north-1a", 5, "create")],
        "6f5f4a6058642ea4532ede70f91598ee5bee8653171e69711a55fd7aa7a6d8ac",
        [
            "f61f97434baf36eac342b39ac0a29ee36c3d28bff7b284ba4fd2b6e6f89c5339",
            "bdf059f5a1c21342019f6573b17aa1f9ba4982f87fa6d7522df0c654b3f6bdd9",
        ],
        "f8b38522675326a804ab26ffcc70f6a771eef0281eda706f8042396957dfe708",
    ),
]

#: Catalog(3000, seed=5) walked through these days: (day, digest()).
WALK: list[tuple[int, str]] = [
    (2, "f51f5eada351ef5eb44d5168b38d32316ade2f44ca4bb4524487adc8d5f437cf"),
    (1, "92b3963e40848eb87b5dc28daf19e194525426127231c681afe5ff9018c953eb"),
    (4, "31aaa7d75dccc687174269b339e50e357b2a0eee21a2f5d67edc70becb3d40ef"),
    (4, "31aaa7d75dccc687174269b339e50e357b2a0eee21a2f5d67edc70becb3d40ef"),
    (0, "8a7e9051c881c9b036b9572f7e20716f46d78f0948b33f49c0e0aea0064a885f"),
    (3, "6625d4f125ad5cc74139e35672802663024bdea727ea9487ebeffed012e082b4"),
]

ONE_MILLION = ("339be07a867573d9ca866a48fecf1ed1b099e9080d22b4dd5eec14daf630c930", 1000000)
HUNDRED_K_DAY_3 = ("e2271083ebd8036f6dd767f2e5521abf1e7749fd8aad4bc796627d1488e25776", 99140)

#: The filter sets whose first pages CATALOGS pins (every zone, pages (1, 1000) and (2, 7)).
FILTERS: list[dict[str, Any]] = [
    {"osType": "linux", "imageStatus": "AVAILABLE"},
    {"imageName": "web"},
    {"tags": [{"key": "env", "value": "prod"}]},
    {"tagKeys": ["owner", "backup"], "imageType": "CUSTOM_IMAGE"},
    {"category": "Windows"},
]


def filtered_digest(catalog: sandbox.Catalog) -> str:
    h = hashlib.sha256()
    for zone in catalog.zone_ids:
        for filters in FILTERS:
            data, total = catalog.page_json(zone, parse_filter(filters), 1, 1000)
            h.update(data)
            h.update(str(total).encode())
            data, _ = catalog.page_json(zone, parse_filter(filters), 2, 7)
            h.update(data)
    return h.hexdigest()


@pytest.mark.parametrize(
    ("images", "seed", "day", "shape", "digest", "size", "filtered"),
    CATALOGS,
    ids=[f"{c[0]}-seed{c[1]}-day{c[2]}-{c[3]}" for c in CATALOGS],
)
def test_catalog_bytes_are_unchanged(
    images: int, seed: int, day: int, shape: str, digest: str, size: int, filtered: str
) -> None:
    catalog = sandbox.Catalog(images, seed, day, shape)  # type: ignore[arg-type]
    assert (catalog.digest(), len(catalog)) == (digest, size)
    assert filtered_digest(catalog) == filtered


@pytest.mark.parametrize(("images", "seed", "day", "steps", "results", "digests", "after"), CHURNS)
def test_churn_is_unchanged(
    images: int,
    seed: int,
    day: int,
    steps: list[tuple[str, int, str]],
    results: str,
    digests: list[str],
    after: str,
) -> None:
    catalog = sandbox.Catalog(images, seed, day)
    seen, served = [], []
    for zone, count, mode in steps:
        removed, added = catalog.churn(zone, count, mode)
        seen.append([removed, added])
        served.append(catalog.digest())
    assert hashlib.sha256(json.dumps(seen, separators=(",", ":")).encode()).hexdigest() == results
    assert served == digests
    catalog.set_day(day + 1)  # a churned catalog is rebuilt from day 0
    assert catalog.digest() == after


def test_day_walks_are_unchanged() -> None:
    catalog = sandbox.Catalog(3000, 5)
    walked = []
    for day, _ in WALK:
        catalog.set_day(day)
        walked.append((day, catalog.digest()))
    assert walked == WALK


@pytest.mark.slow
def test_large_catalogs_are_unchanged() -> None:
    catalog = sandbox.Catalog(100_000, 7, day=3)
    assert (catalog.digest(), len(catalog)) == HUNDRED_K_DAY_3
    del catalog
    catalog = sandbox.Catalog(1_000_000, 7)
    assert (catalog.digest(), len(catalog)) == ONE_MILLION
