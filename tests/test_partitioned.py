"""The audit partitioned by order equals one run over everything, file for file.

Reference: the unpartitioned steps (read the whole source, ``validate_tables``,
``run_rules``) writing findings.csv, kpis.csv and quarantine.csv. The partitioned engine
must write the same bytes, for CSV and Parquet folders and SQLite, for any partition count,
sequentially and on a Dask cluster of separate OS processes (a scheduler and workers started
with the ``dask`` command), also when a worker is killed in the middle of a run.

The edge cases are hand-made: a refund id under two orders that hash to different
partitions (versions and duplicates must still be seen), a message id shared the same way,
an orphan refund, a duplicated address book entry (counted once), a shop whose orders span
partitions (its KPIs summed, not averaged).
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pandas as pd
import pytest
from factories import address, message, order, refund, tables

from checks.audit import run_rules
from checks.profiles import load_profiles, timezones
from checks.result import AuditResult
from flows.partitioned import (
    DaskExecutor,
    Options,
    PartitionFailed,
    ProcessExecutor,
    SequentialExecutor,
    default_executor,
    run_part,
    run_partitioned,
)
from reports.outputs import write_csvs
from schemas.validate import validate_tables
from sources.base import open_source
from sources.generate import generate_tables
from sources.writers import write_csv_folder, write_parquet_folder, write_sqlite

AS_OF = pd.Timestamp("2026-11-20T02:00:00+08:00").tz_convert("UTC")
P = load_profiles()
TZ = timezones(P)
FILES = ("findings.csv", "kpis.csv", "quarantine.csv")
ROOT = Path(__file__).resolve().parents[1]


def _write(out: Path, counts, quarantine, findings, kpis) -> Path:
    write_csvs(AuditResult(run={}, findings=findings, kpis=kpis, quarantine=quarantine,
                           counts=counts, catalog=[], timezones=TZ, shops=None), out)
    return out


def whole_run(uri: str, out: Path) -> tuple[Path, dict, list[str]]:
    """The unpartitioned reference: everything in one frame."""
    v = validate_tables(open_source(uri).read(), TZ)
    o = run_rules(v.tables, P, AS_OF, 30, 24)
    (out / "owners.csv").parent.mkdir(parents=True, exist_ok=True)
    v.quarantine.to_csv(out / "owners.csv", index=False)  # with each row's platform, shop
    return _write(out, v.counts, v.quarantine, o.findings, o.kpis), v.counts, v.warnings


def part_run(uri: str, out: Path, n: int, executor=None):
    m = run_partitioned(uri, Options(P, TZ, AS_OF), n, executor)
    _write(out, m.validated.counts, m.validated.quarantine, m.outcome.findings,
           m.outcome.kpis)
    return m


def same_files(a: Path, b: Path) -> None:
    for f in FILES:
        assert (a / f).read_bytes() == (b / f).read_bytes(), f


@pytest.fixture(scope="module")
def generated(tmp_path_factory) -> dict[str, str]:
    """Generated data with dirty rows, refund versions, copies and duplicate keys, in the
    three file-like source kinds."""
    root = tmp_path_factory.mktemp("gen")
    raw = generate_tables(3000, seed=11, as_of=AS_OF)
    write_csv_folder(raw, root / "csv")
    write_parquet_folder(raw, root / "pq")
    write_sqlite(raw, root / "db.sqlite")
    return {"csv": str(root / "csv"), "parquet": str(root / "pq"),
            "sqlite": f"sqlite:///{root / 'db.sqlite'}"}


@pytest.fixture(scope="module")
def reference(generated, tmp_path_factory) -> dict[str, tuple[Path, dict, list[str]]]:
    root = tmp_path_factory.mktemp("ref")
    return {k: whole_run(uri, root / k) for k, uri in generated.items()}


@pytest.mark.parametrize("kind,n", [("csv", 1), ("csv", 4), ("parquet", 3), ("sqlite", 3)])
def test_partitioned_writes_the_same_bytes(generated, reference, tmp_path, kind, n):
    ref, counts, warnings = reference[kind]
    # the data is dirty: there is something to quarantine, supersede and find
    assert counts["refunds"]["superseded"] > 0 and counts["orders"]["quarantined"] > 0
    assert len((ref / "findings.csv").read_bytes().splitlines()) > 100
    m = part_run(generated[kind], tmp_path / "p", n)
    same_files(ref, tmp_path / "p")
    # the quarantine rows' owners (the shop pages' quarantine sections) too
    assert m.validated.quarantine.to_csv(index=False) == (ref / "owners.csv").read_text()
    assert m.validated.counts == counts
    assert m.validated.warnings == warnings
    assert m.partitions == n


@pytest.mark.slow
@pytest.mark.parametrize("n", [2, 7, 16])
def test_partitioned_any_count_csv(generated, reference, tmp_path, n):
    part_run(generated["csv"], tmp_path / "p", n)
    same_files(reference["csv"][0], tmp_path / "p")


# ------------------------------------------------------------------ hand-made edge cases


def _part(order_id: str, n: int) -> int:
    """The partition a plain hash sends a folder's order to: 64-bit FNV-1a of the id's
    UTF-8 bytes, mod n (written out here, independently of the engine)."""
    h = 0xCBF29CE484222325
    for b in order_id.encode():
        h = ((h ^ b) * 0x100000001B3) % 2**64
    return h % n


def _ids_in_different_partitions(n: int, count: int) -> list[str]:
    out, seen = [], set()
    for i in range(1, 1000):
        oid = f"O{i}"
        if _part(oid, n) not in seen:
            seen.add(_part(oid, n))
            out.append(oid)
        if len(out) == count:
            return out
    raise AssertionError("no such ids")


def _run_both(raw: dict, tmp_path: Path, n: int):
    src = write_csv_folder({k: v for k, v in raw.items() if v is not None}, tmp_path / "src")
    ref, counts, _ = whole_run(str(src), tmp_path / "whole")
    m = part_run(str(src), tmp_path / "part", n)
    same_files(ref, tmp_path / "part")
    assert m.validated.counts == counts
    return m


def test_refund_id_under_two_orders_in_different_partitions(tmp_path):
    """R1 under order a (older version) and under order b (newer); R2 under a and c with
    the same updated_at: the older R1 is superseded, both R2 rows are duplicate keys. Seen
    only if the rows meet in one partition."""
    a, b, c = _ids_in_different_partitions(3, 3)
    raw = tables(
        orders=[order(order_id=a), order(order_id=b), order(order_id=c)],
        refunds=[refund(refund_id="R1", order_id=a, updated_at="2026-11-05T12:00:00+08:00"),
                 refund(refund_id="R1", order_id=b, updated_at="2026-11-06T12:00:00+08:00"),
                 refund(refund_id="R2", order_id=a), refund(refund_id="R2", order_id=c)])
    m = _run_both(raw, tmp_path, 3)
    assert m.validated.counts["refunds"] == {"read": 4, "valid": 1, "quarantined": 2,
                                             "superseded": 1}
    q = m.validated.quarantine
    dup = q[(q["table"] == "refunds") & (q["check"] == "duplicate_key")]
    assert dup["row_key"].tolist() == ["R2 (row 3)", "R2 (row 4)"]
    assert m.info["linked_groups"] == 1  # a, b and c linked into one group


def test_message_id_shared_by_two_orders_and_an_orphan_refund(tmp_path):
    a, b = _ids_in_different_partitions(2, 2)
    raw = tables(
        orders=[order(order_id=a), order(order_id=b)],
        refunds=[refund(refund_id="R1", order_id=a), refund(refund_id="R9", order_id="GONE")],
        messages=[message(message_id="M1", order_id=a), message(message_id="M1", order_id=b),
                  message(message_id="M2", order_id=b)])
    m = _run_both(raw, tmp_path, 2)
    assert m.validated.counts["messages"] == {"read": 3, "valid": 1, "quarantined": 2,
                                              "superseded": 0}
    assert m.validated.counts["refunds"] == {"read": 2, "valid": 1, "quarantined": 1,
                                             "superseded": 0}
    q = m.validated.quarantine
    assert q[q["table"] == "refunds"][["row_key", "check"]].values.tolist() == [
        ["R9", "missing_order"]]


def test_address_book_duplicates_are_counted_once(tmp_path):
    ids = _ids_in_different_partitions(4, 4)
    raw = tables(orders=[order(order_id=i) for i in ids],
                 addresses=[address(), address(address_id="A2", city="杭州市"),
                            address(address_id="A2", city="苏州市")])
    m = _run_both(raw, tmp_path, 4)
    assert m.validated.counts["return_addresses"] == {"read": 3, "valid": 1,
                                                      "quarantined": 2, "superseded": 0}
    q = m.validated.quarantine
    assert (q["table"] == "return_addresses").sum() == 2


def test_a_shop_spanning_partitions_has_its_kpis_summed(tmp_path):
    """Shop S1: 4 orders paid in the window, one in each partition; one refund escalated
    and ruled seller-liable: dispute rate 1 / 4 = 0.25, intervention rate 1 / 4."""
    ids = _ids_in_different_partitions(4, 4)
    raw = tables(
        orders=[order(order_id=i) for i in ids],
        refunds=[refund(refund_id="R1", order_id=ids[2], escalated_at="2026-11-06T10:00:00+08:00",
                        escalation_response_at="2026-11-06T11:00:00+08:00",
                        ruling="seller_liable", ruled_at="2026-11-07T10:00:00+08:00")])
    m = _run_both(raw, tmp_path, 4)
    k = m.outcome.kpis.set_index("metric")
    assert k.loc["dispute_refund_rate", ["numerator", "denominator", "value"]].tolist() == [
        1.0, 4.0, 0.25]
    assert k.loc["intervention_rate", ["numerator", "denominator", "value"]].tolist() == [
        1.0, 4.0, 0.25]
    assert len(m.outcome.kpis) == len(k.index.unique())  # one row per metric, not per part


def test_a_failing_task_is_a_clear_error_not_a_partial_result():
    """A partition that raises on the cluster (after its retry) stops the run."""
    with pytest.raises(PartitionFailed, match="Partition 1 of 1 could not be audited"):
        DaskExecutor(workers=1, retries=1).map(max, None, [0], None, None)


# ------------------------------------------------------------------ parallel on this machine


def test_parallel_run_writes_the_same_bytes_as_the_sequential_run(generated, reference,
                                                                  tmp_path):
    """The default of a partitioned run on a machine with two cores or more: the partitions
    on Dask's multiprocessing scheduler, in worker processes of their own. Same bytes as
    one partition after another, and as one run over everything."""
    import multiprocessing

    seq = part_run(generated["csv"], tmp_path / "seq", 4, SequentialExecutor())
    par = part_run(generated["csv"], tmp_path / "par", 4, ProcessExecutor(workers=2))
    same_files(tmp_path / "seq", tmp_path / "par")
    same_files(reference["csv"][0], tmp_path / "par")
    assert par.validated.quarantine.to_csv(index=False) == \
        seq.validated.quarantine.to_csv(index=False)
    assert par.validated.counts == seq.validated.counts
    assert par.validated.warnings == seq.validated.warnings
    assert par.info["executor"] == "processes" and par.info["workers"] == 2
    # the partitions really ran in other processes than this one, two at a time
    assert par.info["pid"] == os.getpid()
    assert multiprocessing.active_children() == []  # the pool is gone after the run


def test_parallel_partitions_run_in_worker_processes(generated):
    """Each partition is audited in a worker process, not here, and two workers share
    the four partitions."""
    pids = ProcessExecutor(workers=2).map(_pid_of_partition, None, [0, 1, 2, 3], None, None)
    assert [k for k, _ in pids] == [0, 1, 2, 3]
    workers = {pid for _, pid in pids}
    assert os.getpid() not in workers
    assert len(workers) == 2


def _pid_of_partition(source, k, book, o):
    time.sleep(0.5)  # long enough for the second worker to take the next partition
    return k, os.getpid()


def _fail_on_two(source, k, book, o):
    if k == 2:
        raise ValueError("partition two is broken")
    return k


def test_a_failing_partition_in_a_worker_process_stops_the_run():
    with pytest.raises(PartitionFailed, match="partition two is broken"):
        ProcessExecutor(workers=2).map(_fail_on_two, None, [0, 1, 2, 3], None, None)


def test_workers_started_early_are_stopped_when_the_run_stops_early():
    """``start`` forks the workers before the routing pass; a run that stops before the
    partitions (unusable input, a lost spill file) must not leave them behind."""
    import multiprocessing

    ex = ProcessExecutor(workers=2)
    ex.start()
    assert len(multiprocessing.active_children()) == 2
    ex.close()
    assert multiprocessing.active_children() == []


# What every partition builds alike is built once, before the workers are forked. Observed
# in real forked workers: each load of PC002's lexicon or wording model, of the divisions
# look-ups and each business calendar built is noted with the process id in a file that
# every process of the run appends to; so is each partition audited.


def _note(what: str) -> None:
    with open(os.environ["PARTITIONED_TEST_NOTES"], "a", encoding="utf-8") as fh:
        fh.write(f"{os.getpid()} {what}\n")


def _noted_run_part(source, k, book, o):
    _note(f"partition {k}")
    return run_part(source, k, book, o)


def _observed_parallel_run(generated, tmp_path, monkeypatch) -> tuple[dict, set[int]]:
    """A parallel run of the generated CSV folder (4 partitions, 2 forked workers) with
    every process's loads noted, this process starting with none of them built. Returns
    {pid: [what it loaded or audited, ...]} and the pids that audited a partition."""
    import flows.partitioned as fp
    from checks import address_quality, clock, disk_cache, return_address, tone, tone_model

    notes = tmp_path / "notes.txt"
    monkeypatch.setenv("PARTITIONED_TEST_NOTES", str(notes))
    real_cache_load, real_model_load = disk_cache.load, tone_model.load
    real_exceptions = clock._exceptions

    def cache_load(name, key):
        _note(f"load {name}")
        return real_cache_load(name, key)

    def model_load(*args, **kwargs):
        _note("load model")
        return real_model_load(*args, **kwargs)

    def calendar(name, first_year, last_year):
        _note(f"calendar {name} {first_year}-{last_year}")
        return real_exceptions(name, first_year, last_year)

    monkeypatch.setattr(disk_cache, "load", cache_load)
    monkeypatch.setattr(tone_model, "load", model_load)
    monkeypatch.setattr(clock, "_exceptions", calendar)
    monkeypatch.setattr(fp, "run_part", _noted_run_part)
    # nor the verdicts on the address book an earlier audit in this process memoised
    monkeypatch.setattr(return_address, "_BOOK_MEMO", {})
    for cached in (tone._shipped, tone_model.shipped, address_quality._divisions,
                   clock._build):
        cached.cache_clear()
    part_run(generated["csv"], tmp_path / "par", 4, ProcessExecutor(workers=2))
    by_pid: dict[int, list[str]] = {}
    for line in notes.read_text(encoding="utf-8").splitlines():
        pid, what = line.split(" ", 1)
        by_pid.setdefault(int(pid), []).append(what)
    workers = {pid for pid, seen in by_pid.items()
               if any(w.startswith("partition ") for w in seen)}
    return by_pid, workers


def test_the_workers_inherit_what_every_partition_builds_alike(generated, reference,
                                                                tmp_path, monkeypatch):
    """The lexicon, the wording model, the divisions look-ups and the business calendars
    are built once, in the run's process before it forks, and no worker builds them again;
    the outputs are the same bytes."""
    by_pid, workers = _observed_parallel_run(generated, tmp_path, monkeypatch)
    here = os.getpid()
    assert workers and here not in workers  # the four partitions ran in forked workers
    assert sorted(w for pid in workers for w in by_pid[pid]) == \
        ["partition 0", "partition 1", "partition 2", "partition 3"]  # and built nothing
    # Here: each once. The profiles' calendars are CN (jd_worldwide, tmall, tmall_global)
    # and US (amazon_us, ebay_us), built over the default years 2000-2035.
    assert sorted(by_pid[here]) == ["calendar CN 2000-2035", "calendar US 2000-2035",
                                    "load divisions", "load lexicon", "load model"]
    same_files(reference["csv"][0], tmp_path / "par")


def test_without_the_warm_up_each_worker_builds_its_own(generated, tmp_path, monkeypatch):
    """The control of the test above: the same run with the warm-up turned off. Every
    worker then loads the lexicon, the model and the divisions itself, once (on its first
    partition), and so does the observation see it."""
    import flows.partitioned as fp

    monkeypatch.setattr(fp, "warm_caches", lambda o: None)
    by_pid, workers = _observed_parallel_run(generated, tmp_path, monkeypatch)
    assert workers and os.getpid() not in workers
    for pid in workers:
        loads = sorted(w for w in by_pid[pid] if w.startswith("load "))
        assert loads == ["load divisions", "load lexicon", "load model"]
    assert not any(w.startswith("load ") for w in by_pid.get(os.getpid(), []))


def test_the_default_executor(monkeypatch, tmp_path):
    """In parallel by default when the run is partitioned and two cores are usable (not
    with one core or one partition); one partition after another with
    REFUND_AUDIT_PARALLEL=false."""
    import flows.partitioned as fp

    monkeypatch.chdir(tmp_path)  # no .env of the checkout
    monkeypatch.delenv("REFUND_AUDIT_PARALLEL", raising=False)
    monkeypatch.setattr(fp, "usable_cores", lambda: 2)
    ex = default_executor(4)
    assert isinstance(ex, ProcessExecutor) and ex.workers == 2
    monkeypatch.setenv("REFUND_AUDIT_PARALLEL", "true")
    ex = default_executor(4)
    assert isinstance(ex, ProcessExecutor) and ex.workers == 2
    monkeypatch.setattr(fp, "usable_cores", lambda: 8)
    assert default_executor(3).workers == 3  # never more workers than partitions
    assert isinstance(default_executor(1), SequentialExecutor)
    monkeypatch.setattr(fp, "usable_cores", lambda: 1)
    assert isinstance(default_executor(4), SequentialExecutor)
    monkeypatch.setattr(fp, "usable_cores", lambda: 2)
    for off in ("false", "0", "no", "off", "False"):
        monkeypatch.setenv("REFUND_AUDIT_PARALLEL", off)
        assert isinstance(default_executor(4), SequentialExecutor), off
    monkeypatch.setenv("REFUND_AUDIT_PARALLEL", "true")
    assert isinstance(default_executor(4), ProcessExecutor)


# ------------------------------------------------------------------ a real Dask cluster


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _dask(*args: str) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    exe = Path(sys.executable).with_name("dask")
    return subprocess.Popen([str(exe), *args], env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True)


@pytest.fixture
def cluster():
    """A scheduler and two single-threaded workers, each its own OS process (no nanny:
    killing the process kills the worker)."""
    from distributed import Client

    port = _free_port()
    address = f"tcp://127.0.0.1:{port}"
    procs = [_dask("scheduler", "--host", "127.0.0.1", "--port", str(port),
                   "--no-dashboard")]
    workers = []
    try:
        time.sleep(1.0)
        for i in range(2):
            w = _dask("worker", address, "--nthreads", "1", "--no-nanny", "--no-dashboard",
                      "--host", "127.0.0.1", "--name", f"w{i}")
            procs.append(w)
            workers.append(w)
        with Client(address, timeout="30s") as c:
            c.wait_for_workers(2, timeout=60)
        yield address, workers
    finally:
        for p in procs:
            if p.poll() is None:
                os.killpg(p.pid, signal.SIGTERM)
        for p in procs:
            try:
                p.wait(timeout=5)
            except subprocess.TimeoutExpired:
                os.killpg(p.pid, signal.SIGKILL)


@pytest.mark.slow
def test_cluster_run_equals_single_process_run_byte_for_byte(generated, reference, cluster,
                                                             tmp_path):
    address, _ = cluster
    seq = part_run(generated["csv"], tmp_path / "seq", 4)
    dask = part_run(generated["csv"], tmp_path / "dask", 4, DaskExecutor(address=address))
    same_files(tmp_path / "seq", tmp_path / "dask")
    same_files(reference["csv"][0], tmp_path / "dask")
    assert dask.validated.counts == seq.validated.counts
    assert dask.info["executor"] == "dask" and dask.info["workers"] == 2


@pytest.mark.slow
def test_a_worker_killed_mid_run_changes_nothing(generated, reference, cluster, tmp_path):
    """SIGKILL to a worker while it runs a partition: the scheduler runs that partition
    again on the other worker; the outputs are the same bytes."""
    from distributed import Client

    address, workers = cluster
    victim = workers[0]
    killed: dict = {}

    def kill_when_busy() -> None:
        with Client(address, timeout="30s") as c:
            deadline = time.time() + 60
            while time.time() < deadline:
                for w, info in c.scheduler_info()["workers"].items():
                    if info.get("name") == "w0" and c.processing().get(w):
                        time.sleep(0.3)  # inside the task
                        os.kill(victim.pid, signal.SIGKILL)
                        killed["at"] = time.time()
                        killed["task"] = list(c.processing()[w])
                        return
                time.sleep(0.05)

    t = threading.Thread(target=kill_when_busy)
    t.start()
    m = part_run(generated["csv"], tmp_path / "dask", 6, DaskExecutor(address=address))
    done = time.time()
    t.join()
    assert killed, "the worker was never busy"
    assert victim.wait(timeout=10) == -signal.SIGKILL
    assert done > killed["at"]
    same_files(reference["csv"][0], tmp_path / "dask")
    assert m.partitions == 6


# ------------------------------------------------------------------ PostgreSQL push-down


PG_URL = os.environ.get(
    "REFUND_AUDIT_TEST_PG_URL",
    "postgresql+psycopg://refund_audit:refund_audit@127.0.0.1:5432/refund_audit_partition")


@pytest.mark.parametrize("typed", [False, True], ids=["text-dirty", "timestamptz-window"])
def test_postgres_partition_push_down(tmp_path, typed):
    """Dirty data in TEXT columns (read in full), and clean data with timestamptz columns
    (the audit window pushed down too): each partition's rows filtered by the server, the
    merged outputs the same bytes as one unpartitioned read. A refund whose order id
    carries spaces, and a refund id under two orders, test the override table."""
    from sources.loader import load_into_postgres

    raw = generate_tables(800, seed=5, as_of=AS_OF, dirty=not typed)
    o = raw["orders"]["order_id"]
    a, b = o.iloc[10], o.iloc[11]
    extra = pd.DataFrame([raw["refunds"].iloc[0].to_dict(), raw["refunds"].iloc[1].to_dict()])
    extra["refund_id"] = ["XR1", "XR1"]
    extra["order_id"] = [f"  {a} ", b]
    extra["updated_at"] = ["2026-11-05T12:00:00+08:00", "2026-11-06T12:00:00+08:00"]
    extra["requested_at"] = "2026-11-05T10:00:00+08:00"  # in the window
    raw["refunds"] = pd.concat([raw["refunds"], extra], ignore_index=True)
    schema = "typed" if typed else "dirty"
    load_into_postgres(raw, PG_URL, schema, timestamps="timestamptz" if typed else "text")
    uri = PG_URL
    window = (AS_OF - pd.Timedelta(days=30), AS_OF) if typed else None
    from sources.postgres import PostgresSource

    src = PostgresSource(uri, schema=schema, window=window)
    v = validate_tables(src.read(), TZ)
    assert src.last_read["pushdown"] is typed
    oc = run_rules(v.tables, P, AS_OF, 30, 24)
    ref = _write(tmp_path / "whole", v.counts, v.quarantine, oc.findings, oc.kpis)
    for n in (1, 3):
        m = run_partitioned(uri, Options(P, TZ, AS_OF), n, pg_schema=schema, window=window)
        _write(tmp_path / f"p{n}", m.validated.counts, m.validated.quarantine,
               m.outcome.findings, m.outcome.kpis)
        same_files(ref, tmp_path / f"p{n}")
        assert m.validated.counts == v.counts
        assert m.info["linked_groups"] >= 1  # XR1's two orders kept together
    assert v.counts["refunds"]["superseded"] >= 1  # the older XR1


def test_a_lost_partition_file_stops_the_run(generated):
    """Rows that no partition read (here: a spill file deleted before the partitions run)
    are never a silently smaller audit."""
    from flows.partitioned import SequentialExecutor

    class Lossy(SequentialExecutor):
        def map(self, fn, source, ks, book, o):
            next(iter(sorted(source.spill.glob("refunds.*.arrow")))).unlink()
            return super().map(fn, source, ks, book, o)

    with pytest.raises(PartitionFailed, match=r"did not read every row \(refunds: \d+ of "):
        run_partitioned(generated["csv"], Options(P, TZ, AS_OF), 3, Lossy())


def test_orphan_warning_and_no_valid_order_are_judged_over_the_whole_source(tmp_path):
    """3 of 4 refunds without an order (75 %): one warning with the whole source's counts,
    though each partition alone sees other shares. With every order invalid: the run is
    unusable, as one run over everything says."""
    ids = _ids_in_different_partitions(3, 3)
    raw = tables(orders=[order(order_id=ids[0])],
                 refunds=[refund(refund_id="R1", order_id=ids[0]),
                          refund(refund_id="R2", order_id=ids[1]),
                          refund(refund_id="R3", order_id=ids[2]),
                          refund(refund_id="R4", order_id="NOPE")])
    m = _run_both(raw, tmp_path / "a", 3)
    assert [w for w in m.validated.warnings if "have no valid order" in w] == [
        "3 of 4 refunds (75%) have no valid order (missing_order or order_quarantined in "
        "quarantine.csv) and were not audited: the orders export looks incomplete or broken."]
    assert m.validated.unusable is None
    bad = tables(orders=[order(order_id=ids[0], amount="x"), order(order_id=ids[1], amount="y")],
                 refunds=[refund(refund_id="R1", order_id=ids[0])])
    src = write_csv_folder(bad, tmp_path / "b")
    whole = validate_tables(open_source(str(src)).read(), TZ)
    m = run_partitioned(str(src), Options(P, TZ, AS_OF), 3)
    assert whole.unusable.startswith("Every order was quarantined (2 row(s))")
    assert m.validated.unusable == whole.unusable


# ------------------------------------------------------------------ through the flow


@pytest.fixture(scope="module", autouse=False)
def _drain_prefect_logs():
    yield
    if "prefect.logging.handlers" in sys.modules:
        from prefect.logging.handlers import APILogWorker

        APILogWorker.drain_all(timeout=5)


def _flow(source: str, out: Path, **kw):
    from prefect.context import refresh_global_settings_context

    refresh_global_settings_context()
    from flows.audit import audit

    return audit(source=source, out=str(out), as_of=AS_OF.isoformat(), return_state=True,
                 **kw)


@pytest.mark.prefect
def test_the_flow_partitioned_writes_what_it_writes_whole(generated, tmp_path,
                                                          _drain_prefect_logs):
    import json

    whole = _flow(generated["csv"], tmp_path / "h1" / "whole", partitions=1)
    parts = _flow(generated["csv"], tmp_path / "h2" / "parts", partitions=3)
    assert whole.is_completed(), whole.message
    assert parts.is_completed(), parts.message
    same_files(tmp_path / "h1" / "whole", tmp_path / "h2" / "parts")
    r1, r2 = (json.loads((d / "run.json").read_text(encoding="utf-8"))
              for d in (tmp_path / "h1" / "whole", tmp_path / "h2" / "parts"))
    assert r1["counts"] == r2["counts"] and r1["findings"] == r2["findings"]
    assert r1["warnings"] == r2["warnings"]
    assert "partitioned" in r2["timings"] and "partitioned" not in r1["timings"]
    assert (tmp_path / "h2" / "parts" / "report.html").exists()


@pytest.mark.prefect
@pytest.mark.slow
def test_the_flow_on_a_local_dask_cluster(generated, tmp_path, _drain_prefect_logs):
    one = _flow(generated["csv"], tmp_path / "a" / "x", partitions=1)
    dask = _flow(generated["csv"], tmp_path / "b" / "x", workers=2)
    assert one.is_completed() and dask.is_completed(), dask.message
    same_files(tmp_path / "a" / "x", tmp_path / "b" / "x")


def test_kpi_merge_sums_numerators_and_denominators_never_rates():
    """Shop S1 in two partitions: disputes 1 of 4 and 0 of 0 → 1 / 4 = 0.25 (averaging the
    rates would give 0.25 or NaN, averaging 1/4 and 1/1 would give 0.625); S2: 0 of 0 in
    both → empty value and status; refusals 2 + 3 = 5 against a threshold of 0 → breach;
    intervention 1 of 100 + 0 of 100 = 0.005 against 0.01 → ok (below 0.8 × 0.01)."""
    from checks.partition import merge_kpis

    def row(shop, metric, n, d, thr, better="lower"):
        return {"platform": "tmall", "shop_id": shop, "metric": metric, "value": None,
                "threshold": thr, "status": "", "better": better, "numerator": n,
                "denominator": d}

    nan = float("nan")
    a = pd.DataFrame([row("S1", "dispute_refund_rate", 1.0, 4.0, 0.001),
                      row("S1", "intervention_rate", 1.0, 100.0, 0.01),
                      row("S1", "seven_day_refusals", 2.0, nan, 0.0),
                      row("S2", "dispute_refund_rate", 0.0, 0.0, 0.001)])
    b = pd.DataFrame([row("S1", "dispute_refund_rate", 0.0, 0.0, 0.001),
                      row("S1", "intervention_rate", 0.0, 100.0, 0.01),
                      row("S1", "seven_day_refusals", 3.0, nan, 0.0),
                      row("S2", "dispute_refund_rate", 0.0, 0.0, 0.001)])
    k = merge_kpis([a, b])
    got = {(r.shop_id, r.metric): (r.numerator, r.denominator, r.value, r.status)
           for r in k.itertuples()}
    assert got[("S1", "dispute_refund_rate")] == (1.0, 4.0, 0.25, "breach")
    assert got[("S1", "intervention_rate")] == (1.0, 200.0, 0.005, "ok")
    assert got[("S1", "seven_day_refusals")][0] == 5.0
    assert got[("S1", "seven_day_refusals")][2:] == (5.0, "breach")
    n, d, v, status = got[("S2", "dispute_refund_rate")]
    assert (n, d, status) == (0.0, 0.0, "") and pd.isna(v)
    # metric order first, then shop
    assert list(zip(k["metric"], k["shop_id"], strict=True)) == [
        ("dispute_refund_rate", "S1"), ("dispute_refund_rate", "S2"),
        ("intervention_rate", "S1"), ("seven_day_refusals", "S1")]


@pytest.mark.slow
def test_postgres_partitions_on_dask_read_one_snapshot(tmp_path):
    """Each Dask worker queries its own partition from the server, importing the snapshot
    the run exported: the same bytes as the partitions read in this process."""
    from sources.loader import load_into_postgres

    load_into_postgres(generate_tables(600, seed=9, as_of=AS_OF), PG_URL, "dasktest")
    a = run_partitioned(PG_URL, Options(P, TZ, AS_OF), 3, pg_schema="dasktest")
    b = run_partitioned(PG_URL, Options(P, TZ, AS_OF), 3, DaskExecutor(workers=2),
                        pg_schema="dasktest")
    for m, d in ((a, "seq"), (b, "dask")):
        _write(tmp_path / d, m.validated.counts, m.validated.quarantine, m.outcome.findings,
               m.outcome.kpis)
    same_files(tmp_path / "seq", tmp_path / "dask")
    assert b.info["executor"] == "dask"
