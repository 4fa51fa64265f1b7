"""Physical quantities at the boundary: one pint registry and conversion into internal units.

Scenario files carry units (``"70 um^2/s"``, ``"38 min"``, ``"2e6 cells"``);
:func:`to_internal` converts each value once into the engine's internal units:

=====================  ===========================================================
length                 µm
time                   min
concentration          each field's own declared unit (``"ng/mL"``, ``"1e9 particles/mL"``)
amount of a field      concentration × µm³ (so ``1 ng`` in an ``ng/mL`` field is 1e12)
cell count             cells (a dimensionless count)
cell density           cells per µm³
=====================  ===========================================================

The registry (:data:`ureg`) is pint's default one with two changes: ``cell``
(alias ``cells``) is a dimensionless count, and ``particle`` (aliases
``particles``, ``molecule``, ``molecules``) is a dimensionless count too (pint's
default makes a particle 1/N_A mol, which would turn ``"1e9 particles/mL"``
into a molar concentration). ``h`` is the hour.
"""

from __future__ import annotations

import importlib.resources
import math
import re
from dataclasses import dataclass

import pint

__all__ = ["ureg", "Kind", "UnitProblem", "parse_quantity", "to_internal", "parse_unit",
           "describe_dimension", "LENGTH", "TIME", "DIFFUSIVITY", "RATE", "SPEED", "CHEMOTAXIS",
           "CELL_COUNT", "CELL_DENSITY", "DIMENSIONLESS", "concentration_kind", "amount_kind",
           "amount_rate_kind"]


def _make_registry() -> pint.UnitRegistry:
    root = importlib.resources.files("pint")
    lines: list[str] = []
    for line in (root / "default_en.txt").read_text(encoding="utf-8").splitlines():
        if line.startswith("@import"):
            lines += (root / line.split()[1]).read_text(encoding="utf-8").splitlines()
        elif not line.startswith("particle ="):
            lines.append(line)
    lines += ["cell = 1 = _ = cells",
              "particle = 1 = _ = particles = molecule = molecules"]
    reg = pint.UnitRegistry(None, cache_folder=None)
    reg.load_definitions(lines)
    return reg


#: The one unit registry of the package.
ureg: pint.UnitRegistry = _make_registry()
Q_ = ureg.Quantity


class UnitProblem(ValueError):
    """A value that cannot be read or converted; the message says what was expected."""


@dataclass(frozen=True)
class Kind:
    """What a value must be: its description, its internal unit and an example.

    Attributes
    ----------
    description : str
        E.g. ``"a diffusivity (area/time, e.g. '70 um^2/s')"``.
    internal : str
        Internal unit as a pint expression (may carry a factor, ``"1e9 particles/mL"``).
    example_unit : str
        Unit suggested when a bare number is given, e.g. ``"um^2/s"``.
    bare_ok : bool
        Whether a plain number (no unit) is accepted (dimensionless values).
    """

    description: str
    internal: str
    example_unit: str = ""
    bare_ok: bool = False

    @property
    def target(self) -> pint.Quantity:
        """The internal unit as a quantity."""
        return Q_(self.internal)


LENGTH = Kind("a length (e.g. '20 um')", "um", "um")
TIME = Kind("a time (e.g. '1 min', '24 h')", "min", "min")
DIFFUSIVITY = Kind("a diffusivity (area/time, e.g. '70 um^2/s')", "um**2/min", "um^2/s")
RATE = Kind("a rate (1/time, e.g. '0.018 1/min')", "1/min", "1/min")
SPEED = Kind("a speed (length/time, e.g. '0.3 um/min')", "um/min", "um/min")
CHEMOTAXIS = Kind("a chemotactic sensitivity (area/time, e.g. '500 um^2/min')", "um**2/min",
                  "um^2/min")
CELL_COUNT = Kind("a number of cells (e.g. '2e6 cells')", "1", "cells", bare_ok=True)
CELL_DENSITY = Kind("a cell density (cells/volume, e.g. '5e4 cells/mm^3')", "1/um**3",
                    "cells/mm^3")
DIMENSIONLESS = Kind("a plain number", "1", "", bare_ok=True)


def _example(unit: str) -> str:
    return unit if unit[:1].isdigit() else f"1 {unit}"


def concentration_kind(field: str, unit: str) -> Kind:
    """Concentration of a field, internal unit = the field's unit."""
    return Kind(f"a concentration of {field} (its unit is {unit}, e.g. '{_example(unit)}')",
                unit, unit)


