"""Writers of one snapshot store exclude each other; crashed writers are recovered safely.

The writers here are real processes (``multiprocessing``, spawned), started together, held in
the middle of a write, or killed with SIGKILL there: the lock under test is the kernel's.
"""

from __future__ import annotations

import json
import math
import multiprocessing
import os
import shutil
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime
from multiprocessing.process import BaseProcess
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.parquet as pq
import pytest

from imgframe.errors import InvalidArgument, StoreBusyError
from imgframe.frame import frame_from_records
from imgframe.history import list_snapshots, read_snapshots, write_snapshot
from imgframe.history import lock as history_lock
from imgframe.history import write as history_write

DAY1, DAY2, DAY3 = date(2025, 6, 1), date(2025, 6, 2), date(2025, 6, 3)
WRITTEN = datetime(2025, 6, 1, 9, 0, tzinfo=UTC)
LOCK = ".imgframe.lock"
if "forkserver" in multiprocessing.get_all_start_methods():
    # Children fork from one server that imported this module once (fast, and no fork of
    # pytest's threads); spawning each one would import pandas and pyarrow every time.
    SPAWN = multiprocessing.get_context("forkserver")
    SPAWN.set_forkserver_preload([__name__])
else:
    SPAWN = multiprocessing.get_context("spawn")
#: How long a test waits for a child to reach a point: generous, it is never the expected path.
PATIENCE = 60.0


def snapshot(tag: str, zones: tuple[str, ...]) -> pd.DataFrame:
    """Three images per zone, every one named ``tag``: whose write a day holds is visible."""
    records = [
        {"imageId": f"img-{i}", "imageName": tag, "zoneId": zone}
        for zone in zones
        for i in range(3)
    ]
    return frame_from_records(records, fetched_at=WRITTEN)


def as_stored(df: pd.DataFrame, day: date) -> pd.DataFrame:
    out = df.reset_index(drop=True).copy()
    out.insert(0, "snapshot_date", pd.array([day] * len(out), dtype=pd.ArrowDtype(pa.date32())))
    out["snapshotAt"] = pd.Series([pd.Timestamp(WRITTEN)] * len(out), dtype="datetime64[us, UTC]")
    return out


def leftovers(store: Path) -> list[str]:
    return sorted(p.name for p in store.iterdir() if p.name.startswith(".") and p.name != LOCK)


# --------------------------------------------------------------------------------------------
# Writer processes. Each runs write_snapshot for real; the patches only slow it down, stop it
# at a chosen point (to be killed there) or note when it held the store.


def _race_writer(
    store: str,
    day: str,
    tag: str,
    zones: tuple[str, ...],
    go: Any,
    refused: dict[str, Any],
    results: Any,
) -> None:
    """Write when ``go`` is set. The first to get the store holds it until the other writer
    has been refused the lock once, so that the two really contend; report when it held the
    store, and whether it was refused (had to wait)."""
    real_recover, real_replace, real_try = (
        history_write._recover,
        history_write.replace_directory,
        history_lock._try_lock,
    )
    held: dict[str, float] = {}
    other = refused[next(t for t in refused if t != tag)]

    def try_lock(fd: int) -> bool:
        got = real_try(fd)
        if not got:
            refused[tag].set()
        return got

    def recover(root: Path) -> None:
        held["from"] = time.time()
        if not refused[tag].is_set():  # first in: wait for the other to knock
            other.wait(10)
        real_recover(root)

    def replace(*args: Any, **kwargs: Any) -> None:
        real_replace(*args, **kwargs)
        held["until"] = time.time()

    history_lock._try_lock = try_lock
    history_write._recover = recover
    history_write.replace_directory = replace
    frame = snapshot(tag, zones)
    go.wait(PATIENCE)
    try:
        write_snapshot(frame, store, snapshot_date=day, snapshot_at=WRITTEN, lock_timeout=PATIENCE)
    except Exception as exc:
        results.put((tag, f"{type(exc).__name__}: {exc}", 0.0, 0.0, refused[tag].is_set()))
    else:
        results.put((tag, "ok", held["from"], held["until"], refused[tag].is_set()))


