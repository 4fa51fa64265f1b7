"""Scenario files: a virtual experiment in YAML, read safely, converted once, validated whole.

The format is described in ``docs/scenario-format.md``. The package, one concept a module:

=================  ================================================================
:mod:`.yamltree`   safe YAML, the line of every key, ``--set`` overrides
:mod:`.problems`   :class:`ScenarioError`, problems first by line, did-you-mean
:mod:`.quantities` schema building blocks: strict mappings, quantities, region refs
:mod:`.schema`     the pydantic models, built from the registries at load time
:mod:`.objects`    the resolved objects (:class:`Scenario`, :class:`Domain`, ...)
:mod:`.resolve`    cross references and context-dependent units, into those objects
:mod:`.celltypes`  cell types: built-in, declared in the file, or extending one
:mod:`.summary`    the few lines ``abm validate`` prints
:mod:`.load`       :func:`load_scenario`, :func:`load_scenario_text`
=================  ================================================================

Names are imported on first use, so that the modules that register kinds (regions,
events, readouts) can build on :mod:`.quantities` and :mod:`.problems` without import
cycles.
"""

from importlib import import_module

_WHERE = {
    "ScenarioError": "problems",
    "Scenario": "objects", "Domain": "objects", "TissueLabel": "objects", "FieldSpec": "objects",
    "CellTypeSpec": "objects", "PopulationSpec": "objects", "Event": "objects",
    "Outputs": "objects", "Readout": "abm.readouts.base", "ProcessSpec": "objects",
    "InjurySpec": "abm.events.injury", "InjectionSpec": "abm.events.injection",
    "BolusSpec": "abm.events.bolus", "DepotSpec": "abm.events.depot",
    "load_scenario": "load", "load_scenario_text": "load",
    "build_labels": "objects",
    "catalogue": "celltypes",
    "parameter_kind": "celltypes",
    "parse_readout": "abm.readouts.parse",
}

__all__ = sorted(_WHERE)


def __getattr__(name):
    if name in _WHERE:
        where = _WHERE[name]
        value = getattr(import_module(where if "." in where else f"{__name__}.{where}"), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__():
    return sorted(list(globals()) + __all__)
