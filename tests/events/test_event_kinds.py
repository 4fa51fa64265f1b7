"""Event kinds go through the registry.

The built-in ones fire as before, and a kind (and a
readout kind) registered by a plugin module named in the scenario file is validated,
resolved, summarised, fired and recorded the same way, in ``abm run`` and ``abm resume``.
"""

from __future__ import annotations

import math
import os
import subprocess
import sys
from pathlib import Path

import pytest

from abm.cli import main
from abm.events import EventKind, event_kind
from abm.registry import EVENT_KINDS, READOUT_KINDS
from abm.run.runner import run_scenario
from abm.runfile import open_run
from abm.scenario import ScenarioError, load_scenario

ROOT = Path(__file__).resolve().parents[2]

PLUGIN = '''
from dataclasses import dataclass
from abm.registry import EVENT_KINDS, READOUT_KINDS
from abm.events import EventKind
from abm.readouts import Readout, ReadoutKind
from abm.scenario.quantities import PosNumber, SchemaModel


class _Schema(SchemaModel):
    field: str
    factor: PosNumber


@dataclass(frozen=True)
class ScaleSpec:
    field: str
    factor: float


class ScaleField(EventKind):
    """Multiply a field everywhere (a test event)."""
    name = "scale_field"
    schema = _Schema

    def resolve(self, raw, ctx):
        ctx.field_unit(raw.field)
        return ScaleSpec(raw.field, raw.factor)

    def describe(self, spec):
        return f"{spec.field} times {spec.factor:g}"

    def fire(self, spec, model, ctx):
        f = model.fields.field(spec.field)
        f *= spec.factor


class AllCells(ReadoutKind):
    """Cells of every type (a test readout)."""
    name = "all_cells"
    grammar = "all_cells"
    takes_label = False

    def parse(self, text, args, label, ctx):
        self.arity(text, args, 0, 0)
        return Readout(text, "all_cells", unit="cells")

    def evaluate(self, spec, model, ctx):
        return float(sum(len(p) for p in model.populations.values()))


EVENT_KINDS.register(ScaleField())
READOUT_KINDS.register(AllCells())
'''

SCENARIO = """\
name: plugged
plugins: [lab_kinds.py]
domain: {extent: [160 um, 160 um, 160 um], voxel: 20 um, dt: 1 min, duration: 6 min, seed: 5}
fields:
  VEGF: {initial: 2 ng/mL}
cell_types:
  Microglia:
  BMSC:
populations:
  - {cell_type: Microglia, region: all, count: 30}
events:
  - at: 3 min
    scale_field: {field: VEGF, factor: 4}
  - at: 5 min
    injection: {cell_type: BMSC, dose: 12 cells, route: local, target: all}
outputs:
  readout_every: 1 min
  readouts: [all_cells, mean VEGF, count BMSC]
"""


@pytest.fixture
def plugged(tmp_path):
    """A scenario folder with a plugin module; the kinds it registers are removed after."""
    (tmp_path / "lab_kinds.py").write_text(PLUGIN)
    p = tmp_path / "plugged.yaml"
    p.write_text(SCENARIO)
    yield p
    EVENT_KINDS.unregister("scale_field")
    READOUT_KINDS.unregister("all_cells")


def test_builtin_kinds_are_registered_once_in_their_modules():
    names = EVENT_KINDS.builtin_names()
    assert names[:4] == ["injury", "injection", "bolus", "depot"] and "exosomes" in names \
        and "pulse" in names
    for n in EVENT_KINDS.builtin_names():
        k = event_kind(n)
        assert isinstance(k, EventKind) and k.name == n
        # engine kinds live in abm.events.<name>; biology kinds in the biology room
        mod = type(k).__module__
        assert mod == f"abm.events.{n}" or mod.startswith("abm.biology."), (n, mod)


