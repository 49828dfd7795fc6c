"""Column mappings: reading a seller back-end's export (Chinese headers, its own enum words
and timestamp formats) as the contract's tables, without editing the file.

A mapping is a YAML (or TOML) file; per table it names the export file(s) in the folder and,
per contract column, where the value comes from and how it is translated::

    name: tmall_refund_export
    tables:
      refunds:
        files: ["退款管理导出*.csv", refunds.csv]   # glob patterns; all matches are read
        columns:
          refund_id: 退款编号                        # short form: the source column
          requested_at: {from: [申请退款时间, 退款申请时间], format: "%Y/%m/%d %H:%M:%S"}
          reason: {from: 退款原因, values: {七天无理由: no_reason, 质量问题: quality},
                   otherwise: other}
          ruling: {from: 客服介入结果, values: {…}, default: none}
          platform: {constant: tmall}

Keys of a column rule: ``from`` (a source column, or alternatives: the first present wins;
header names are compared trimmed), ``values`` (exact source value → contract value),
``otherwise`` (the contract value for any other non-empty value; without it such a value
passes through unchanged and validation quarantines it, showing the original), ``default``
(for empty values, or when no ``from`` column is in the file), ``constant`` (every row),
``format`` (strptime format(s) turned into ISO 8601; values already in ISO form pass
unchanged), ``strip`` (characters removed before anything else, e.g. ``"¥,"`` from amounts).

The mapping only renames and translates text: every row of the export stays a row, so the
audit's read = valid + quarantined + superseded still counts the export's rows. Columns of
the file already named as the contract's pass through unless the mapping targets them.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import yaml

from schemas.errors import InputError
from schemas.tables import MODELS, columns

MAPPINGS_DIR = Path(__file__).parent / "mappings"
_RULE_KEYS = {"from", "values", "otherwise", "default", "constant", "format", "strip"}
_TABLE_KEYS = {"files", "columns"}
_TOP_KEYS = {"name", "description", "modelled", "source", "tables", "notes"}


@dataclass(frozen=True)
class ColumnRule:
    """How one contract column is filled from an export."""

    target: str
    sources: tuple[str, ...] = ()
    values: dict[str, str] | None = None
    otherwise: str | None = None
    default: str | None = None
    constant: str | None = None
    formats: tuple[str, ...] = ()
    strip: str | None = None


@dataclass(frozen=True)
class TableMapping:
    table: str
    files: tuple[str, ...]
    rules: dict[str, ColumnRule]

    def source_columns(self) -> set[str]:
        return {s for r in self.rules.values() for s in r.sources}


@dataclass(frozen=True)
class Mapping:
    name: str
    path: Path
    tables: dict[str, TableMapping]
    description: str = ""


def _str(v) -> str:
    if isinstance(v, bool):  # YAML reads true/yes as booleans; the contract's text is lowercase
        return "true" if v else "false"
    return str(v)


def _as_tuple(v) -> tuple[str, ...]:
    if v is None:
        return ()
    return tuple(_str(x) for x in v) if isinstance(v, list) else (_str(v),)


def resolve(spec: str | Path) -> Path:
    """A mapping path, or the name of a shipped mapping (``tmall_refund_export``)."""
    p = Path(spec)
    if p.is_file():
        return p
    for ext in (".yaml", ".yml", ".toml"):
        shipped = MAPPINGS_DIR / f"{spec}{ext}"
        if shipped.is_file():
            return shipped
    shipped_names = sorted(x.stem for x in MAPPINGS_DIR.glob("*.*"))
    raise InputError(
        f"The mapping {str(spec)!r} is neither a file nor a shipped mapping "
        f"(shipped: {', '.join(shipped_names)})."
    )


def load_mapping(spec: str | Path) -> Mapping:
    """Read and check a mapping file; InputError (naming file and key) when it is wrong."""
    path = resolve(spec)
    try:
        raw = (
            tomllib.loads(path.read_text(encoding="utf-8"))
            if path.suffix == ".toml"
            else yaml.safe_load(path.read_text(encoding="utf-8"))
        )
    except (yaml.YAMLError, tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise InputError(f"The mapping {path} is not valid YAML/TOML: {exc}") from None

    def bad(msg: str) -> InputError:
        return InputError(f"The mapping {path}: {msg}")

    if not isinstance(raw, dict) or not isinstance(raw.get("tables"), dict):
        raise bad("needs a 'tables' section (table → files, columns).")
    if extra := set(raw) - _TOP_KEYS:
        raise bad(f"unknown key(s) {sorted(extra)}; allowed: {sorted(_TOP_KEYS)}.")
    tables = {}
    for table, spec_t in raw["tables"].items():
        if table not in MODELS:
            raise bad(f"unknown table {table!r}; the input tables are {list(MODELS)}.")
        spec_t = spec_t or {}
        if extra := set(spec_t) - _TABLE_KEYS:
            raise bad(f"{table}: unknown key(s) {sorted(extra)}; allowed: {sorted(_TABLE_KEYS)}.")
        cols = columns(table)
        rules = {}
        for target, r in (spec_t.get("columns") or {}).items():
            if target not in cols:
                raise bad(
                    f"{table}.{target} is not an input column of {table} ({', '.join(cols)})."
                )
            r = {"from": r} if isinstance(r, str | list) else (r or {})
            if extra := set(r) - _RULE_KEYS:
                raise bad(
                    f"{table}.{target}: unknown key(s) {sorted(extra)}; allowed: "
                    f"{sorted(_RULE_KEYS)}."
                )
            rule = ColumnRule(
                target=target,
                sources=_as_tuple(r.get("from")),
                values={_str(k).strip(): _str(v) for k, v in (r.get("values") or {}).items()}
                or None,
                otherwise=None if r.get("otherwise") is None else _str(r["otherwise"]),
                default=None if r.get("default") is None else _str(r["default"]),
                constant=None if r.get("constant") is None else _str(r["constant"]),
                formats=_as_tuple(r.get("format")),
                strip=r.get("strip"),
            )
            if not rule.sources and rule.constant is None and rule.default is None:
                raise bad(f"{table}.{target} needs 'from', 'constant' or 'default'.")
            enum = cols[target]["enum"]
            if enum:
                outs = set((rule.values or {}).values()) | {
                    v for v in (rule.otherwise, rule.default, rule.constant) if v is not None
                }
                if wrong := sorted(outs - set(enum)):
                    raise bad(
                        f"{table}.{target} maps to {wrong}, not in the documented "
                        f"values ({', '.join(enum)})."
                    )
            rules[target] = rule
        files = _as_tuple(spec_t.get("files")) or (f"{table}.csv", f"{table}.parquet")
        tables[table] = TableMapping(table=table, files=files, rules=rules)
    return Mapping(
        name=str(raw.get("name") or path.stem),
        path=path,
        tables=tables,
        description=str(raw.get("description") or ""),
    )


def find_files(folder: Path, tm: TableMapping) -> list[Path]:
    """The export files of one table: every match of the first pattern that matches any."""
    for pattern in tm.files:
        found = sorted(p for p in folder.glob(pattern) if p.is_file())
        if found:
            return found
    return []


def apply_mapping(df: pd.DataFrame, tm: TableMapping, where: str) -> pd.DataFrame:
    """The raw export frame → a raw frame with the contract's column names (text values).

    Raises InputError naming the file when a required contract column has none of its
    source columns and no constant/default.
    """
    df = df.copy()
    df.columns = [str(c).strip() for c in df.columns]
    n = len(df)
    out: dict[str, pd.Series] = {}
    cols = columns(tm.table)
    for target, rule in tm.rules.items():
        if rule.constant is not None:
            out[target] = pd.Series([rule.constant] * n, dtype="str")
            continue
        src = next((s for s in rule.sources if s in df.columns), None)
        if src is None:
            if rule.default is not None:
                out[target] = pd.Series([rule.default] * n, dtype="str")
            elif not cols[target]["nullable"]:
                raise InputError(
                    f"{where} has none of the columns {list(rule.sources)} that the mapping "
                    f"reads {tm.table}.{target} from, and {target} is required. Check the "
                    "export's header or give the mapping a constant or default. Nothing was "
                    "audited."
                )
            continue
        out[target] = _translate(df[src].reset_index(drop=True), rule)
    for c in cols:
        if c not in out and c in df.columns:
            out[c] = df[c].reset_index(drop=True)
    return pd.DataFrame(out, index=pd.RangeIndex(n))


def _translate(s: pd.Series, rule: ColumnRule) -> pd.Series:
    if isinstance(s.dtype, pd.DatetimeTZDtype) or pd.api.types.is_datetime64_dtype(s.dtype):
        return s  # a typed Parquet timestamp needs no format
    present = s.notna()
    s = s.astype("str").where(present, None)
    if rule.strip:
        s = s.str.replace(f"[{re.escape(rule.strip)}]", "", regex=True)
    s = s.str.strip()
    empty = s.isna() | (s == "")
    if rule.values:
        mapped = s.map(rule.values)
        if rule.otherwise is not None:
            mapped = mapped.where(mapped.notna() | empty, rule.otherwise)
        s = mapped.where(mapped.notna(), s)
    for fmt in rule.formats:
        aware = "%z" in fmt  # offsets may differ row to row: normalise to UTC
        ts = pd.to_datetime(s, format=fmt, errors="coerce", utc=aware)
        iso = "%Y-%m-%dT%H:%M:%S" + (".%f" if "%f" in fmt else "") + ("Z" if aware else "")
        ok = ts.notna() & ~empty
        if ok.any():
            s = s.where(~ok, ts.dt.strftime(iso))
    if rule.default is not None:
        s = s.where(~empty, rule.default)
    return s.astype("str").where(s.notna(), None)
