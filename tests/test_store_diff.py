"""The diff engine's fast paths agree with the plain definitions they replace."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from imgframe import diff
from imgframe.errors import DataError
from imgframe.frame import frame_from_records
from imgframe.schema.arrow import NIC_TYPE, TAGS_TYPE

texts = st.none() | st.sampled_from(["", "a", "b", "1:a", "~", "!", "ключ"])
tag = st.none() | st.fixed_dictionaries({"key": texts, "value": texts})
tag_lists = st.none() | st.lists(tag, max_size=3)
nic_lists = st.none() | st.lists(texts, max_size=3)


def as_text_differ(before: pa.Array, after: pa.Array, null_is_empty: bool) -> list[bool]:
    """The definition: lists differ as written when their item encodings differ."""
    return diff._unequal(
        diff._list_text(before, as_set=False, null_is_empty=null_is_empty),
        diff._list_text(after, as_set=False, null_is_empty=null_is_empty),
    ).tolist()


@settings(max_examples=60, deadline=None)
@given(
    pairs=st.lists(st.tuples(tag_lists, tag_lists), min_size=1, max_size=12), empty=st.booleans()
)
def test_lists_of_structs_differ_as_written_like_their_text(
    pairs: list[tuple[Any, Any]], empty: bool
) -> None:
    before = pa.array([p[0] for p in pairs], TAGS_TYPE)
    after = pa.array([p[1] for p in pairs], TAGS_TYPE)
    fast = diff._differ_as_written(before, after, null_is_empty=empty).tolist()
    assert fast == as_text_differ(before, after, empty)


@settings(max_examples=60, deadline=None)
@given(pairs=st.lists(st.tuples(nic_lists, nic_lists), min_size=1, max_size=12))
def test_lists_of_text_differ_as_written_like_their_text(pairs: list[tuple[Any, Any]]) -> None:
    before = pa.array([p[0] for p in pairs], NIC_TYPE)
    after = pa.array([p[1] for p in pairs], NIC_TYPE)
    fast = diff._differ_as_written(before, after, null_is_empty=False).tolist()
    assert fast == as_text_differ(before, after, False)


def test_sliced_and_dictionary_lists_compare_by_value() -> None:
    words = pa.array(["v4", "v6", "v4"]).dictionary_encode()
    other = pa.DictionaryArray.from_arrays(pa.array([1, 1, 0], pa.int32()), pa.array(["v6", "v4"]))
    before = pa.ListArray.from_arrays(pa.array([0, 1, 3]), words)  # [v4], [v6, v4]
    after = pa.ListArray.from_arrays(pa.array([0, 1, 3]), other)  # [v4], [v4, v6]
    assert diff._differ_as_written(before, after, null_is_empty=False).tolist() == [False, True]
    assert diff._lists_differ(before, after, null_is_empty=False).tolist() == [False, False]
    long = pa.array([["x"], ["a", "b"], ["c"], ["d"]], NIC_TYPE)
    same = pa.array([["y"], ["a", "b"], ["c"], ["e"]], NIC_TYPE)
    assert diff._differ_as_written(long[1:3], same[1:3], null_is_empty=False).tolist() == [
        False,
        False,
    ]


def test_lists_of_lists_fall_back_to_their_json_text() -> None:
    nested = pa.list_(pa.list_(pa.string()))
    before = pa.array([[["a"], ["b"]], [["a"]], [["a"]]], nested)
    after = pa.array([[["b"], ["a"]], [["a", "x"]], [["a"]]], nested)
    with pytest.raises(pa.ArrowNotImplementedError):
        diff._differ_as_written(before, after, null_is_empty=False)
    assert diff._differs(before, after, "x").tolist() == [True, True, False]


@pytest.mark.parametrize(
    ("keys", "repeats"),
    [
        ({"zoneId": ["z", "z", "y"], "imageId": ["a", "b", "a"]}, False),
        ({"zoneId": ["z", "z", "y"], "imageId": ["a", "a", "a"]}, True),
        ({"zoneId": ["z", "z"], "imageId": [None, None]}, True),  # NA repeats, as in pandas
        ({"zoneId": ["z", "z"], "imageId": [None, "a"]}, False),
        ({"zoneId": ["z", "z"], "imageId": [1, 1.0]}, True),
        ({"zoneId": ["z", "z"], "imageId": [1, "1"]}, False),
    ],
)
def test_check_unique_finds_what_pandas_finds(keys: dict[str, list[Any]], repeats: bool) -> None:
    df = pd.DataFrame(keys).astype({"zoneId": "category"})
    assert bool(df.duplicated(list(keys)).any()) is repeats
    if repeats:
        with pytest.raises(DataError, match="appear more than once"):
            diff.check_unique(df, tuple(keys), DataError, "test")
    else:
        diff.check_unique(df, tuple(keys), DataError, "test")


def test_diff_of_many_images_matches_the_text_comparison() -> None:
    rng = np.random.default_rng(5)
    n = 2_000
    tags = [[{"key": "env", "value": str(rng.integers(3))}] for _ in range(n)]
    old = frame_from_records(
        [{"imageId": f"img-{i}", "tags": {"tags": t}} for i, t in enumerate(tags)], zone_id="z"
    )
    shuffled = [list(reversed([*t, {"key": "team", "value": "a"}])) for t in tags]
    new_tags = [s if i % 3 else t for i, (s, t) in enumerate(zip(shuffled, tags, strict=True))]
    new = frame_from_records(
        [{"imageId": f"img-{i}", "tags": {"tags": t}} for i, t in enumerate(new_tags)], zone_id="z"
    )
    d = diff.diff_snapshots(old, new)
    assert d.by_field().to_dict() == {"tags": len(range(1, n, 3)) + len(range(2, n, 3))}
