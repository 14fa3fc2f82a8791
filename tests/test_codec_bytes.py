"""The CSV and JSONL codecs, byte for byte: what every writer wrote before the column-wise
encoders, pinned as sha256 digests, and exact round trips of every awkward value.

The digests were computed once with the per-cell Python encoders the column-wise ones replace
(``json.dumps`` per list cell and per JSONL row) and pasted in: they are the specification of
the bytes, so a change to any of them is a change of the file formats, to be made on purpose
and documented in :mod:`imgframe.export`, never to make a test pass.
"""

from __future__ import annotations

import gzip
import hashlib
import json
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

import imgframe.export.csv as export_csv
from imgframe.errors import DataError, ExportError
from imgframe.export import read_export, write_csv, write_export, write_jsonl
from imgframe.frame import empty_frame, explode_tags, frame_from_records, join_zones, tag_columns
from imgframe.schema import IMAGE_COLUMNS, ZONE_JOIN_COLUMNS

from .frames import FETCHED_AT, fixture_frame, fixture_records, small_frame, zone_table

# --------------------------------------------------------------------------------------------
# The frames

CONTROL = "".join(chr(c) for c in range(0x20)) + "\x7f"

#: Text that a CSV writer, a JSON escaper or a formula guard can get wrong.
AWKWARD = (
    "",
    " ",
    "a,b",
    'q"q',
    '""',
    '"',
    "\\",
    'back\\slash\\"',
    "\\n is not a newline",
    "\n",
    "\r\n",
    "\r",
    "crlf\r\nin the middle",
    "\ttab",
    "tab\tinside",
    CONTROL,
    "nul\x00inside",
    "\x7fdel",
    "\u2028line sep\u2029para sep",
    "\u0085next line",
    "日本語のテキスト",
    "🚀 rocket 👨‍👩‍👧 family",
    "עברית שלום",
    "مرحبا بالعالم",
    "\u202eevil\u202c",
    "e\u0301 combining",
    "\ufeffbom at the start",
    "'",
    "''",
    "'''=x",
    "''+1",
    "'-'",
    "'@",
    "'\t",
    "'\r",
    "'x",
    "-",
    "=",
    "+",
    "@",
    " =not a formula",
    "x=y",
    "NULL",
    "null",
    "NA",
    "nan",
    "N/A",
    "#N/A",
    "true",
    "123",
    "-0.5e3",
    "[]",
    '["not","a","list"]',
    "{}",
    "very long " + ('"quoted", \\ 日本 🚀\n' * 4000),
)

STAMPS = (
    FETCHED_AT,
    datetime(2025, 3, 1, 8, 0, tzinfo=UTC),
    datetime(1969, 12, 31, 23, 59, 59, 999999, tzinfo=UTC),
    datetime(1900, 1, 1, tzinfo=UTC),
    datetime(9999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC),
    datetime(2024, 2, 29, 12, 0, 0, 1, tzinfo=UTC),
    None,
)


def awkward_records() -> list[dict[str, Any]]:
    """One image per awkward string, in every text field, list and tag."""
    records: list[dict[str, Any]] = []
    for number, text in enumerate(AWKWARD):
        nics: list[Any] | None = [
            [text],
            [None],
            [text, None, ""],
            [],
            None,
            [text, "VirtioOnly", text],
        ][number % 6]
        tags: Any = [
            {"tags": [{"key": text, "value": text}]},
            {"tags": [{"key": "k", "value": None}, {"key": None, "value": text}]},
            {"tags": [{"key": "dup", "value": "first"}, {"key": "dup", "value": text}]},
            {"tags": []},
            None,
        ][number % 5]
        records.append(
            {
                "zoneId": ("asia-east-1a", "na-west-1a", "eu-central-1a")[number % 3],
                "imageId": f"img-awkward-{number:03d}",
                "imageName": text,
                "imageType": "CUSTOM_IMAGE",
                "imageSource": "CUSTOM",
                "imageSize": str(number),
                "minDiskSize": [0, -5, 2**62, None][number % 4],
                "imageDescription": text if number % 2 else None,
                "imageVersion": text[::-1] if number % 3 else text,
                "imageStatus": "AVAILABLE",
                "nicNetworkType": nics,
                "category": text if number % 7 == 0 else "Generic",
                "osType": "linux",
                "tags": tags,
                "imageFamily": text if number % 4 else None,
            }
        )
    # Many elements in one list cell, many tags on one image.
    records[0]["nicNetworkType"] = [f"nic-{i}" for i in range(200)]
    records[1]["tags"] = {"tags": [{"key": f"k{i:03d}", "value": f"v{i}"} for i in range(60)]}
    return records


