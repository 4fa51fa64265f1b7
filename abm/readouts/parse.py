"""Reading a readout string.

Its first word names a registered readout kind, an optional ``over <duration>`` gives
the time window of an event readout, an optional ``in <label>`` restricts it to a tissue
label, and the kind reads the rest (a kind marked ``whole``, such as ``ratio``, reads
everything after its first word itself).
"""

from __future__ import annotations

from .. import units as U
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
        # the measures by name only: with the biology's kinds their full forms no longer fit
        # one line (each kind's form is in docs/scenario-format.md and `abm info`)
        raise Bad(f"unknown readout '{text}': '{word}' is not a measure"
                  f"{did_you_mean(word, names)}; the measures are {choices(names)} "
                  f"(their forms: docs/scenario-format.md)")
    kind = readout_kind(word)
    if kind.whole:
        return kind.parse(text, rest, None, ctx)
    rest, window = _window(text, word, kind, rest)
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
    if kind.takes_window:
        return kind.parse(text, rest, label, ctx, window=window)
    return kind.parse(text, rest, label, ctx)


def _window(text: str, word: str, kind, rest: list) -> tuple[list, float | None]:
    """``rest`` without its ``over <duration>`` clause, and the duration (min) or None."""
    if "over" not in rest:
        if kind.takes_window:
            raise Bad(f"readout '{text}': '{word}' counts events in a time window; add "
                      f"'over <duration>', e.g. '{text} over 24 h'")
        return rest, None
    if not kind.takes_window:
        raise Bad(f"readout '{text}': '{word}' takes no 'over <duration>'; write {grammar()}")
    i = rest.index("over")
    after = rest[i + 1:]
    n = 0
    if after:
        n = 1
        try:                       # '24 h' is two words, '24h' one
            float(after[0])
            n = 2 if len(after) > 1 else 1
        except ValueError:
            pass
    dur = " ".join(after[:n])
    if not dur:
        raise Bad(f"readout '{text}': 'over' needs a duration, e.g. 'over 24 h'")
    try:
        window = U.to_internal(dur, U.TIME, positive=True)
    except U.UnitProblem as exc:
        raise Bad(f"readout '{text}': the window 'over {dur}': {exc}; write e.g. 'over 24 h'") \
            from None
    return rest[:i] + after[n:], window


def parse_readout(text: str, types: dict, field_units: dict, labels, tissue_states=None,
                  variables=None, markers=()):
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
    variables : dict, optional
        Cell type name to its phenotype variables (tuple of str).
    markers : sequence of str, optional
        Markers declared by pulses.

    Raises
    ------
    ModelInputError
        Unknown kind or name (with did-you-mean), or bad grammar.
    """
    try:
        return parse(text, ParseContext(dict(types), dict(field_units), list(labels),
                                        dict(tissue_states or {}), dict(variables or {}),
                                        tuple(markers)))
    except Bad as exc:
        raise ModelInputError(str(exc)) from None
