"""Readout kinds go through the registry.

The built-in ones parse and evaluate as before
(each one module), messages list the registered grammars, and a kind registered outside
the package is parsed, evaluated and given its unit the same way.
"""

from __future__ import annotations

import numpy as np
import pytest

from abm.cells import TissueModel
from abm.errors import ModelInputError
from abm.fields import TissueClass
from abm.readouts import Readout, ReadoutKind, evaluate_readouts, grammar, readout_kind, readout_units
from abm.registry import READOUT_KINDS
from abm.scenario import parse_readout

TYPES = {"BMSC": (), "Microglia": ("M0", "M1", "M2")}
UNITS = {"VEGF": "ng/mL", "exosome": "1e9 particles/mL"}


def test_builtin_kinds_live_one_per_module():
    assert READOUT_KINDS.builtin_names() == ["count", "fraction", "mean", "max", "total",
                                             "divisions", "deaths", "cycling", "ratio"]
    mods = {"count": "count", "fraction": "fraction", "mean": "mean", "max": "maximum",
            "total": "total", "divisions": "divisions", "deaths": "deaths", "cycling": "cycling",
            "ratio": "ratio"}
    for n, mod in mods.items():
        assert type(readout_kind(n)).__module__ == f"abm.readouts.{mod}"


@pytest.mark.parametrize("text, expected", [
    ("count BMSC", Readout("count BMSC", "count", cell_type="BMSC", unit="cells")),
    ("count Microglia M2 in core", Readout("count Microglia M2 in core", "count", "Microglia",
                                           "M2", label="core", unit="cells")),
    ("fraction Microglia M1", Readout("fraction Microglia M1", "fraction", "Microglia", "M1")),
    ("mean VEGF in core", Readout("mean VEGF in core", "mean", field="VEGF", label="core",
                                  unit="ng/mL")),
    ("max exosome", Readout("max exosome", "max", field="exosome", unit="1e9 particles/mL")),
    ("total VEGF", Readout("total VEGF", "total", field="VEGF", unit="ng/mL*um^3")),
])
def test_builtin_kinds_parse_as_before(text, expected):
    assert parse_readout(text, TYPES, UNITS, ["parenchyma", "core"]) == expected


def test_messages_name_the_registered_grammars():
    with pytest.raises(ModelInputError) as ei:
        parse_readout("average VEGF", TYPES, UNITS, [])
    msg = str(ei.value)
    assert "'average' is not a measure" in msg
    assert "the measures are " in msg and "'BV/TV'" not in msg.split("measures are")[0]
    for kind in ("count", "fraction", "mean", "ratio", "BV/TV", "ultimate_load"):
        assert kind in msg.split("the measures are ", 1)[1], msg
    # the engine's kinds first, in their order; then the biology's (the bone micro-CT kinds)
    assert grammar().startswith(
        "'count <type> [<state>] [marked <marker>] [in <label>]', "
        "'fraction <type> <state> [in <label>]', "
        "'mean <field|tissue state> [in <label>]', "
        "'mean <type> <variable> [in <label>]', 'max <field|tissue state> "
        "[in <label>]', 'total <field>', "
        "'divisions <type> [in <label>] over <duration>', "
        "'deaths <type> [<state>] [in <label>] over <duration>', "
        "'cycling <type> [<state>] [in <label>] over <duration>', "
        "'ratio <readout> / <readout>', ")
    rest = grammar().split("'ratio <readout> / <readout>', ", 1)[1]
    for kind in ("'BV/TV'", "'Tb.Th'", "'Tb.Sp'", "'Tb.N'", "'BMD'", "'Ct.Th'", "'ultimate_load'",
                 "'defect_fill [mineral]'"):
        assert kind in rest, (kind, rest)
    with pytest.raises(ModelInputError, match="'total' takes no 'in <label>'"):
        parse_readout("total VEGF in core", TYPES, UNITS, ["core"])
    with pytest.raises(ModelInputError, match="unknown tissue label 'cor' \\(did you mean 'core'"):
        parse_readout("mean VEGF in cor", TYPES, UNITS, ["core"])


class Occupied(ReadoutKind):
    """Voxels holding at least one cell (a test kind)."""

    name = "occupied"
    grammar = "occupied"

    def parse(self, text, args, label, ctx):
        self.arity(text, args, 0, 0)
        return Readout(text, "occupied", label=label, unit="voxels")

    def evaluate(self, spec, model, ctx):
        occ = np.asarray(model.occupancy).reshape(model.shape) > 0
        if spec.label is not None:
            occ &= ctx.labels() == model.tissue_names.index(spec.label)
        return float(occ.sum())


def test_a_registered_kind_parses_and_evaluates():
    READOUT_KINDS.register(Occupied())
    try:
        assert grammar().endswith(" or 'occupied'")   # after every earlier kind
        r = parse_readout("occupied in core", TYPES, UNITS, ["parenchyma", "core"])
        assert (r.kind, r.label) == ("occupied", "core")
        labels = np.zeros((4, 4, 4), np.uint8)
        labels[:2] = 1
        m = TissueModel(shape=(4, 4, 4), dx=20.0, fields=("VEGF",), labels=labels,
                        tissue=[TissueClass("parenchyma"), TissueClass("core")], seed=1,
                        backend="numpy")
        m.add_cells("BMSC", [(0, 0, 0), (0, 1, 0), (3, 3, 3)])
        rs = [r, parse_readout("occupied", TYPES, UNITS, []),
              parse_readout("count BMSC in core", TYPES, UNITS, ["parenchyma", "core"])]
        assert evaluate_readouts(m, rs) == {"occupied in core": 2.0, "occupied": 3.0,
                                            "count BMSC in core": 2.0}
        assert readout_units(m, rs) == {"occupied in core": "voxels", "occupied": "voxels",
                                        "count BMSC in core": "cells"}
    finally:
        READOUT_KINDS.unregister("occupied")
    with pytest.raises(ModelInputError, match="'occupied' is not a measure"):
        parse_readout("occupied", TYPES, UNITS, [])
