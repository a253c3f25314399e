"""``python -m bench [--quick] [--only NAME …] [--runs N] [--budget S] [--full]``: run the
benchmarks, print the table, write ``bench/results/latest.json``."""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
import traceback
from datetime import UTC, datetime
from pathlib import Path

from bench.machine import machine_info
from bench.stats import Row, results_table, targets_table
from bench.suite import BENCHES, QUICK, Context, NotAvailable, Sizes

RESULTS = Path(__file__).resolve().parent / "results"
ORDER = ("dispatch", "peer", "slow", "replies", "plan")
#: seconds: the default run (with the peer) stays under ~15 minutes on 2 cores
DEFAULT_BUDGET = 900.0


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    p.add_argument("--quick", action="store_true", help="small sizes, one run: a smoke run")
    p.add_argument("--only", action="append", choices=ORDER, help="run only these (repeatable)")
    p.add_argument(
        "--runs",
        type=int,
        default=None,
        help="runs per figure (default: 3 for a figure whose run is cheap, 1 for an expensive "
        "one, such as dispatch of 20,000 or a plan; quick 1)",
    )
    p.add_argument(
        "--budget",
        type=float,
        default=DEFAULT_BUDGET,
        help="seconds for the whole run; each 100,000-contact plan (the last thing to run) runs "
        f"only if its estimate fits in what is left (default {DEFAULT_BUDGET:.0f})",
    )
    p.add_argument(
        "--db", choices=("sqlite", "postgres"), help="only this database (default: both)"
    )
    p.add_argument("--full", action="store_true", help="run the large plan whatever its estimate")
    p.add_argument("--output", type=Path, default=RESULTS / "latest.json")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    sizes = QUICK if args.quick else Sizes()
    runs = args.runs or (1 if args.quick else 3)
    expensive_runs = args.runs or 1
    machine = machine_info()
    print(
        f"outreach benchmarks: {machine['cores']} cores ({machine['cpu']}), Python "
        f"{machine['python']}, load {machine['load_average_at_start']}, runs={runs} "
        f"(expensive figures {expensive_runs})" + (" (quick)" if args.quick else ""),
        flush=True,
    )
    selected = [name for name in ORDER if not args.only or name in args.only]
    with tempfile.TemporaryDirectory(prefix="outreach-bench-") as tmp:
        ctx = Context(
            workdir=Path(tmp),
            runs=runs,
            expensive_runs=expensive_runs,
            sizes=sizes,
            budget=args.budget,
            full=args.full,
            only_db=args.db,
            log=lambda msg: print(msg, flush=True),
        )
        timings = {}
        try:
            for name in selected:
                print(f"[{name}]", flush=True)
                t0 = time.monotonic()
                try:
                    BENCHES[name](ctx)
                except NotAvailable as exc:
                    ctx.rows.append(Row(name, "-", status=f"not available yet: {exc}"))
                    print(f"  not available yet: {exc}", flush=True)
                except Exception as exc:  # one broken benchmark must not hide the others
                    traceback.print_exc()
                    ctx.rows.append(Row(name, "-", status=f"error: {type(exc).__name__}: {exc}"))
                timings[name] = round(time.monotonic() - t0, 1)
        finally:
            ctx.close()
    total = round(ctx.elapsed(), 1)
    print()
    print(results_table(ctx.rows))
    if ctx.targets:
        print()
        print(targets_table(ctx.targets))
    for note in ctx.notes:
        print(f"note: {note}")
    print(f"total {total} s ({', '.join(f'{k} {v} s' for k, v in timings.items())})")
    document = {
        "generated_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "argv": sys.argv[1:] if argv is None else argv,
        "quick": args.quick,
        "runs": runs,
        "expensive_runs": expensive_runs,
        "sizes": sizes.__dict__,
        "machine": machine,
        "rows": [r.as_dict() for r in ctx.rows],
        "targets": [t.as_dict() for t in ctx.targets],
        "notes": ctx.notes,
        "setup_seconds": ctx.setup,
        "seconds": {"total": total, **timings},
    }
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(document, indent=2, default=str) + "\n", encoding="utf-8")
    print(f"wrote {args.output}")
    return 0
