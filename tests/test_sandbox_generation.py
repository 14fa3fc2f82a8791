"""Batch generation draws exactly what one-image-at-a-time generation drew, collisions included.

A 64-bit id collision never happens with a real seed in a test's lifetime, so these tests feed
:func:`draw_blocks` a scripted byte stream that repeats ids on purpose, and compare it with the
sequential loop the catalog used to run (written out here)."""

from __future__ import annotations

import random

import pytest

from imgframe import sandbox
from imgframe.errors import InvalidArgument
from imgframe.sandbox.factory import draw_blocks, hex_ids


class Script:
    """A stand-in for ``random.Random`` whose bytes are a fixed script, read in order."""

    def __init__(self, stream: bytes) -> None:
        self.stream = stream
        self.at = 0

    def randbytes(self, n: int) -> bytes:
        out = self.stream[self.at : self.at + n]
        assert len(out) == n, "script exhausted"
        self.at += n
        return out

    def getstate(self) -> int:
        return self.at

    def setstate(self, state: int) -> None:
        self.at = state


def sequential(rng: Script, count: int, taken: set[str]) -> tuple[bytes, list[str]]:
    """The generator before batching: one 32-byte block per image, then 8 more bytes while
    the id is taken."""
    blocks, ids = [], []
    for _ in range(count):
        r = rng.randbytes(32)
        image_id = "img-" + r[:8].hex()
        while image_id in taken:
            image_id = "img-" + rng.randbytes(8).hex()
        taken.add(image_id)
        blocks.append(r)
        ids.append(image_id)
    return b"".join(blocks), ids


def block(head: int, fill: int) -> bytes:
    return head.to_bytes(8, "big") + bytes([fill]) * 24


def script(*parts: bytes) -> bytes:
    return b"".join(parts) + random.Random(0).randbytes(4096)


CASES = {
    "no clash": script(*(block(i, i) for i in range(1, 6))),
    # Block 3 repeats block 1's id: 8 bytes are drawn right after block 3.
    "clash inside the batch": script(
        block(1, 1), block(2, 2), block(1, 3), (99).to_bytes(8, "big"), block(4, 4)
    ),
    # The redrawn id clashes again (with block 2), so a second 8 bytes follow.
    "clash twice": script(
        block(1, 1), block(2, 2), block(2, 3), (1).to_bytes(8, "big"), (77).to_bytes(8, "big")
    ),
    # Block 2's id is taken before the batch starts.
    "clash with the catalog": script(block(5, 1), block(7, 2), block(8, 3), block(9, 4)),
}


@pytest.mark.parametrize("case", list(CASES))
@pytest.mark.parametrize("already", [set(), {"img-0000000000000007"}])
def test_batches_equal_the_sequential_generator(case: str, already: set[str]) -> None:
    expected_taken = set(already)
    expected = sequential(Script(CASES[case]), 4, expected_taken)
    rng = Script(CASES[case])
    taken = set(already)
    assert draw_blocks(rng, 4, taken) == expected  # type: ignore[arg-type]
    assert taken == expected_taken
    follow = Script(CASES[case])
    sequential(follow, 4, set(already))
    assert rng.at == follow.at  # the stream is left where the old generator left it


@pytest.mark.parametrize("case", list(CASES))
def test_a_new_catalog_batch_falls_back_on_a_clash(case: str) -> None:
    expected = sequential(Script(CASES[case]), 4, set())
    assert draw_blocks(Script(CASES[case]), 4, None) == expected  # type: ignore[arg-type]


def test_real_generator_blocks_are_consecutive_draws() -> None:
    raw, ids = draw_blocks(random.Random("imgframe-catalog:7"), 500, None)
    reference = random.Random("imgframe-catalog:7")
    assert raw == b"".join(reference.randbytes(32) for _ in range(500))
    assert ids == ["img-" + raw[k : k + 8].hex() for k in range(0, len(raw), 32)]
    assert hex_ids(raw[:64]) == ids[:2]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"images": -1}, "images must be a non-negative integer, got -1"),
        ({"images": True}, "images must be a non-negative integer, got True"),
        ({"images": 2.0}, "images must be a non-negative integer, got 2.0"),
        ({"day": -2}, "day must be a non-negative integer, got -2"),
        ({"tags_shape": "dict"}, "tags_shape must be one of"),
    ],
)
def test_bad_catalog_arguments_are_invalid_arguments(
    kwargs: dict[str, object], message: str
) -> None:
    with pytest.raises(InvalidArgument, match=message):
        sandbox.Catalog(**kwargs)  # type: ignore[arg-type]


def test_bad_churn_and_day_arguments_are_invalid_arguments() -> None:
    catalog = sandbox.Catalog(images=300)
    with pytest.raises(InvalidArgument, match="unknown zone 'mars-1a'"):
        catalog.churn("mars-1a", 1)
    with pytest.raises(InvalidArgument, match="mode must be balanced, create or delete"):
        catalog.churn("asia-east-1a", 1, "shuffle")
    with pytest.raises(InvalidArgument, match="count must be a non-negative integer"):
        catalog.churn("asia-east-1a", -1)
    with pytest.raises(InvalidArgument, match="day must be a non-negative integer"):
        catalog.set_day(-1)
    assert isinstance(InvalidArgument("x"), ValueError)  # old `except ValueError` still works
