"""Cell types of a scenario.

A registered type (``BMSC:`` with parameters and rules), a
new type declared in the file (states, variables, chemotaxis, colours), or one that
``extends:`` another; then their parameters (with units, by :mod:`abm.rules.kinds`) and
rules, checked against what the type can sense and do. See docs/scenario-format.md
("Cell types").
"""

from __future__ import annotations

from pathlib import Path

from .. import rules as rules_
from .. import units as U
from ..cells.declare import declare_cell_type
from ..errors import ModelInputError
from ..registry import CELL_TYPES
from ..rules.kinds import parameter_kind, signal_kind
from .objects import CellTypeSpec
from .problems import Bad, choices, did_you_mean
from .schema import STRUCTURE_KEYS, CellTypeSchema, RuleSchema

__all__ = ["catalogue", "parameter_kind", "type_class", "resolve_cell_type"]


def _registered(name):
    if name in CELL_TYPES:
        return CELL_TYPES.get(name)
    names = CELL_TYPES.names()
    raise Bad(f"unknown cell type '{name}'{did_you_mean(name, names)}; built-in "
              f"types: {', '.join(names)}")


def catalogue(cell_type, type_names, field_names, tissue_names, tissue_states=()):
    """Signals and behaviours a cell type understands, before a model exists.

    The same functions :class:`abm.cells.TissueModel` uses (:mod:`abm.rules`).

    Parameters
    ----------
    cell_type : str or LatticeCell subclass
        A registered cell type name, or a class (a type declared in a file).
    type_names, field_names, tissue_names : iterable of str
        Cell types, fields and tissue labels of the model.
    tissue_states : iterable of str
        Tissue states of the model's processes.

    Returns
    -------
    (set of str, set of str)
        Signals and behaviours.
    """
    cls = _registered(cell_type) if isinstance(cell_type, str) else cell_type
    types, fields = list(type_names), list(field_names)
    return (rules_.signal_names(cls, types, fields, tissue_names, tuple(tissue_states)),
            rules_.behaviour_names(cls, types, fields))


def type_class(ctx, name: str, spec: CellTypeSchema):
    """The class of cell type entry ``name``: the registered one, or a declared one.

    Raises
    ------
    Bad
        An unknown name that declares nothing, structure given for a registered type,
        an unknown base, chemotaxis on an undeclared field, or a malformed declaration.
    """
    given = [k for k in STRUCTURE_KEYS if k in spec.model_fields_set]
    if name in CELL_TYPES:
        if given:
            raise Bad(f"{name} is a registered cell type: its structure ({given[0]}) cannot be "
                      f"changed here; declare a new type that extends it, e.g. "
                      f"'My{name}: {{extends: {name}, ...}}'", key=given[0])
        return CELL_TYPES.get(name)
    if not given:
        names = CELL_TYPES.names()
        raise Bad(f"unknown cell type '{name}'{did_you_mean(name, names)}; built-in types: "
                  f"{', '.join(names)}; to declare a new type give its states, variables or "
                  f"chemotaxis, or extends: <type>")
    base = None
    if spec.extends is not None:
        if spec.extends in ctx.types:
            base = ctx.types[spec.extends]
        elif spec.extends in CELL_TYPES:
            base = CELL_TYPES.get(spec.extends)
        else:
            known = list(CELL_TYPES.names()) + [t for t in ctx.types if t not in CELL_TYPES]
            raise Bad(f"{name} extends unknown cell type '{spec.extends}'"
                      f"{did_you_mean(spec.extends, known)}; it may extend {choices(known)}",
                      key="extends")
    variables, initial = None, {}
    if isinstance(spec.variables, dict):
        variables = list(spec.variables)
        initial = {f"initial:{v}": float(x) for v, x in spec.variables.items()}
    elif spec.variables is not None:
        variables = list(spec.variables)
    field = receptor = None
    if spec.chemotaxis is not None:
        field, receptor = spec.chemotaxis.field, spec.chemotaxis.receptor or ""
        if field not in ctx.field_units:
            raise Bad(f"{name} chemotaxes on unknown field '{field}'"
                      f"{did_you_mean(field, ctx.field_units)}; declared fields: "
                      f"{choices(ctx.field_units)}", key=("chemotaxis", "field"))
        if receptor and receptor not in (variables if variables is not None else
                                         (base.variables if base else ())):
            raise Bad(f"{name}: chemotaxis receptor '{receptor}' is not one of its variables; "
                      f"add it under variables", key=("chemotaxis", "receptor"))
    try:
        return declare_cell_type(name, extends=base, states=spec.states, variables=variables,
                                 chemotaxis_field=field, chemotaxis_receptor=receptor,
                                 parameters=initial, colour=spec.colour,
                                 state_colours=spec.state_colours or None)
    except ModelInputError as exc:
        msg = str(exc)
        key = "state_colours" if "state" in msg and "colour" in msg else \
            "colour" if "colour" in msg else "states" if "state " in msg else \
            "variables" if "variable" in msg else None
        raise Bad(msg, key=key) from None


