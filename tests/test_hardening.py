"""Hardening: random and malformed input must never crash the audit (docs/spec.md, "Inputs").

Hypothesis writes folders of CSV files — wrong types, random strings in enum and timestamp
columns, huge texts, empty and header-only files, duplicated and missing columns, NUL bytes,
GBK and mixed encodings — and reads them as a user's run would (``open_source(...).read()``
then ``validate_tables``). The only acceptable failure is an ``InputError`` with a message;
when validation succeeds, every row is accounted for: read = valid + quarantined + superseded,
and quarantined rows come with their reasons.

Rejecting everything would pass those checks, so the test also requires what is valid to be
audited: a third of the generated rows are made only of valid values ("pristine"); one whose
key no other row shares (and, for refunds and messages, whose order O1 is such a row) must
come out valid, and a folder with no structural fault must validate (no InputError).
"""

from __future__ import annotations

import contextlib
import csv
import io
from datetime import date
from decimal import Decimal
from pathlib import Path

import factories as F
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from hypothesis.errors import InvalidArgument

from checks.profiles import load_profiles, timezones
from schemas.errors import InputError
from schemas.tables import KEYS, REQUIRED_TABLES, columns
from schemas.validate import validate_tables
from sources.base import TABLES, open_source

TZ = timezones(load_profiles(None))
VALID = {
    "orders": F.order(),
    "refunds": F.refund(),
    "return_addresses": F.address(),
    "messages": F.message(message_id="M1"),
}


def hyp(examples: int):
    """Modest, reproducible runs: a validation costs ~0.5 s, the file stays under a minute."""
    return settings(
        max_examples=examples,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=[
            HealthCheck.too_slow,
            HealthCheck.data_too_large,
            HealthCheck.function_scoped_fixture,
        ],
    )


JUNK = {
    "timestamp": [
        "2026-13-45T99:99:00",
        "yesterday",
        "1e10",
        "2026-11-05T10:00:00+25:00",
        "0000-00-00 00:00:00",
        "9999-12-31T23:59:59Z",
        "-001-01-01",
        "1677-09-21",
        "2262-04-12T00:00:00",
        "2026-11-05T10:00:00.123456789+08:00",
        "20261105",
        "2026-03-08T02:30:00",
        "2026-11-01T01:30:00",
        "2026/11/05 10:00:00",
        "2026-11-05T10:00:00-00:00",
        "T10:00",
        "2026-02-30",
        "٢٠٢٦-١١-٠٥",
    ],
    "decimal": [
        "nan",
        "inf",
        "-inf",
        "-0",
        "1e309",
        "１２３",
        "1,000",
        "0x10",
        "-5",
        "1e-400",
        "99999999999999999999999999",
        "12.3.4",
        "¥12",
    ],
    "bool": ["TRUE", "Yes", "是", "2", "t", "nope", "1.0"],
    "enum": ["Agreed", " agreed ", "AGREED", "other ", "none", "pending\x00"],
    "country": ["cn", "CHN", "C1", "中国", ""],
    "currency": ["cny", "RMB", "¥", "US$"],
    "text": ["O1", "O2", "R1", "A1", "M1", "  ", "row 1"],
}

text = st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=30)


@st.composite
def cell(draw, table: str, column: str) -> str | None:
    kind = columns(table)[column]["kind"]
    pick = draw(st.integers(0, 9))
    if pick <= 3:
        return VALID[table].get(column)
    if pick <= 5:
        return draw(st.sampled_from(JUNK.get(kind, JUNK["text"])))
    if pick == 6:
        return None
    if pick == 7:
        return draw(text)
    if pick == 8:
        return draw(
            st.sampled_from(["\x00", "a\x00b", '"', "\r\n", 'é,"x"\n', "\ufeff", "\u2028", "滚"])
        )
    return draw(st.sampled_from(["x" * 70_000, "长" * 40_000]))