def race(
    store: Path, plan: dict[str, tuple[str, tuple[str, ...]]], children: list[BaseProcess]
) -> dict[str, tuple[str, float, float, bool]]:
    """Two writers started together: ``{tag: (day, zones)}`` -> ``{tag: (outcome, held
    from, held until, was refused)}``."""
    go, results = SPAWN.Event(), SPAWN.Queue()
    refused = {tag: SPAWN.Event() for tag in plan}
    for tag, (day, zones) in plan.items():
        children.append(spawn(_race_writer, str(store), day, tag, zones, go, refused, results))
    go.set()
    outcomes = [results.get(timeout=PATIENCE) for _ in plan]
    return {tag: (status, start, end, waited) for tag, status, start, end, waited in outcomes}


def _stopping_writer(store: str, day: str, tag: str, where: str, inside: Any, release: Any) -> None:
    """Write, but stop at ``where`` (``"zone"``: before the second zone's file; ``"swap"``:
    between moving the old day aside and moving the new one in) until ``release`` is set."""
    real_write, real_rename = pq.write_table, os.rename
    writes = []

    def stop_here() -> None:
        inside.set()
        release.wait(PATIENCE)

    def write(*args: Any, **kwargs: Any) -> None:
        writes.append(1)
        if where == "zone" and len(writes) == 2:
            stop_here()
        real_write(*args, **kwargs)

    def rename(src: Any, dst: Any) -> None:
        real_rename(src, dst)
        if where == "swap" and Path(dst).parent.name.startswith(".trash-"):
            stop_here()

    pq.write_table = write
    os.rename = rename
    frame = snapshot(tag, ("asia-east-1a", "eu-west-1a", "na-west-1a"))
    write_snapshot(frame, store, snapshot_date=day, snapshot_at=WRITTEN)


def spawn(target: Callable[..., None], *args: Any) -> BaseProcess:
    process = SPAWN.Process(target=target, args=args, daemon=True)
    process.start()
    return process


@pytest.fixture
def children() -> Iterator[list[BaseProcess]]:
    """Processes a test starts; any still alive at its end are killed."""
    started: list[BaseProcess] = []
    yield started
    for process in started:
        if process.is_alive():
            process.kill()
        process.join(PATIENCE)


def stopped_writer(
    children: list[BaseProcess], store: Path, day: date, tag: str, where: str
) -> tuple[BaseProcess, Any]:
    """A writer process stopped at ``where`` with the lock held; returns it and its release."""
    inside, release = SPAWN.Event(), SPAWN.Event()
    process = spawn(_stopping_writer, str(store), day.isoformat(), tag, where, inside, release)
    children.append(process)
    assert inside.wait(PATIENCE), "the writer never reached its stopping point"
    return process, release


# --------------------------------------------------------------------------------------------
# Concurrent writers


def test_writers_of_one_day_take_turns_and_one_write_wins_whole(
    tmp_path: Path, children: list[BaseProcess]
) -> None:
    store = tmp_path / "store"
    zones = {
        "A": ("asia-east-1a", "eu-west-1a", "na-west-1a", "sa-north-1a"),
        "B": ("asia-east-1a", "asia-south-1a", "eu-west-1a", "na-west-1a"),
    }
    outcomes = race(store, {tag: ("2025-06-01", z) for tag, z in zones.items()}, children)

    assert {tag: o[0] for tag, o in outcomes.items()} == {"A": "ok", "B": "ok"}
    (_, first), (second, then) = sorted(outcomes.items(), key=lambda item: item[1][1])
    assert first[2] <= then[1], "the two writers held the store at the same time"
    assert (first[3], then[3]) == (False, True)  # the second one waited for the first
    # The day is the later write, whole: its zones, its names, nothing of the other.
    pd.testing.assert_frame_equal(
        read_snapshots(store), as_stored(snapshot(second, zones[second]), DAY1)
    )
    assert leftovers(store) == []