def _amount_unit(unit: str) -> str:
    """A readable amount unit of a field: its concentration unit × mL (e.g. 'ng', 'particle')."""
    dim = str((Q_(unit) * ureg.mL).dimensionality)
    return {"[mass]": "ng", "[substance]": "pmol", "dimensionless": "particles"}.get(
        dim, f"({unit})*um^3")


def amount_kind(field: str, unit: str) -> Kind:
    """Amount of a field, internal unit = field unit × µm³."""
    au = _amount_unit(unit)
    return Kind(f"an amount of {field} (concentration × volume, e.g. '5 {au}')",
                f"({unit}) * um**3", au)


def amount_rate_kind(field: str, unit: str) -> Kind:
    """Amount of a field per time, internal unit = field unit × µm³ / min."""
    au = _amount_unit(unit)
    return Kind(f"an amount of {field} per time (e.g. '1 {au}/h')", f"({unit}) * um**3 / min",
                f"{au}/h")


_DIMENSION_NAMES = {
    "": "a plain number",
    "[length]": "a length",
    "[time]": "a time",
    "[length] ** 2": "an area",
    "[length] ** 3": "a volume",
    "1 / [time]": "a rate",
    "[length] / [time]": "a speed",
    "[length] ** 2 / [time]": "a diffusivity",
    "[mass]": "a mass",
    "[substance]": "an amount of substance",
    "[mass] / [length] ** 3": "a mass concentration",
    "[substance] / [length] ** 3": "a molar concentration",
    "1 / [length] ** 3": "a number per volume",
    "[mass] / [time]": "a mass per time",
    "[substance] / [time]": "an amount of substance per time",
    "[length] ** 3 / [time]": "a volume per time",
}


def describe_dimension(q: pint.Quantity) -> str:
    """A short name of the physical dimension of ``q`` (``"a length"``, ``"a rate"``, ...)."""
    dim = str(q.dimensionality)
    if dim == "dimensionless":
        dim = ""
    return _DIMENSION_NAMES.get(dim, f"dimension {dim}")


def _show(raw) -> str:
    return f"'{raw}'" if isinstance(raw, str) else repr(raw)


_COMMA_NUMBER = re.compile(r"^[+-]?[\d.]*\d,[\d,.]*\d")


def _refuse_commas(raw, s: str) -> None:
    """UnitProblem for a comma in a quantity (``"2,5 min"``, ``"1,000 cells"``, ``"3 um, 4 um"``).

    pint would read ``2,5`` as 25 and ``3 um, 4 um`` as 12 µm²: a comma is never part of a
    quantity, so it is refused with the fix.
    """
    if "," not in s:
        return
    m = _COMMA_NUMBER.match(s)
    if m is None:
        raise UnitProblem(f"cannot read {_show(raw)} as one quantity: it contains a comma; a "
                          "list of values needs brackets, e.g. [3 um, 4 um]")
    num, rest = m.group(0), s[m.end():]
    if num.count(",") == 1 and "." not in num and len(num.split(",")[1]) != 3:
        fix = f"'{num.replace(',', '.')}{rest}'"
    elif num.count(",") == 1 and "." not in num:
        fix = f"'{num.replace(',', '.')}{rest}' (decimal comma) or '{num.replace(',', '')}{rest}'"
    else:
        fix = f"'{num.replace(',', '')}{rest}'"
    raise UnitProblem(f"cannot read {_show(raw)}: a comma in a number is not read as a decimal "
                      f"point or a thousands separator; write a decimal point and no separators, "
                      f"e.g. {fix}")


def parse_quantity(raw) -> tuple[pint.Quantity, bool]:
    """Read a number with a unit.

    Parameters
    ----------
    raw : str, int or float
        ``"70 um^2/s"``, ``"1e10 particles"``, ``"inf"``, ``3``, ...

    Returns
    -------
    (pint.Quantity, bool)
        The quantity and whether it was a bare number (no unit).

    Raises
    ------
    UnitProblem
        Not a number, NaN, or an unknown unit.
    """
    if isinstance(raw, bool) or not isinstance(raw, (str, int, float)):
        kind = {dict: "a mapping", list: "a list", type(None): "nothing"}.get(type(raw),
                                                                            type(raw).__name__)
        raise UnitProblem(f"expected a number with a unit, got {kind}")
    if isinstance(raw, (int, float)):
        value, bare = Q_(float(raw)), True
    else:
        s = raw.strip()
        _refuse_commas(raw, s)
        try:
            value, bare = Q_(float(s)), True
        except ValueError:
            if not s or not (s[0].isdigit() or s[0] in "+-." or s.lower().startswith("inf")):
                raise UnitProblem(f"cannot read {_show(raw)} as a quantity: it must start with a "
                                  f"number, e.g. '20 um'") from None
            try:
                value = Q_(s)
            except pint.UndefinedUnitError as exc:
                names = ", ".join(f"'{n}'" for n in exc.unit_names) if hasattr(exc, "unit_names") \
                    else str(exc)
                raise UnitProblem(f"cannot read {_show(raw)} as a quantity: unknown unit {names}") \
                    from None
            except Exception as exc:  # pint raises several kinds of parse errors
                why = str(exc).strip() or "malformed unit expression"
                raise UnitProblem(f"cannot read {_show(raw)} as a quantity ({why}); write a "
                                  f"number and a unit, e.g. '20 um'") from None
            if not isinstance(value, pint.Quantity):
                value = Q_(float(value))
            bare = False
    if math.isnan(float(value.magnitude)):
        raise UnitProblem(f"expected a number, got {_show(raw)}")
    return value, bare


