"""Rules as data: how signals change behaviour, one table row per hypothesis.

A rule is a row of the cell-behaviour table, in the spirit of PhysiCell's
cell-behaviour hypothesis grammar (Johnson et al., "Human interpretable
grammar encodes multicellular systems biology models to democratize virtual
cell laboratories", Cell, 2025; the rules CSV of PhysiCell 1.12 and later)::

    cell_type, signal, direction, behaviour, max_response, half_max, hill_power
    BMSC,      SDF-1a, increases, speed,     0.6,          2.0,      2

``direction`` is ``increases`` or ``decreases``. ``max_response`` is the value
the behaviour reaches when this signal saturates (in the behaviour's unit:
µm/min for speed, 1/min for rates, ...); for a ``decreases`` rule it is the
value the behaviour falls to. ``half_max`` is the signal at which half of that
change is reached (in the signal's unit) and ``hill_power`` the steepness.

How rules combine
-----------------
For one behaviour of one cell type with base value ``b0`` (the cell type's
parameter), let ``x_i = (s_i / h_i)^{n_i}`` for each rule ``i`` (signals
below zero count as zero). The *increasing* rules act first::

    b_up = b0 + Σ_i (M_i − b0) · x_i / (1 + Σ_k x_k)

and then the *decreasing* rules act on the result::

    b = b_up + Σ_j (m_j − b_up) · y_j / (1 + Σ_k y_k)

With one rule this is the Hill function: ``b0`` at zero signal, halfway at
``s = h``, and ``M`` (or ``m``) at saturation. With several increasing rules
that share one maximum it is exactly PhysiCell's multivariate Hill response
(the signals add as ``Σ (s_i/h_i)^{n_i}``); with different maxima each rule
pulls toward its own, weighted by its activation. The result never leaves the
range spanned by ``b0`` and the rules' limits. Order of the rows does not
matter. Decreases act after increases, so an inhibitor at saturation wins.
"""

from __future__ import annotations

import csv
import math
from dataclasses import dataclass
from pathlib import Path

from ..errors import ModelInputError

__all__ = ["Rule", "RuleSet", "load_rules", "hill", "COLUMNS"]

COLUMNS = ("cell_type", "signal", "direction", "behaviour", "max_response", "half_max",
           "hill_power")
#: Annotation columns a rules file may add after :data:`COLUMNS` (evidence, not read by the model).
NOTE_COLUMNS = ((), ("source",), ("status", "source"))


def hill(xp, s, half_max: float, power: float):
    """Hill activation ``s^n / (h^n + s^n)`` in [0, 1] (signals below zero count as zero)."""
    x = (xp.maximum(s, 0.0) / half_max) ** power
    return x / (1.0 + x)


@dataclass(frozen=True)
class Rule:
    """One row of the behaviour table (see the module docs for the meaning of each field)."""

    cell_type: str
    signal: str
    direction: str
    behaviour: str
    max_response: float
    half_max: float
    hill_power: float
    source: str = "rule"

    def __post_init__(self):
        where = self.source
        if self.direction not in ("increases", "decreases"):
            raise ModelInputError(
                f"{where}: direction must be 'increases' or 'decreases', got {self.direction!r}")
        for name in ("max_response", "half_max", "hill_power"):
            v = getattr(self, name)
            if not isinstance(v, (int, float)) or not math.isfinite(v):
                raise ModelInputError(f"{where}: {name} must be a finite number, got {v!r}")
        if self.half_max <= 0:
            raise ModelInputError(f"{where}: half_max must be > 0, got {self.half_max!r}")
        if self.hill_power <= 0:
            raise ModelInputError(f"{where}: hill_power must be > 0, got {self.hill_power!r}")
        if self.max_response < 0:
            raise ModelInputError(
                f"{where}: max_response must be >= 0 (behaviours are speeds, rates and "
                f"levels), got {self.max_response!r}")


