"""List columns in the pandas operations that hash or order: what pandas 3.1 does natively,
and the `.imgframe` accessors and functions of imgframe.lists, pinned on the session
sandbox's catalog (3,000 images, seed 7) and on a small frame of awkward values."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

import imgframe
from imgframe import sandbox
from imgframe.errors import InvalidArgument
from imgframe.lists import has_tag, list_labels, list_sort_key, tag_value, with_list_labels
from imgframe.schema.arrow import NIC_TYPE, TAGS_TYPE

from .helpers import client_kwargs


@pytest.fixture(scope="module")
def df(sb: sandbox.Sandbox) -> pd.DataFrame:
    return imgframe.fetch_images("all", **client_kwargs(sb))


def awkward() -> pd.DataFrame:
    """Lists an analyst's frame can hold: missing, empty, a missing item, an item holding
    the label separator, unicode, a tag key twice."""
    nic = [
        ["VirtioOnly"],
        ["FailOver", "VirtioOnly"],
        None,
        [],
        ["FailOver"],
        ["a, b"],
        ["a", "b"],
        ["FailOver", None],
        ["FailOver", "VirtioOnly"],
        ["é日"],
    ]
    tags = [
        [{"key": "env", "value": "prod"}],
        [{"key": "env", "value": "dev"}, {"key": "env", "value": "prod"}],
        [],
        [{"key": "team", "value": None}],
        [],
        [{"key": "env", "value": "prod"}],
        [],
        [],
        [{"key": "env", "value": "prod"}],
        [{"key": "é", "value": "日"}],
    ]
    return pd.DataFrame(
        {
            "imageId": pd.array([f"img-{i}" for i in range(10)], dtype="string[pyarrow]"),
            "nicNetworkType": pd.arrays.ArrowExtensionArray(pa.array(nic, NIC_TYPE)),
            "tags": pd.arrays.ArrowExtensionArray(pa.array(tags, TAGS_TYPE)),
        },
        index=pd.RangeIndex(100, 110),
    )


# --------------------------------------------------------------------------------------------
# What pandas does by itself


NATIVE_FAILURES: dict[str, Callable[[pd.DataFrame], object]] = {
    "value_counts": lambda d: d["nicNetworkType"].value_counts(),
    "nunique": lambda d: d["nicNetworkType"].nunique(),
    "unique": lambda d: d["nicNetworkType"].unique(),
    "drop_duplicates": lambda d: d.drop_duplicates(),
    "duplicated": lambda d: d["nicNetworkType"].duplicated(),
    "groupby": lambda d: d.groupby("nicNetworkType").size(),
    "isin": lambda d: d["nicNetworkType"].isin([["FailOver"]]),
    "sort_values(tags)": lambda d: d.sort_values("tags"),
    "describe(all)": lambda d: d.describe(include="all"),
    "frame nunique": lambda d: d.nunique(),
}


@pytest.mark.parametrize("operation", NATIVE_FAILURES.values(), ids=NATIVE_FAILURES.keys())
def test_pandas_cannot_hash_or_sort_an_arrow_list(
    df: pd.DataFrame, operation: Callable[[pd.DataFrame], object]
) -> None:
    with pytest.raises(pa.ArrowNotImplementedError):
        operation(df)


def test_pandas_compares_list_cells_wrongly(df: pd.DataFrame) -> None:
    nic = df["nicNetworkType"]
    assert not (nic == nic).any()  # every cell equals itself, pandas says none does
    with pytest.raises(ValueError, match="Lengths must match"):
        _ = nic == ["FailOver"]


def test_pandas_explodes_and_measures_lists_natively(df: pd.DataFrame) -> None:
    exploded = df.explode("nicNetworkType")
    assert len(exploded) == 2 * 2459 + 457 + 84
    # Arrow's own string type (pd.ArrowDtype), not the frame's string[pyarrow] StringDtype.
    assert exploded["nicNetworkType"].dtype == pd.ArrowDtype(pa.string())
    assert exploded["nicNetworkType"].value_counts().to_dict() == {
        "FailOver": 2916,
        "VirtioOnly": 2543,
    }
    assert df["nicNetworkType"].list.len().value_counts().to_dict() == {2: 2459, 1: 541}
    assert df["tags"].list.flatten().struct.field("key").value_counts().head(3).to_dict() == {
        "env": 1844,
        "team": 1541,
        "app": 1243,
    }


# --------------------------------------------------------------------------------------------
# The accessors on the catalog


def test_value_counts_per_distinct_list(df: pd.DataFrame) -> None:
    counts = df["nicNetworkType"].imgframe.value_counts()
    assert counts.to_dict() == {
        "[FailOver, VirtioOnly]": 2459,
        "[FailOver]": 457,
        "[VirtioOnly]": 84,
    }
    assert (counts.name, counts.index.name, str(counts.index.dtype)) == (
        "count",
        "nicNetworkType",
        "string",
    )
    # The same numbers as counting the lists in plain Python.
    plain = Counter(tuple(v) for v in df["nicNetworkType"].tolist())
    assert {tuple(k[1:-1].split(", ")): n for k, n in counts.items()} == dict(plain)


def test_value_counts_normalized_and_in_list_order(df: pd.DataFrame) -> None:
    shares = df["nicNetworkType"].imgframe.value_counts(normalize=True)
    assert shares.round(4).to_dict() == {
        "[FailOver, VirtioOnly]": 0.8197,
        "[FailOver]": 0.1523,
        "[VirtioOnly]": 0.028,
    }
    in_order = df["nicNetworkType"].imgframe.value_counts(sort=False)
    assert list(in_order.index) == ["[FailOver]", "[FailOver, VirtioOnly]", "[VirtioOnly]"]


def test_item_counts_count_images_per_item(df: pd.DataFrame) -> None:
    assert df["nicNetworkType"].imgframe.item_counts().to_dict() == {
        "FailOver": 2916,
        "VirtioOnly": 2543,
    }
    tags = df["tags"].imgframe.item_counts()
    assert tags.index.names == ["key", "value"]
    assert tags.head(5).to_dict() == {
        ("env", "prod"): 669,
        ("env", "staging"): 472,
        ("env", "dev"): 464,
        ("backup", "daily"): 310,
        ("env", "qa"): 239,
    }


def test_nunique_of_lists_and_of_the_frame(df: pd.DataFrame) -> None:
    assert df["nicNetworkType"].imgframe.nunique() == 3
    assert df["tags"].imgframe.nunique() == 1482
    assert df.imgframe.nunique().to_dict() == {
        "zoneId": 8,
        "regionId": 8,
        "zoneName": 8,
        "cityName": 8,
        "countryCode": 8,
        "imageId": 2861,
        "imageName": 2851,
        "imageType": 2,
        "imageSource": 4,
        "imageSize": 10,
        "minDiskSize": 10,
        "imageDescription": 200,
        "imageVersion": 24,
        "imageStatus": 7,
        "nicNetworkType": 3,
        "category": 14,
        "osType": 5,
        "tags": 1482,
        "fetchedAt": 1,
    }


def test_contains_and_isin(df: pd.DataFrame) -> None:
    nic = df["nicNetworkType"]
    virtio = nic.imgframe.contains("VirtioOnly")
    assert virtio.dtype == bool
    assert virtio.index.equals(df.index)
    assert int(virtio.sum()) == 2543
    assert virtio.tolist() == ["VirtioOnly" in v for v in nic.tolist()]
    assert int(nic.imgframe.contains(["VirtioOnly", "FailOver"]).sum()) == 3000
    assert int(nic.imgframe.contains(["VirtioOnly", "FailOver"], how="all").sum()) == 2459
    assert int(nic.imgframe.isin([["FailOver"]]).sum()) == 457
    assert int(nic.imgframe.isin([["VirtioOnly", "FailOver"]]).sum()) == 0  # order matters
    assert int(nic.imgframe.isin([["FailOver"], ["VirtioOnly"]]).sum()) == 541


def test_groupby_a_list_column(df: pd.DataFrame) -> None:
    sizes = df.imgframe.groupby("nicNetworkType")["imageSize"].sum()
    assert sizes.to_dict() == {
        "[FailOver]": 33140,
        "[FailOver, VirtioOnly]": 134310,
        "[VirtioOnly]": 1662,
    }
    by_os = df.imgframe.groupby(["osType", "nicNetworkType"]).size()
    assert by_os.to_dict() == {
        ("linux", "[FailOver, VirtioOnly]"): 2442,
        ("linux", "[VirtioOnly]"): 50,
        ("bsd", "[VirtioOnly]"): 33,
        ("windows", "[FailOver]"): 457,
        ("any", "[FailOver, VirtioOnly]"): 17,
        ("android", "[VirtioOnly]"): 1,
    }


def test_describe_includes_the_list_columns(df: pd.DataFrame) -> None:
    described = df.imgframe.describe(include="all")
    rows = described.loc[["count", "unique", "top", "freq"], ["nicNetworkType", "tags"]]
    assert rows.to_dict() == {
        "nicNetworkType": {
            "count": 3000,
            "unique": 3,
            "top": "[FailOver, VirtioOnly]",
            "freq": 2459,
        },
        "tags": {"count": 3000, "unique": 1482, "top": "[]", "freq": 933},
    }


def test_drop_duplicates_keeps_the_original_rows(df: pd.DataFrame) -> None:
    kept = df.imgframe.drop_duplicates(["osType", "nicNetworkType"])
    assert kept[["osType", "nicNetworkType"]].astype(object).map(
        lambda v: v if isinstance(v, str) else list(v)
    ).values.tolist() == [
        ["linux", ["FailOver", "VirtioOnly"]],
        ["linux", ["VirtioOnly"]],
        ["bsd", ["VirtioOnly"]],
        ["windows", ["FailOver"]],
        ["any", ["FailOver", "VirtioOnly"]],
        ["android", ["VirtioOnly"]],
    ]
    assert kept["nicNetworkType"].dtype == df["nicNetworkType"].dtype
    assert len(df.imgframe.drop_duplicates()) == 3000  # (zoneId, imageId) is unique


def test_sort_values_orders_lists_like_python(df: pd.DataFrame) -> None:
    ordered = df.imgframe.sort_values("tags")
    plain = [[(t["key"], t["value"]) for t in tags] for tags in df["tags"].tolist()]
    python = sorted(range(len(df)), key=lambda i: plain[i])  # stable, as ours
    assert ordered.index.tolist() == df.index[python].tolist()
    same = df.sort_values(["nicNetworkType", "imageId"], key=list_sort_key)
    assert same["nicNetworkType"].imgframe.value_counts(sort=False).to_dict() == {
        "[FailOver]": 457,
        "[FailOver, VirtioOnly]": 2459,
        "[VirtioOnly]": 84,
    }
    assert same["nicNetworkType"].iloc[[0, 457, 2916]].tolist() == [
        ["FailOver"],
        ["FailOver", "VirtioOnly"],
        ["VirtioOnly"],
    ]
    descending = df.imgframe.sort_values("nicNetworkType", ascending=False)
    assert descending["nicNetworkType"].iloc[0] == ["VirtioOnly"]


def test_tag_lookups(df: pd.DataFrame) -> None:
    env = df.imgframe.tag("env")
    assert (env.name, str(env.dtype)) == ("tag:env", "string")
    assert env.value_counts(dropna=False).to_dict() == {
        pd.NA: 1156,
        "prod": 669,
        "staging": 472,
        "dev": 464,
        "qa": 239,
    }
    assert env.equals(imgframe.tag_columns(df)["tag:env"].rename("tag:env"))
    assert int(df.imgframe.has_tag("env", "prod").sum()) == 669
    assert int(df.imgframe.has_tag("env").sum()) == 1844
    assert df["tags"].imgframe.tag("env").equals(env)


def test_a_chunked_or_sliced_column_gives_the_same_answers(df: pd.DataFrame) -> None:
    twice = pd.concat([df, df], ignore_index=True)
    assert pa.array(twice["nicNetworkType"].array).num_chunks == 2
    assert twice["nicNetworkType"].imgframe.value_counts().to_dict() == {
        "[FailOver, VirtioOnly]": 4918,
        "[FailOver]": 914,
        "[VirtioOnly]": 168,
    }
    part = df.iloc[1000:1010]
    assert part["nicNetworkType"].imgframe.contains("FailOver").tolist() == [
        "FailOver" in v for v in part["nicNetworkType"].tolist()
    ]
    assert part.imgframe.tag("env").tolist() == [
        next((t["value"] for t in reversed(v) if t["key"] == "env"), pd.NA)
        for v in part["tags"].tolist()
    ]


# --------------------------------------------------------------------------------------------
# Awkward values


def test_labels_of_awkward_lists() -> None:
    labels = list_labels(awkward()["nicNetworkType"])
    assert labels.index.tolist() == list(range(100, 110))
    assert labels.astype(object).where(labels.notna(), None).tolist() == [
        "[VirtioOnly]",
        "[FailOver, VirtioOnly]",
        None,
        "[]",
        "[FailOver]",
        "[a, b] #2",
        "[a, b]",
        "[FailOver, <NA>]",
        "[FailOver, VirtioOnly]",
        "[é日]",
    ]
    # Categories in list order: a list before its extensions, items by their text (a
    # missing item last). ["a", "b"] sorts before ["a, b"] ("a" is a prefix of "a, b"), so
    # it has the plain label and the one-item list, printing the same, gets "#2".
    assert list(labels.cat.categories) == [
        "[]",
        "[FailOver]",
        "[FailOver, VirtioOnly]",
        "[FailOver, <NA>]",
        "[VirtioOnly]",
        "[a, b]",
        "[a, b] #2",
        "[é日]",
    ]
    assert labels.cat.ordered


def test_awkward_value_counts_duplicates_and_factorize() -> None:
    nic = awkward()["nicNetworkType"]
    assert nic.imgframe.value_counts(dropna=False).to_dict() == {
        "[FailOver, VirtioOnly]": 2,
        "[]": 1,
        "[FailOver]": 1,
        "[FailOver, <NA>]": 1,
        "[VirtioOnly]": 1,
        "[a, b]": 1,
        "[a, b] #2": 1,
        "[é日]": 1,
        pd.NA: 1,
    }
    assert nic.imgframe.nunique() == 8
    assert nic.imgframe.nunique(dropna=False) == 9
    assert nic.imgframe.duplicated().tolist() == [False] * 8 + [True, False]
    assert nic.imgframe.duplicated(keep="last").tolist() == [False, True] + [False] * 8
    assert nic.imgframe.drop_duplicates().index.tolist() == [
        100,
        101,
        102,
        103,
        104,
        105,
        106,
        107,
        109,
    ]
    codes, uniques = nic.imgframe.factorize()
    assert codes.tolist() == [0, 1, -1, 2, 3, 4, 5, 6, 1, 7]
    assert uniques.tolist() == [
        ["VirtioOnly"],
        ["FailOver", "VirtioOnly"],
        [],
        ["FailOver"],
        ["a, b"],
        ["a", "b"],
        ["FailOver", None],
        ["é日"],
    ]
    sorted_codes, sorted_uniques = nic.imgframe.factorize(sort=True)
    assert sorted_codes.tolist() == [4, 2, -1, 0, 1, 6, 5, 3, 2, 7]
    assert sorted_uniques.tolist()[:3] == [[], ["FailOver"], ["FailOver", "VirtioOnly"]]
    assert nic.imgframe.unique().tolist() == [
        ["VirtioOnly"],
        ["FailOver", "VirtioOnly"],
        pd.NA,
        [],
        ["FailOver"],
        ["a, b"],
        ["a", "b"],
        ["FailOver", None],
        ["é日"],
    ]


def test_awkward_membership_and_text() -> None:
    frame = awkward()
    nic = frame["nicNetworkType"]
    assert nic.imgframe.isin([["FailOver", "VirtioOnly"], [], None]).tolist() == [
        False, True, False, True, False, False, False, False, True, False,
    ]  # fmt: skip
    assert nic.imgframe.contains("FailOver").tolist() == [
        False, True, False, False, True, False, False, True, True, False,
    ]  # fmt: skip
    assert nic.imgframe.join().astype(object).where(nic.notna(), None).tolist() == [
        "VirtioOnly",
        "FailOver, VirtioOnly",
        None,
        "",
        "FailOver",
        "a, b",
        "a, b",
        "FailOver, <NA>",
        "FailOver, VirtioOnly",
        "é日",
    ]
    assert frame["tags"].imgframe.join(" | ").tolist()[:4] == [
        "env=prod",
        "env=dev | env=prod",
        "",
        "team=<NA>",
    ]


def test_awkward_tags() -> None:
    frame = awkward()
    env = tag_value(frame, "env")
    assert env.index.tolist() == list(range(100, 110))
    # A key given twice on one image: the last value, as tag_columns takes it.
    assert env.tolist() == [
        "prod",
        "prod",
        pd.NA,
        pd.NA,
        pd.NA,
        "prod",
        pd.NA,
        pd.NA,
        "prod",
        pd.NA,
    ]
    assert tag_value(frame, "team").tolist()[3] is pd.NA  # present, with no value
    assert has_tag(frame, "team").tolist()[3] is True
    assert has_tag(frame, "env", "dev").tolist() == [False, True] + [False] * 8
    assert tag_value(frame["tags"], "é").tolist()[9] == "日"
    assert has_tag(frame, "missing").sum() == 0


def test_awkward_sort_is_stable_and_puts_missing_lists_last() -> None:
    frame = awkward()
    ordered = frame.imgframe.sort_values("nicNetworkType")
    assert ordered["imageId"].tolist() == [
        "img-3", "img-4", "img-1", "img-8", "img-7", "img-0", "img-6", "img-5", "img-9", "img-2",
    ]  # fmt: skip
    first = frame.imgframe.sort_values("nicNetworkType", na_position="first")
    assert first["imageId"].iloc[0] == "img-2"


def test_with_list_labels_makes_every_pandas_operation_work(df: pd.DataFrame) -> None:
    labelled = with_list_labels(df)
    assert labelled.index.equals(df.index)
    assert str(labelled["nicNetworkType"].dtype) == "category"
    table = pd.crosstab(labelled["nicNetworkType"], labelled["osType"])
    assert table.loc["[VirtioOnly]"].to_dict() == {
        "android": 1,
        "any": 0,
        "bsd": 33,
        "linux": 50,
        "windows": 0,
    }
    pivot = labelled.pivot_table(
        index="nicNetworkType", values="imageSize", aggfunc="sum", observed=True
    )
    assert pivot["imageSize"].to_dict() == {
        "[FailOver]": 33140,
        "[FailOver, VirtioOnly]": 134310,
        "[VirtioOnly]": 1662,
    }
    first_rows = labelled.drop_duplicates("nicNetworkType").index
    assert df.loc[first_rows, "nicNetworkType"].tolist() == [
        ["FailOver", "VirtioOnly"],
        ["VirtioOnly"],
        ["FailOver"],
    ]
    assert list(with_list_labels(df, "tags").select_dtypes("category").columns) == [
        "zoneId",
        "imageType",
        "imageSource",
        "imageStatus",
        "category",
        "osType",
        "tags",
    ]


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda d: d["imageId"].imgframe, "works on list columns"),
        (lambda d: list_labels(d["imageId"]), "'imageId' is not a list column"),
        (lambda d: tag_value(d["nicNetworkType"], "env"), "is not a tags column"),
        (lambda d: with_list_labels(d, ["nope"]), "no column 'nope'"),
        (lambda d: d["nicNetworkType"].imgframe.contains("x", how="most"), "how must be"),
    ],
    ids=["accessor", "labels", "tags", "columns", "how"],
)
def test_misuse_is_a_clear_error(call: Callable[[pd.DataFrame], Any], message: str) -> None:
    with pytest.raises((AttributeError, InvalidArgument), match=message):
        call(awkward())


def test_an_empty_frame_works(df: pd.DataFrame) -> None:
    empty = imgframe.empty_frame()
    assert empty["nicNetworkType"].imgframe.value_counts().to_dict() == {}
    assert empty["tags"].imgframe.item_counts().to_dict() == {}
    assert empty.imgframe.tag("env").tolist() == []
    assert empty.imgframe.groupby("nicNetworkType").size().to_dict() == {}
    assert len(empty.imgframe.sort_values("tags")) == 0
    assert np.array_equal(df.head(0)["nicNetworkType"].imgframe.factorize()[0], [])
