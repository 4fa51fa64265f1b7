"""The resolved scenario.

Plain frozen objects holding internal floats (µm, min, each
field's unit), made by :mod:`.resolve`. Event specs live with their event kinds
(:mod:`abm.events`), readout specs with theirs (:mod:`abm.readouts`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

import numpy as np

from ..errors import ModelInputError
from ..fields import Species, TissueClass
from ..regions import Region
from .problems import did_you_mean

__all__ = ["Domain", "TissueLabel", "FieldSpec", "CellTypeSpec", "PopulationSpec", "Event",
           "Outputs", "ProcessSpec", "Scenario", "build_labels", "paint"]


@dataclass(frozen=True)
class Domain:
    """The lattice and the clock.

    Attributes
    ----------
    shape : tuple of 3 int
        Voxels per axis.
    dx : float
        Voxel edge, µm.
    extent : tuple of 3 float
        ``shape × dx``, µm.
    dt : float
        Cell time step, min.
    duration : float
        Simulated time, min.
    n_steps : int
        ``round(duration / dt)``.
    seed : int or None
        Run seed (None: drawn at run time).
    capacity : int
        Default cells per voxel.
    """

    shape: tuple[int, int, int]
    dx: float
    extent: tuple[float, float, float]
    dt: float
    duration: float
    n_steps: int
    seed: int | None
    capacity: int

    @property
    def voxel_volume(self) -> float:
        """µm³."""
        return self.dx ** 3


@dataclass(frozen=True)
class TissueLabel:
    """One tissue label (its index in ``Scenario.tissue`` is its integer value).

    Attributes
    ----------
    name : str
    diffusion_scale, decay_scale : float
        Multipliers of every field's diffusion and decay (dimensionless).
    permeable : bool
    capacity : int
        Cells per voxel in this tissue.
    region : Region or None
        Where it is painted at t = 0 (None for label 0 and for labels painted by events only).
    initially : bool
        Whether it is painted at t = 0.
    """

    name: str
    diffusion_scale: float = 1.0
    decay_scale: float = 1.0
    permeable: bool = True
    capacity: int = 1
    region: Region | None = None
    initially: bool = True

    def tissue_class(self) -> TissueClass:
        """The field engine's :class:`~abm.fields.TissueClass` of this label."""
        return TissueClass(self.name, self.diffusion_scale, self.decay_scale, self.permeable)


@dataclass(frozen=True)
class FieldSpec:
    """A diffusing field in internal units.

    Attributes
    ----------
    name : str
    unit : str
        Concentration unit (every concentration of this field is in it).
    diffusion : float
        µm²/min.
    decay : float
        1/min.
    initial : float
        Initial concentration, ``unit``.
    fixed_faces : dict
        Face (``"x-"`` ...) to fixed concentration, ``unit``.
    """

    name: str
    unit: str
    diffusion: float
    decay: float
    initial: float = 0.0
    fixed_faces: dict = field(default_factory=dict)

    def species(self) -> Species:
        """The field engine's :class:`~abm.fields.Species`."""
        return Species(self.name, self.diffusion, self.decay, self.initial, self.unit,
                       dict(self.fixed_faces))


@dataclass(frozen=True)
class CellTypeSpec:
    """A cell type of the model.

    Attributes
    ----------
    name : str
        Cell type name.
    parameters : dict
        Parameter overrides given in the file only, internal units.
    rules : list of tuple
        ``(cell_type, signal, direction, behaviour, max_response, half_max, hill_power)``,
        ``max_response`` in the behaviour's internal unit, ``half_max`` in the signal's.
    cls : type
        The :class:`~abm.cells.LatticeCell` subclass: the registered one, or the one
        declared in the file (:func:`abm.cells.declare.declare_cell_type`).
    declared : bool
        True when the file declares the type (``extends:`` or a new name).
    """

    name: str
    parameters: dict
    rules: list
    cls: type = None
    declared: bool = False


@dataclass(frozen=True)
class PopulationSpec:
    """Cells placed at t = 0.

    Attributes
    ----------
    cell_type : str
    region : Region
    count : int or None
        As given.
    density : float or None
        As given, cells/µm³.
    state : str or None
    values : dict
        Phenotype variables (0–1).
    n_cells : int or None
        Cells to place: ``count``, or ``round(density × region volume at t = 0)``
        (None only for a density on a lattice larger than ``PAINT_LIMIT`` voxels
        with labels painted at t = 0: then counted at placement).
    """

    cell_type: str
    region: Region
    count: int | None
    density: float | None
    state: str | None
    values: dict
    n_cells: int | None = 0


@dataclass(frozen=True)
class Event:
    """Something that happens at ``time`` (min); ``kind`` names the type of ``spec``."""

    time: float
    kind: str
    spec: object