def to_internal(raw, kind: Kind, *, minimum: float | None = 0.0, positive: bool = False,
                maximum: float | None = None, allow_inf: bool = False) -> float:
    """Convert a value with a unit into the internal unit of ``kind``.

    Parameters
    ----------
    raw : str, int or float
        The value as written (``"70 um^2/s"``).
    kind : Kind
        What it must be (dimension, internal unit).
    minimum : float or None
        Smallest accepted value in internal units (default 0; None: no bound).
    positive : bool
        Require a value > 0.
    maximum : float or None
        Largest accepted value.
    allow_inf : bool
        Accept ``inf`` (written bare or with a unit).

    Returns
    -------
    float
        The value in internal units.

    Raises
    ------
    UnitProblem
        With a message naming what was expected and what was given.
    """
    q, bare = parse_quantity(raw)
    target = kind.target
    inf = math.isinf(float(q.magnitude))
    if inf and not allow_inf:
        raise UnitProblem(f"expected a finite value, got {_show(raw)}")
    if bare and not kind.bare_ok and not (inf and allow_inf):
        num = raw if isinstance(raw, str) else repr(raw)
        raise UnitProblem(f"expected {kind.description}, got the bare number {num}; give a unit, "
                          f"e.g. '{num} {kind.example_unit}'")
    ratio = q / target
    if not ratio.dimensionless and not (bare and inf and allow_inf):
        raise UnitProblem(f"expected {kind.description}, got {_show(raw)} "
                          f"({describe_dimension(q)})")
    value = float(ratio.to("dimensionless").magnitude) if not (bare and inf) else float(q.magnitude)
    if math.isinf(value) and not allow_inf:
        raise UnitProblem(f"expected a finite value, got {_show(raw)}")
    if positive and not value > 0:
        raise UnitProblem(f"must be > 0, got {_show(raw)}")
    if minimum is not None and value < minimum:
        lim = "0" if minimum == 0 else f"{minimum:g}"
        raise UnitProblem(f"must be >= {lim}, got {_show(raw)}")
    if maximum is not None and value > maximum:
        raise UnitProblem(f"must be <= {maximum:g}, got {_show(raw)}")
    return value


_CONCENTRATION_DIMS = {"[mass] / [length] ** 3", "[substance] / [length] ** 3", "1 / [length] ** 3",
                       "dimensionless", "[mass] / [length] / [time] ** 2"}


def parse_unit(raw) -> str:
    """Check a field's concentration unit (``"ng/mL"``, ``"nM"``, ``"1e9 particles/mL"``).

    Accepted: mass, molar or number per volume, a pressure (``"mmHg"``, for
    oxygen) or a dimensionless unit (``"1"``, arbitrary units).

    Returns
    -------
    str
        The unit string, stripped.

    Raises
    ------
    UnitProblem
    """
    if not isinstance(raw, str) or not raw.strip():
        raise UnitProblem(f"expected a concentration unit such as 'ng/mL', got {_show(raw)}")
    s = raw.strip()
    try:
        q = Q_(s)
    except pint.UndefinedUnitError as exc:
        names = ", ".join(f"'{n}'" for n in getattr(exc, "unit_names", [str(exc)]))
        raise UnitProblem(f"cannot read unit {_show(raw)}: unknown unit {names}") from None
    except Exception as exc:
        why = str(exc).strip() or "malformed unit expression"
        raise UnitProblem(f"cannot read unit {_show(raw)} ({why})") from None
    if not isinstance(q, pint.Quantity):
        q = Q_(float(q))
    if str(q.dimensionality) not in _CONCENTRATION_DIMS or not float(q.magnitude) > 0:
        raise UnitProblem(f"expected a concentration unit (e.g. 'ng/mL', 'nM', "
                          f"'1e9 particles/mL'), got {_show(raw)} ({describe_dimension(q)})")
    return s
