"""The Arrow types of the API's records and of the frame, and the frame's pandas dtypes.

Export, history and the frame builder all read their types from here, so a file written by
one and read by another agrees column for column.

>>> IMAGE_SCHEMA.field("tags").type
ListType(list<item: struct<key: string, value: string>>)
"""

from __future__ import annotations

from typing import Any

import pandas as pd
import pyarrow as pa

__all__ = [
    "ARROW_ERRORS",
    "CATEGORY_TYPE",
    "CUSTOM_IMAGE_RECORD_SCHEMA",
    "IMAGE_SCHEMA",
    "INSTANCE_RECORD_SCHEMA",
    "NIC_TYPE",
    "RECORD_SCHEMA",
    "STRING",
    "TAGS_TYPE",
    "TAG_TYPE",
    "TIMESTAMP_TYPE",
    "decoded_dictionary",
    "pandas_dtype",
    "small_offsets",
]

#: The frame's text dtype (``string[pyarrow]``).
STRING = pd.StringDtype("pyarrow")

#: What pyarrow raises for values it cannot convert, cast or compute on.
ARROW_ERRORS = (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError)

#: How every categorical column is stored: int32 codes over string categories.
CATEGORY_TYPE = pa.dictionary(pa.int32(), pa.string())
TAG_TYPE = pa.struct([("key", pa.string()), ("value", pa.string())])
TAGS_TYPE = pa.list_(TAG_TYPE)
NIC_TYPE = pa.list_(pa.string())
TIMESTAMP_TYPE = pa.timestamp("us", tz="UTC")

#: One image as it is read from a page, before the final type fixes.
RECORD_SCHEMA = pa.schema(
    [
        ("imageId", pa.string()),
        ("imageName", pa.string()),
        ("imageType", pa.string()),
        ("imageSource", pa.string()),
        ("imageSize", pa.string()),
        ("minDiskSize", pa.int64()),
        ("imageDescription", pa.string()),
        ("imageVersion", pa.string()),
        ("imageStatus", pa.string()),
        ("nicNetworkType", NIC_TYPE),
        ("category", pa.string()),
        ("osType", pa.string()),
        ("tags", TAGS_TYPE),
    ]
)

#: A DescribeCustomImages record: an image plus where it is available and who holds it.
CUSTOM_IMAGE_RECORD_SCHEMA = pa.schema(
    [
        *RECORD_SCHEMA,
        ("regionIdList", pa.list_(pa.string())),
        ("resourceGroupId", pa.string()),
        ("resourceGroupName", pa.string()),
    ]
)

_TEXT_LIST = pa.list_(pa.string())
_RESOURCE_GROUP = pa.struct([("resourceGroupId", pa.string()), ("resourceGroupName", pa.string())])
#: The SDK's NicInfo (its ``tags`` in the API's wrapper).
_NIC = pa.struct(
    [
        ("nicId", pa.string()), ("name", pa.string()), ("status", pa.string()),
        ("nicType", pa.string()), ("regionId", pa.string()), ("nicSubnetType", pa.string()),
        ("publicIpList", _TEXT_LIST), ("privateIpList", _TEXT_LIST),
        ("primaryIpv4", pa.string()), ("primaryIpv6", pa.string()), ("ipv6Cidr", pa.string()),
        ("secondaryIpv4s", _TEXT_LIST), ("macAddress", pa.string()),
        ("instanceId", pa.string()), ("vpcId", pa.string()), ("subnetId", pa.string()),
        ("createTime", pa.string()), ("updateTime", pa.string()),
        ("resourceGroup", _RESOURCE_GROUP), ("securityGroupId", pa.string()),
        ("tags", pa.struct([("tags", TAGS_TYPE)])),
    ]
)  # fmt: skip
_SYSTEM_DISK = pa.struct(
    [("diskId", pa.string()), ("diskSize", pa.int64()), ("diskCategory", pa.string()),
     ("burstingEnabled", pa.bool_())]
)  # fmt: skip
_DATA_DISK = pa.struct(
    [("diskId", pa.string()), ("diskName", pa.string()), ("diskSize", pa.int64()),
     ("diskAmount", pa.int64()), ("portable", pa.bool_()), ("burstingEnabled", pa.bool_()),
     ("diskCategory", pa.string())]
)  # fmt: skip

