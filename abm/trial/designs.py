"""Sweep designs: which points of parameter space are run.

An axis is a scenario value by its ``--set`` key path, with either ``values:`` (a list
with units) or a range ``low:``/``high:`` (with units). Designs:

* ``grid``: every combination of the axes' values (Cartesian product);
* ``list``: the i-th values of all axes together (the lists have one length);
* ``lhs``: a Latin hypercube of ``samples`` points over the ranges
  (:class:`scipy.stats.qmc.LatinHypercube`: each axis's range cut into ``samples`` equal
  strata, one point in each);
* ``sobol``: Saltelli's scheme on a scrambled Sobol' sequence
  (:func:`SALib.sample.sobol.sample`, ``samples`` base points, a power of 2:
  ``samples x (axes + 2)`` points), for first-order and total Sobol' indices;
* ``morris``: Morris elementary-effect trajectories (:func:`SALib.sample.morris.sample`,
  ``samples`` trajectories on a ``levels``-level grid: ``samples x (axes + 1)`` points).
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass

import numpy as np

from .variability import VariationProblem, _number

__all__ = ["Axis", "parse_axis", "design_points", "DESIGNS", "RANGE_DESIGNS"]

DESIGNS = ("grid", "list", "lhs", "sobol", "morris")
#: Designs that sample ranges (low/high) rather than listed values.
RANGE_DESIGNS = ("lhs", "sobol", "morris")


@dataclass(frozen=True)
class Axis:
    """One swept scenario value: listed ``values`` or a range, in ``unit``."""

    key: str
    unit: str
    values: tuple = ()
    low: float = math.nan
    high: float = math.nan
    whole: bool = False

    def override(self, value: float) -> str:
        """The ``--set`` text giving a run this value."""
        num = f"{int(round(value))}" if self.whole else f"{value:.6g}"
        return f"{self.key}={num} {self.unit}".rstrip()

    def corners(self) -> tuple[float, float]:
        """Smallest and largest value this axis takes."""
        return (min(self.values), max(self.values)) if self.values else (self.low, self.high)


def parse_axis(key: str, spec, design: str) -> Axis:
    """Read one entry of ``axes:`` for ``design``.

    Raises
    ------
    VariationProblem
        With the key inside the entry and a message naming the fix.
    """
    if not isinstance(spec, dict):
        raise VariationProblem("an axis is {values: [...]} or {low: ..., high: ...}")
    allowed = ("values", "whole") if design not in RANGE_DESIGNS else ("low", "high", "whole")
    for k in spec:
        if k not in allowed:
            why = (f"the {design} design takes {'values' if 'values' in allowed else 'low and high'}")
            raise VariationProblem(f"unknown key '{k}' here: {why}", (k,))
    whole = spec.get("whole", False)
    if not isinstance(whole, bool):
        raise VariationProblem(f"whole must be true or false, got {whole!r}", ("whole",))
    if "values" in allowed:
        vals = spec.get("values")
        if not isinstance(vals, list) or not vals:
            raise VariationProblem("values must be a non-empty list, e.g. [50 cells, 150 cells]",
                                   ("values",))
        first, unit = _number(vals[0], ("values", 0))
        nums = [first] + [_number(v, ("values", i), unit)[0] for i, v in enumerate(vals[1:], 1)]
        return Axis(key, unit, tuple(nums), whole=whole)
    for k in ("low", "high"):
        if k not in spec:
            raise VariationProblem(f"the {design} design needs low and high for each axis", ())
    low, unit = _number(spec["low"], ("low",))
    high, _ = _number(spec["high"], ("high",), unit)
    if not high > low:
        raise VariationProblem(f"high ({spec['high']}) must be above low ({spec['low']})", ("high",))
    return Axis(key, unit, (), low, high, whole)


def salib_problem(axes) -> dict:
    """The SALib problem of range axes."""
    return {"num_vars": len(axes), "names": [a.key for a in axes],
            "bounds": [[a.low, a.high] for a in axes]}


def design_points(design: str, axes, samples: int = 0, levels: int = 4, seed: int = 0) -> np.ndarray:
    """The points of a design: an array (points, axes) of values in each axis's unit.

    Whole-number axes are rounded after sampling.
    """
    if design == "grid":
        x = np.array(list(itertools.product(*[a.values for a in axes])), dtype=float)
    elif design == "list":
        x = np.array(list(zip(*[a.values for a in axes])), dtype=float)
    elif design == "lhs":
        from scipy.stats import qmc  # noqa: PLC0415

        u = qmc.LatinHypercube(d=len(axes), seed=np.random.default_rng(seed)).random(samples)
        x = qmc.scale(u, [a.low for a in axes], [a.high for a in axes])
    elif design == "sobol":
        from SALib.sample import sobol  # noqa: PLC0415

        x = sobol.sample(salib_problem(axes), samples, calc_second_order=False, seed=seed)
    elif design == "morris":
        from SALib.sample import morris  # noqa: PLC0415

        x = morris.sample(salib_problem(axes), samples, num_levels=levels, seed=seed)
    else:
        raise ValueError(f"unknown design {design!r}")
    x = np.array(x, dtype=float).reshape(-1, len(axes))
    for j, a in enumerate(axes):
        if a.whole:
            x[:, j] = np.round(x[:, j])
    return x