def resolve_cell_type(ctx, name: str, spec: CellTypeSchema) -> CellTypeSpec:
    """Resolve the parameters and rules of one cell type.

    Parameters (converted by their kinds) and rules of cell type ``name``, whose class
    is ``ctx.types[name]``; problems are recorded in ``ctx.p`` at their keys.
    """
    loc = ("cell_types", name)
    cls = ctx.types[name]
    sig, beh = catalogue(cls, ctx.types, ctx.field_units, ctx.tissue_names, ctx.state_units)
    known = rules_.known_parameters(cls, ctx.types, ctx.field_units)
    params = {}
    for k, v in spec.parameters.items():
        ploc = loc + ("parameters", k)
        if k not in known:
            ctx.p.add(ploc, f"{name} has no parameter '{k}'{did_you_mean(k, known)}; "
                            f"known: {choices(known)}")
            continue
        kind = ctx.attempt(ploc, parameter_kind, k, cls, ctx.field_units)
        if kind is None:
            continue
        val = ctx.attempt(ploc, ctx.conv, ploc, v, kind,
                          maximum=1.0 if k.startswith("initial:") else None)
        if val is not None:
            params[k] = val
    # the model's own checks, with a line: secretion needs a target, chemotaxis its field
    merged = {k: v for k, v in cls.default_parameters().items() if k in known
              and not (k == "chemotaxis" and cls.chemotaxis_field not in ctx.field_units)}
    merged.update(params)
    for f in ctx.field_units:
        if merged.get(f"secretion:{f}", 0) > 0 and f"target:{f}" not in merged:
            ctx.p.add(loc + ("parameters", f"secretion:{f}"),
                      f"secretion:{f} needs a target:{f} (saturation concentration, "
                      f"{ctx.field_units[f]})")
    if cls.chemotaxis_field and cls.chemotaxis_field not in ctx.field_units \
            and params.get("chemotaxis", 0) > 0:
        ctx.p.add(loc + ("parameters", "chemotaxis"),
                  f"{name} chemotaxes on '{cls.chemotaxis_field}', which is not a declared "
                  f"field; add the field or set chemotaxis to 0")
    if "chemotaxis_half_saturation" in params and params["chemotaxis_half_saturation"] <= 0:
        ctx.p.add(loc + ("parameters", "chemotaxis_half_saturation"), "must be > 0")
    rules, where = [], []
    if isinstance(spec.rules, str):
        for r in _rules_file(ctx, loc + ("rules",), cls, spec.rules, sig, beh):
            rules.append(r)
            where.append(loc + ("rules",))
    else:
        # a list: rule rows and rules tables (each table's rows are added where it is named),
        # so a scenario can opt into an extra table, e.g. [seeds:rules/macrophage.csv,
        # seeds:rules/macrophage_acidification.csv]
        for i, item in enumerate(spec.rules):
            if isinstance(item, str):
                if item in spec.rules[:i]:
                    ctx.p.add(loc + ("rules", i), f"rules table '{item}' is named twice; its "
                                                  f"rows would count twice: keep one")
                    continue
                got = _rules_file(ctx, loc + ("rules", i), cls, item, sig, beh)
            else:
                got = ctx.attempt(loc + ("rules", i), _rule, ctx, cls, item, sig, beh)
                got = [] if got is None else [got]
            for r in got:
                rules.append(r)
                where.append(loc + ("rules", i))
    _meaning(ctx, cls, merged, rules, where)
    return CellTypeSpec(name, params, rules, cls, name not in CELL_TYPES)


