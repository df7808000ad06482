"""Benchmark: how long the program takes to evaluate each shipped stack file under the offline mocks.

    python -m offline.bench              # 5 timed runs a stack; prints the table
    python -m offline.bench --runs 9     # more runs
    python -m offline.bench --write      # also rewrites the measured block of docs/benchmarks.md

Each stack is evaluated 1 + `--runs` times in one process. The first evaluation is shown on its own (the
process's first one imports pulumi_aws, and a promoting stack's first one also evaluates its upstream); the
median and maximum are of the others. Wall-clock time depends on the machine and on what else runs on it, so
it is measured here, never asserted in a test: the block in docs/benchmarks.md records the machine's CPU count
and load average next to the numbers.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "benchmarks.md"
START, END = "<!-- bench:start -->", "<!-- bench:end -->"
DATA_PREFIX = "<!-- bench:data "
STACKS: tuple[str, ...] = ("dev", "prod")
DEFAULT_RUNS = 5


@dataclass(frozen=True)
class Measurement:
    stack: str
    first: float
    """Seconds of the process's first evaluation of the stack."""
    runs: tuple[float, ...]
    """Seconds of each later evaluation, in order."""

    @property
    def median(self) -> float:
        return statistics.median(self.runs)

    @property
    def maximum(self) -> float:
        return max(self.runs)


@dataclass(frozen=True)
class Machine:
    cpus: int
    load: float
    """1-minute load average when the runs started."""
    python: str
    date: str
    """ISO date (UTC) of the measurement."""


def measure(
    stacks: Sequence[str],
    runs: int,
    evaluate: Callable[[str], Any] | None = None,
    clock: Callable[[], float] = time.perf_counter,
) -> list[Measurement]:
    """Evaluate each stack 1 + `runs` times with `evaluate` (default: offline.mocks.evaluate_stack), timed by `clock`."""
    if runs < 1:
        raise ValueError(f"runs: {runs} is not allowed; use 1 or more timed runs")
    if evaluate is None:
        from offline.mocks import evaluate_stack

        evaluate = evaluate_stack
    found = []
    for stack in stacks:
        times = []
        for _ in range(1 + runs):
            started = clock()
            evaluate(stack)
            times.append(clock() - started)
        found.append(Measurement(stack, times[0], tuple(times[1:])))
    return found


def this_machine(now: datetime.datetime | None = None) -> Machine:
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    day = (now or datetime.datetime.now(datetime.UTC)).date().isoformat()
    return Machine(os.cpu_count() or 1, round(load, 2), platform.python_version(), day)


def render(measurements: Sequence[Measurement], machine: Machine) -> str:
    """The measured block: a table of seconds per stack, the machine, and the raw numbers it was rendered from
    (to 0.1 ms, the precision the table is computed from, so the block renders the same from its data line)."""
    measurements = [Measurement(m.stack, round(m.first, 4), tuple(round(r, 4) for r in m.runs)) for m in measurements]
    runs = {len(m.runs) for m in measurements}
    if len(runs) != 1:
        raise ValueError(f"every stack needs the same number of runs; got {sorted(runs)}")
    [count] = runs
    lines = [
        f"Measured {machine.date} with `python -m offline.bench --runs {count}` on {machine.cpus} CPUs "
        f"(1-minute load average {machine.load:g} at the start), Python {machine.python}.",
        "",
        f"| Stack | First evaluation (s) | Median of {count} (s) | Max of {count} (s) |",
        "|---|---:|---:|---:|",
    ]
    lines += [f"| {m.stack} | {m.first:.2f} | {m.median:.2f} | {m.maximum:.2f} |" for m in measurements]
    data = {"machine": asdict(machine), "measurements": [{"stack": m.stack, "first": m.first, "runs": list(m.runs)} for m in measurements]}
    lines += ["", f"{DATA_PREFIX}{json.dumps(data, sort_keys=True)} -->"]
    return "\n".join(lines)


def parse_data(block: str) -> tuple[list[Measurement], Machine]:
    """The raw numbers a rendered block carries (its data comment)."""
    [line] = [line for line in block.splitlines() if line.startswith(DATA_PREFIX)]
    data: Mapping[str, Any] = json.loads(line[len(DATA_PREFIX) : -len(" -->")])
    measurements = [Measurement(m["stack"], m["first"], tuple(m["runs"])) for m in data["measurements"]]
    return measurements, Machine(**data["machine"])


def block_of(text: str, start: str = START, end: str = END) -> str:
    """The measured block of a document between `start` and `end`; ValueError when its markers are missing."""
    if text.count(start) != 1 or text.count(end) != 1 or text.index(start) > text.index(end):
        raise ValueError(f"the document needs one {start} line and one {end} line after it, around the measured block")
    return text.split(start, 1)[1].split(end, 1)[0].strip("\n")


def replace_block(text: str, block: str, start: str = START, end: str = END) -> str:
    block_of(text, start, end)  # the markers are there, in order
    before, rest = text.split(start, 1)
    return f"{before}{start}\n{block}\n{end}{rest.split(end, 1)[1]}"


def main(argv: list[str] | None = None, evaluate: Callable[[str], Any] | None = None, doc: Path | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m offline.bench", description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=DEFAULT_RUNS, help=f"timed runs a stack after the first (default {DEFAULT_RUNS})")
    parser.add_argument("--write", action="store_true", help="rewrite the measured block of docs/benchmarks.md")
    args = parser.parse_args(argv)
    if args.runs < 1:
        parser.error(f"--runs: {args.runs} is not allowed; use 1 or more")
    target = doc or DOC
    if args.write:
        block_of(target.read_text())  # fail before measuring, not after
    machine = this_machine()
    block = render(measure(STACKS, args.runs, evaluate), machine)
    print(block)
    if args.write:
        target.write_text(replace_block(target.read_text(), block))
        print(f"wrote {target}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
