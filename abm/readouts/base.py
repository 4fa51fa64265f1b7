"""The interface of a readout kind, the readout spec, and the contexts a kind is given."""

from __future__ import annotations

from dataclasses import dataclass
from dataclasses import field as dc_field
from typing import ClassVar

import numpy as np

from ..scenario.problems import Bad

__all__ = ["Readout", "ReadoutKind", "ParseContext", "EvalContext", "readout_kind", "grammar"]


@dataclass(frozen=True)
class Readout:
    """A recorded measure (what the built-in kinds parse a readout string into).

    Attributes
    ----------
    text : str
        As written (the column name).
    kind : str
        The registered readout kind (``count``, ``fraction``, ``mean``, ``max``, ``total``).
    cell_type, state, field, label : str or None
    unit : str
        ``"cells"``, ``"1"``, the field unit, or ``"<field unit>*um^3"`` for totals.
    tissue_state : str or None
        A tissue state measured instead of a field (``mean``, ``max``).
    window : float or None
        The time window of an event readout (``over 24 h``), min.
    variable : str or None
        A phenotype variable averaged over cells (``mean <type> <variable>``).
    marker : str or None
        Only cells carrying this marker (``count <type> marked BrdU``).
    """

    text: str
    kind: str
    cell_type: str | None = None
    state: str | None = None
    field: str | None = None
    label: str | None = None
    unit: str = "1"
    tissue_state: str | None = None
    window: float | None = None
    variable: str | None = None
    marker: str | None = None


class ReadoutKind:
    """A kind of readout.

    A kind of readout (the first word of a readout string), registered once in
    :data:`abm.registry.READOUT_KINDS`.

    Class attributes
    ----------------
    name : str
        The first word (``count``).
    grammar : str
        How the readout is written, for messages (``count <type> [<state>] [in <label>]``).
    takes_label : bool
        Whether ``in <label>`` may follow (restricts the measure to a tissue label).
    takes_window : bool
        Whether the kind needs ``over <duration>`` (a time window); its :meth:`parse` is
        then also given ``window=`` (min).
    whole : bool
        Whether the kind reads the whole rest of the string itself (``ratio``: neither
        ``in`` nor ``over`` is taken out first).
    """

    name: ClassVar[str] = ""
    grammar: ClassVar[str] = ""
    takes_label: ClassVar[bool] = True
    takes_window: ClassVar[bool] = False
    whole: ClassVar[bool] = False

    def parse(self, text: str, args: list, label, ctx: "ParseContext"):
        """The spec of a readout string.

        The spec of a readout string (any object with ``text`` and ``kind``; the built-in
        kinds return a :class:`Readout`).

        Parameters
        ----------
        text : str
            The whole string (the column name).
        args : list of str
            The words after the kind, without ``in <label>``.
        label : str or None
            The tissue label after ``in`` (already checked to exist).
        ctx : ParseContext

        Raises
        ------
        Bad
            A problem, with did-you-mean.
        """
        raise NotImplementedError

    def unit(self, spec, model) -> str:
        """The unit of the recorded values (a run-file column attribute)."""
        return getattr(spec, "unit", "1")

    def evaluate(self, spec, model, ctx: "EvalContext") -> float:
        """The value now, in :meth:`unit`."""
        raise NotImplementedError

    def arity(self, text: str, args: list, lo: int, hi: int) -> None:
        """Raise :class:`Bad` unless ``lo <= len(args) <= hi``."""
        if not lo <= len(args) <= hi:
            raise Bad(f"cannot read readout '{text}'; write {grammar()}")

    def __repr__(self) -> str:
        return f"<readout kind {self.name}>"


@dataclass(frozen=True)
class ParseContext:
    """What a readout may name.

    Attributes
    ----------
    types : dict
        Cell type name to its states (tuple of str).
    field_units : dict
        Field name to its unit.
    labels : list of str
        Tissue label names.
    tissue_states : dict
        Tissue state name to its unit (from the scenario's processes).
    variables : dict
        Cell type name to its phenotype variables (tuple of str).
    markers : tuple of str
        Markers the scenario's pulses declare (``pulse: {marker: BrdU, ...}``).
    """

    types: dict
    field_units: dict
    labels: list
    tissue_states: dict
    variables: dict = dc_field(default_factory=dict)
    markers: tuple = ()


class EvalContext:
    """Shared by the readouts evaluated at one time: tissue labels are read once."""

    def __init__(self, model):
        self.model = model
        self._labels = None

    def labels(self) -> np.ndarray:
        """Tissue labels now (uint8 array of the lattice shape; zeros without labels)."""
        if self._labels is None:
            lab = self.model.fields.labels
            self._labels = np.zeros(self.model.shape, np.uint8) if lab is None else np.asarray(lab)
        return self._labels


def readout_kind(name: str) -> ReadoutKind:
    """The registered readout kind ``name`` (an instance, also when a class was registered)."""
    from ..registry import READOUT_KINDS  # noqa: PLC0415

    return READOUT_KINDS.instance(name)


def grammar() -> str:
    """The registered kinds' grammars, for messages: ``'count ...', ... or 'total ...'``."""
    from ..registry import READOUT_KINDS  # noqa: PLC0415

    g = [f"'{readout_kind(n).grammar}'" for n in READOUT_KINDS.names()]
    return g[0] if len(g) == 1 else ", ".join(g[:-1]) + " or " + g[-1]
