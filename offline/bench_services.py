"""Benchmark: a stack of many services (20 unless told) evaluated under the offline mocks, on ECS and on EKS.

    python -m offline.bench_services                  # 20 services, 5 timed runs a target; prints the table
    python -m offline.bench_services --runs 9         # more runs
    python -m offline.bench_services --services 30    # another stack size
    python -m offline.bench_services --write          # also rewrites the services block of docs/benchmarks.md

The stack is Pulumi.dev.yaml with a `services` list (`services_config`): the first service is the listener's
default, the others are routed by path prefix, every fourth by host name, each with its own app path and source
filter. Each target is evaluated 1 + `--runs` times in one process; the first evaluation is shown on its own (the
process's first one imports pulumi_aws), the median and maximum are of the others. Wall-clock and CPU time (this
process's user + system) depend on the machine and on what else runs on it, so they are measured here, never
asserted in a test; the block records the CPU count and the load average before and after the runs.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from offline.bench import DOC, Machine, block_of, replace_block, this_machine

START, END = "<!-- bench-services:start -->", "<!-- bench-services:end -->"
DATA_PREFIX = "<!-- bench-services:data "
STACK = "dev"
SERVICES = 20
DEFAULT_RUNS = 5
# What an evaluation of the 20-service stack should stay under on a 2-core machine (wall-clock seconds).
TARGET_SECONDS = 10
# Each target's overrides of the stack file, besides `services`.
TARGETS: dict[str, dict[str, Any]] = {"ecs": {}, "eks": {"deployTarget": "eks"}}


def services_config(count: int) -> list[dict[str, Any]]:
    """`count` services as a stack file lists them: `s01` the default, the others by path (`/s02/*`), every
    fourth by host name (`s04.example.com`), each with its app path and source filter."""
    if count < 1:
        raise ValueError(f"services: {count} is not allowed; use 1 or more")
    entries = []
    for i in range(1, count + 1):
        name = f"s{i:02d}"
        entry: dict[str, Any] = {"name": name, "appPath": f"services/{name}", "sourceFilePaths": [f"services/{name}/**"]}
        if i > 1:
            entry.update({"hosts": [f"{name}.example.com"]} if i % 4 == 0 else {"paths": [f"/{name}/*"]})
        entries.append(entry)
    return entries


@dataclass(frozen=True)
class Timing:
    wall: float
    """Seconds on the clock."""
    cpu: float
    """Seconds of this process's CPU time (user + system)."""


@dataclass(frozen=True)
class Measurement:
    target: str
    resources: int
    """Resources and components the stack registers."""
    first: Timing
    runs: tuple[Timing, ...]

    @property
    def median_wall(self) -> float:
        return statistics.median(t.wall for t in self.runs)

    @property
    def median_cpu(self) -> float:
        return statistics.median(t.cpu for t in self.runs)

    @property
    def max_wall(self) -> float:
        return max(t.wall for t in self.runs)


def measure(
    count: int,
    runs: int,
    evaluate: Callable[[str, Mapping[str, Any]], Any] | None = None,
    wall: Callable[[], float] = time.perf_counter,
    cpu: Callable[[], float] = time.process_time,
) -> list[Measurement]:
    """Evaluate the `count`-service stack on each target 1 + `runs` times with `evaluate(stack, overrides)`
    (default: offline.mocks.evaluate_stack), timed by `wall` and `cpu`."""
    if runs < 1:
        raise ValueError(f"runs: {runs} is not allowed; use 1 or more timed runs")
    if evaluate is None:
        from offline.mocks import evaluate_stack

        evaluate = evaluate_stack
    services = services_config(count)
    found = []
    for target, overrides in TARGETS.items():
        times, resources = [], 0
        for _ in range(1 + runs):
            started_wall, started_cpu = wall(), cpu()
            result = evaluate(STACK, {**overrides, "services": services})
            times.append(Timing(wall() - started_wall, cpu() - started_cpu))
            resources = len(getattr(result, "resources", ()))
        found.append(Measurement(target, resources, times[0], tuple(times[1:])))
    return found


