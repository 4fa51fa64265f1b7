"""Readouts of a scenario, one kind per module.

``outputs.readouts``: each kind is defined in one module and
registered in :data:`abm.registry.READOUT_KINDS`: :mod:`.count`, :mod:`.fraction`,
:mod:`.mean`, :mod:`.maximum` (``max``), :mod:`.total`, the event readouts
:mod:`.divisions`, :mod:`.deaths` and :mod:`.cycling` (in a time window, ``over 24 h``;
:mod:`.window`), and :mod:`.ratio`. ``mean`` and ``max`` read a field or a tissue state
alike (``mean viability in core``); ``mean`` also averages a cell variable
(``mean Astrocyte reactivity``); ``count`` can keep only cells a pulse has marked
(``count NeuralProgenitor marked BrdU``).

The interface of a kind (:class:`~.base.ReadoutKind`)::

    class ReadoutKind:
        name: str                                          # first word of the string
        grammar: str                                       # for messages
        takes_label: bool                                  # may 'in <label>' follow?
        takes_window: bool                                 # needs 'over <duration>'?
        whole: bool                                        # reads all its words itself?
        def parse(self, text, args, label, ctx) -> spec    # spec.text, spec.kind
        def unit(self, spec, model) -> str                 # unit of the column
        def evaluate(self, spec, model, ctx) -> float      # the value now

The scenario loader parses each string with :func:`~.parse.parse` (problems at the
string's line, with did-you-mean); the runner records :func:`~.evaluate.evaluate_readouts`
with :func:`~.evaluate.readout_units`. A kind registered by a module outside the
package (``READOUT_KINDS.register(MyReadout())``, the module named under ``plugins:``)
works the same.
"""

from .base import EvalContext, ParseContext, Readout, ReadoutKind, grammar, readout_kind

# the import order is the registration order, which messages list kinds in
# isort: off
from .count import CountReadout
from .fraction import FractionReadout
from .mean import MeanReadout
from .maximum import MaxReadout
from .total import TotalReadout, total_unit
from .divisions import DivisionsReadout
from .deaths import DeathsReadout
from .cycling import CyclingReadout
from .ratio import RatioReadout, RatioSpec
from .evaluate import evaluate_readouts, readout_units
from .parse import parse, parse_readout
# isort: on

__all__ = ["EvalContext", "ParseContext", "Readout", "ReadoutKind", "grammar", "readout_kind",
           "CountReadout", "FractionReadout", "MeanReadout", "MaxReadout", "TotalReadout",
           "total_unit", "DivisionsReadout", "DeathsReadout", "CyclingReadout", "RatioReadout",
           "RatioSpec", "evaluate_readouts", "readout_units", "parse", "parse_readout"]