class RuleSet:
    """The rules of a model, grouped by (cell type, behaviour).

    Parameters
    ----------
    rules : iterable of Rule or of 7-tuples
        Rows in :data:`COLUMNS` order.
    """

    def __init__(self, rules=()):
        self.rules: list[Rule] = []
        for k, r in enumerate(rules):
            if not isinstance(r, Rule):
                r = _rule_from_row(list(r), f"rule {k + 1}")
            self.rules.append(r)

    def __len__(self) -> int:
        return len(self.rules)

    def __iter__(self):
        return iter(self.rules)

    def for_type(self, cell_type: str) -> dict[str, list[Rule]]:
        """Rules of one cell type, keyed by behaviour."""
        out: dict[str, list[Rule]] = {}
        for r in self.rules:
            if r.cell_type == cell_type:
                out.setdefault(r.behaviour, []).append(r)
        return out

    def signals_of(self, cell_type: str) -> set[str]:
        """Signals that some rule of ``cell_type`` reads."""
        return {r.signal for r in self.rules if r.cell_type == cell_type}

    def validate(self, catalogue: dict[str, tuple[set[str], set[str]]]) -> None:
        """Check every rule against the known cell types, signals and behaviours.

        Parameters
        ----------
        catalogue : dict
            Cell type name to ``(signals, behaviours)`` it understands.

        Raises
        ------
        ModelInputError
            Naming the row, the unknown name and the known choices.
        """
        for r in self.rules:
            if r.cell_type not in catalogue:
                raise ModelInputError(
                    f"{r.source}: unknown cell type {r.cell_type!r}; the model has "
                    f"{sorted(catalogue)}")
            signals, behaviours = catalogue[r.cell_type]
            if r.signal not in signals:
                raise ModelInputError(
                    f"{r.source}: {r.cell_type} cannot sense {r.signal!r}; known signals: "
                    f"{', '.join(sorted(signals))}")
            if r.behaviour not in behaviours:
                raise ModelInputError(
                    f"{r.source}: {r.cell_type} has no behaviour {r.behaviour!r}; known "
                    f"behaviours: {', '.join(sorted(behaviours))}")

    @staticmethod
    def apply(xp, base, rules: list[Rule], signal_values: dict):
        """Value of one behaviour given its base and its rules (see the module docs).

        Parameters
        ----------
        base : float
            Base value ``b0`` of the behaviour.
        rules : list of Rule
            Rules of this behaviour and cell type.
        signal_values : dict
            Signal name to array (one value per agent).

        Returns
        -------
        array or float
        """
        ups = [r for r in rules if r.direction == "increases"]
        downs = [r for r in rules if r.direction == "decreases"]
        b = base
        for group in (ups, downs):
            if not group:
                continue
            xs = [(xp.maximum(signal_values[r.signal], 0.0) / r.half_max) ** r.hill_power
                  for r in group]
            denom = 1.0 + sum(xs)
            pull = sum((r.max_response - b) * x for r, x in zip(group, xs))
            b = b + pull / denom
        return b


def _rule_from_row(row: list, where: str) -> Rule:
    if len(row) != len(COLUMNS):
        raise ModelInputError(
            f"{where}: a rule has {len(COLUMNS)} fields ({', '.join(COLUMNS)}), got {len(row)}")
    ct, sig, direc, beh = (str(v).strip() for v in row[:4])
    nums = []
    for name, v in zip(COLUMNS[4:], row[4:]):
        try:
            nums.append(float(v))
        except (TypeError, ValueError):
            raise ModelInputError(f"{where}: {name} must be a number, got {v!r}") from None
    return Rule(ct, sig, direc, beh, *nums, source=where)


def load_rules(path) -> RuleSet:
    """Read a rules table (CSV with the header of :data:`COLUMNS`; ``#`` starts a comment line).

    The header may go on with ``source`` or ``status,source`` (the evidence of each row,
    as in ``seeds/rules/``); those columns are kept in the file, not in the rules.

    Raises
    ------
    ModelInputError
        Missing file, wrong header, or a bad row (named by file and line).
    """
    path = Path(path)
    if not path.is_file():
        raise ModelInputError(f"rules file {str(path)!r} not found; give the path of a CSV "
                              f"with columns {', '.join(COLUMNS)}")
    rules = []
    with open(path, newline="") as fh:
        lines = [(i + 1, ln) for i, ln in enumerate(fh) if ln.strip() and not ln.lstrip().startswith("#")]
    if not lines:
        return RuleSet()
    reader = csv.reader([ln for _, ln in lines])
    header = [h.strip() for h in next(reader)]
    notes = tuple(header[len(COLUMNS):])
    if tuple(header[:len(COLUMNS)]) != COLUMNS or notes not in NOTE_COLUMNS:
        raise ModelInputError(
            f"{path.name} line {lines[0][0]}: header must be {','.join(COLUMNS)} (optionally "
            f"followed by status,source), got {','.join(header)}")
    for (lineno, _), row in zip(lines[1:], reader):
        where = f"{path.name} line {lineno}"
        if notes and len(row) != len(header):
            raise ModelInputError(f"{where}: a rule of this file has {len(header)} fields "
                                  f"({', '.join(header)}), got {len(row)}")
        rules.append(_rule_from_row(row[:len(COLUMNS)], where))
    return RuleSet(rules)