def codec_frame() -> pd.DataFrame:
    """A fetched-shaped frame (Arrow-backed dtypes): the fixture and awkward images, zones
    joined, typed extra columns, timestamps with and without microseconds (NaT too), awkward
    column names and a categorical with an unused category."""
    frame = frame_from_records(fixture_records() + awkward_records(), fetched_at=FETCHED_AT)
    frame = join_zones(frame, zone_table())
    n = len(frame)
    frame["fetchedAt"] = pd.Series(
        [STAMPS[i % len(STAMPS)] for i in range(n)], dtype="datetime64[us, UTC]"
    ).array
    struct = pa.struct([("id", pa.int64()), ("name", pa.string())])
    extras: dict[str, Any] = {
        "shareCount": pd.array([[3, None, -(2**63), 2**62, 0][i % 5] for i in range(n)], "Int64"),
        "ratio": pd.array(
            [
                [0.5, None, 1e16, 1.0, -0.0, 1e-7, 123456789.123, float("inf")][i % 8]
                for i in range(n)
            ],
            "Float64",
        ),
        "encrypted": pd.array([[True, False, None][i % 3] for i in range(n)], "boolean"),
        "regions": pd.array(
            [[["x", None], [], None, ['q"\\\n\x01']][i % 4] for i in range(n)],
            pd.ArrowDtype(pa.list_(pa.string())),
        ),
        "counts": pd.array(
            [[[1, -2], [None], [], None][i % 4] for i in range(n)],
            pd.ArrowDtype(pa.list_(pa.int64())),
        ),
        "owner": pd.array(
            [
                [{"id": 1, "name": "ops\n=x"}, None, {"id": None, "name": None}][i % 3]
                for i in range(n)
            ],
            pd.ArrowDtype(struct),
        ),
        "=formulaName": pd.array([AWKWARD[i % len(AWKWARD)] for i in range(n)], "string[pyarrow]"),
        'odd "name", with\nnewline': pd.array(["x"] * n, "string[pyarrow]"),
    }
    position = list(frame.columns).index("fetchedAt")
    for offset, (name, values) in enumerate(extras.items()):
        frame.insert(position + offset, name, values)
    frame["osType"] = frame["osType"].cat.add_categories(["unused-os"])
    return frame


def python_frame() -> pd.DataFrame:
    """NumPy and object dtypes a notebook may add before exporting (the Python fallbacks)."""
    n = 6
    tokyo = timezone(timedelta(hours=9))
    return pd.DataFrame(
        {
            "imageId": pd.array([f"py-{i}" for i in range(n)], "string[pyarrow]"),
            "floats": np.array([0.1, np.nan, 1e300, -1.5, 2.0, np.inf]),
            "ints": np.arange(n, dtype=np.int64) - 2,
            "bools": np.array([True, False] * 3),
            "objects": pd.Series(
                ["=text", None, 3, [1, "a"], {"k": ("t", 1)}, date(2025, 1, 2)], dtype=object
            ),
            "naive": pd.Series(
                [datetime(2025, 3, 1, 8), None, datetime(1999, 12, 31, 23, 59, 59, 500000)] * 2,
                dtype="datetime64[us]",
            ),
            "tokyo": pd.Series(
                [datetime(2025, 3, 1, 9, 0, 0, 250000, tzinfo=tokyo), None] * 3,
                dtype="datetime64[us, UTC+09:00]",
            ),
            "intCategories": pd.Categorical([1, 2, None, 1, 2, 2], categories=[2, 1, 3]),
            "numpyStrings": pd.Series(["-x", "y", None, "'=z", "", "w"], dtype=object),
        }
    )


def chunked(frame: pd.DataFrame) -> pd.DataFrame:
    """The same values in several Arrow chunks (as ``pd.concat`` leaves them)."""
    third = len(frame) // 3
    parts = [frame.iloc[:third], frame.iloc[third : 2 * third], frame.iloc[2 * third :]]
    return pd.concat(parts, ignore_index=True)


