"""Problems in a scenario file.

The one error a user sees (:class:`ScenarioError`), the
problems collected on the way (:class:`Problems`, first by line), did-you-mean hints, and
pydantic's errors translated into plain sentences. See docs/scenario-format.md.
"""

from __future__ import annotations

from pydantic_core import PydanticCustomError

from ..errors import ModelInputError
from ..registry import did_you_mean

__all__ = ["ScenarioError", "Bad", "Problems", "did_you_mean", "choices", "custom", "typename",
           "fmt_path", "translate", "key_tuple"]


class ScenarioError(ModelInputError):
    """A mistake in a scenario file, as one message.

    Attributes
    ----------
    file : str
        Scenario file name (or the name given to :func:`load_scenario_text`).
    line : int or None
        1-based line of the offending key (None: from an override, or no line).
    path : str
        Key path, e.g. ``"fields.SDF-1a.diffusion"`` or ``"events[2].injection.dose"``.
    problem : str
        The message without the location.
    """

    def __init__(self, problem: str, file: str = "<scenario>", line: int | None = None,
                 path: str = "", where: str | None = None, more: int = 0):
        self.file, self.line, self.path, self.problem = file, line, path, problem
        parts = [file]
        if where:
            parts.append(where)
        elif line is not None:
            parts.append(f"line {line}")
        if path and not (where and where.endswith(path)):
            parts.append(path)
        msg = ", ".join(parts) + ": " + problem
        if more:
            msg += f" ({more} more problem{'s' if more > 1 else ''}; fix this one first)"
        super().__init__(" ".join(msg.split("\n")))


class Bad(Exception):
    """A problem found while resolving.

    ``key`` (a key or a tuple of keys) extends the
    location of the part being resolved.
    """

    def __init__(self, message: str, key=None):
        super().__init__(message)
        self.key = key


def key_tuple(key) -> tuple:
    """``key`` of a :class:`Bad` as a tuple of path parts."""
    return key if isinstance(key, tuple) else (() if key is None else (key,))


def choices(names) -> str:
    """Sorted, comma-separated names, or ``(none)``."""
    names = sorted(str(c) for c in names)
    return ", ".join(names) if names else "(none)"


def custom(message: str, key=None, errors=None):
    """A pydantic error carrying our own message.

    A pydantic error carrying our own message (``key`` extends its location; ``errors``
    are the errors of a nested model validated on its own, e.g. a region mapping).
    """
    return PydanticCustomError("scenario", "{message}",
                               {"message": message, "key": key, "errors": errors})


def typename(v) -> str:
    """How a YAML value reads in a message (``'a mapping'``, ``"'70 um'"``, ...)."""
    if v is None:
        return "nothing"
    return {dict: "a mapping", list: "a list", str: f"'{v}'", bool: str(v).lower()}.get(
        type(v), repr(v))


def fmt_path(loc) -> str:
    """``("events", 2, "injection")`` as ``events[2].injection``."""
    s = ""
    for p in loc:
        if isinstance(p, int):
            s += f"[{p}]"
        else:
            s += ("." if s else "") + str(p)
    return s


class Problems:
    """Problems found so far, each (loc, message); reported first by line.

    Parameters
    ----------
    file : str
        Scenario file name, for messages.
    lines : dict
        Key path (tuple) to its 1-based line (:func:`abm.scenario.yamltree.line_map`).
    """

    def __init__(self, file: str, lines: dict):
        self.file, self.lines, self.items = file, lines, []
        self.overrides: list[tuple[tuple, str]] = []

    def add(self, loc, message: str) -> None:
        """Record a problem at key path ``loc``."""
        self.items.append((tuple(loc), message))

    def _where(self, loc):
        for oloc, key in self.overrides:
            if tuple(loc[:len(oloc)]) == oloc:
                return None, f"--set {key}"
        for n in range(len(loc), -1, -1):
            if tuple(loc[:n]) in self.lines:
                return self.lines[tuple(loc[:n])], None
        return None, None

    def raise_first(self) -> None:
        """Raise the first problem by line (overrides first) as a :class:`ScenarioError`."""
        if not self.items:
            return
        located = []
        for k, (loc, msg) in enumerate(self.items):
            line, where = self._where(loc)
            order = (0 if where else 1, line if line is not None else 10**9, k)
            located.append((order, loc, msg, line, where))
        located.sort(key=lambda t: t[0])
        _, loc, msg, line, where = located[0]
        raise ScenarioError(msg, self.file, line=line, path=fmt_path(loc), where=where,
                            more=len(located) - 1)


#: Tags of non-region unions (region tags are the registered shape names).
_TAGS = {"<label>", "<rules-file>", "<rules-rows>", "<rule-row>", "<var-list>", "<var-map>"}


def translate(err: dict, data, shapes=()) -> list[tuple[tuple, str]]:
    """A pydantic error as located messages.

    ``[(loc in the data tree, message), ...]`` (a nested model's
    errors, carried in a ``scenario`` error, come out one by one).
    """
    loc = []
    cur = data
    for part in err["loc"]:
        if part in _TAGS and not (isinstance(cur, dict) and part in cur):
            continue
        loc.append(part)
        try:
            cur = cur[part]
        except (KeyError, IndexError, TypeError):
            cur = None
    typ, ctx, inp = err["type"], err.get("ctx") or {}, err.get("input")
    loc = tuple(loc)
    if typ == "scenario":
        if ctx.get("errors"):
            out = []
            for e in ctx["errors"]:
                out += [(loc + sub, m) for sub, m in translate(e, cur, shapes)]
            return out
        return [(loc + key_tuple(ctx.get("key")), ctx["message"])]
    return [(loc, _message(typ, ctx, inp, loc, err))]


def _message(typ, ctx, inp, loc, err) -> str:
    if typ == "missing":
        return f"missing required key '{loc[-1]}'"
    if typ in ("model_type", "dict_type", "model_attributes_type"):
        return f"expected a mapping of keys, got {typename(inp)}"
    if typ == "list_type":
        return f"expected a list, got {typename(inp)}"
    if typ in ("string_type", "string_sub_type"):
        return f"expected a string, got {typename(inp)}"
    if typ in ("int_type", "int_parsing", "int_from_float"):
        return f"expected a whole number, got {typename(inp)}"
    if typ in ("bool_type", "bool_parsing"):
        return f"expected true or false, got {typename(inp)}"
    if typ == "greater_than_equal":
        return f"must be >= {ctx.get('ge')}, got {typename(inp)}"
    if typ == "too_short" and loc and loc[-1] == "fields":
        return "declare at least one field"
    if typ == "literal_error":
        expected = ctx.get("expected", "")
        opts = [o.strip().strip("'") for o in expected.replace(" or ", ",").split(",") if o.strip()]
        return f"expected one of {expected}, got {typename(inp)}" + did_you_mean(inp, opts)
    if typ == "union_tag_invalid":
        return f"unexpected value {typename(inp)}"
    if typ == "union_tag_not_found":
        if "_variables_tag" in str(ctx.get("discriminator", "")):
            return ("expected a list of variable names or a mapping of names to initial values "
                    f"(0-1), got {typename(inp)}")
        if "_rule_item_tag" in str(ctx.get("discriminator", "")):
            return (f"expected a rule row (a mapping) or the path of a rules CSV, got "
                    f"{typename(inp)}")
        return (f"expected a list of rule rows and rules CSVs, or the path of a rules CSV, got "
                f"{typename(inp)}")
    return err.get("msg", typ)
