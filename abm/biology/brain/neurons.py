"""Neurons as a tissue process: the viability of the neurons of each voxel (0–1).

Neurons are far more numerous than the cells the model follows one by one and do
not move, so they are a per-voxel state, ``viability`` (the surviving fraction of
the voxel's neurons, 1 in healthy tissue). It falls at a rate set by the injury
and by inflammation, and neurotrophic support lowers that rate:

    dv/dt = -k v,
    k = (k_c [core] + k_p [penumbra] g(D) + k_T T / (T + K_T)) * (1 - P N / (N + K_N))

with ``[core]``, ``[penumbra]`` 1 in voxels of those tissue labels, ``g(D) = D / (D + K_D)``
the share of the penumbra's risk still present while damage signals ``D`` (the ``DAMP``
field, nM) are there (with ``penumbra_damp_half`` K_D = 0, the default, ``g = 1``: a constant
risk), ``T`` the TNF-α
concentration (ng/mL), ``N`` = BDNF + GDNF (ng/mL) and ``P`` in [0, 1] the largest
protected share of the death rate. Each step advances it exactly for the fields of
the start of the step, ``v ← v exp(-k dt)``. Labels or fields the model lacks count
as zero. A scenario enables it as ``processes: {neuron_viability: {}}`` and reads
``mean viability in penumbra``.

Its defaults are the ``neuron_viability`` rows of ``seeds/processes.csv``, all
estimates with their reasoning.
"""

from __future__ import annotations

from ... import units as U
from ...registry import PROCESSES
from ...seeds import load_process_defaults
from ...tissue import TissueProcess

__all__ = ["NeuronViability"]

_NG = U.concentration_kind("TNF-a", "ng/mL")
_NM = U.concentration_kind("DAMP", "nM")
_SEED = load_process_defaults()["neuron_viability"]


@PROCESSES.register(builtin=True)
class NeuronViability(TissueProcess):
    """Per-voxel neuron viability falling with injury and TNF-α, supported by BDNF/GDNF.

    Parameters (defaults from ``seeds/processes.csv``, all estimates with their reasoning)
    ------------------------------------------------------------------------------------
    core_death : 1/min
        Death rate of core neurons (1.6e-3: 90 % lost by 24 h).
    penumbra_death : 1/min
        Death rate of penumbra neurons (2.3e-4: mean survival 3 days).
    tnf_death : 1/min
        Extra death rate at saturating TNF-α.
    tnf_half : ng/mL
        TNF-α at half that effect.
    protection : 1
        Largest share of the death rate that BDNF + GDNF prevent (0–1).
    trophic_half : ng/mL
        BDNF + GDNF at half the protection.
    penumbra_damp_half : nM
        DAMP at which half of the penumbra's risk remains; 0 (default): the risk is constant.
        With a value, penumbra neurons are at risk only while damage signals last, so the
        penumbra is salvageable once they have cleared.
    """

    name = "neuron_viability"
    states = {"viability": (1.0, "1")}
    parameters = {k: (_SEED[k], kind) for k, kind in (
        ("core_death", U.RATE), ("penumbra_death", U.RATE), ("tnf_death", U.RATE),
        ("tnf_half", _NG), ("protection", U.DIMENSIONLESS), ("trophic_half", _NG),
        ("penumbra_damp_half", _NM))}
    #: Tissue labels read as the core and the penumbra.
    core_label = "core"
    penumbra_label = "penumbra"
    #: Fields read as the inflammatory signal and the neurotrophic support.
    tnf_field = "TNF-a"
    damage_field = "DAMP"
    trophic_fields = ("BDNF", "GDNF")

    def __init__(self, **parameters: float):
        super().__init__(**parameters)
        if not 0.0 <= self.p["protection"] <= 1.0:
            from ...errors import ModelInputError  # noqa: PLC0415

            raise ModelInputError(f"neuron_viability: protection must be between 0 and 1 (a "
                                  f"share of the death rate), got {self.p['protection']}")

    def death_rate(self, model):
        """The per-voxel death rate ``k`` (1/min, flat) from the current labels and fields."""
        xp, p = model.xp, self.p
        k = xp.zeros(model.n_voxels, dtype=xp.float64)
        labels = model._labels_flat
        D = self._field(model, self.damage_field) if p["penumbra_damp_half"] > 0 else None
        for label, rate in ((self.core_label, p["core_death"]),
                            (self.penumbra_label, p["penumbra_death"])):
            if labels is not None and label in model.tissue_names and rate > 0:
                here = rate * (labels == model.tissue_names.index(label))
                if label == self.penumbra_label and p["penumbra_damp_half"] > 0:
                    D = xp.zeros_like(k) if D is None else xp.maximum(D, 0.0)
                    here = here * D / (D + p["penumbra_damp_half"])
                k = k + here
        T = self._field(model, self.tnf_field)
        if T is not None and p["tnf_death"] > 0:
            T = xp.maximum(T, 0.0)
            k = k + p["tnf_death"] * T / (T + p["tnf_half"])
        N = None
        for f in self.trophic_fields:
            c = self._field(model, f)
            if c is not None:
                N = xp.maximum(c, 0.0) if N is None else N + xp.maximum(c, 0.0)
        if N is not None and p["protection"] > 0:
            k = k * (1.0 - p["protection"] * N / (N + p["trophic_half"]))
        return k

    @staticmethod
    def _field(model, name):
        if name not in model.fields._index:
            return None
        return model.fields.field(name).reshape(-1).astype(model.xp.float64)

    def step(self, model, states, dt):
        """Advance the viability by ``dt`` minutes: ``v ← v exp(-k dt)``."""
        states["viability"] *= model.xp.exp(-self.death_rate(model) * dt)