def render(measurements: Sequence[Measurement], machine: Machine, count: int, load_after: float) -> str:
    """The measured block: seconds per target, whether the median is within TARGET_SECONDS, the machine, and the
    raw numbers it was rendered from (to 0.1 ms, so the block renders the same from its data line)."""
    measurements = [
        Measurement(m.target, m.resources, Timing(round(m.first.wall, 4), round(m.first.cpu, 4)), tuple(Timing(round(t.wall, 4), round(t.cpu, 4)) for t in m.runs))
        for m in measurements
    ]
    runs = {len(m.runs) for m in measurements}
    if len(runs) != 1:
        raise ValueError(f"every target needs the same number of runs; got {sorted(runs)}")
    [n] = runs
    lines = [
        f"Measured {machine.date} with `python -m offline.bench_services --services {count} --runs {n}` on {machine.cpus} CPUs "
        f"(1-minute load average {machine.load:g} before the runs, {load_after:g} after), Python {machine.python}.",
        "",
        f"| Target | Services | Resources | First evaluation, wall (s) | Median of {n}, wall (s) | Median of {n}, CPU (s) | Max of {n}, wall (s) |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    lines += [f"| {m.target} | {count} | {m.resources} | {m.first.wall:.2f} | {m.median_wall:.2f} | {m.median_cpu:.2f} | {m.max_wall:.2f} |" for m in measurements]
    slowest, busiest = max(measurements, key=lambda m: m.median_wall), max(measurements, key=lambda m: m.median_cpu)
    verdict = "within" if slowest.median_wall < TARGET_SECONDS else "over"
    lines += [
        "",
        f"Slowest median: {slowest.target}, {slowest.median_wall:.2f} s wall: {verdict} the {TARGET_SECONDS} s target. "
        f"Most CPU: {busiest.target}, {busiest.median_cpu:.2f} s (what the evaluation needs of one core; the wall-clock time "
        "adds what other processes took of the machine).",
    ]
    data = {
        "machine": asdict(machine),
        "services": count,
        "load_after": load_after,
        "measurements": [{"target": m.target, "resources": m.resources, "first": [m.first.wall, m.first.cpu], "runs": [[t.wall, t.cpu] for t in m.runs]} for m in measurements],
    }
    lines += ["", f"{DATA_PREFIX}{json.dumps(data, sort_keys=True)} -->"]
    return "\n".join(lines)


def parse_data(block: str) -> tuple[list[Measurement], Machine, int, float]:
    """The raw numbers a rendered block carries (its data comment)."""
    [line] = [line for line in block.splitlines() if line.startswith(DATA_PREFIX)]
    data: Mapping[str, Any] = json.loads(line[len(DATA_PREFIX) : -len(" -->")])
    measurements = [Measurement(m["target"], m["resources"], Timing(*m["first"]), tuple(Timing(*t) for t in m["runs"])) for m in data["measurements"]]
    return measurements, Machine(**data["machine"]), data["services"], data["load_after"]


def _load() -> float:
    return round(os.getloadavg()[0], 2) if hasattr(os, "getloadavg") else float("nan")


def main(argv: list[str] | None = None, evaluate: Callable[[str, Mapping[str, Any]], Any] | None = None, doc: Path | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m offline.bench_services", description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--services", type=int, default=SERVICES, help=f"services in the stack (default {SERVICES})")
    parser.add_argument("--runs", type=int, default=DEFAULT_RUNS, help=f"timed runs a target after the first (default {DEFAULT_RUNS})")
    parser.add_argument("--write", action="store_true", help="rewrite the services block of docs/benchmarks.md")
    args = parser.parse_args(argv)
    if args.runs < 1:
        parser.error(f"--runs: {args.runs} is not allowed; use 1 or more")
    if args.services < 1:
        parser.error(f"--services: {args.services} is not allowed; use 1 or more")
    target = doc or DOC
    if args.write:
        block_of(target.read_text(), START, END)  # fail before measuring, not after
    machine = this_machine()
    measurements = measure(args.services, args.runs, evaluate)
    block = render(measurements, machine, args.services, _load())
    print(block)
    if args.write:
        target.write_text(replace_block(target.read_text(), block, START, END))
        print(f"wrote {target}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
