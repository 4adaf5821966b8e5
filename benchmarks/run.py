"""Run vrkit's benchmarks: ``python benchmarks/run.py [NAME ...] [--quick] [--json]``.

Each ``benchmarks/bench_<name>.py`` defines ``run(quick: bool) -> list[dict]``; a row has
``name``, ``value``, ``unit`` and, where the benchmark compares against a baseline measured in
the same run, ``baseline`` and ``ratio`` (vrkit cost / baseline cost; lower is better).
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import platform
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
    args = ap.parse_args(argv)
    sys.path.insert(0, str(HERE.parent))
    import vrkit  # noqa: F401  (pins the EGL platform before OpenGL is imported)

    results = {"machine": machine(), "quick": args.quick, "benchmarks": {}}
    for path in discover(args.names):
        spec = importlib.util.spec_from_file_location(path.stem, path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        start = time.perf_counter()
        rows = module.run(args.quick)
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
                if r.get("note"):
                    line += f"  ({r['note']})"
                print(line, flush=True)
    if args.json:
        print(json.dumps(results, indent=1))
    else:
        m = results["machine"]
        print(f"machine: {m['cpu']}, {m['cores']} cores, Python {m['python']}, {m['system']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