@dataclass(frozen=True)
class Outputs:
    """What is written and how often (intervals in min)."""

    snapshot_every: float
    checkpoint_every: float
    readout_every: float
    fields: list
    agents: list
    readouts: list


@dataclass(frozen=True)
class Scenario:
    """A validated virtual experiment, every number in internal units.

    Attributes
    ----------
    name, description : str
    text : str
        The original file text.
    overrides : tuple of str
        ``--set`` overrides applied.
    source : str
        File name.
    base_dir : Path
        Folder that relative paths (masks, rules) are resolved against.
    domain : Domain
    tissue : list of TissueLabel
        Index = integer label; ``tissue[0]`` is the default tissue.
    fields : list of FieldSpec
    cell_types : list of CellTypeSpec
    populations : list of PopulationSpec
    events : list of Event
        Sorted by time.
    outputs : Outputs
    processes : list of ProcessSpec
        Tissue processes, in the order given.
    plugins : tuple of str
        Modules named under ``plugins:`` (imported before validation).
    warnings : tuple of str
        Suspicious but legal input (printed by ``abm validate`` and ``abm run``).
    masks : dict of str to ndarray
        The mask arrays the scenario's mask regions hold (stored in the run file).
    arms : dict of str to Arm
        The variants of the experiment declared under ``arms:`` (:mod:`.arms`), in file order.
    arm : str or None
        The arm this scenario is (None when it declares no arms).
    reported : tuple of Claim
        The paper's findings declared under ``reported:``.
    """

    name: str
    description: str
    text: str
    overrides: tuple
    source: str
    base_dir: Path
    domain: Domain
    tissue: list
    fields: list
    cell_types: list
    populations: list
    events: list
    outputs: Outputs
    processes: list = field(default_factory=list)
    plugins: tuple = ()
    warnings: tuple = ()
    masks: dict = field(default_factory=dict)
    arms: dict = field(default_factory=dict)
    arm: Optional[str] = None
    reported: tuple = ()

    def label_index(self, name: str) -> int:
        """Integer value of tissue label ``name``."""
        names = [t.name for t in self.tissue]
        if name not in names:
            raise ModelInputError(f"unknown tissue label {name!r}{did_you_mean(name, names)}; "
                                  f"labels: {', '.join(names)}")
        return names.index(name)

    @property
    def label_names(self) -> list[str]:
        """Tissue label names in label order."""
        return [t.name for t in self.tissue]

    def field(self, name: str) -> FieldSpec:
        """The field called ``name``."""
        for f in self.fields:
            if f.name == name:
                return f
        raise ModelInputError(f"unknown field {name!r}")

    def capacity_map(self, labels) -> np.ndarray:
        """Cells per voxel (int32 array) from a label array and each label's capacity."""
        caps = np.array([t.capacity for t in self.tissue], dtype=np.int32)
        return caps[np.asarray(labels)]

    @property
    def tissue_state_units(self) -> dict[str, str]:
        """Tissue state name to its unit, over the scenario's processes."""
        return {s: str(u) for p in self.processes for s, (_, u) in p.cls.states.items()}

    def summary(self) -> str:
        """A few lines describing the scenario (for ``abm validate``; :mod:`.summary`)."""
        from .summary import summarize  # noqa: PLC0415

        return summarize(self)


@dataclass(frozen=True)
class ProcessSpec:
    """A tissue process of the scenario (``processes:``).

    Attributes
    ----------
    name : str
        Registered process name (:data:`abm.registry.PROCESSES`).
    cls : type
        The :class:`~abm.tissue.TissueProcess` subclass.
    parameters : dict
        Values given in the file, internal units (the rest take the class defaults).
    """

    name: str
    cls: type
    parameters: dict

    def instance(self):
        """A new process object with these parameters (one per model)."""
        return self.cls(**self.parameters)


def paint(dom: Domain, tissue: list) -> np.ndarray:
    """Labels at t = 0 from a domain and the tissue labels (see :func:`build_labels`)."""
    labels = np.zeros(dom.shape, dtype=np.uint8)
    names = [t.name for t in tissue]
    for i, t in enumerate(tissue[1:], start=1):
        if t.initially and t.region is not None:
            labels[t.region.mask(dom.shape, dom.dx, labels, names)] = i
    return labels


def build_labels(scenario: Scenario) -> np.ndarray:
    """Tissue labels at t = 0.

    Returns
    -------
    numpy uint8 array of ``scenario.domain.shape``
        0 everywhere, then each label with ``initially`` true painted in order
        (later labels win).
    """
    return paint(scenario.domain, scenario.tissue)
