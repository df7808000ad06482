"""The many-services benchmark (offline/bench_services.py) with fake clocks and evaluator: the stack it builds,
what it runs and reports, and that docs/benchmarks.md holds a block it rendered. Nothing here measures or
bounds real time."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest

from offline import bench, bench_services
from offline.bench_services import Measurement, Timing
from tests.test_bench import FakeClock

ROOT = Path(__file__).resolve().parent.parent
MACHINE = bench.Machine(cpus=2, load=1.5, python="3.11.7", date="2026-12-08")


def test_the_stack_has_one_default_service_the_others_routed_by_path_or_every_fourth_by_host():
    entries = bench_services.services_config(8)
    assert [e["name"] for e in entries] == ["s01", "s02", "s03", "s04", "s05", "s06", "s07", "s08"]
    assert [e for e in entries if "paths" not in e and "hosts" not in e] == [entries[0]]
    assert [e["hosts"] for e in entries if "hosts" in e] == [["s04.example.com"], ["s08.example.com"]]
    assert entries[1] == {"name": "s02", "appPath": "services/s02", "sourceFilePaths": ["services/s02/**"], "paths": ["/s02/*"]}
    assert len({tuple(e.get("paths", ())) + tuple(e.get("hosts", ())) for e in entries}) == 8  # no two on one route
    with pytest.raises(ValueError, match=r"^services: 0 is not allowed; use 1 or more$"):
        bench_services.services_config(0)


def test_each_target_is_evaluated_once_then_runs_times_with_wall_and_cpu_kept_apart():
    evaluated: list[tuple[str, dict]] = []

    def evaluate(stack, overrides):
        evaluated.append((stack, dict(overrides)))
        return SimpleNamespace(resources=[None] * 7)

    # Binary fractions, so that the clocks' differences are exact.
    wall = FakeClock([4.0, 0.5, 0.75, 0.625, 3.0, 1.25, 0.875, 1.5])
    cpu = FakeClock([3.5, 0.25, 0.5, 0.375, 2.5, 1.0, 0.75, 1.25])
    found = bench_services.measure(2, 3, evaluate=evaluate, wall=wall, cpu=cpu)
    services = bench_services.services_config(2)
    assert evaluated == [("dev", {"services": services})] * 4 + [("dev", {"deployTarget": "eks", "services": services})] * 4
    assert found[0] == Measurement("ecs", 7, Timing(4.0, 3.5), (Timing(0.5, 0.25), Timing(0.75, 0.5), Timing(0.625, 0.375)))
    assert (found[0].median_wall, found[0].median_cpu, found[0].max_wall) == (0.625, 0.375, 0.75)
    assert (found[1].target, found[1].median_wall, found[1].median_cpu, found[1].max_wall) == ("eks", 1.25, 1.0, 1.5)
    with pytest.raises(ValueError, match=r"^runs: 0 is not allowed; use 1 or more timed runs$"):
        bench_services.measure(2, 0, evaluate=evaluate)


def test_the_block_shows_wall_and_cpu_per_target_the_verdict_and_carries_its_numbers():
    measurements = [
        Measurement("ecs", 900, Timing(6.0, 5.5), (Timing(4.0, 3.8), Timing(4.5, 4.0), Timing(4.25, 3.9))),
        Measurement("eks", 800, Timing(5.0, 4.5), (Timing(11.0, 3.0), Timing(10.5, 3.5), Timing(12.0, 3.25))),
    ]
    block = bench_services.render(measurements, MACHINE, 20, 1.75)
    assert block.splitlines()[:9] == [
        "Measured 2026-12-08 with `python -m offline.bench_services --services 20 --runs 3` on 2 CPUs (1-minute load average 1.5 before the runs, 1.75 after), Python 3.11.7.",
        "",
        "| Target | Services | Resources | First evaluation, wall (s) | Median of 3, wall (s) | Median of 3, CPU (s) | Max of 3, wall (s) |",
        "|---|---:|---:|---:|---:|---:|---:|",
        "| ecs | 20 | 900 | 6.00 | 4.25 | 3.90 | 4.50 |",
        "| eks | 20 | 800 | 5.00 | 11.00 | 3.25 | 12.00 |",
        "",
        "Slowest median: eks, 11.00 s wall: over the 10 s target. Most CPU: ecs, 3.90 s (what the evaluation needs of one "
        "core; the wall-clock time adds what other processes took of the machine).",
        "",
    ]
    assert bench_services.parse_data(block) == (measurements, MACHINE, 20, 1.75)
    within = bench_services.render(measurements[:1], MACHINE, 20, 1.75)
    assert "Slowest median: ecs, 4.25 s wall: within the 10 s target. Most CPU: ecs, 3.90 s" in within


def test_write_replaces_only_the_services_block_and_checks_its_markers_before_measuring(tmp_path):
    doc = tmp_path / "benchmarks.md"
    other = f"{bench.START}\nstacks\n{bench.END}"
    doc.write_text(f"# Benchmarks\n\n{other}\n\n{bench_services.START}\nold\n{bench_services.END}\n\nafter\n")
    evaluated: list[str] = []

    def evaluate(stack, overrides):
        evaluated.append(stack)

    assert bench_services.main(["--services", "3", "--runs", "1", "--write"], evaluate=evaluate, doc=doc) == 0
    assert evaluated == ["dev"] * 4
    text = doc.read_text()
    assert text.startswith(f"# Benchmarks\n\n{other}\n\n{bench_services.START}\nMeasured ") and text.endswith(f" -->\n{bench_services.END}\n\nafter\n")
    measurements, _, services, _ = bench_services.parse_data(bench.block_of(text, bench_services.START, bench_services.END))
    assert services == 3 and [(m.target, len(m.runs)) for m in measurements] == [("ecs", 1), ("eks", 1)]
    doc.write_text(f"# Benchmarks\n\n{other}\n")
    evaluated.clear()
    with pytest.raises(ValueError, match="the document needs one <!-- bench-services:start --> line and one <!-- bench-services:end --> line"):
        bench_services.main(["--write"], evaluate=evaluate, doc=doc)
    assert evaluated == []


def test_docs_benchmarks_holds_a_services_block_the_benchmark_rendered():
    """Every number in the block comes from its data line, as `./scripts/bench-services --write` wrote it."""
    text = (ROOT / "docs" / "benchmarks.md").read_text()
    block = bench.block_of(text, bench_services.START, bench_services.END)
    measurements, machine, services, load_after = bench_services.parse_data(block)
    assert block == bench_services.render(measurements, machine, services, load_after)
    assert services == bench_services.SERVICES and [m.target for m in measurements] == list(bench_services.TARGETS)
