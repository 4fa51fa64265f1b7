"""Between-animal variability: distributions with units over scenario values.

Real animals differ: the lesion an occlusion makes, the cells a syringe delivers, the
density of microglia. A trial file gives each varied scenario value (by its ``--set`` key
path) a distribution with units::

    variability:
      events.2.injection.dose: {lognormal: {mean: 150 cells, cv: 0.3}, whole: true, arms: [treated]}
      events.0.injury.region.outer_radius: {normal: {mean: 260 um, sd: 20 um}, min: 200 um}
      populations.1.density: {uniform: {low: 1.2e4 cells/mm^3, high: 1.8e4 cells/mm^3}}

Each animal draws its own value of each entry from its own stream of a seeded generator
(:class:`numpy.random.SeedSequence` keyed by the trial seed, study, arm, animal and key),
so a trial is reproducible, and adding an animal, an arm or a varied value leaves every
other animal's draws unchanged. Draws are passed to the run as ``--set KEY=VALUE UNIT``
overrides and so are stored in its run file.

The log-normal is given by its arithmetic mean and coefficient of variation (SD/mean),
as biologists report variation; with ``s2 = ln(1 + cv^2)`` the underlying normal of
``ln X`` has SD ``sqrt(s2)`` and mean ``ln(mean) - s2/2``. ``min``/``max`` truncate a
distribution (values outside are drawn again); ``whole: true`` rounds to whole numbers
(cell counts); ``arms: [treated]`` varies the value in those arms only (a vehicle control
keeps its dose of 0 cells).
"""

from __future__ import annotations

import math
import re
import zlib
from dataclasses import dataclass

import numpy as np

from .. import units as U

__all__ = ["Variation", "parse_variation", "stream", "DISTRIBUTIONS", "MAX_REDRAWS"]

