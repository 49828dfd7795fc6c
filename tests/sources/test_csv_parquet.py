"""Folder sources: CSV quirks (BOM, CRLF, header spaces, GBK) and Parquet with typed columns.

A Parquet file may carry timestamps as tz-aware or naive timestamp columns, or as strings;
amounts as floats or decimals; booleans as bools. Whatever the physical type, the validated
tables must be the ones the same data gives as contract text.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import factories as F
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from checks.profiles import load_profiles, timezones
from schemas.errors import InputError
from schemas.timestamps import parse_timestamps
from schemas.validate import validate_tables
from sources.base import CsvFolder, open_source
from sources.generate import generate_tables
from sources.writers import write_csv_folder, write_parquet_folder

TZ = timezones(load_profiles(None))


def _validate(folder: Path, **kw):
    return validate_tables(open_source(str(folder), **kw).read(), TZ)


def _assert_same(a, b) -> None:
    assert a.counts == b.counts
    for t in a.tables:
        pd.testing.assert_frame_equal(a.tables[t], b.tables[t], check_dtype=True)
    pd.testing.assert_frame_equal(a.quarantine, b.quarantine)


def _sample() -> dict[str, pd.DataFrame]:
    orders = [
        F.order(order_id="O1"),
        F.order(
            order_id="O2",
            platform="amazon_us",
            shop_id="US1",
            buyer_region="US",
            paid_at="2026-03-08T01:30:00",
            shipped_at="2026-03-08T02:30:00",
            delivered_at=None,
            currency="USD",
        ),
        F.order(
            order_id="O3",
            paid_at="2026-11-01T02:00:00Z",
            shipped_at=None,
            delivered_at=None,
            amount="0",
        ),
    ]
    refunds = [
        F.refund(),
        F.refund(
            refund_id="R2",
            order_id="O3",
            amount="0",
            refunded_amount="0",
            evidence_provided="false",
        ),
    ]
    return F.tables(orders=orders, refunds=refunds, messages=[F.message(message_id="M1")])


def test_generated_data_reads_the_same_from_csv_and_parquet(tmp_path):
    tables = generate_tables(400)
    write_csv_folder(tables, tmp_path / "csv")
    write_parquet_folder(tables, tmp_path / "pq")
    _assert_same(_validate(tmp_path / "csv"), _validate(tmp_path / "pq"))


def _typed_parquet(
    df: pd.DataFrame, table: str, zones: pd.Series | None, naive: bool, unit: str
) -> pd.DataFrame:
    """The table with timestamp, decimal and bool columns as typed Parquet would hold them."""
    from schemas.tables import columns

    out = df.copy()
    for c, meta in columns(table).items():
        s = df[c]
        if meta["kind"] == "timestamp":
            utc, _ = parse_timestamps(s, zones)
            if naive:
                # wall time in the row's platform zone, which the contract reads naive values in
                local = [
                    v.tz_convert(z).tz_localize(None) if pd.notna(v) else pd.NaT
                    for v, z in zip(utc, zones, strict=True)
                ]
                out[c] = pd.Series(local, dtype=f"datetime64[{unit}]")
            else:
                # an aware column in some zone other than UTC: the instant is what counts
                out[c] = utc.dt.tz_convert("Asia/Tokyo").astype(f"datetime64[{unit}, Asia/Tokyo]")
        elif meta["kind"] == "decimal":
            out[c] = pd.to_numeric(s).astype("float64")
        elif meta["kind"] == "bool" and not meta["nullable"]:
            out[c] = s.str.lower().map({"true": True, "false": False}).astype("bool")
        elif meta["kind"] == "bool":
            out[c] = s.str.lower().map({"true": True, "false": False}).astype("boolean")
    return out


@pytest.mark.parametrize("naive", [False, True], ids=["tz-aware", "naive-local"])
@pytest.mark.parametrize("unit", ["ns", "us", "ms"])
def test_parquet_typed_columns_validate_like_text(tmp_path, naive, unit):
    tables = _sample()
    write_csv_folder(tables, tmp_path / "csv")
    zone_of = {"tmall_global": "Asia/Shanghai", "amazon_us": "America/Los_Angeles"}
    plat = tables["orders"].set_index("order_id")["platform"]
    zones = {
        "orders": tables["orders"]["platform"].map(zone_of),
        "refunds": tables["refunds"]["order_id"].map(plat).map(zone_of),
        "return_addresses": pd.Series("Asia/Shanghai", index=tables["return_addresses"].index),
        "messages": tables["messages"]["order_id"].map(plat).map(zone_of),
    }
    folder = tmp_path / "pq"
    folder.mkdir()
    for t, df in tables.items():
        typed = _typed_parquet(df, t, zones[t], naive, unit)
        typed.to_parquet(folder / f"{t}.parquet", index=False)
    raw = CsvFolder(folder).read()
    if naive:
        assert pd.api.types.is_datetime64_dtype(raw["orders"]["paid_at"].dtype)
    else:
        assert isinstance(raw["orders"]["paid_at"].dtype, pd.DatetimeTZDtype)
    _assert_same(_validate(tmp_path / "csv"), validate_tables(raw, TZ))


def test_parquet_mixed_string_and_typed_and_decimal(tmp_path):
    """Strings with offsets next to a timestamp column; amounts as Decimal128."""
    tables = _sample()
    write_csv_folder(tables, tmp_path / "csv")
    folder = tmp_path / "pq"
    write_parquet_folder(tables, folder)
    o = tables["orders"]
    arrow = pa.table(
        {
            **{
                c: pa.array(o[c].astype("object").where(o[c].notna(), None), pa.string())
                for c in o.columns
            },
            "paid_at": pa.array(
                parse_timestamps(o["paid_at"], o["platform"].map(TZ))[0],
                pa.timestamp("us", tz="UTC"),
            ),
            "amount": pa.array([Decimal(v) for v in o["amount"]], pa.decimal128(12, 2)),
        }
    )
    pq.write_table(arrow, folder / "orders.parquet")
    a, b = _validate(tmp_path / "csv"), _validate(folder)
    _assert_same(a, b)


def test_parquet_bad_file_is_input_error(tmp_path):
    write_csv_folder(F.tables(), tmp_path)
    (tmp_path / "orders.csv").unlink()  # both files for one table would be ambiguous
    (tmp_path / "orders.parquet").write_bytes(b"PAR1 not really")
    with pytest.raises(InputError, match="not a readable Parquet file"):
        open_source(str(tmp_path)).read()


def test_csv_header_spaces_crlf_bom_and_extra_columns(tmp_path):
    plain = tmp_path / "plain"
    write_csv_folder(_sample(), plain)
    quirky = tmp_path / "quirky"
    quirky.mkdir()
    for p in plain.glob("*.csv"):
        df = pd.read_csv(p, dtype=str, keep_default_na=False)
        df.columns = [f"{c} " if i % 2 else f" {c}" for i, c in enumerate(df.columns)]
        df["备注 "] = "extra"  # an extra column is ignored
        text = df.to_csv(index=False, lineterminator="\r\n")
        (quirky / p.name).write_bytes("\ufeff".encode() + text.encode("utf-8"))
    _assert_same(_validate(plain), _validate(quirky))


def _gbk_folder(tmp_path: Path) -> Path:
    folder = tmp_path / "gbk"
    tables = _sample()
    write_csv_folder(tables, tmp_path / "utf8")
    folder.mkdir()
    for p in (tmp_path / "utf8").glob("*.csv"):
        (folder / p.name).write_bytes(p.read_text(encoding="utf-8").encode("gbk"))
    return folder


def test_gbk_contract_file_reads_with_encoding_gbk(tmp_path):
    folder = _gbk_folder(tmp_path)
    a = _validate(tmp_path / "utf8")
    b = _validate(folder, encoding="gbk")
    _assert_same(a, b)
    assert b.tables["return_addresses"]["street"].iloc[0] == "世纪大道100号"


def test_gbk_read_as_utf8_names_gbk(tmp_path):
    folder = _gbk_folder(tmp_path)
    with pytest.raises(InputError, match="GBK") as exc:
        open_source(str(folder)).read()
    assert "--encoding gbk" in str(exc.value)
    assert "return_addresses.csv" in str(exc.value)


def test_gbk_header_read_as_utf8_names_gbk(tmp_path):
    (tmp_path / "orders.csv").write_bytes("订单编号,总金额\r\n1,2\r\n".encode("gbk"))
    with pytest.raises(InputError, match="GBK"):
        CsvFolder(tmp_path).read(["orders"])


def test_missing_folder_is_input_error(tmp_path):
    with pytest.raises(InputError, match="does not exist"):
        open_source(str(tmp_path / "nope")).read()