@st.composite
def table_file(draw, table: str, encoding: str, faulty: bool
               ) -> tuple[bytes | None, list[list], list[bool]]:
    """One CSV file's bytes (None: no file), its rows and which of them are pristine (every
    cell valid, in a file whose header has every column). Every file gets junk cells; a
    ``faulty`` one may also be structurally broken (missing, empty, header-only, junk bytes,
    wrong or repeated columns, ragged rows, another encoding)."""
    mode = (
        draw(
            st.sampled_from(
                ["rows"] * 3 + ["missing", "empty", "header_only", "blank", "junk_bytes"]
            )
        )
        if faulty
        else "rows"
    )
    if mode == "missing":
        return None, [], []
    if mode == "empty":
        return b"", [], []
    if mode == "blank":
        return b"\r\n  \n", [], []
    if mode == "junk_bytes":
        return draw(st.binary(min_size=1, max_size=200)), [], []
    cols = list(columns(table))
    header = cols + draw(st.lists(st.sampled_from(["备注", "extra"]), max_size=1))
    if faulty and draw(st.booleans()):  # any columns, any order, missing and repeated ones
        header = draw(st.lists(st.sampled_from(cols), min_size=1, max_size=len(cols) + 2))
    complete = header[: len(cols)] == cols
    header = [h if draw(st.integers(0, 5)) else f" {h} " for h in header]
    rows, pristine = [], []
    for _ in range(0 if mode == "header_only" else draw(st.integers(1, 6))):
        clean = complete and draw(st.integers(0, 2)) == 0
        rows.append([
            (VALID[table].get(h.strip()) if clean else draw(cell(table, h.strip())))
            if h.strip() in cols else draw(text) for h in header])
        pristine.append(clean)
    if rows and draw(st.integers(0, 3)) == 0:
        rows.append(list(rows[0]))  # an exact copy
        pristine.append(pristine[0])
    if rows and faulty and draw(st.booleans()):  # a short or long row
        rows.append(rows[0][: max(1, len(rows[0]) - 2)] + (["x"] * draw(st.integers(0, 3))))
        pristine = [False] * len(rows)  # the reader may refuse the file
    buf = io.StringIO()
    term = draw(st.sampled_from(["\n", "\r\n"]))
    w = csv.writer(buf, lineterminator=term)
    # Python's writer quotes only the terminator's own characters: with "\n" it would leave
    # a bare CR unquoted, which every CSV reader (Excel too) takes as a line break. A
    # correct export quotes it, so such a row is written fully quoted.
    quoted = csv.writer(buf, lineterminator=term, quoting=csv.QUOTE_ALL)
    w.writerow(header)
    for r in rows:
        values = ["" if v is None else v for v in r]
        (quoted if any("\r" in str(v) for v in values) else w).writerow(values)
    body = buf.getvalue()
    enc = (
        draw(st.sampled_from(["utf-8", "utf-8-sig", "gbk", "mixed"]))
        if faulty
        else (encoding if encoding != "utf-8" else draw(st.sampled_from(["utf-8", "utf-8-sig"])))
    )
    if enc == "mixed":  # a GBK line inside a UTF-8 file
        lines = body.splitlines(keepends=True)
        i = draw(st.integers(0, len(lines) - 1))
        return b"".join(
            ln.encode("gbk", errors="replace") if j == i else ln.encode("utf-8")
            for j, ln in enumerate(lines)
        ), rows, [False] * len(rows)
    if enc != encoding and not enc.startswith("utf-8") or faulty:
        pristine = [False] * len(rows)  # read with another encoding, or a broken file
    return body.encode(enc, errors="replace"), rows, pristine


@st.composite
def folder(draw) -> tuple[dict[str, tuple], str, set[str]]:
    encoding = draw(st.sampled_from(["utf-8", "utf-8", "gbk"]))
    faulty = draw(st.sets(st.sampled_from(TABLES), max_size=2))
    return ({t: draw(table_file(t, encoding, t in faulty)) for t in TABLES}, encoding,
            faulty)