# --------------------------------------------------------------------------------------------
# Writing: the pinned bytes

Write = Callable[[Path], None]


def _writes(frame: Callable[[], pd.DataFrame], name: str, **options: Any) -> Write:
    def write(path: Path) -> None:
        write_export(frame(), path / name, **options)

    return write


def _appends(frame: Callable[[], pd.DataFrame], name: str, split: int, **options: Any) -> Write:
    def write(path: Path) -> None:
        df = frame()
        write_export(df.iloc[:split], path / name, **options)
        write_export(df.iloc[split:], path / name, mode="append", **options)

    return write


def _cases() -> dict[str, tuple[str, Write]]:
    cases: dict[str, tuple[str, Write]] = {}
    for suffix in ("csv", "csv.gz"):
        for tags in ("list", "long", "wide"):
            for neutralize in (True, False):
                key = f"codec-{suffix}-{tags}-{'neutralized' if neutralize else 'raw'}"
                name = f"x.{suffix}"
                options = {"tags": tags, "neutralize_formulas": neutralize}
                cases[key] = (name, _writes(codec_frame, name, **options))
    cases["codec-jsonl"] = ("x.jsonl", _writes(codec_frame, "x.jsonl"))
    for suffix in ("csv", "csv.gz", "jsonl"):
        name = f"x.{suffix}"
        cases[f"python-{suffix}"] = (name, _writes(python_frame, name))
        cases[f"fixture-{suffix}"] = (name, _writes(fixture_frame, name))
        cases[f"small-{suffix}"] = (name, _writes(small_frame, name))
        cases[f"empty-{suffix}"] = (name, _writes(empty_frame, name))
        cases[f"sliced-{suffix}"] = (name, _writes(lambda: codec_frame().iloc[7:61], name))
        cases[f"reversed-{suffix}"] = (name, _writes(lambda: codec_frame().iloc[::-1], name))
    cases["python-csv-raw"] = ("x.csv", _writes(python_frame, "x.csv", neutralize_formulas=False))
    cases["append-csv-list"] = ("x.csv", _appends(codec_frame, "x.csv", 40))
    cases["append-csv-long-raw"] = (
        "x.csv",
        _appends(codec_frame, "x.csv", 33, tags="long", neutralize_formulas=False),
    )
    cases["append-csv.gz-long"] = ("x.csv.gz", _appends(codec_frame, "x.csv.gz", 50, tags="long"))
    cases["append-jsonl"] = ("x.jsonl", _appends(codec_frame, "x.jsonl", 40))
    return cases


CASES = _cases()