def test_writers_of_two_days_both_land_whole(tmp_path: Path, children: list[BaseProcess]) -> None:
    store = tmp_path / "store"
    old = snapshot("old", ("asia-east-1a",))
    write_snapshot(old, store, snapshot_date=DAY1, snapshot_at=WRITTEN)
    plan = {
        "A": ("2025-06-02", ("asia-east-1a", "eu-west-1a")),
        "B": ("2025-06-03", ("na-west-1a",)),
    }
    outcomes = race(store, plan, children)

    assert {tag: o[0] for tag, o in outcomes.items()} == {"A": "ok", "B": "ok"}
    assert sorted(o[3] for o in outcomes.values()) == [False, True]
    assert list_snapshots(store) == [DAY1, DAY2, DAY3]
    for tag, (day, zones) in plan.items():
        expected = as_stored(snapshot(tag, zones), date.fromisoformat(day))
        pd.testing.assert_frame_equal(read_snapshots(store, since=day, until=day), expected)
    pd.testing.assert_frame_equal(read_snapshots(store, until=DAY1), as_stored(old, DAY1))
    assert leftovers(store) == []


def test_threads_of_one_process_exclude_each_other(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # flock belongs to the open file, so two threads of one process are two writers too.
    inside, release = threading.Event(), threading.Event()
    real_write = pq.write_table

    def write(*args: Any, **kwargs: Any) -> None:
        if threading.current_thread().name == "holder":
            inside.set()
            release.wait(PATIENCE)
        real_write(*args, **kwargs)

    monkeypatch.setattr(pq, "write_table", write)
    holder = threading.Thread(
        target=write_snapshot,
        args=(snapshot("A", ("asia-east-1a",)), tmp_path),
        kwargs={"snapshot_date": DAY1},
        name="holder",
    )
    holder.start()
    try:
        assert inside.wait(PATIENCE)
        with pytest.raises(StoreBusyError, match=f"pid {os.getpid()} "):
            write_snapshot(snapshot("B", ("asia-east-1a",)), tmp_path, lock_timeout=0)
    finally:
        release.set()
        holder.join(PATIENCE)
    assert read_snapshots(tmp_path)["imageName"].tolist() == ["A"] * 3


# --------------------------------------------------------------------------------------------
# A busy store: fail at once, or wait


def test_busy_store_fails_at_once_names_the_holder_and_keeps_its_work(
    tmp_path: Path, children: list[BaseProcess]
) -> None:
    write_snapshot(
        snapshot("old", ("asia-east-1a",)), tmp_path, snapshot_date=DAY1, snapshot_at=WRITTEN
    )
    holder, release = stopped_writer(children, tmp_path, DAY2, "A", "zone")
    holder_record = json.loads((tmp_path / LOCK).read_text())

    with pytest.raises(StoreBusyError) as caught:
        write_snapshot(
            snapshot("B", ("asia-east-1a",)), tmp_path, snapshot_date=DAY2, lock_timeout=0
        )

    message = str(caught.value)
    assert message == (
        f"the snapshot store {tmp_path} is busy: another writer holds its lock .imgframe.lock "
        f"(pid {holder.pid} on {holder_record['host']}, since {holder_record['since']}, "
        "writing 2025-06-02); gave up without waiting (lock_timeout=0). Run again when it has "
        "finished, or wait longer (lock_timeout)"
    )
    assert "\n" not in message
    assert set(holder_record) == {"pid", "host", "since", "snapshot_date"}
    # The refused writer recovered nothing: the holder's half-written day is still there.
    staging = [p for p in tmp_path.iterdir() if p.name.startswith(".tmp-")]
    assert len(staging) == 1
    assert list((staging[0] / "snapshot_date=2025-06-02").iterdir())

    release.set()
    holder.join(PATIENCE)
    assert holder.exitcode == 0
    assert list_snapshots(tmp_path) == [DAY1, DAY2]
    assert read_snapshots(tmp_path, since=DAY2)["zoneId"].nunique() == 3
    assert (tmp_path / LOCK).read_bytes() == b""  # released: the file names nobody
    assert leftovers(tmp_path) == []


def test_a_waiting_writer_goes_once_the_holder_is_done(
    tmp_path: Path, children: list[BaseProcess]
) -> None:
    holder, release = stopped_writer(children, tmp_path, DAY1, "A", "zone")
    later = snapshot("B", ("eu-west-1a",))
    done: list[object] = []

    def wait_and_write() -> None:
        kwargs = {"snapshot_date": DAY1, "snapshot_at": WRITTEN, "lock_timeout": PATIENCE}
        done.append(write_snapshot(later, tmp_path, **kwargs))

    waiter = threading.Thread(target=wait_and_write)
    waiter.start()
    time.sleep(0.3)  # the waiter is polling for the lock by now
    assert not done  # and cannot be done while the holder is stopped mid-write
    release.set()
    holder.join(PATIENCE)
    waiter.join(PATIENCE)

    assert holder.exitcode == 0
    assert len(done) == 1
    # The waiter wrote after the holder finished: its day replaced the holder's, whole.
    pd.testing.assert_frame_equal(read_snapshots(tmp_path), as_stored(later, DAY1))


def test_busy_message_without_a_holder_record(tmp_path: Path) -> None:
    fcntl = pytest.importorskip("fcntl")
    fd = os.open(tmp_path / LOCK, os.O_RDWR | os.O_CREAT)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)  # another program holding the lock, saying nothing
        with pytest.raises(StoreBusyError) as caught:
            write_snapshot(snapshot("A", ("asia-east-1a",)), tmp_path, lock_timeout=0.05)
    finally:
        os.close(fd)
    assert str(caught.value) == (
        f"the snapshot store {tmp_path} is busy: another writer holds its lock .imgframe.lock; "
        "gave up after 0.05s. Run again when it has finished, or wait longer (lock_timeout)"
    )
    assert [p.name for p in tmp_path.iterdir()] == [LOCK]


