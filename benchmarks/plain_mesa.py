#!/usr/bin/env python
"""Peer baseline: the agent-step workload written the plain Mesa way.

This is the workload of ``benchmarks/agent_workload.py`` (read its docstring
for the rules) as a competent Mesa 3 user would write it: one
:class:`mesa.discrete_space.CellAgent` object per biological cell on an
:class:`mesa.discrete_space.OrthogonalVonNeumannGrid` (3D, no wrap, capacity
``CAPACITY`` cells per voxel), a Python ``step()`` per agent, called in random
order by ``model.agents.shuffle_do("step")``. The fields are advanced by the
project's own engine (:class:`abm.fields.FieldSolver`, NumPy backend), fed
with the agents' exchange terms collected during the step, exactly as the
array implementation feeds it. Only the agent step differs between the two.

Run from the repository root::

    python benchmarks/plain_mesa.py --agents 10000 --steps 5 --seed 1

It prints one JSON object (see :func:`run_plain_mesa`).

Units: lengths µm, times min, SDF-1α and VEGF ng/mL, rates 1/min.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path

import mesa
import numpy as np
from mesa.discrete_space import CellAgent, OrthogonalVonNeumannGrid

sys.path.insert(0, str(Path(__file__).resolve().parent))  # for agent_workload, also when imported

from agent_workload import (  # noqa: E402
    CAPACITY,
    CHI,
    DT_MIN,
    DX_UM,
    FIELDS,
    K_D,
    PERSISTENCE_MIN,
    Q_EXOSOME,
    S_BDNF,
    S_VEGF_BASE,
    S_VEGF_HALF,
    S_VEGF_HILL,
    S_VEGF_MAX,
    SDF_RAMP_MAX,
    T_BDNF,
    T_VEGF,
    U_SDF,
    V_BASE,
    V_HALF,
    V_HILL,
    V_MAX,
    lattice_side,
)

from abm.fields import FieldSolver  # noqa: E402
from abm.seeds import load_field_defaults  # noqa: E402

#: Hop directions, in the order the uniform draw is matched against them.
DIRECTIONS = ((1, 0, 0), (-1, 0, 0), (0, 1, 0), (0, -1, 0), (0, 0, 1), (0, 0, -1))


def hill(s: float, half: float, n: float) -> float:
    """Hill function ``s^n / (half^n + s^n)`` (0 for ``s <= 0``)."""
    if s <= 0.0:
        return 0.0
    sn = s**n
    return sn / (half**n + sn)


class BMSC(CellAgent):
    """One bone-marrow stromal cell.

    Attributes
    ----------
    start_x : int
        Voxel x index at placement (for diagnostics only).
    """

    def __init__(self, model: "PlainMesaModel", cell):
        super().__init__(model)
        self.cell = cell
        self.start_x = cell.coordinate[0]

    def sense(self) -> tuple[float, tuple[float, float, float]]:
        """SDF-1α at the cell's voxel and its gradient.

        Returns
        -------
        c : float
            Concentration, ng/mL.
        grad : tuple of 3 float
            Gradient, ng/mL per µm: central differences inside the lattice,
            one-sided differences at the faces.
        """
        u = self.model.sdf
        L = self.model.L
        dx = DX_UM
        pos = self.cell.coordinate
        c = u.item(pos)
        grad = []
        for axis in range(3):
            i = pos[axis]
            lo = list(pos)
            hi = list(pos)
            if i == 0:
                hi[axis] = i + 1
                g = (u.item(tuple(hi)) - c) / dx
            elif i == L - 1:
                lo[axis] = i - 1
                g = (c - u.item(tuple(lo))) / dx
            else:
                hi[axis] = i + 1
                lo[axis] = i - 1
                g = (u.item(tuple(hi)) - u.item(tuple(lo))) / (2.0 * dx)
            grad.append(g)
        return c, (grad[0], grad[1], grad[2])

    def step(self) -> None:
        """Sense, apply the rules, maybe hop one voxel, record the exchange terms."""
        model = self.model
        c, grad = self.sense()

        # rules
        v = V_BASE + (V_MAX - V_BASE) * hill(c, V_HALF, V_HILL)                  # µm/min
        secretion = S_VEGF_BASE + (S_VEGF_MAX - S_VEGF_BASE) * hill(c, S_VEGF_HALF, S_VEGF_HILL)  # 1/min

        # chemotactic drift, length capped at the speed
        D = v * v * PERSISTENCE_MIN / 3.0                                         # µm²/min
        sensitivity = CHI * K_D / (K_D + c) ** 2                                  # µm²/min per ng/mL
        w = [sensitivity * g for g in grad]                                       # µm/min
        w_len = math.sqrt(w[0] ** 2 + w[1] ** 2 + w[2] ** 2)
        if w_len > v:
            w = [wi * v / w_len for wi in w]

        # one uniform picks a face neighbour or "stay"
        p_diff = D * DT_MIN / DX_UM**2
        r = model.rng.random()
        cumulative = 0.0
        for k, direction in enumerate(DIRECTIONS):
            sign = direction[k // 2]
            cumulative += p_diff + max(0.0, sign * w[k // 2] * DT_MIN / DX_UM)
            if r < cumulative:
                target = self.cell.connections.get(direction)  # None off the lattice
                if target is not None and not target.is_full:
                    self.cell = target
                break

        # exchange with the fields, at the voxel the cell ends the step in
        model.exchange_voxels.append(self.cell.coordinate)
        model.exchange_vegf_rate.append(secretion)


class PlainMesaModel(mesa.Model):
    """The workload as a Mesa model.

    Parameters
    ----------
    n_agents : int
        Number of cells, placed uniformly at random with at most ``CAPACITY``
        per voxel.
    seed : int
        Seed of ``self.random`` (agent order) and ``self.rng`` (placement, hops).

    Attributes
    ----------
    L : int
        Lattice side, voxels of ``DX_UM`` µm (``lattice_side(n_agents)``).
    grid : OrthogonalVonNeumannGrid
        The ``(L, L, L)`` lattice of Mesa cells.
    fields : FieldSolver
        SDF-1α, VEGF, BDNF and exosome fields (NumPy backend).
    sdf : ndarray, shape (L, L, L)
        View of the SDF-1α concentration, ng/mL, read by the agents.
    fields_s : float
        Wall time spent handing the exchange terms to the field engine and
        advancing the fields, s (reset by the caller as needed).
    """

    def __init__(self, n_agents: int, seed: int = 1):
        super().__init__(seed=seed)
        L = self.L = lattice_side(n_agents)
        if n_agents > CAPACITY * L**3:
            raise ValueError(f"{n_agents} cells do not fit in {L}^3 voxels of capacity {CAPACITY}")
        self._check_probabilities()

        species = load_field_defaults()
        self.fields = FieldSolver((L, L, L), DX_UM, [species[n] for n in FIELDS], backend="numpy")
        self.isdf = self.fields.index("SDF-1a")
        ramp = SDF_RAMP_MAX * (np.arange(L) / max(L - 1, 1))                     # ng/mL along x
        self.fields.u[self.isdf][...] = ramp[:, None, None]
        self.sdf = self.fields.u[self.isdf]

        self.grid = OrthogonalVonNeumannGrid((L, L, L), torus=False, capacity=CAPACITY,
                                             random=self.random)
        # Uniform placement respecting the capacity: draw distinct "slots"
        # (CAPACITY per voxel) without replacement; slot // CAPACITY is the voxel.
        slots = self.rng.choice(CAPACITY * L**3, size=n_agents, replace=False)
        for voxel in slots // CAPACITY:
            BMSC(self, self.grid[tuple(int(i) for i in np.unravel_index(voxel, (L, L, L)))])

        self.exchange_voxels: list[tuple[int, int, int]] = []
        self.exchange_vegf_rate: list[float] = []
        self.fields_s = 0.0

    @staticmethod
    def _check_probabilities() -> None:
        """The hop probabilities must sum to at most 1 for every possible cell state."""
        worst = 6 * (V_MAX**2 * PERSISTENCE_MIN / 3.0) * DT_MIN / DX_UM**2 \
            + math.sqrt(3.0) * V_MAX * DT_MIN / DX_UM
        if worst > 1.0:
            raise ValueError(f"hop probabilities can sum to {worst:.3f} > 1; reduce DT_MIN")

    def step(self) -> None:
        """One step of ``DT_MIN`` min: every agent steps in random order, then the fields."""
        self.sdf = self.fields.u[self.isdf]
        self.exchange_voxels.clear()
        self.exchange_vegf_rate.clear()
        self.agents.shuffle_do("step")

        t0 = time.perf_counter()
        f = self.fields
        voxels = np.array(self.exchange_voxels, dtype=np.int64).reshape(-1, 3)
        f.set_point_exchange("VEGF", voxels, secretion_rate=np.array(self.exchange_vegf_rate),
                             target=T_VEGF)
        f.set_point_exchange("BDNF", voxels, secretion_rate=S_BDNF, target=T_BDNF)
        f.set_point_exchange("exosome", voxels, release=Q_EXOSOME)
        f.set_point_exchange("SDF-1a", voxels, uptake_rate=U_SDF)
        f.step(DT_MIN)
        self.fields_s += time.perf_counter() - t0


def run_plain_mesa(n_agents: int, steps: int, seed: int = 1, warmup: int = 1) -> dict:
    """Build the model, run ``warmup`` untimed steps, then time ``steps`` steps.

    Parameters
    ----------
    n_agents : int
        Number of cells.
    steps : int
        Timed steps of ``DT_MIN`` min each.
    seed : int
        Model seed.
    warmup : int
        Untimed steps before the timed ones.

    Returns
    -------
    dict
        ``implementation`` ("plain-mesa"), ``n_agents``, ``lattice`` ([L, L, L]),
        ``steps``, ``wall_s`` (timed steps only, s), ``agent_steps_per_s``,
        ``build_s`` (model construction, fields and placement included, s),
        ``fields_s`` (of ``wall_s``, the part in ``set_point_exchange`` and
        ``FieldSolver.step``, s), ``mesa_version``.
    """
    t0 = time.perf_counter()
    model = PlainMesaModel(n_agents, seed=seed)
    build_s = time.perf_counter() - t0

    for _ in range(warmup):
        model.step()
    model.fields_s = 0.0

    t0 = time.perf_counter()
    for _ in range(steps):
        model.step()
    wall_s = time.perf_counter() - t0

    L = model.L
    return {
        "implementation": "plain-mesa",
        "n_agents": n_agents,
        "lattice": [L, L, L],
        "steps": steps,
        "wall_s": wall_s,
        "agent_steps_per_s": n_agents * steps / wall_s if wall_s > 0 else float("nan"),
        "build_s": build_s,
        "fields_s": model.fields_s,
        "mesa_version": mesa.__version__,
    }


def main(argv=None) -> None:
    """Command line: print the result of :func:`run_plain_mesa` as JSON."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--agents", type=int, default=10000, help="number of cells")
    ap.add_argument("--steps", type=int, default=5, help="timed steps (DT_MIN min each)")
    ap.add_argument("--seed", type=int, default=1, help="model seed")
    ap.add_argument("--warmup", type=int, default=1, help="untimed steps before timing")
    a = ap.parse_args(argv)
    print(json.dumps(run_plain_mesa(a.agents, a.steps, seed=a.seed, warmup=a.warmup), indent=2))


if __name__ == "__main__":
    main()