#: sha256 of each case's file as the per-cell encoders wrote it (see the module docstring).
PINNED = {
    "append-csv-list": "8352d7787c73cd92f4df7b756137cc082405f1f4e51cd47979bbbbaef13d00be",
    "append-csv-long-raw": "49c5bc8a71fecd74a6168e49ca57aae0b533339c32158469cea30e9c79cc2779",
    "append-csv.gz-long": "9902e45d37a9a72beadccc00baa12bd22ca4233e9aa5157e081f3c57cb461f08",
    "append-jsonl": "9436740b3bdbc565025c14aa145eaf1470eb7748a9e9470609d956528316a9c6",
    "codec-csv-list-neutralized": "8352d7787c73cd92f4df7b756137cc082405f1f4e51cd47979bbbbaef13d00be",
    "codec-csv-list-raw": "c2141a0c1abc5c726db3ffa8a6ad06f2946018bb2bddd197eb71553d6ab7d3dd",
    "codec-csv-long-neutralized": "840c7e7e80eb6e5ce531596ce6f5136d4801c440607ffae47b22e927f9f6ac3c",
    "codec-csv-long-raw": "49c5bc8a71fecd74a6168e49ca57aae0b533339c32158469cea30e9c79cc2779",
    "codec-csv-wide-neutralized": "afb114daacd1d9ef5f1dd9c555d278dbc4dfb1320d818d5bfd7860a313884d14",
    "codec-csv-wide-raw": "9ddc53c4c916668f4443bd30eccd6ba3f628fb40a70e74526dd85be791a8c2c1",
    "codec-csv.gz-list-neutralized": "619a28c36d256eb5272d25de4b07ceb11703514b87002275bf27197be2723ce4",
    "codec-csv.gz-list-raw": "e86e1a2ccc03f53496b486510ed774f493daba44804b7fd566cb700f1202fa00",
    "codec-csv.gz-long-neutralized": "364a9d7942b824dab1901926a5472eabb7b553678692f986c13da15b144b965d",
    "codec-csv.gz-long-raw": "44dd1fa8d3809acd0a1b8e8c1efa10921d89f58d4177a8665eac57c9c967c937",
    "codec-csv.gz-wide-neutralized": "e743053f6b54153de059b8f7c4e78ce96d97814aaaaf23ebc758e976c66209a5",
    "codec-csv.gz-wide-raw": "c6c7e575125a8edc195e20e37b8e4e4ef8eb243b43644d856d7de73ae5285220",
    "codec-jsonl": "9436740b3bdbc565025c14aa145eaf1470eb7748a9e9470609d956528316a9c6",
    "empty-csv": "6be7e4c96eb93e01fd78715119abc334aa75b7cdf32a56b46a52c8f6a43dda97",
    "empty-csv.gz": "b61eb57c7809eb3e835d5055da90c7b572290040b48305f72bb75f7cac271cf7",
    "empty-jsonl": "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    "fixture-csv": "bd64f55bc5ecd9c25d1f645cbb88cf6895e50355d5c7409ebedc8d8f553b86dc",
    "fixture-csv.gz": "5438ec3e06f1e88ffb6517352fd395ce7dbd9ad4a549e6164f6d3932ffe8e8d6",
    "fixture-jsonl": "cd04c84a398d899ee02253692fec7c9d47bba93e745d110a9bc845fffe69e866",
    "python-csv": "77ccf055b4f7addb43102b102a7ca2d8dc3b728eb0e878a40ec8912fd79e6a8e",
    "python-csv-raw": "0c9b3e7825fb9733a7bfd0f10b7b06dca38d69e38d7cfd46b2a1a5552826ac4a",
    "python-csv.gz": "95c10423624203bbe1cd1555b0e8d4374c53b5009192f1f5839d1cbb69622b30",
    "python-jsonl": "53667fede10f582ee185288ec70329d1d858b3510049d69d1008bd1531b5b913",
    "reversed-csv": "25aa839cc615531b0d43fee0dffb951a32dff4cd2790e0e7d51fac9c727221e6",
    "reversed-csv.gz": "563f0ede2423a650049f10fcfd91a1c324eff43b3a234290126dae85f9dfee63",
    "reversed-jsonl": "afedf47ebe41abf39250d126a593e183e5a76b33ea13ee867ac0e963a3aaa1a0",
    "sliced-csv": "84edd91899ad47128e2a464dcece23fe87ca6ad87ac5bb214058d2d52f2bdcde",
    "sliced-csv.gz": "fcc0c2df40b8f055535b616bae6669483b5857133db51e312849dd0ab184675a",
    "sliced-jsonl": "5128cffb60ad0cf43396f2a8a2f5d84695b58613818689e3006e2a2bd1f41fba",
    "small-csv": "86ee4f5076143f029af0fb0578d540c7d570b37bcd508859467fa0eed7ba0629",
    "small-csv.gz": "67bd158b2dc21a165b022bac26ce652a869f29489a917ccfb3d9541cd53f0533",
    "small-jsonl": "40e9fda03575a620009e7a878a44f89d4dcadeb9845850c9fc5e6935bf3647de",
}


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_every_case_is_pinned() -> None:
    assert sorted(PINNED) == sorted(CASES)


@pytest.mark.parametrize("case", sorted(CASES))
def test_the_bytes_written_are_the_pinned_bytes(tmp_path: Path, case: str) -> None:
    name, write = CASES[case]
    write(tmp_path)
    assert digest(tmp_path / name) == PINNED[case]


@pytest.mark.parametrize("name", ["x.csv", "x.csv.gz", "x.jsonl"])
def test_chunked_columns_write_the_same_bytes_as_contiguous_ones(tmp_path: Path, name: str) -> None:
    df = codec_frame()
    write_export(df, tmp_path / "a" / name)
    write_export(chunked(df), tmp_path / "b" / name)
    assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()