@pytest.mark.parametrize("timeout", [-1, math.nan, "5", True, None])
def test_lock_timeout_must_be_seconds(tmp_path: Path, timeout: Any) -> None:
    with pytest.raises(InvalidArgument, match="lock_timeout must be a number of seconds >= 0"):
        write_snapshot(snapshot("A", ("asia-east-1a",)), tmp_path, lock_timeout=timeout)
    assert list(tmp_path.iterdir()) == []


# --------------------------------------------------------------------------------------------
# Writers killed mid-write


def killed_writer(children: list[BaseProcess], store: Path, where: str) -> pd.DataFrame:
    """A store whose day 1 a writer was killed (SIGKILL) rewriting at ``where``; returns the
    day as it was before."""
    old = snapshot("old", ("asia-east-1a", "eu-west-1a"))
    write_snapshot(old, store, snapshot_date=DAY1, snapshot_at=WRITTEN)
    holder, _ = stopped_writer(children, store, DAY1, "A", where)
    holder.kill()
    holder.join(PATIENCE)
    assert holder.exitcode == -signal.SIGKILL
    # Its lock died with it; its record of holding it is still in the file.
    assert json.loads((store / LOCK).read_text())["pid"] == holder.pid
    return old


def next_writer_goes_at_once_and_recovers(store: Path, old: pd.DataFrame) -> None:
    new = snapshot("B", ("na-west-1a",))
    write_snapshot(new, store, snapshot_date=DAY2, snapshot_at=WRITTEN, lock_timeout=0)
    assert list_snapshots(store) == [DAY1, DAY2]
    pd.testing.assert_frame_equal(read_snapshots(store, until=DAY1), as_stored(old, DAY1))
    assert leftovers(store) == []


def test_writer_killed_mid_write_leaves_the_previous_day_and_does_not_block(
    tmp_path: Path, children: list[BaseProcess]
) -> None:
    old = killed_writer(children, tmp_path, "zone")

    # Readers see the previous day whole; the dead writer's work is invisible to them.
    pd.testing.assert_frame_equal(read_snapshots(tmp_path), as_stored(old, DAY1))
    assert ds.dataset(tmp_path, format="parquet", partitioning="hive").count_rows() == 6
    assert [p.name[:5] for p in tmp_path.iterdir() if p.name.startswith(".tmp-")] == [".tmp-"]
    next_writer_goes_at_once_and_recovers(tmp_path, old)


