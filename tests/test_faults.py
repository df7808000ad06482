"""The fault-injection list (offline/fault_catalogue.py) stays applicable to the current tree."""

from __future__ import annotations

from pathlib import Path

import pytest

from offline import faults


@pytest.mark.parametrize("fault", faults.FAULTS, ids=lambda f: f.name)
def test_fault_still_applies(fault):
    assert faults.applies(fault), f"{fault.file}: the text of fault {fault.name!r} is not there exactly once; update it"
    assert fault.old != fault.new


def test_fault_names_are_unique_and_every_class_is_covered():
    assert len({f.name for f in faults.FAULTS}) == len(faults.FAULTS)
    assert {"iam", "ordering", "network", "alarm", "protection", "logs", "encryption", "naming"} <= {f.kind for f in faults.FAULTS}


def test_injection_never_touches_the_working_tree(tmp_path: Path):
    with pytest.raises(ValueError, match="refusing to mutate the working tree"):
        faults.inject(faults.FAULTS[0], faults.ROOT)
    target = tmp_path / faults.FAULTS[0].file
    target.parent.mkdir(parents=True)
    target.write_text(f"x\n{faults.FAULTS[0].old}\ny\n")
    faults.inject(faults.FAULTS[0], tmp_path)
    assert target.read_text() == f"x\n{faults.FAULTS[0].new}\ny\n"


def test_the_run_does_not_count_this_module_as_a_catch():
    """This module fails on every mutated copy (the fault's text is gone), which would make every fault 'caught'."""
    assert "--ignore=tests/test_faults.py" in faults.PYTEST