@pytest.mark.parametrize("name", ["x.csv", "x.csv.gz", "x.jsonl"])
def test_batches_write_the_same_bytes_as_one_pass(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str
) -> None:
    """Rows are encoded in batches on worker threads: the file is the same, batch size aside."""
    df = pd.concat([codec_frame()] * 3, ignore_index=True)
    write_export(df, tmp_path / "one" / name)
    monkeypatch.setattr(export_csv, "BATCH_ROWS", 7)
    write_export(df, tmp_path / "batched" / name)
    one, batched = (
        (tmp_path / "one" / name).read_bytes(),
        (tmp_path / "batched" / name).read_bytes(),
    )
    if name.endswith(".gz"):
        one, batched = gzip.decompress(one), gzip.decompress(batched)
    assert batched == one


def test_a_lone_surrogate_cannot_reach_a_file(tmp_path: Path) -> None:
    with pytest.raises(UnicodeEncodeError):
        pd.array(["\ud800"], dtype="string[pyarrow]")
    df = small_frame(1)
    df["objects"] = pd.Series(["\ud800"], dtype=object)
    with pytest.raises(ExportError, match="surrogates not allowed"):
        write_jsonl(df, tmp_path / "x.jsonl")
    with pytest.raises(UnicodeEncodeError, match="surrogates not allowed"):
        write_csv(df, tmp_path / "x.csv")
    assert list(tmp_path.iterdir()) == []


# --------------------------------------------------------------------------------------------
# Reading: exact round trips, as the export docstring documents them

TEXT_NAMES = frozenset((*IMAGE_COLUMNS, *ZONE_JOIN_COLUMNS, "tagKey", "tagValue"))


def categories_rebuilt(frame: pd.DataFrame) -> pd.DataFrame:
    """Categoricals with their categories in order of first appearance (unused ones go)."""
    out = frame.copy()
    for name in out.columns:
        if isinstance(out[name].dtype, pd.CategoricalDtype):
            text = out[name].astype("string[pyarrow]")
            dtype = pd.CategoricalDtype(categories=list(dict.fromkeys(text.dropna())))
            out[name] = pd.Categorical(text, dtype=dtype)
    return out


def python_values(series: pd.Series) -> list[Any]:
    if isinstance(series.dtype, pd.ArrowDtype):
        return list(pa.array(series.array).to_pylist())
    return [None if v is pd.NA else v for v in series.astype(object).tolist()]


def as_csv_reads_it(frame: pd.DataFrame) -> pd.DataFrame:
    """What a CSV holds: known columns keep their dtypes, text columns stay text, and other
    extra columns come back as their compact JSON text."""
    out = categories_rebuilt(frame)
    for name in out.columns:
        dtype = out[name].dtype
        if name in TEXT_NAMES or name.startswith("tag:") or isinstance(dtype, pd.StringDtype):
            continue
        texts = [
            None if v is None else json.dumps(v, ensure_ascii=False, separators=(",", ":"))
            for v in python_values(out[name])
        ]
        out[name] = pd.array(texts, dtype="string[pyarrow]")
    return out


@pytest.mark.parametrize("suffix", ["csv", "csv.gz"])
@pytest.mark.parametrize("tags", ["list", "long", "wide"])
@pytest.mark.parametrize("neutralize", [True, False], ids=["neutralized", "raw"])
def test_csv_reads_back_the_documented_frame(
    tmp_path: Path, suffix: str, tags: str, neutralize: bool
) -> None:
    df = codec_frame()
    written = write_csv(df, tmp_path / f"x.{suffix}", tags=tags, neutralize_formulas=neutralize)
    shaped = {
        "list": df,
        "long": explode_tags(df),
        "wide": tag_columns(df).drop(columns=["tags"]),
    }[tags]
    back = read_export(written.path, neutralized_formulas=neutralize)
    pd.testing.assert_frame_equal(back, as_csv_reads_it(shaped))


def test_jsonl_reads_back_the_frame_with_its_typed_extra_columns(tmp_path: Path) -> None:
    df = codec_frame()
    back = read_export(write_jsonl(df, tmp_path / "x.jsonl").path)
    pd.testing.assert_frame_equal(back, categories_rebuilt(df))


