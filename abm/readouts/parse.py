"""Reading a readout string.

Its first word names a registered readout kind, an optional
``in <label>`` restricts it to a tissue label, and the kind reads the rest.
"""

from __future__ import annotations

from ..errors import ModelInputError
from ..registry import READOUT_KINDS
from ..scenario.problems import Bad, choices, did_you_mean, typename
from .base import ParseContext, grammar, readout_kind

__all__ = ["parse", "parse_readout"]


def parse(text, ctx: ParseContext):
    """The spec of readout string ``text``.

    Raises
    ------
    Bad
        Unknown kind, name or label (with did-you-mean), or bad grammar.
    """
    if not isinstance(text, str):
        raise Bad(f"a readout is a string such as 'count BMSC', got {typename(text)}")
    toks = text.split()
    if not toks:
        raise Bad(f"empty readout; write {grammar()}")
    word, rest = toks[0], toks[1:]
    names = READOUT_KINDS.names()
    if word not in names:
        raise Bad(f"unknown readout '{text}': '{word}' is not a measure"
                  f"{did_you_mean(word, names)}; write {grammar()}")
    kind = readout_kind(word)
    label = None
    if "in" in rest:
        i = rest.index("in")
        label = " ".join(rest[i + 1:])
        rest = rest[:i]
        if not kind.takes_label:
            raise Bad(f"readout '{text}': '{word}' takes no 'in <label>'; write {grammar()}")
        if label not in ctx.labels:
            raise Bad(f"readout '{text}': unknown tissue label '{label}'"
                      f"{did_you_mean(label, ctx.labels)}; labels: {choices(ctx.labels)}")
    return kind.parse(text, rest, label, ctx)


def parse_readout(text: str, types: dict, field_units: dict, labels, tissue_states=None):
    """Parse a readout string (grammar in docs/scenario-format.md).

    Parameters
    ----------
    text : str
    types : dict
        Declared cell type name to its states (tuple of str).
    field_units : dict
        Field name to unit.
    labels : sequence of str
        Tissue label names.
    tissue_states : dict, optional
        Tissue state name to its unit.

    Raises
    ------
    ModelInputError
        Unknown kind or name (with did-you-mean), or bad grammar.
    """
    try:
        return parse(text, ParseContext(dict(types), dict(field_units), list(labels),
                                        dict(tissue_states or {})))
    except Bad as exc:
        raise ModelInputError(str(exc)) from None
