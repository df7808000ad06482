"""The benchmark (offline/bench.py) with a fake clock and evaluator: what it runs, what it reports, and that
docs/benchmarks.md holds a block it rendered. Nothing here measures or bounds real time."""

from __future__ import annotations

from pathlib import Path

import pytest

from offline import bench

ROOT = Path(__file__).resolve().parent.parent
MACHINE = bench.Machine(cpus=2, load=0.5, python="3.11.7", date="2026-12-01")


class FakeClock:
    """Each evaluation takes the next duration of `durations` (seconds)."""

    def __init__(self, durations: list[float]):
        self.durations, self.now, self.started = list(durations), 0.0, False

    def __call__(self) -> float:
        if self.started:
            self.now += self.durations.pop(0)
        self.started = not self.started
        return self.now


def test_each_stack_is_evaluated_once_then_runs_times_and_the_first_is_kept_apart():
    evaluated: list[str] = []
    # Binary fractions, so that the clock's differences are exact.
    clock = FakeClock([3.0, 0.5, 0.75, 0.625, 2.0, 1.25, 0.875, 1.5])
    found = bench.measure(("dev", "prod"), 3, evaluate=evaluated.append, clock=clock)
    assert evaluated == ["dev"] * 4 + ["prod"] * 4
    assert found == [bench.Measurement("dev", 3.0, (0.5, 0.75, 0.625)), bench.Measurement("prod", 2.0, (1.25, 0.875, 1.5))]
    assert (found[0].median, found[0].maximum) == (0.625, 0.75)
    assert (found[1].median, found[1].maximum) == (1.25, 1.5)
    assert bench.Measurement("x", 1.0, (0.2, 0.4)).median == pytest.approx(0.3)  # an even count: the mean of the middle two


def test_at_least_one_timed_run():
    with pytest.raises(ValueError, match=r"^runs: 0 is not allowed; use 1 or more timed runs$"):
        bench.measure(("dev",), 0, evaluate=lambda stack: None)


def test_the_block_shows_seconds_per_stack_and_carries_the_numbers_it_shows():
    measurements = [bench.Measurement("dev", 1.234, (0.3, 0.35, 0.5)), bench.Measurement("prod", 1.5, (0.4, 0.45, 0.41))]
    block = bench.render(measurements, MACHINE)
    assert block.splitlines()[:6] == [
        "Measured 2026-12-01 with `python -m offline.bench --runs 3` on 2 CPUs (1-minute load average 0.5 at the start), Python 3.11.7.",
        "",
        "| Stack | First evaluation (s) | Median of 3 (s) | Max of 3 (s) |",
        "|---|---:|---:|---:|",
        "| dev | 1.23 | 0.35 | 0.50 |",
        "| prod | 1.50 | 0.41 | 0.45 |",
    ]
    assert bench.parse_data(block) == (measurements, MACHINE)


def test_stacks_with_different_run_counts_are_refused():
    with pytest.raises(ValueError, match=r"every stack needs the same number of runs; got \[1, 2\]"):
        bench.render([bench.Measurement("dev", 1.0, (0.3,)), bench.Measurement("prod", 1.0, (0.3, 0.4))], MACHINE)


def test_write_replaces_only_the_block_and_checks_the_markers_before_measuring(tmp_path, capsys):
    doc = tmp_path / "benchmarks.md"
    doc.write_text(f"# Benchmarks\n\nintro\n\n{bench.START}\nold numbers\n{bench.END}\n\nafter\n")
    evaluated: list[str] = []
    assert bench.main(["--runs", "2", "--write"], evaluate=evaluated.append, doc=doc) == 0
    assert evaluated == ["dev"] * 3 + ["prod"] * 3
    text = doc.read_text()
    assert text.startswith(f"# Benchmarks\n\nintro\n\n{bench.START}\nMeasured ") and text.endswith(f" -->\n{bench.END}\n\nafter\n")
    measurements, _ = bench.parse_data(bench.block_of(text))
    assert [(m.stack, len(m.runs)) for m in measurements] == [("dev", 2), ("prod", 2)]
    assert capsys.readouterr().out.endswith(f"wrote {doc}\n")
    doc.write_text("# Benchmarks\n\nno markers\n")
    evaluated.clear()
    with pytest.raises(ValueError, match="the document needs one <!-- bench:start --> line and one <!-- bench:end --> line after it"):
        bench.main(["--write"], evaluate=evaluated.append, doc=doc)
    assert evaluated == []


def test_runs_below_one_is_a_usage_error(capsys):
    with pytest.raises(SystemExit) as exit_:
        bench.main(["--runs", "0"], evaluate=lambda stack: None)
    assert exit_.value.code == 2
    assert "--runs: 0 is not allowed; use 1 or more" in capsys.readouterr().err


def test_docs_benchmarks_holds_a_block_the_benchmark_rendered():
    """Every number in the block comes from its data line, as `./scripts/bench --write` wrote it."""
    text = (ROOT / "docs" / "benchmarks.md").read_text()
    block = bench.block_of(text)
    measurements, machine = bench.parse_data(block)
    assert block == bench.render(measurements, machine)
    assert [m.stack for m in measurements] == list(bench.STACKS)
    assert f"# {bench.DEFAULT_RUNS} timed runs a stack after the first" in text
