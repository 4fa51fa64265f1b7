"""A small demonstration of the field engine: cytokine fields around a stroke-like lesion.

A 1.28 x 1.28 x 0.64 mm block of brain (64 x 64 x 32 voxels of 20 µm):

* the reactive border of a spherical lesion releases SDF-1α at a constant rate
  (an inexhaustible constant-rate depot on a spherical shell);
* a cluster of 200 transplanted BMSCs some 500 µm away secretes VEGF and BDNF
  toward target concentrations (implicit point exchange);
* an exosome-loaded hydrogel next to the lesion releases exosomes with
  first-order kinetics.

Parameters are from ``seeds/fields.csv`` (all estimates for now; see there).
This is a demonstration of the numerics, not a calibrated model: cells do not
move or respond yet (that is the next layer).
"""

from __future__ import annotations

import math
import time
from pathlib import Path

import numpy as np
from tqdm import tqdm

from .fields import DEFAULT_CELL_STEP_MIN, FieldSolver
from .seeds import load_field_defaults


def build_demo(backend=None, shape=(64, 64, 32), dx=20.0):
    """Set up the demonstration solver.

    Returns
    -------
    FieldSolver, dict
        The solver and a dict of what was placed where (centres in voxels, depot).
    """
    sp = load_field_defaults()
    f = FieldSolver(shape, dx, [sp["SDF-1a"], sp["VEGF"], sp["BDNF"], sp["exosome"]], backend=backend)
    nx, ny, nz = shape
    idx = np.indices(shape)
    lesion = np.array([nx * 0.3, ny * 0.5, nz * 0.5])
    r = np.sqrt(sum((idx[a] - lesion[a]) ** 2 for a in range(3))) * dx  # µm
    border = (r >= 160.0) & (r < 220.0)  # reactive rim 160–220 µm from the lesion centre
    # SDF-1a: 1e7 (ng/mL)·µm³ per min (= 1e-14 g/min) over the rim: an estimate that
    # puts the border at ~1 ng/mL; amounts are field unit × µm³ ((ng/mL)·µm³ = 1e-21 g)
    f.add_depot("SDF-1a", border, math.inf, "constant", 1.0e7)
    rng = np.random.default_rng(1)
    bmsc_centre = np.array([nx * 0.72, ny * 0.5, nz * 0.5])
    cells = np.clip(np.round(bmsc_centre + rng.normal(0, 2.0, size=(200, 3))), 0,
                    np.array(shape) - 1).astype(int)
    f.set_point_exchange("VEGF", cells, secretion_rate=0.05, target=2.0, uptake_rate=0.0)
    f.set_point_exchange("BDNF", cells, secretion_rate=0.05, target=1.0, uptake_rate=0.0)
    gel = (np.abs(idx[0] - lesion[0] + 16) <= 3) & (np.abs(idx[1] - lesion[1]) <= 4) & \
          (np.abs(idx[2] - lesion[2]) <= 4)
    depot = f.add_depot("exosome", gel, 1.0e6, "first_order", 1.0 / 240.0)
    return f, {"lesion": lesion, "bmsc": bmsc_centre, "border": border, "depot": depot, "r_lesion": r}


def run_demo(hours: float = 12.0, out: Path | None = None, backend=None, quiet=False) -> dict:
    """Run the demonstration and (optionally) save a picture.

    Parameters
    ----------
    hours : float
        Simulated time, h.
    out : Path or None
        PNG to write (mid-plane slices and the SDF-1α profile).
    backend : str or None
        Array backend.
    quiet : bool
        No progress bar or printed summary.

    Returns
    -------
    dict
        Summary numbers (wall time, per-field totals, exosome balance).
    """
    f, where = build_demo(backend)
    dt = DEFAULT_CELL_STEP_MIN
    nsteps = int(round(hours * 60 / dt))
    if not quiet:
        print(f.describe(dt))
    t0 = time.perf_counter()
    with tqdm(total=nsteps, unit="step", disable=quiet, desc="simulating",
              bar_format="{l_bar}{bar}| {n_fmt}/{total_fmt} min [{elapsed}<{remaining}, {rate_fmt}]") as bar:
        for _ in range(nsteps):
            totals = f.step(dt)
            bar.update(1)
    wall = time.perf_counter() - t0
    dep = where["depot"]
    summary = {"wall_s": wall, "sim_min": f.time, "totals": totals,
               "exosome_loaded": 1.0e6, "exosome_in_depot": dep.remaining,
               "exosome_released": dep.released, "exosome_in_tissue": totals["exosome"]}
    sdf = f.field_numpy("SDF-1a")
    r = where["r_lesion"]
    prof = [(d, float(sdf[(r >= d - 10) & (r < d + 10)].mean())) for d in (0, 100, 200, 300, 400, 500, 600)]
    summary["sdf_profile"] = prof
    if not quiet:
        print(f"\nsimulated {f.time / 60:g} h in {wall:.1f} s wall ({f.time / wall:.0f} min per s)")
        print("SDF-1α around the lesion (ng/mL):  " +
              "  ".join(f"{d:.0f} µm: {c:.3g}" for d, c in prof))
        b = tuple(int(v) for v in where["bmsc"])
        print(f"at the BMSC cluster: VEGF {f.field_numpy('VEGF')[b]:.3g} ng/mL, "
              f"BDNF {f.field_numpy('BDNF')[b]:.3g} ng/mL")
        print(f"exosomes (field unit × µm³): loaded 1e6, still in gel {dep.remaining:.4g}, released "
              f"{dep.released:.4g}, in tissue {totals['exosome']:.4g}, cleared "
              f"{dep.released - totals['exosome']:.4g}")
    if out is not None:
        _picture(f, where, Path(out))
        if not quiet:
            print(f"picture written to {out}")
    return summary


def _picture(f: FieldSolver, where: dict, out: Path) -> None:
    import matplotlib  # noqa: PLC0415

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt  # noqa: PLC0415

    z = f.shape[2] // 2
    fig, axes = plt.subplots(1, 5, figsize=(22, 4.2), constrained_layout=True)
    ext = [0, f.shape[1] * f.dx, 0, f.shape[0] * f.dx]
    for ax, s in zip(axes[:4], f.species):
        im = ax.imshow(f.field_numpy(s.name)[:, :, z], origin="lower", extent=ext, cmap="magma")
        ax.set_title(f"{s.name} at z = {z * f.dx:.0f} µm, t = {f.time / 60:g} h")
        ax.set_xlabel("y (µm)")
        ax.set_ylabel("x (µm)")
        fig.colorbar(im, ax=ax, label=f"{s.name} ({s.unit})")
    r = where["r_lesion"].ravel()
    sdf = f.field_numpy("SDF-1a").ravel()
    bins = np.arange(0, r.max(), f.dx)
    k = np.digitize(r, bins)
    mean = np.array([sdf[k == i].mean() if np.any(k == i) else np.nan for i in range(1, len(bins))])
    axes[4].plot(bins[:-1] + f.dx / 2, mean)
    axes[4].axvspan(160, 220, color="0.85", label="reactive border (source)")
    axes[4].set_xlabel("distance from lesion centre (µm)")
    axes[4].set_ylabel("SDF-1α (ng/mL)")
    axes[4].set_title("SDF-1α gradient toward the lesion")
    axes[4].legend()
    fig.savefig(out, dpi=90)
    plt.close(fig)
