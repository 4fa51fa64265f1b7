"""``ratio <readout> / <readout>``: one readout divided by another, at the same time.

E.g. ``ratio count Microglia M1 in core / count Microglia M2 in core`` (an M1/M2 ratio).
Each side is any readout but a ratio, written as alone (with its own ``in`` and
``over``); the ``/`` stands alone, with spaces around it. The value is NaN when the
denominator is 0 (or NaN); the unit is 1 when both sides have the same unit, else
``<numerator unit>/<denominator unit>``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from ..registry import READOUT_KINDS
from ..scenario.problems import Bad
from .base import ReadoutKind, readout_kind

__all__ = ["RatioReadout", "RatioSpec"]


@dataclass(frozen=True)
class RatioSpec:
    """Two readout specs whose quotient is recorded."""

    text: str
    kind: str
    numerator: object
    denominator: object


def _unit_ratio(a: str, b: str) -> str:
    if a == b:
        return "1"
    if b == "1":
        return a
    wrap = f"({b})" if any(c in b for c in "/* ") else b
    return f"1/{wrap}" if a == "1" else f"{a}/{wrap}"


class RatioReadout(ReadoutKind):
    """The quotient of two readouts."""

    name = "ratio"
    grammar = "ratio <readout> / <readout>"
    whole = True

    def parse(self, text, args, label, ctx) -> RatioSpec:
        """The :class:`RatioSpec` of the string (:meth:`ReadoutKind.parse`)."""
        from .parse import parse  # noqa: PLC0415 - parse.py imports the kinds

        if args.count("/") != 1:
            hint = (" (put spaces around '/')" if "/" not in args and any("/" in a for a in args)
                    else "")
            raise Bad(f"cannot read readout '{text}': a ratio is two readouts with one ' / ' "
                      f"between them{hint}, e.g. 'ratio count Microglia M1 / count Microglia "
                      f"M2'")
        i = args.index("/")
        sides = [" ".join(args[:i]), " ".join(args[i + 1:])]
        specs = []
        for side, what in zip(sides, ("numerator", "denominator")):
            if not side:
                raise Bad(f"cannot read readout '{text}': the {what} is missing; write "
                          f"'{self.grammar}'")
            if side.split()[0] == self.name:
                raise Bad(f"readout '{text}': a ratio cannot contain a ratio")
            try:
                specs.append(parse(side, ctx))
            except Bad as exc:
                raise Bad(f"in the {what} of '{text}': {exc}") from None
        return RatioSpec(text, "ratio", specs[0], specs[1])

    def unit(self, spec, model) -> str:
        """The numerator's unit over the denominator's (1 when they are the same)."""
        a = readout_kind(spec.numerator.kind).unit(spec.numerator, model)
        b = readout_kind(spec.denominator.kind).unit(spec.denominator, model)
        return _unit_ratio(a, b)

    def evaluate(self, spec, model, ctx) -> float:
        """The value now (:meth:`ReadoutKind.evaluate`); NaN when the denominator is 0."""
        a = readout_kind(spec.numerator.kind).evaluate(spec.numerator, model, ctx)
        b = readout_kind(spec.denominator.kind).evaluate(spec.denominator, model, ctx)
        if b == 0 or math.isnan(b):
            return float("nan")
        return float(a) / float(b)


READOUT_KINDS.register(RatioReadout(), builtin=True)
