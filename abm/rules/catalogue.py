"""The catalogue of what rules can name, in a model with given cell types, fields and tissue labels.

It lists the signals a cell type senses, the behaviours rules may change, and the
parameters a cell type accepts.
"""

from __future__ import annotations

__all__ = ["TIME_SIGNALS", "NON_BEHAVIOUR", "signal_names", "behaviour_names", "known_parameters"]

#: Signals every cell type senses, whatever the model (min).
TIME_SIGNALS = frozenset({"age", "time", "time_since:division", "time_since:differentiation",
                          "time_since:transition"})
#: Parameters that are not behaviours: rules cannot change them.
NON_BEHAVIOUR = ("persistence", "chemotaxis_half_saturation")


def signal_names(cls, type_names, field_names, tissue_names, tissue_states=()) -> set[str]:
    """Signals cell class ``cls`` can sense: the names rules may use.

    In a model with these cell types, fields, tissue labels and tissue-process states:
    each field, ``density:``/``contact:<type>``, ``tissue:<label>``,
    ``tissue_state:<state>``, ``state:<s>``, ``var:<v>`` and the time signals
    (:data:`TIME_SIGNALS`).
    """
    s = set(field_names)
    for other in type_names:
        s |= {f"density:{other}", f"contact:{other}"}
    s |= {f"tissue:{t}" for t in tissue_names}
    s |= {f"tissue_state:{t}" for t in tissue_states}
    s |= {f"state:{x}" for x in cls.states}
    s |= {f"var:{v}" for v in cls.variables}
    return s | TIME_SIGNALS


def behaviour_names(cls, type_names, field_names) -> set[str]:
    """Behaviours of cell class ``cls`` that rules may change, in a model with these cell types and fields.

    Chemotaxis is among them only if its field is one of those fields.
    """
    fields = list(field_names)
    b = {"speed", "division", "death"}
    if cls.chemotaxis_field and cls.chemotaxis_field in fields:
        b.add("chemotaxis")
    for f in fields:
        b |= {f"secretion:{f}", f"target:{f}", f"uptake:{f}", f"release:{f}",
              f"death_release:{f}"}
    b |= {f"differentiation:{o}" for o in type_names if o != cls.cell_type}
    b |= {f"transition:{a}->{c}" for a in cls.states for c in cls.states if a != c}
    b |= {f"gain:{v}" for v in cls.variables} | {f"loss:{v}" for v in cls.variables}
    return b


def known_parameters(cls, type_names, field_names) -> set[str]:
    """Parameter names cell class ``cls`` accepts.

    They are its behaviours, the non-behaviour parameters, ``chemotaxis`` if the class
    chemotaxes, and ``initial:<variable>``.
    """
    known = behaviour_names(cls, type_names, field_names) | set(NON_BEHAVIOUR)
    if cls.chemotaxis_field:
        known.add("chemotaxis")
    return known | {f"initial:{v}" for v in cls.variables}