def _meaning(ctx, cls, base, rules, where) -> None:
    """Report rules whose numbers contradict their direction.

    Rules that say something other than what they mean (:mod:`abm.rules.semantics`),
    each reported at its rule's line.
    """
    from ..rules.semantics import rule_problems  # noqa: PLC0415

    objs = []
    for t, w in zip(rules, where):
        try:
            objs.append((rules_.Rule(*t), w))
        except ModelInputError:
            continue
    by_id = {id(r): w for r, w in objs}
    for r, msg in rule_problems(cls.cell_type, base, [r for r, _ in objs], list(ctx.field_units)):
        ctx.p.add(by_id.get(id(r), ("cell_types", cls.cell_type, "rules")), msg)


#: Behaviours that name a field after their colon (``secretion:H+``).
_FIELD_BEHAVIOURS = ("secretion", "target", "uptake", "release", "death_release")


def _undeclared_field(ctx, behaviour: str) -> str:
    """A hint when ``behaviour`` names a field the scenario does not declare, else ``""``."""
    kind, _, field = behaviour.partition(":")
    if kind in _FIELD_BEHAVIOURS and field and field not in ctx.field_units:
        return (f"; the field '{field}' is not declared: add it under fields (e.g. "
                f"'{field}: {{}}' for its seeds/fields.csv row)")
    return ""


def _rule(ctx, cls, row: RuleSchema, sig, beh) -> tuple:
    ct = cls.cell_type
    if row.signal not in sig:
        raise Bad(f"{ct} cannot sense '{row.signal}'{did_you_mean(row.signal, sig)}; known "
                  f"signals: {choices(sig)}", key="signal")
    if row.behaviour not in beh:
        hint = _undeclared_field(ctx, row.behaviour)
        raise Bad(f"{ct} has no behaviour '{row.behaviour}'"
                  + (hint or f"{did_you_mean(row.behaviour, beh)}; known behaviours: "
                             f"{choices(beh)}"), key="behaviour")
    kind = parameter_kind(row.behaviour, cls, ctx.field_units)
    try:
        mx = U.to_internal(row.max_response, kind)
    except U.UnitProblem as exc:
        raise Bad(str(exc), key="max_response") from None
    try:
        hm = U.to_internal(row.half_max, signal_kind(row.signal, ctx.field_units, ctx.state_units),
                           positive=True)
    except U.UnitProblem as exc:
        raise Bad(str(exc), key="half_max") from None
    return (ct, row.signal, row.direction, row.behaviour, mx, hm, float(row.hill_power))


def _rules_file(ctx, loc, cls, file, sig, beh) -> list:
    ct = cls.cell_type
    if file.startswith("seeds:"):   # a table shipped in the package's seeds/ (seeds:rules/x.csv)
        from ..seeds import SEEDS_DIR  # noqa: PLC0415

        path = SEEDS_DIR / file[len("seeds:"):]
        if not path.is_file():
            shipped = sorted(f"seeds:rules/{q.name}" for q in (SEEDS_DIR / "rules").glob("*.csv"))
            ctx.p.add(loc, f"no rules table '{file}' in the package's seeds/{did_you_mean(file, shipped)}; "
                           f"shipped: {', '.join(shipped)}")
            return []
    else:
        path = Path(file)
        if not path.is_absolute():
            path = ctx.base_dir / path
    try:
        rs = rules_.load_rules(path)
    except ModelInputError as exc:
        ctx.p.add(loc, str(exc))
        return []
    out = []
    for r in rs:
        if r.cell_type != ct:
            ctx.p.add(loc, f"{r.source}: the row is for '{r.cell_type}', but this rules file "
                           f"is given under cell_types.{ct}; keep only {ct} rows in it")
            continue
        if r.signal not in sig:
            ctx.p.add(loc, f"{r.source}: {ct} cannot sense '{r.signal}'"
                           f"{did_you_mean(r.signal, sig)}")
            continue
        if r.behaviour not in beh:
            ctx.p.add(loc, f"{r.source}: {ct} has no behaviour '{r.behaviour}'"
                           f"{_undeclared_field(ctx, r.behaviour) or did_you_mean(r.behaviour, beh)}")
            continue
        out.append((ct, r.signal, r.direction, r.behaviour, r.max_response, r.half_max,
                    r.hill_power))
    return out