#: Distribution name -> its parameters (all with the unit of the varied value, except cv).
DISTRIBUTIONS = {"normal": ("mean", "sd"), "lognormal": ("mean", "cv"), "uniform": ("low", "high")}
#: Draws tried per value before a truncated distribution is refused as too narrow.
MAX_REDRAWS = 1000
_LEADING_NUMBER = re.compile(r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?")


class VariationProblem(ValueError):
    """A mistake in one variability entry; ``key`` (a tuple) says where inside it."""

    def __init__(self, message: str, key=()):
        super().__init__(message)
        self.key = tuple(key)


@dataclass(frozen=True)
class Variation:
    """One varied scenario value.

    Attributes
    ----------
    key : str
        ``--set`` key path of the value, e.g. ``events.2.injection.dose``.
    kind : str
        ``normal``, ``lognormal`` or ``uniform``.
    params : dict
        Parameters as plain numbers in ``unit`` (``cv`` is a plain ratio).
    unit : str
        Unit the parameters and the drawn values are written in (``""``: a plain number).
    low, high : float
        Truncation bounds in ``unit`` (``-inf``/``inf``: none).
    whole : bool
        Round each draw to a whole number.
    arms : tuple of str or None
        The arms whose animals vary this value (None: every arm); the others keep the
        scenario's (or their arm's) value, e.g. a vehicle control's dose of 0.
    """

    key: str
    kind: str
    params: dict
    unit: str
    low: float = -math.inf
    high: float = math.inf
    whole: bool = False
    arms: tuple | None = None

    @property
    def centre(self) -> float:
        """The typical value (mean; midpoint of a uniform), used to check the scenario."""
        p = self.params
        v = (p["low"] + p["high"]) / 2 if self.kind == "uniform" else p["mean"]
        v = min(max(v, self.low), self.high)
        return float(round(v)) if self.whole else v

    def _raw(self, rng: np.random.Generator, n: int) -> np.ndarray:
        p = self.params
        if self.kind == "normal":
            return rng.normal(p["mean"], p["sd"], n)
        if self.kind == "uniform":
            return rng.uniform(p["low"], p["high"], n)
        s2 = math.log1p(p["cv"] ** 2)
        return rng.lognormal(math.log(p["mean"]) - s2 / 2, math.sqrt(s2), n)

    def draw(self, rng: np.random.Generator) -> float:
        """One value (in ``unit``), truncated to [low, high] by drawing again."""
        for _ in range(MAX_REDRAWS // 50):
            x = self._raw(rng, 50)
            if self.whole:
                x = np.round(x)
            ok = x[(x >= self.low) & (x <= self.high)]
            if ok.size:
                return float(ok[0])
        raise VariationProblem(f"{self.key}: no value within [{self.low:g}, {self.high:g}] "
                               f"{self.unit} in {MAX_REDRAWS} draws; widen min/max or move the "
                               "distribution")

    def override(self, value: float) -> str:
        """The ``--set`` text that gives a run this value."""
        num = f"{int(value)}" if self.whole else f"{value:.6g}"
        return f"{self.key}={num} {self.unit}".rstrip()


def _number(raw, key, unit=None) -> tuple[float, str]:
    """A parameter as (magnitude, unit); in ``unit`` when given (same dimension)."""
    try:
        q, bare = U.parse_quantity(raw)
    except U.UnitProblem as exc:
        raise VariationProblem(str(exc), key) from None
    if math.isinf(float(q.magnitude)):
        raise VariationProblem(f"expected a finite value, got {raw!r}", key)
    if unit is None:           # the first parameter: its unit, as the user wrote it
        if bare:
            return float(q.magnitude), ""
        m = _LEADING_NUMBER.match(str(raw).strip())
        return float(q.magnitude), str(raw).strip()[m.end():].strip() if m else f"{q.units:~}"
    if bare and unit:
        raise VariationProblem(f"give {raw} a unit like the other parameters, e.g. '{raw} {unit}'",
                               key)
    try:
        return float((q if not bare else U.Q_(float(q.magnitude))).to(unit or "dimensionless")
                     .magnitude), unit
    except Exception:  # noqa: BLE001 - pint's dimensionality errors
        raise VariationProblem(f"{raw!r} ({U.describe_dimension(q)}) does not have the dimension "
                               f"of the other parameters ({unit or 'a plain number'})", key) from None


def parse_variation(key: str, spec) -> Variation:
    """Read one entry of ``variability:``.

    Parameters
    ----------
    key : str
        The ``--set`` key path of the varied value.
    spec : dict
        ``{DISTRIBUTION: {PARAM: VALUE, ...}, min: ..., max: ..., whole: bool}``.

    Raises
    ------
    VariationProblem
        With the key inside the entry and a message naming the fix.
    """
    if not isinstance(spec, dict):
        raise VariationProblem("expected a mapping such as {normal: {mean: 260 um, sd: 20 um}}")
    names = [k for k in spec if k in DISTRIBUTIONS]
    extra = [k for k in spec if k not in DISTRIBUTIONS and k not in ("min", "max", "whole", "arms")]
    if extra:
        from ..registry import did_you_mean  # noqa: PLC0415

        allowed = [*DISTRIBUTIONS, "min", "max", "whole", "arms"]
        raise VariationProblem(f"unknown key '{extra[0]}'{did_you_mean(extra[0], allowed)}; "
                               f"allowed: {', '.join(allowed)}", (extra[0],))
    if len(names) != 1:
        raise VariationProblem(f"give exactly one distribution ({', '.join(DISTRIBUTIONS)}), got "
                               f"{len(names)}")
    kind = names[0]
    p = spec[kind]
    want = DISTRIBUTIONS[kind]
    if not isinstance(p, dict) or sorted(p) != sorted(want):
        raise VariationProblem(f"{kind} takes {' and '.join(want)}, e.g. "
                               f"{ {'normal': '{mean: 260 um, sd: 20 um}', 'lognormal': '{mean: 150 cells, cv: 0.3}', 'uniform': '{low: 1 h, high: 3 h}'}[kind]}",  # noqa: E501
                               (kind,))
    first, unit = _number(p[want[0]], (kind, want[0]))
    params = {want[0]: first}
    if kind == "lognormal":
        cv, _ = _number(p["cv"], (kind, "cv"), "")
        if not cv > 0:
            raise VariationProblem(f"cv must be > 0, got {p['cv']}", (kind, "cv"))
        if not first > 0:
            raise VariationProblem(f"a log-normal mean must be > 0, got {p['mean']}", (kind, "mean"))
        params["cv"] = cv
    else:
        params[want[1]], _ = _number(p[want[1]], (kind, want[1]), unit)
    if kind == "normal" and not params["sd"] >= 0:
        raise VariationProblem(f"sd must be >= 0, got {p['sd']}", (kind, "sd"))
    if kind == "uniform" and not params["high"] > params["low"]:
        raise VariationProblem(f"high ({p['high']}) must be above low ({p['low']})", (kind, "high"))
    low = _number(spec["min"], ("min",), unit)[0] if "min" in spec else -math.inf
    high = _number(spec["max"], ("max",), unit)[0] if "max" in spec else math.inf
    if not high > low:
        raise VariationProblem(f"max ({spec.get('max')}) must be above min ({spec.get('min')})", ("max",))
    whole = spec.get("whole", False)
    if not isinstance(whole, bool):
        raise VariationProblem(f"whole must be true or false, got {whole!r}", ("whole",))
    arms = spec.get("arms")
    if arms is not None and (not isinstance(arms, list) or not arms
                             or not all(isinstance(a, str) for a in arms)):
        raise VariationProblem(f"arms must list the arms that vary this value, e.g. [treated], got "
                               f"{arms!r}", ("arms",))
    v = Variation(key, kind, params, unit, low, high, whole, tuple(arms) if arms else None)
    v.draw(np.random.default_rng(0))           # a truncation that leaves nothing is refused now
    return v


def _tag(name: str) -> int:
    return zlib.crc32(name.encode("utf-8"))


def stream(seed: int, *names) -> np.random.SeedSequence:
    """The seed sequence of one purpose of one animal.

    ``names`` (study, arm, animal index, key, ...) are hashed (CRC-32) into the spawn key,
    so a stream does not depend on how many other studies, arms or keys there are.
    """
    return np.random.SeedSequence(int(seed), spawn_key=tuple(
        n if isinstance(n, int) else _tag(str(n)) for n in names))
