"""Estrogen as a tissue process: the relative estrogen level an ovariectomy removes.

Two uniform states: ``estrogen``, the estrogen level relative to an intact female (1), and
``ovariectomised`` (0 or 1), set to 1 everywhere by the ``ovariectomy`` event
(:mod:`.ovariectomy`). Each step the level relaxes exactly towards its target,

    E ← E* + (E − E*) exp(−dt / τ),   E* = 1 − ovariectomised · (1 − residual),

so after an ovariectomy it falls to the ``residual`` (extra-ovarian estrogen) with time
constant ``decline_time``. Cells read it as ``tissue_state:estrogen``: in the bone rules low
estrogen raises stromal RANKL, macrophage M1 polarisation (TNF-α) and osteoblast apoptosis,
and so raises turnover with resorption outpacing formation, as in the ovariectomised rat
(Wronski et al. 1988, 1989). Both states are checkpointed, so a resumed run continues the
same decline. Defaults: the ``estrogen`` rows of ``seeds/processes.csv``.
"""

from __future__ import annotations

import math

from ... import units as U
from ...errors import ModelInputError
from ...registry import PROCESSES
from ...seeds import load_process_defaults
from ...tissue import TissueProcess

__all__ = ["Estrogen"]

_SEED = load_process_defaults()["estrogen"]


@PROCESSES.register(builtin=True)
class Estrogen(TissueProcess):
    """Relative estrogen level (1 intact) that falls to a residual after an ovariectomy.

    Parameters (defaults from ``seeds/processes.csv``, estimates)
    -------------------------------------------------------------
    residual : 1
        Level left after ovariectomy, relative to intact (0–1).
    decline_time : min
        Time constant of the fall.
    """

    name = "estrogen"
    states = {"estrogen": (1.0, "1"), "ovariectomised": (0.0, "1")}
    parameters = {"residual": (_SEED["residual"], U.DIMENSIONLESS),
                  "decline_time": (_SEED["decline_time"], U.TIME)}

    def __init__(self, **parameters: float):
        super().__init__(**parameters)
        if not 0.0 <= self.p["residual"] <= 1.0:
            raise ModelInputError(f"estrogen: residual must lie between 0 and 1 (a share of the "
                                  f"intact level), got {self.p['residual']}")
        if self.p["decline_time"] <= 0:
            raise ModelInputError(f"estrogen: decline_time must be > 0 min, got "
                                  f"{self.p['decline_time']}")

    def target(self, ovariectomised):
        """The level the estrogen relaxes to (1, or ``residual`` once ovariectomised)."""
        return 1.0 - ovariectomised * (1.0 - self.p["residual"])

    def step(self, model, states, dt):
        """Relax ``estrogen`` towards its target over ``dt`` minutes (exactly)."""
        e, ovx = states["estrogen"], states["ovariectomised"]
        tgt = self.target(ovx)
        decay = math.exp(-dt / self.p["decline_time"])
        e -= tgt
        e *= decay
        e += tgt
