"""Filter validation: caught before any request, with messages that name the problem."""

from __future__ import annotations

from typing import Any

import pytest

from imgframe.errors import InvalidArgument
from imgframe.filters import ImageFilters, check_page_size


def test_every_filter_reaches_the_request_body() -> None:
    filters = ImageFilters.build(
        image_ids=["a", "b", "a"],
        image_name="ubuntu",
        category="Ubuntu",
        image_type="PUBLIC_IMAGE",
        image_source="OFFICIAL",
        os_type="linux",
        image_status="AVAILABLE",
        tag_keys=["env", "team"],
        tags=[{"key": "env", "value": "prod"}],
    )
    assert filters.to_api() == {
        "imageIds": ["a", "b"],
        "imageName": "ubuntu",
        "category": "Ubuntu",
        "imageType": "PUBLIC_IMAGE",
        "imageSource": "OFFICIAL",
        "osType": "linux",
        "imageStatus": "AVAILABLE",
        "tagKeys": ["env", "team"],
        "tags": [{"key": "env", "value": "prod"}],
    }


def test_tags_mapping_and_list_agree() -> None:
    as_mapping = ImageFilters.build(tags={"env": "prod", "team": "data"})
    as_list = ImageFilters.build(
        tags=[{"key": "env", "value": "prod"}, {"key": "team", "value": "data"}]
    )
    assert as_mapping == as_list
    assert as_mapping.to_api() == {
        "tags": [{"key": "env", "value": "prod"}, {"key": "team", "value": "data"}]
    }


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"os_type": "Linux"}, "osType 'Linux' is not one of: linux, bsd, windows, android, any"),
        ({"image_status": "BROKEN"}, "imageStatus 'BROKEN' is not one of: CREATING, AVAILABLE, "
         "UNAVAILABLE, SYNCING, FAILED, DELETING, PROCESSING"),
        ({"image_type": "PUBLIC"}, "imageType 'PUBLIC' is not one of: PUBLIC_IMAGE, CUSTOM_IMAGE"),
        ({"image_source": "x"}, "imageSource 'x' is not one of: OFFICIAL, MARKETING, CUSTOM, APP"),
        ({"category": "ubuntu"}, "category 'ubuntu' is not one of: CentOS, Windows, Ubuntu"),
        ({"tag_keys": [f"k{i}" for i in range(21)]}, "tagKeys holds 21 keys; at most 20"),
        ({"tags": {f"k{i}": "v" for i in range(21)}}, "tags holds 21 tags; at most 20"),
        ({"tags": {"k" * 65: "v"}}, "tags[0].key is 65 characters long; at most 64"),
        ({"tags": {"k": "v" * 65}}, "tags[0].value is 65 characters long; at most 64"),
        ({"tags": {"": "v"}}, "tags[0].key must not be empty"),
        ({"tags": [{"key": "k"}]}, 'tags[0] must be a dict {"key": ..., "value": ...}'),
        ({"tags": "env=prod"}, "tags must be a mapping"),
        ({"tag_keys": [""]}, "tagKeys[0] must not be empty"),
        ({"image_ids": []}, "imageIds must not be empty"),
        ({"image_ids": [1]}, "imageIds[0] must be a string, not int"),
        ({"image_name": "a\x1b[31m"}, "imageName 'a\\x1b[31m' holds control"),
        ({"image_name": "x" * 1025}, "imageName is 1025 characters long; at most 1024"),
    ],
)  # fmt: skip
def test_bad_filters_are_rejected(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(InvalidArgument) as info:
        ImageFilters.build(**kwargs)
    assert message in str(info.value)


def test_invalid_argument_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="osType"):
        ImageFilters.build(os_type="plan9")


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (0, "page_size must be between 1 and 1000, got 0"),
        (1001, "page_size must be between 1 and 1000, got 1001"),
        ("10", "page_size must be an integer, not str"),
        (True, "page_size must be an integer, not bool"),
    ],
)
def test_page_size_bounds(value: object, message: str) -> None:
    with pytest.raises(InvalidArgument, match=message):
        check_page_size(value)


@pytest.mark.parametrize("value", [1, 20, 1000])
def test_page_size_accepted(value: int) -> None:
    assert check_page_size(value) == value