def expected_valid(files: dict[str, tuple]) -> dict[str, str]:
    """Table → the key of a pristine row that must be valid: no other row (other than its
    exact copies) shares its key, and for refunds and messages the order O1 is such a row."""
    out = {}
    for t, (_, rows, pristine) in files.items():
        key_at = list(columns(t)).index(KEYS[t])
        for row, clean in zip(rows, pristine, strict=True):
            if not clean:
                continue
            key = row[key_at]
            same = [r for r in rows if str(r[key_at] or "").strip() == key]
            if all(r == row for r in same):
                out[t] = key
            break  # the first pristine row decides; later ones are its copies or rivals
    for t in ("refunds", "messages"):
        if out.get("orders") != "O1":
            out.pop(t, None)
    return out


def _check(raw: dict, v) -> None:
    q = v.quarantine
    # quarantine.csv's columns, then whose row it is (platform, shop_id: for the shop pages)
    assert list(q.columns) == ["table", "row_key", "column", "check", "value", "message",
                               "platform", "shop_id"]
    for t, c in v.counts.items():
        assert c["read"] == len(raw[t])
        assert c["read"] == c["valid"] + c["quarantined"] + c["superseded"], (t, c)
        assert len(v.tables[t]) == c["valid"]
        qt = q[q["table"] == t]
        # every quarantined row has at least one reason; reasons belong to quarantined rows
        assert len(qt) >= c["quarantined"]
        assert (len(qt) == 0) == (c["quarantined"] == 0), (t, c)
        assert qt["row_key"].nunique() <= c["quarantined"]
        assert qt["message"].astype(bool).all() and qt["check"].astype(bool).all()
    for t in REQUIRED_TABLES:
        assert t in v.counts


def _event(name: str) -> None:
    with contextlib.suppress(InvalidArgument):  # outside a Hypothesis test
        event(name)


def _read_and_validate(folder: Path, encoding: str, *, must_validate: bool = False,
                       valid: dict[str, str] | None = None) -> None:
    try:
        raw = open_source(str(folder), encoding=encoding).read()
        v = validate_tables(raw, TZ)
    except InputError as exc:
        msg = str(exc)
        assert not must_validate, f"a folder without structural faults was refused: {msg}"
        assert len(msg) > 20 and "\n" not in msg.strip(), msg
        _event("InputError")
        return
    _event("validated")
    _check(raw, v)
    for t, key in (valid or {}).items():
        _event(f"pristine {t} audited")
        assert key in set(v.tables[t][KEYS[t]]), (t, key, v.quarantine.to_dict("records"))


@given(case=folder())
@hyp(80)
def test_random_folders_never_crash(tmp_path_factory, case):
    files, encoding, faulty = case
    path = tmp_path_factory.mktemp("h")
    for t, (data, _, _) in files.items():
        if data is not None:
            (path / f"{t}.csv").write_bytes(data)
    _read_and_validate(path, encoding, must_validate=not faulty, valid=expected_valid(files))


def test_valid_rows_of_every_table_are_audited(tmp_path):
    """The plainest folder: one valid row per table, valid and audited, nothing quarantined."""
    for t in TABLES:
        F.frame(t, [VALID[t]]).to_csv(tmp_path / f"{t}.csv", index=False, na_rep="")
    raw = open_source(str(tmp_path)).read()
    v = validate_tables(raw, TZ)
    assert v.quarantine.empty
    assert {t: c["valid"] for t, c in v.counts.items()} == {t: 1 for t in TABLES}
    assert v.unusable is None


@st.composite
def good_ish_folder(draw) -> dict[str, list[dict]]:
    """Mostly valid rows that share keys, so references, versions and copies interact."""
    ids = st.sampled_from(["O1", "O2", "O3", None])

    def vary(table: str, base: dict) -> dict:
        row = dict(base)
        for c in draw(st.lists(st.sampled_from(list(row)), max_size=3)):
            row[c] = draw(cell(table, c))
        return row

    orders = [vary("orders", F.order(order_id=draw(ids))) for _ in range(draw(st.integers(0, 4)))]
    refunds = [
        vary(
            "refunds",
            F.refund(
                refund_id=draw(st.sampled_from(["R1", "R2"])),
                order_id=draw(ids),
                updated_at=draw(
                    st.sampled_from(
                        [None, "2026-11-05T12:00:00+08:00", "2026-11-06T12:00:00+08:00", "garbage"]
                    )
                ),
            ),
        )
        for _ in range(draw(st.integers(0, 5)))
    ]
    addresses = [vary("return_addresses", F.address()) for _ in range(draw(st.integers(0, 2)))]
    messages = [
        vary(
            "messages",
            F.message(message_id=draw(st.sampled_from(["M1", "M2"])), order_id=draw(ids)),
        )
        for _ in range(draw(st.integers(0, 3)))
    ]
    return {
        "orders": orders,
        "refunds": refunds,
        "return_addresses": addresses,
        "messages": messages,
    }


