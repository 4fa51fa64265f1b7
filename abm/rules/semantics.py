"""Checks of what rules mean, beyond the names they use.

A rule row is well formed when its cell type, signal and behaviour exist
(:meth:`abm.rules.RuleSet.validate`). It can still say something other than
what its author meant. Two such mistakes are refused here, with a message that
names the rule and the fix:

* **A rule that moves the behaviour the wrong way.** In the grammar
  (:mod:`abm.rules.grammar`) a rule pulls the behaviour from its base value
  toward ``max_response``. An ``increases`` rule whose ``max_response`` is
  *below* the base value therefore lowers the behaviour as its signal rises,
  and a ``decreases`` rule whose ``max_response`` is *above* the base raises
  it: a "protective" rule ``decreases death`` with a response above the
  base death rate kills more cells the more protective signal there is. The
  direction word and the numbers must agree: ``increases`` needs
  ``max_response >= base``, ``decreases`` needs ``max_response <= base``
  (PhysiCell's grammar reads the pair the same way: an increasing rule rises
  from the base to its maximum, a decreasing one falls from the base to its
  minimum).
* **Secretion switched on with nothing to secrete toward.** Secretion in the
  field engine is saturating: a cell secretes at rate ``S`` toward a target
  concentration ``T`` (``p ← (p + dt S T) / (1 + dt (S + U))``). A rule that
  turns on ``secretion:<field>`` for a cell type whose ``target:<field>`` is
  zero and is set by no rule makes the cells *take up* that field instead
  (with no source at all). ``target:<field>`` must be given, above zero, as a
  parameter or by a rule.

Both checks use the base values in force (the cell type's parameters, after
seed defaults and overrides), so they run where those are known: when a
:class:`~abm.cells.TissueModel` is built and when a scenario is validated.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from ..errors import ModelInputError
from .grammar import Rule

__all__ = ["rule_problems", "check_rules"]


def _fmt(v: float) -> str:
    return f"{v:g}"


def rule_problems(cell_type: str, base: Mapping[str, float], rules: Iterable[Rule],
                  field_names: Iterable[str]) -> list[tuple[Rule, str]]:
    """The meaning problems of one cell type's rules.

    Parameters
    ----------
    cell_type : str
        The cell type the rules belong to (rules of other types are ignored).
    base : mapping
        The type's parameters in force, internal units (a missing behaviour has
        base 0).
    rules : iterable of Rule
        Rules (any cell type; only ``cell_type``'s are checked).
    field_names : iterable of str
        Fields of the model.

    Returns
    -------
    list of (Rule, str)
        Each offending rule with a one-line message naming the fix; empty when
        the rules mean what they say.
    """
    rules = [r for r in rules if r.cell_type == cell_type]
    out: list[tuple[Rule, str]] = []
    for r in rules:
        b0 = float(base.get(r.behaviour, 0.0))
        if r.direction == "increases" and r.max_response < b0:
            out.append((r, f"{cell_type}: rule '{r.signal} increases {r.behaviour}' has "
                           f"max_response {_fmt(r.max_response)}, below the base value "
                           f"{_fmt(b0)}, so it would lower {r.behaviour}; write 'decreases' "
                           f"or give a max_response >= {_fmt(b0)}"))
        elif r.direction == "decreases" and r.max_response > b0:
            out.append((r, f"{cell_type}: rule '{r.signal} decreases {r.behaviour}' has "
                           f"max_response {_fmt(r.max_response)}, above the base value "
                           f"{_fmt(b0)}, so it would raise {r.behaviour}; a decreasing rule "
                           f"falls from the base toward its max_response: give a value <= "
                           f"{_fmt(b0)} (0 switches the behaviour off) or write 'increases'"))
    targeted = {r.behaviour for r in rules if r.behaviour.startswith("target:")}
    for f in field_names:
        if float(base.get(f"target:{f}", 0.0)) > 0 or f"target:{f}" in targeted:
            continue
        for r in rules:
            if r.behaviour == f"secretion:{f}" and r.direction == "increases" \
                    and r.max_response > 0:
                out.append((r, f"{cell_type}: rule '{r.signal} increases secretion:{f}' switches "
                               f"on secretion of {f}, but {cell_type} has no target:{f} (the "
                               f"concentration it secretes toward), so the cells would take {f} "
                               f"up instead; give target:{f} as a parameter above 0"))
    return out


def check_rules(base_by_type: Mapping[str, Mapping[str, float]], rules: Iterable[Rule],
                field_names: Iterable[str]) -> None:
    """Raise on the first meaning problem of any cell type's rules (see :func:`rule_problems`).

    Raises
    ------
    ModelInputError
        Naming the rule's source (file and line, or row), the problem and the fix.
    """
    rules = list(rules)
    fields = list(field_names)
    for name, base in base_by_type.items():
        problems = rule_problems(name, base, rules, fields)
        if problems:
            r, msg = problems[0]
            raise ModelInputError(f"{r.source}: {msg}")
