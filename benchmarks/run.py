"""Run vrkit's benchmarks: ``python benchmarks/run.py [NAME ...] [--quick] [--json] [--check]``.

Each ``benchmarks/bench_<name>.py`` defines ``run(quick: bool) -> list[dict]``; a row has
``name``, ``value``, ``unit`` and, where the benchmark compares against a baseline measured in
the same run, ``baseline`` and ``ratio`` (vrkit cost / baseline cost; lower is better).

A row's goal is its ``goal`` field (``"ratio <= 1.25"``, ``"value >= 90"``) or the
``goal <= 1.25`` / ``goal <= 11 ms`` its note states: with a unit it bounds the value (in the
row's unit), without one the ratio where the row has one. Every row with a goal is marked
``met`` or ``MISSED``; ``--check`` exits 1 when a goal is missed (for a person on a quiet
machine: CI does not use it, shared machines are too noisy).
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import platform
import re
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def machine() -> dict:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "system": f"{platform.system()} {platform.release()}",
    }


_GOAL = re.compile(r"goal\s*(<=|>=|<|>)\s*([-+]?\d+(?:\.\d+)?)\s*([A-Za-z/%]+)?")
_FIELD_GOAL = re.compile(r"\s*(value|ratio)\s*(<=|>=|<|>)\s*([-+]?\d+(?:\.\d+)?)\s*")


def goal(row: dict) -> tuple[str, str, float] | None:
    """``(field, op, limit)`` of a row's goal, or None when it states none."""
    if isinstance(row.get("goal"), str):
        m = _FIELD_GOAL.fullmatch(row["goal"])
        if not m:
            raise ValueError(f"benchmark row {row['name']!r}: cannot read goal {row['goal']!r}")
        return m.group(1), m.group(2), float(m.group(3))
    m = _GOAL.search(row.get("note") or "")
    if not m:
        return None
    field = "ratio" if m.group(3) is None and row.get("ratio") is not None else "value"
    return field, m.group(1), float(m.group(2))


def goal_met(row: dict) -> bool | None:
    """Whether the row meets its goal; None without a goal."""
    g = goal(row)
    if g is None:
        return None
    field, op, limit = g
    v = row[field]
    return {"<=": v <= limit, ">=": v >= limit, "<": v < limit, ">": v > limit}[op]


def discover(names: list[str]) -> list[Path]:
    found = sorted(HERE.glob("bench_*.py"))
    if names:
        wanted = {n.removeprefix("bench_").removesuffix(".py") for n in names}
        unknown = wanted - {p.stem.removeprefix("bench_") for p in found}
        if unknown:
            known = ", ".join(p.stem.removeprefix("bench_") for p in found)
            sys.exit(f"benchmarks/run.py: unknown benchmark(s) {sorted(unknown)}; known: {known}")
        found = [p for p in found if p.stem.removeprefix("bench_") in wanted]
    return found


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("names", nargs="*", help="benchmarks to run (default: all)")
    ap.add_argument("--quick", action="store_true", help="fewer iterations, for CI smoke runs")
    ap.add_argument("--json", action="store_true", help="print JSON instead of a table")
    ap.add_argument(
        "--check", action="store_true", help="exit 1 when a figure misses its goal (not for CI)"
    )
    args = ap.parse_args(argv)
    sys.path.insert(0, str(HERE.parent))
    import vrkit  # noqa: F401  (pins the EGL platform before OpenGL is imported)

    results = {"machine": machine(), "quick": args.quick, "benchmarks": {}}
    missed: list[str] = []
    for path in discover(args.names):
        spec = importlib.util.spec_from_file_location(path.stem, path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        start = time.perf_counter()
        rows = module.run(args.quick)
        for r in rows:
            met = goal_met(r)
            if met is not None:
                field, op, limit = goal(r)
                r["goal_met"] = met
                r["goal_text"] = f"{field} {op} {limit:g}"
                if not met:
                    missed.append(f"{r['name']} ({field} {r[field]:.3f}, goal {op} {limit:g})")
        results["benchmarks"][path.stem.removeprefix("bench_")] = {
            "rows": rows,
            "seconds": round(time.perf_counter() - start, 2),
        }
        if not args.json:
            print(f"== {path.stem.removeprefix('bench_')}")
            for r in rows:
                line = f"  {r['name']:<44} {r['value']:>10.3f} {r['unit']:<8}"
                if r.get("baseline") is not None:
                    line += f" baseline {r['baseline']:>10.3f}  ratio {r['ratio']:.3f}"
                if "goal_met" in r:
                    line += f"  {'met' if r['goal_met'] else 'MISSED'} {r['goal_text']}"
                if r.get("note"):
                    line += f"  ({r['note']})"
                print(line, flush=True)
    if args.json:
        print(json.dumps(results, indent=1))
    else:
        m = results["machine"]
        print(f"machine: {m['cpu']}, {m['cores']} cores, Python {m['python']}, {m['system']}")
    if missed:
        print(f"{len(missed)} figure(s) missed their goal: {'; '.join(missed)}", file=sys.stderr)
    return 1 if args.check and missed else 0


if __name__ == "__main__":
    sys.exit(main())