@pytest.mark.parametrize("name", ["x.csv", "x.csv.gz", "x.jsonl"])
def test_appended_files_read_back_every_row(tmp_path: Path, name: str) -> None:
    df = codec_frame()
    write_export(df.iloc[:40], tmp_path / name)
    write_export(df.iloc[40:], tmp_path / name, mode="append")
    expected = categories_rebuilt(df)
    if name != "x.jsonl":
        expected = as_csv_reads_it(df)
    pd.testing.assert_frame_equal(read_export(tmp_path / name), expected)


@pytest.mark.parametrize("name", ["x.csv", "x.jsonl"])
def test_sliced_and_chunked_frames_round_trip(tmp_path: Path, name: str) -> None:
    df = codec_frame()
    expect = as_csv_reads_it if name == "x.csv" else categories_rebuilt
    for label, frame in (("sliced", df.iloc[7:61]), ("chunked", chunked(df))):
        written = write_export(frame, tmp_path / label / name)
        pd.testing.assert_frame_equal(
            read_export(written.path), expect(frame.reset_index(drop=True)), obj=label
        )


def test_a_bom_and_crlf_line_ends_are_read(tmp_path: Path) -> None:
    df = small_frame(2)
    plain = write_csv(df, tmp_path / "x.csv").path.read_bytes()
    (tmp_path / "bom.csv").write_bytes(b"\xef\xbb\xbf" + plain.replace(b"\n", b"\r\n"))
    pd.testing.assert_frame_equal(read_export(tmp_path / "bom.csv"), df)
    lines = write_jsonl(df, tmp_path / "x.jsonl").path.read_bytes()
    (tmp_path / "crlf.jsonl").write_bytes(b"\n  \n" + lines.replace(b"\n", b"\r\n\n"))
    pd.testing.assert_frame_equal(read_export(tmp_path / "crlf.jsonl"), df)


def test_hand_written_list_cells_read_like_json(tmp_path: Path) -> None:
    """Cells that are JSON but not the compact form this module writes still read."""
    (tmp_path / "x.csv").write_text(
        '"imageId","nicNetworkType","tags"\n'
        '"a"," [ ""x"" ,null ] ","[ {""value"": ""v"", ""key"": ""k"", ""extra"": 1} ]"\n'
        '"b","[\n""y""]",null\n'
        '"c","[""\\u00e9\\ud83d\\ude80""]","[{""key"":""k""}]"\n'
    )
    back = read_export(tmp_path / "x.csv")
    assert back["nicNetworkType"].tolist() == [["x", None], ["y"], ["é🚀"]]
    assert back["tags"].tolist() == [
        [{"key": "k", "value": "v"}],
        pd.NA,
        [{"key": "k", "value": None}],
    ]


def test_jsonl_keys_are_the_union_in_order_of_first_appearance(tmp_path: Path) -> None:
    (tmp_path / "x.jsonl").write_text(
        '{"imageId": "a"}\n{"x": 1, "imageId": "b"}\n{"imageId": "c", "imageId": "d", "y": [1.5, 2]}\n'
    )
    back = read_export(tmp_path / "x.jsonl")
    assert list(back.columns) == ["imageId", "x", "y"]
    assert back["imageId"].tolist() == ["a", "b", "d"]
    assert back["x"].tolist() == [pd.NA, 1, pd.NA]
    assert str(back["x"].dtype) == "Int64"
    assert back["y"].tolist()[2] == [1.5, 2.0]


@pytest.mark.parametrize(
    ("lines", "dtype", "values"),
    [
        ('{"x": 1}\n{"x": 1.5}\n', "Float64", [1.0, 1.5]),
        ('{"x": 1}\n{"x": "s"}\n', "string", ["1", '"s"']),
        ('{"x": 1}\n{"x": true}\n', "string", ["1", "true"]),
        ('{"x": NaN}\n{"x": Infinity}\n', "Float64", [pd.NA, float("inf")]),
        ('{"x": null}\n', "string", [pd.NA]),
        ('{"x": "2025-03-01T08:00:00"}\n', "string", ["2025-03-01T08:00:00"]),
        ('{"x": [], "imageSize": 20.0}\n', "list<item: null>[pyarrow]", [[]]),
    ],
)
def test_jsonl_extra_columns_keep_the_json_types(
    tmp_path: Path, lines: str, dtype: str, values: list[Any]
) -> None:
    (tmp_path / "x.jsonl").write_text(lines)
    back = read_export(tmp_path / "x.jsonl")
    assert str(back["x"].dtype) == dtype
    assert back["x"].tolist() == values


