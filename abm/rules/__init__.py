"""Rules as data: the behaviour grammar and the catalogue of what rules may name.

The behaviour grammar is :mod:`.grammar`; the catalogue of the signals, behaviours and
parameters rules may name is :mod:`.catalogue`.
"""

from .catalogue import NON_BEHAVIOUR, TIME_SIGNALS, behaviour_names, known_parameters, signal_names
from .grammar import COLUMNS, Rule, RuleSet, hill, load_rules

__all__ = ["COLUMNS", "NON_BEHAVIOUR", "TIME_SIGNALS", "Rule", "RuleSet", "behaviour_names", "hill",
           "known_parameters", "load_rules", "signal_names"]