#: A DescribeInstances record: every field of the SDK's InstanceInfo (zec v20250901), so that
#: pages are read without inference (fields the API adds later still are, more slowly).
INSTANCE_RECORD_SCHEMA = pa.schema(
    [
        ("instanceId", pa.string()),
        ("instanceName", pa.string()),
        ("zoneId", pa.string()),
        ("instanceType", pa.string()),
        ("cpu", pa.int64()),
        ("memory", pa.int64()),
        ("imageId", pa.string()),
        ("imageName", pa.string()),
        ("timeZone", pa.string()),
        ("nicNetworkType", pa.string()),
        ("status", pa.string()),
        ("systemDisk", _SYSTEM_DISK),
        ("dataDisks", pa.list_(_DATA_DISK)),
        ("publicIpAddresses", _TEXT_LIST),
        ("privateIpAddresses", _TEXT_LIST),
        ("keyId", pa.string()),
        ("subnetId", pa.string()),
        ("securityGroupId", pa.string()),
        ("enableAgent", pa.bool_()),
        ("enableAgentMonitor", pa.bool_()),
        ("enableIpForward", pa.bool_()),
        ("createTime", pa.string()),
        ("expiredTime", pa.string()),
        ("resourceGroupId", pa.string()),
        ("resourceGroupName", pa.string()),
        ("nics", pa.list_(_NIC)),
        ("tags", TAGS_TYPE),
        ("loadBalancerIds", _TEXT_LIST),
        ("placementGroupId", pa.string()),
        ("instanceOptions", pa.struct([("nestedVirtualization", pa.bool_())])),
    ]
)

#: The Arrow schema of a frame's known columns (without joined zone columns or extras).
IMAGE_SCHEMA = pa.schema(
    [
        ("zoneId", CATEGORY_TYPE),
        ("imageId", pa.string()),
        ("imageName", pa.string()),
        ("imageType", CATEGORY_TYPE),
        ("imageSource", CATEGORY_TYPE),
        ("imageSize", pa.int64()),
        ("minDiskSize", pa.int64()),
        ("imageDescription", pa.string()),
        ("imageVersion", pa.string()),
        ("imageStatus", CATEGORY_TYPE),
        ("nicNetworkType", NIC_TYPE),
        ("category", CATEGORY_TYPE),
        ("osType", CATEGORY_TYPE),
        ("tags", TAGS_TYPE),
        ("fetchedAt", TIMESTAMP_TYPE),
    ]
)


def pandas_dtype(arrow_type: pa.DataType) -> Any:
    """The frame's pandas dtype for an Arrow type (``None``: pandas' default).

    >>> pandas_dtype(pa.string()).storage, pandas_dtype(pa.int64())
    ('pyarrow', Int64Dtype())
    """
    if pa.types.is_string(arrow_type) or pa.types.is_large_string(arrow_type):
        return pd.StringDtype("pyarrow")
    if pa.types.is_integer(arrow_type):
        return pd.Int64Dtype()
    if pa.types.is_boolean(arrow_type):
        return pd.BooleanDtype()
    if pa.types.is_floating(arrow_type):
        return pd.Float64Dtype()
    if pa.types.is_dictionary(arrow_type) or pa.types.is_timestamp(arrow_type):
        return None  # pandas' own categorical and datetime64[us, UTC]
    return pd.ArrowDtype(arrow_type)


def decoded_dictionary(array: pa.Array) -> pa.Array:
    """A dictionary array as plain strings (all-NA dictionaries included)."""
    if pa.types.is_null(array.type.value_type):
        return pa.nulls(len(array), pa.string())
    return array.cast(small_offsets(array.type.value_type))


def small_offsets(t: pa.DataType) -> pa.DataType:
    """``t`` with 32-bit offsets: pandas' strings are large_string, the frame's are string."""
    if pa.types.is_large_string(t):
        return pa.string()
    if pa.types.is_large_binary(t):
        return pa.binary()
    if pa.types.is_list(t) or pa.types.is_large_list(t):
        return pa.list_(pa.field(t.value_field.name, small_offsets(t.value_type)))
    if pa.types.is_struct(t):
        return pa.struct([pa.field(f.name, small_offsets(f.type)) for f in t])
    return t