# --------------------------------------------------------------------------------------------
# Reading: malformed files are DataErrors that say what is wrong

HEADER = '"imageId","tags","nicNetworkType","imageSize","fetchedAt"\n'
ROW = '"a","[]","[]",1,"2025-03-01T08:00:00.000000Z"\n'


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            HEADER + '"a","[{""key"":","[]",1,\n',
            r"column 'tags': a cell is not a JSON array of the expected shape \(Expecting value: line 1 column 9 \(char 8\)\)",
        ),
        (
            HEADER + '"a","[1]","[]",1,\n',
            r"column 'tags': a cell is not a JSON array of the expected shape \(Could not convert 1 with type int: was not a dict",
        ),
        (
            HEADER + '"a","{""key"":""a""}","[]",1,\n',
            r"column 'tags': .*Could not convert \{'key': 'a'\} with type dict",
        ),
        (HEADER + '"a","""text""","[]",1,\n', r"column 'tags': .*'t' with type str"),
        (HEADER + '"a","[{""key"":1}]","[]",1,\n', r"column 'tags': .*Expected bytes, got a 'int'"),
        (HEADER + '"a","NaN","[]",1,\n', r"column 'tags': .*Could not convert nan"),
        (HEADER + '"a","","[]",1,\n', r"column 'tags': .*Expecting value: line 1 column 1"),
        (HEADER + '"a","[]","[1]",1,\n', r"column 'nicNetworkType': .*Expected bytes"),
        (HEADER + '"a","[]","[""x""] x",1,\n', r"column 'nicNetworkType': .*Extra data"),
        (HEADER + '"a","[]","[]","twenty",\n', r"column 'imageSize': a cell is not an integer"),
        (
            HEADER + '"a","[]","[]",1,"yesterday"\n',
            r"column 'fetchedAt': a cell is not an ISO-8601",
        ),
        ("", r"is empty: no CSV header row"),
        ("\ufeff", r"is empty: no CSV header row"),
        (HEADER + '"a,"[]\n', r"cannot read .* as CSV: CSV parse error: Expected 5 columns, got 1"),
    ],
)
def test_malformed_csv_is_a_data_error(tmp_path: Path, text: str, message: str) -> None:
    (tmp_path / "x.csv").write_text(text, encoding="utf-8")
    with pytest.raises(DataError, match=message):
        read_export(tmp_path / "x.csv")


@pytest.mark.parametrize("where", ["header", "body"])
def test_non_utf8_csv_is_a_data_error(tmp_path: Path, where: str) -> None:
    latin1 = (
        '"imag\xe9Id"\n"a"\n'
        if where == "header"
        else HEADER + ROW * 5000 + '"\xe9","[]","[]",1,\n'
    )
    (tmp_path / "x.csv").write_bytes(latin1.encode("latin-1"))
    with pytest.raises(DataError, match=r"cannot read .*x\.csv as UTF-8 CSV"):
        read_export(tmp_path / "x.csv")


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (
            gzip.compress((HEADER + ROW).encode())[:-10],
            "Compressed file ended before the end-of-stream",
        ),
        (b"\x1f\x8bxxxxxxxxxxx", "cannot read .*: "),
    ],
)
def test_broken_gzip_is_a_data_error(tmp_path: Path, data: bytes, message: str) -> None:
    (tmp_path / "x.csv.gz").write_bytes(data)
    with pytest.raises(DataError, match=message):
        read_export(tmp_path / "x.csv.gz")


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b'{"imageId": "a"}\n{not json\n', r"x\.jsonl line 2 is not JSON: Expecting property name"),
        (b'{"imageId": "a"}\n\n[1]\n', r"x\.jsonl line 3 is not a JSON object"),
        (
            b'{"imageId": "\xe9"}\n',
            r"x\.jsonl line 1 is not JSON: 'utf-8' codec can't decode byte 0xe9",
        ),
        (b'{"imageSize": "x"}\n', r"column 'imageSize' does not hold int64 values"),
        (b'{"imageName": 5}\n', r"column 'imageName' does not hold string values"),
        (b'{"tags": [1]}\n', r"column 'tags' does not hold list<item: struct<key: string"),
        (b'{"fetchedAt": "nope"}\n', r"column 'fetchedAt': a cell is not an ISO-8601 timestamp"),
    ],
)
def test_malformed_jsonl_is_a_data_error(tmp_path: Path, data: bytes, message: str) -> None:
    (tmp_path / "x.jsonl").write_bytes(data)
    with pytest.raises(DataError, match=message):
        read_export(tmp_path / "x.jsonl")