def test_writer_killed_between_the_two_moves_is_put_back_by_the_next(
    tmp_path: Path, children: list[BaseProcess]
) -> None:
    old = killed_writer(children, tmp_path, "swap")

    # The old day sits in the trash, the new one in staging: readers see neither, never half.
    names = sorted(p.name.split("-")[0] for p in tmp_path.iterdir())
    assert names == [".imgframe.lock", ".tmp", ".trash"]
    assert list_snapshots(tmp_path) == []
    assert len(read_snapshots(tmp_path)) == 0
    next_writer_goes_at_once_and_recovers(tmp_path, old)


@pytest.mark.parametrize(
    ("work", "live_day", "expected_days"),
    [
        # killed between the two moves: the old day goes back
        (".trash-x/snapshot_date=2025-06-01", False, [DAY1]),
        # killed after the swap, before deleting the old copy: the new day stays
        (".trash-x/snapshot_date=2025-06-01", True, [DAY1]),
        # killed while writing the new day: nothing of it stays
        (".tmp-x/snapshot_date=2025-06-02", False, []),
    ],
    ids=["between-moves", "after-swap", "while-staging"],
)
def test_recovery_of_each_crash_point(
    tmp_path: Path, work: str, live_day: bool, expected_days: list[date]
) -> None:
    if live_day:  # first: a write recovers what it finds
        write_snapshot(snapshot("live", ("eu-west-1a",)), tmp_path, snapshot_date=DAY1)
    scratch = tmp_path / "scratch"
    write_snapshot(snapshot("aside", ("asia-east-1a",)), scratch, snapshot_date=DAY1)
    (tmp_path / work).parent.mkdir(parents=True)
    os.rename(scratch / "snapshot_date=2025-06-01", tmp_path / work)
    shutil.rmtree(scratch)
    (tmp_path / ".tmp-stray-file").write_text("a crashed run's temporary file")

    write_snapshot(
        snapshot("next", ("na-west-1a",)), tmp_path, snapshot_date=DAY3, snapshot_at=WRITTEN
    )

    assert list_snapshots(tmp_path) == [*expected_days, DAY3]
    if expected_days:
        names = read_snapshots(tmp_path, until=DAY1)["imageName"].unique().tolist()
        assert names == (["live"] if live_day else ["aside"])
    assert leftovers(tmp_path) == []


# --------------------------------------------------------------------------------------------
# The lock file


def test_lock_file_is_invisible_to_every_reader(tmp_path: Path) -> None:
    duckdb = pytest.importorskip("duckdb")
    write_snapshot(snapshot("A", ("asia-east-1a",)), tmp_path, snapshot_date=DAY1)
    (tmp_path / LOCK).write_text('{"pid": 1, "host": "h", "since": "s", "snapshot_date": "d"}\n')

    assert list_snapshots(tmp_path) == [DAY1]
    assert len(read_snapshots(tmp_path)) == 3
    assert ds.dataset(tmp_path, format="parquet", partitioning="hive").count_rows() == 3
    glob = f"{tmp_path.as_posix()}/*/*/*.parquet"
    assert duckdb.sql(
        f"SELECT count(*) FROM read_parquet('{glob}', hive_partitioning = true)"
    ).fetchall() == [(3,)]
    assert sorted(p.relative_to(tmp_path).as_posix() for p in tmp_path.glob("*/*/*.parquet")) == [
        "snapshot_date=2025-06-01/zoneId=asia-east-1a/part-0.parquet"
    ]


def test_lock_file_names_nobody_once_released_and_keeps_its_mode(tmp_path: Path) -> None:
    write_snapshot(snapshot("A", ("asia-east-1a",)), tmp_path, snapshot_date=DAY1)
    write_snapshot(snapshot("B", ("asia-east-1a",)), tmp_path, snapshot_date=DAY1)
    lock = tmp_path / LOCK
    assert lock.read_bytes() == b""
    if sys.platform != "win32":
        umask = os.umask(0)
        os.umask(umask)
        assert lock.stat().st_mode & 0o777 == 0o666 & ~umask