def test_plugin_kinds_are_validated_summarised_fired_and_recorded(plugged, tmp_path):
    sc = load_scenario(plugged)
    assert sc.plugins == ("lab_kinds.py",)
    assert [e.kind for e in sc.events] == ["scale_field", "injection"]
    assert "3 min scale_field VEGF times 4" in sc.summary()
    out = run_scenario(sc, tmp_path / "plugged.h5", progress=False, backend="numpy")
    with open_run(out) as r:
        ro = r.readouts()
        units = r.readout_units
    assert units["all_cells"] == "cells"
    assert list(ro["all_cells"]) == [30, 30, 30, 30, 30, 30, 42]   # injected before the 6th step
    v = ro["mean VEGF"]
    decay = sc.fields[0].decay
    # a uniform field only decays; the event multiplies it by 4 once, before step 4
    assert v[1] / v[0] == pytest.approx(math.exp(-decay), rel=1e-9)
    assert v[4] / v[3] == pytest.approx(4 * math.exp(-decay), rel=1e-9)


def test_plugin_kind_errors_are_line_precise(plugged):
    plugged.write_text(SCENARIO.replace("factor: 4}", "factr: 4}"))
    with pytest.raises(ScenarioError) as ei:
        load_scenario(plugged)
    e = ei.value
    assert (e.line, e.path) == (13, "events[0].scale_field.factr")
    assert "unknown key 'factr' (did you mean 'factor'?)" in e.problem
    plugged.write_text(SCENARIO.replace("field: VEGF, factor", "field: VEFG, factor"))
    with pytest.raises(ScenarioError, match=r"line 13, events\[0\]\.scale_field\.field: unknown "
                                            r"field 'VEFG' \(did you mean 'VEGF'\?\)"):
        load_scenario(plugged)
    plugged.write_text(SCENARIO.replace("[all_cells,", "[all_cell,"))
    with pytest.raises(ScenarioError, match="did you mean 'all_cells'"):
        load_scenario(plugged)


def test_an_event_needs_one_registered_kind(plugged):
    plugged.write_text(SCENARIO.replace("scale_field: {field", "scale_feld: {field"))
    with pytest.raises(ScenarioError) as ei:
        load_scenario(plugged)
    assert "unknown key 'scale_feld' (did you mean 'scale_field'?)" in ei.value.problem
    assert ei.value.line == 13


def test_a_missing_plugin_is_reported_at_its_line(tmp_path):
    p = tmp_path / "s.yaml"
    p.write_text(SCENARIO.replace("[lab_kinds.py]", "[lab_kinds.py, no_such_lab_module]"))
    (tmp_path / "lab_kinds.py").write_text("")
    with pytest.raises(ScenarioError) as ei:
        load_scenario(p)
    assert ei.value.line == 2 and "no_such_lab_module" in ei.value.problem
    assert "PYTHONPATH" in ei.value.problem


def test_run_and_resume_import_the_plugin_in_a_fresh_process(plugged, tmp_path):
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    out = tmp_path / "fresh.h5"
    run = subprocess.run([sys.executable, "-m", "abm", "run", str(plugged), "--out", str(out),
                          "--quiet", "--until", "4 min"], env=env, capture_output=True,
                         text=True, cwd=str(ROOT), timeout=300)
    assert run.returncode == 0, run.stderr
    res = subprocess.run([sys.executable, "-m", "abm", "resume", str(out), "--until", "6 min",
                          "--quiet", "--plugins-dir", str(plugged.parent)], env=env, capture_output=True, text=True, cwd=str(ROOT),
                         timeout=300)
    assert res.returncode == 0, res.stderr
    with open_run(out) as r:
        assert list(r.readouts()["all_cells"]) == [30, 30, 30, 30, 30, 30, 42]


def test_validate_and_info_print_the_plugin_kinds(plugged, tmp_path, capsys):
    assert main(["validate", str(plugged)]) == 0
    text = capsys.readouterr().out
    assert "scale_field VEGF times 4" in text and "plugins: lab_kinds.py" in text
    out = run_scenario(load_scenario(plugged), tmp_path / "i.h5", progress=False,
                       backend="numpy")
    assert main(["info", str(out), "--plugins-dir", str(plugged.parent)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert "events        3 min scale_field VEGF times 4; 5 min injection 12 BMSC (local) " \
           "into everywhere" in lines
    assert "plugins       lab_kinds.py" in lines