# --------------------------------------------------------------------------------------------
# The Arrow readers agree with the line-by-line / cell-by-cell reference readings


def test_arrow_and_line_by_line_jsonl_readings_agree(tmp_path: Path) -> None:
    from imgframe.export import jsonl

    path = write_jsonl(codec_frame(), tmp_path / "x.jsonl").path
    by_arrow = jsonl._frame_by_arrow(path.read_bytes())
    assert by_arrow is not None  # the fast path reads what the writer writes
    pd.testing.assert_frame_equal(by_arrow, jsonl._read_jsonl_lines(path))


def _reading(read: Callable[[], pd.DataFrame]) -> pd.DataFrame | str:
    try:
        return read()
    except DataError as exc:
        return str(exc)


@pytest.mark.parametrize(
    ("lines", "by_arrow"),
    [
        (b'{"imageId": "a"}\n{"imageId": "b", "late": 1}\n', False),  # a key line 1 lacks
        (b'{"imageId": "a"}{"imageId": "b"}\n', False),  # two objects on one line
        (b'{"imageId": "a"}\n   \n', False),  # a blank line
        (b'{"x": "2025-03-01T08:00:00"}\n', False),  # Arrow's reader guesses a timestamp
        (b'{"imageSize": 20.0}\n', False),  # pa.array takes it, Arrow's reader does not
        (b'{"imageId": "a", "imageId": "b"}\n', False),  # json.loads keeps the last
        (b'{"imageName": "\\ud800"}\n', False),  # a lone surrogate
        (b'{"tags": [{"key": "k", "value": "v", "extra": 1}]}\n', True),  # extra key dropped
        (b'{"x": [1, 2.5], "y": {"b": 1, "a": null}, "z": NaN}\n', True),
    ],
)
def test_jsonl_is_read_as_the_line_by_line_reading_reads_it(
    tmp_path: Path, lines: bytes, by_arrow: bool
) -> None:
    from imgframe.export import jsonl

    path = tmp_path / "x.jsonl"
    path.write_bytes(lines)
    assert (jsonl._frame_by_arrow(lines) is not None) == by_arrow
    reference = _reading(lambda: jsonl._read_jsonl_lines(path))
    got = _reading(lambda: read_export(path))
    if isinstance(reference, str):
        assert got == reference
    else:
        assert isinstance(got, pd.DataFrame)
        pd.testing.assert_frame_equal(got, reference)


@pytest.mark.parametrize("name", ["nicNetworkType", "tags"])
def test_list_cells_decode_as_json_loads_decodes_them(tmp_path: Path, name: str) -> None:
    from imgframe.export.base import LIST_TYPES, decode_json_cells, python_json_cells

    df = pd.concat([codec_frame()] * 2, ignore_index=True)
    cells = pa.array(df[name].array)
    texts = [
        None if v is None else json.dumps(v, ensure_ascii=False, separators=(",", ":"))
        for v in cells.to_pylist()
    ]
    # Hand-written forms too: spaces, escapes json.dumps does not use, a raw line break.
    texts += [' [ "a" , null ] ', '["\\u00e9\\/"]', '[\n"x"]', "null"]
    if name == "tags":
        texts[-4:] = [' [ {"value": "v", "key": "k"} ] ', '[{"key":"\\u00e9"}]', "[\n]", "null"]
    column = pa.array(texts, pa.string())
    fast = decode_json_cells(column, LIST_TYPES[name], name)
    assert fast.equals(python_json_cells(column, LIST_TYPES[name], name))