@given(rows=good_ish_folder())
@hyp(30)
def test_near_valid_tables_reconcile(tmp_path_factory, rows):
    folder = tmp_path_factory.mktemp("g")
    for t, rs in rows.items():
        F.frame(t, rs).to_csv(folder / f"{t}.csv", index=False, na_rep="")
    _read_and_validate(folder, "utf-8")


@given(
    frames=st.fixed_dictionaries(
        {
            t: st.lists(
                st.fixed_dictionaries(
                    {
                        c: st.one_of(
                            st.none(),
                            st.integers(-10, 10),
                            st.floats(allow_nan=True),
                            st.booleans(),
                            st.just(pd.Timestamp("2026-11-05T10:00:00Z")),
                            cell(t, c),
                        )
                        for c in columns(t)
                    }
                ),
                max_size=4,
            )
            for t in TABLES
        }
    )
)
@hyp(30)
def test_frames_of_mixed_python_types_reconcile(frames):
    """A source that hands over non-text objects (a driver returning ints, floats, datetimes)
    still reconciles: validation reads each value as text."""
    raw = {
        t: pd.DataFrame(rs, columns=list(columns(t)), dtype="object") for t, rs in frames.items()
    }
    try:
        v = validate_tables(raw, TZ)
    except InputError as exc:
        assert str(exc)
        return
    _check(raw, v)


@pytest.mark.parametrize(
    "content", [b"", b"\n", b"\xef\xbb\xbf", b"order_id\n", b"\x00\x00\x00", "订单".encode("gbk")]
)
def test_unusable_orders_file_gives_a_clear_message(tmp_path, content):
    F.frame("refunds", []).to_csv(tmp_path / "refunds.csv", index=False)
    F.frame("return_addresses", []).to_csv(tmp_path / "return_addresses.csv", index=False)
    (tmp_path / "orders.csv").write_bytes(content)
    with pytest.raises(InputError) as exc:
        validate_tables(open_source(str(tmp_path)).read(), TZ)
    assert "orders" in str(exc.value)


ODD_ARROW = {
    "int": pa.array([20261105, None], pa.int64()),
    "float": pa.array([1.5, float("nan")], pa.float64()),
    "bool": pa.array([True, None], pa.bool_()),
    "date": pa.array([date(2026, 11, 5), None], pa.date32()),
    "time": pa.array([3_600_000_000, None], pa.time64("us")),
    "duration": pa.array([3_600_000_000, None], pa.duration("us")),
    "ts_local_zone": pa.array([1_793_498_400_000_000, None], pa.timestamp("us", "Asia/Shanghai")),
    "ts_seconds": pa.array([1_793_498_400, None], pa.timestamp("s")),
    "binary": pa.array([b"\xff\xfe", None], pa.binary()),
    "list": pa.array([[1, 2], None], pa.list_(pa.int64())),
    "struct": pa.array([{"a": 1}, None], pa.struct([("a", pa.int64())])),
    "dictionary": pa.array(["agreed", None]).dictionary_encode(),
    "null": pa.nulls(2),
    "decimal": pa.array([Decimal("1.10"), None], pa.decimal128(10, 2)),
}


@pytest.mark.parametrize("kind", list(ODD_ARROW))
def test_parquet_columns_of_any_arrow_type_reconcile(tmp_path, kind):
    """Every column of every table in one odd Arrow type: read, validate, reconcile."""
    for t in TABLES:
        arr = ODD_ARROW[kind]
        pq.write_table(pa.table({c: arr for c in columns(t)}), tmp_path / f"{t}.parquet")
    _read_and_validate(tmp_path, "utf-8")
