"""Field steps in heterogeneous tissue against the uniform path on the same lattice.

The problems of issue 15, item 6, each with 4 species (D 4200, 1500, 600 and 60 µm²/min;
decay 0.01-0.03 /min) and agents secreting toward a target with uptake, at a 1-min cell step
on 20 µm voxels (``--dt`` for another step):

* ``uniform``: one tissue (the spectral scheme);
* ``third_slow``: a second label over a third of the lattice with diffusion scale 0.3;
* ``brain_slab``: a slab with ventricles (CSF, diffusion scale 2.5) and a white-matter band
  (0.5), the rest grey matter;
* ``bone``: 25% impermeable mineral in blobs, 1% of the voxels changing between mineral and
  marrow every step (the tissue is set anew each step, as remodelling will);
* ``bone_surface``: the same lattice with 0.02% of the voxels changing a step, all on the
  mineral surface (deposition and resorption happen there).

Each is timed per simulated minute with the scheme ``auto`` takes and, for the
heterogeneous ones, also with the explicit and the implicit scheme, in the same run; the ratios to
``uniform`` are the issue's target (at most 2x). JSON to
benchmarks/results/heterogeneous-fields-<date>.json.

``--reuse`` measures instead issue 15 item 2 (tissue that changes every step costs no more
than a step): ``bone`` and ``bone_surface`` at the bone scenarios' 6 h step with the implicit
solves' preconditioners handed on at each change (``FieldSolver(reuse_preconditioners=True)``,
the default) against built anew at each change (``False``, as before), and against the
uniform path on the same lattice, all in the same run; also the builds, refreshes and
rebuilds of the preconditioners (:class:`kernels.implicit.PreconditionerCache`). JSON to
benchmarks/results/tissue-change-reuse-<shape>-<date>.json.

Usage: ``python benchmarks/heterogeneous_fields.py [--dt MIN] [--quick] [--out FILE]``
``[--reuse] [--shape NXxNYxNZ] [--steps N]``.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from abm.fields import FieldSolver, Species, TissueClass  # noqa: E402

HERE = Path(__file__).resolve().parent
DX = 20.0
SPECIES = [(4200.0, 0.018), (1500.0, 0.02), (600.0, 0.03), (60.0, 0.01)]


def machine() -> dict:
    """The machine, as benchmarks/fields.py records it."""
    import fields  # noqa: PLC0415  (benchmarks/fields.py, imported from this folder)

    return fields.machine_info()


def tissue_of(problem: str, shape, rng) -> tuple:
    """Labels, tissue classes and a per-step change (or None) of one problem."""
    nx, ny, nz = shape
    lab = np.zeros(shape, np.uint8)
    if problem == "uniform":
        return None, None, None
    if problem == "third_slow":
        lab[:, : ny // 3] = 1
        return lab, [TissueClass("p"), TissueClass("slow", diffusion_scale=0.3)], None
    if problem == "brain_slab":
        lab[:, ny // 2 - 2: ny // 2 + 2] = 2                  # white matter band
        lab[nx // 3 - 2: nx // 3 + 2, : ny // 2 - 4] = 1       # two ventricles
        lab[2 * nx // 3 - 2: 2 * nx // 3 + 2, : ny // 2 - 4] = 1
        return lab, [TissueClass("grey"), TissueClass("csf", diffusion_scale=2.5),
                     TissueClass("white", diffusion_scale=0.5)], None
    if problem == "bone":
        from scipy.ndimage import gaussian_filter  # noqa: PLC0415

        noise = gaussian_filter(rng.random(shape), 2.0)
        lab[noise > np.quantile(noise, 0.75)] = 1             # 25% mineral in blobs
        tissue = [TissueClass("marrow"), TissueClass("mineral", permeable=False)]

        def change(f, lab=lab):
            flip = rng.random(shape) < 0.01
            lab[flip] = 1 - lab[flip]
            f.set_tissue(lab, tissue)
        return lab, tissue, change
    if problem == "bone_surface":
        from scipy.ndimage import binary_dilation, gaussian_filter  # noqa: PLC0415

        noise = gaussian_filter(rng.random(shape), 2.0)
        lab[noise > np.quantile(noise, 0.75)] = 1
        tissue = [TissueClass("marrow"), TissueClass("mineral", permeable=False)]
        n_flip = max(1, round(2e-4 * lab.size))

        def change(f, lab=lab):
            b = lab == 1
            surf = np.flatnonzero((binary_dilation(b) & ~b) | (b & binary_dilation(~b)))
            pick = rng.choice(surf, size=min(n_flip, surf.size), replace=False)
            flat = lab.reshape(-1)
            flat[pick] = 1 - flat[pick]
            f.set_tissue(lab, tissue)
        return lab, tissue, change
    raise ValueError(problem)


def run(problem: str, scheme: str, shape, n_agents: int, steps: int, DT: float,
        seed: int = 1, reuse: bool = True) -> dict:
    """Seconds per simulated minute of one problem with one scheme, at steps of ``DT`` min.

    ``reuse``: whether the implicit solves' preconditioners are handed on when the tissue
    changes (:class:`abm.fields.FieldSolver` ``reuse_preconditioners``).
    """
    rng = np.random.default_rng(seed)
    lab, tissue, change = tissue_of(problem, shape, rng)
    sp = [Species(f"s{i}", d, k) for i, (d, k) in enumerate(SPECIES)]
    f = FieldSolver(shape, DX, sp, labels=lab, tissue=tissue, scheme=scheme,
                    dtype="float64", reuse_preconditioners=reuse)
    vox = np.column_stack([rng.integers(0, n, size=n_agents) for n in shape])
    if lab is not None:
        keep = (lab[vox[:, 0], vox[:, 1], vox[:, 2]] != 1 if problem.startswith("bone")
                else slice(None))
        vox = vox[keep]
    paths = sorted({f.path(i, DT) for i in range(len(sp))})
    caches = {}     # every preconditioner cache used (one per species, or one per tissue)

    def keep_caches():
        for prop in f._implicit.values():
            caches[id(prop.preconditioners)] = prop.preconditioners

    t0 = time.perf_counter()
    for _ in range(steps):
        if change is not None:
            keep_caches()
            change(f)
        for s in sp:
            f.set_point_exchange(s.name, vox, secretion_rate=0.01, target=5.0, uptake_rate=0.01)
        f.step(DT)
    wall = time.perf_counter() - t0
    its = {s.name: f._implicit[i].last_iterations for i, s in enumerate(sp) if i in f._implicit}
    keep_caches()
    counts = {k: sum(getattr(pc, k) for pc in caches.values())
              for k in ("builds", "refreshes", "rebuilds", "refused", "reused_solves")}
    return {"problem": problem, "scheme_requested": scheme, "paths": paths,
            "reuse_preconditioners": reuse, "steps": steps,
            "substeps": f.substeps(DT), "s_per_sim_min": wall / (steps * DT),
            "s_per_step": wall / steps, "cg_iterations_last_step": its,
            "preconditioners_all_species": counts if caches else None}


def reuse_main(shape, n_agents: int, steps: int, DT: float, out) -> int:
    """Issue 15 item 2: changing tissue with and without handing on the preconditioners."""
    rows = [run("uniform", "auto", shape, n_agents, steps, DT)]
    print(f"uniform     {rows[0]['s_per_sim_min']:.4f} s/sim-min", flush=True)
    for prob in ("bone", "bone_surface"):
        for reuse in (True, False):
            rows.append(run(prob, "auto", shape, n_agents, steps, DT, reuse=reuse))
            r = rows[-1]
            print(f"{prob:12s} reuse={reuse!s:5s} {r['s_per_sim_min']:.4f} s/sim-min "
                  f"{r['s_per_step']:.2f} s/step {r['paths']} "
                  f"{r['preconditioners_all_species']}", flush=True)
    base = rows[0]["s_per_sim_min"]
    by = {(r["problem"], r["reuse_preconditioners"]): r for r in rows[1:]}
    for r in rows:
        r["ratio_to_uniform"] = r["s_per_sim_min"] / base
    summary = {prob: {"reuse_over_no_reuse": by[prob, True]["s_per_sim_min"]
                      / by[prob, False]["s_per_sim_min"],
                      "reuse_over_uniform": by[prob, True]["ratio_to_uniform"],
                      "no_reuse_over_uniform": by[prob, False]["ratio_to_uniform"]}
               for prob in ("bone", "bone_surface")}
    date = _dt.datetime.now(_dt.timezone.utc)
    report = {"benchmark": "benchmarks/heterogeneous_fields.py --reuse",
              "date_utc": date.isoformat(timespec="seconds"), "machine": machine(),
              "lattice": list(shape), "dx_um": DX, "dt_min": DT, "agents": n_agents,
              "steps": steps,
              "species": [{"D_um2_per_min": d, "decay_per_min": k} for d, k in SPECIES],
              "rows": rows, "summary": summary}
    nx, ny, nz = shape
    out = Path(out) if out else HERE / "results" / \
        f"tissue-change-reuse-{nx}x{ny}x{nz}-dt{DT:g}-{date:%Y-%m-%d}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2) + "\n")
    for prob, v in summary.items():
        print(f"{prob:12s} reuse/no-reuse x{v['reuse_over_no_reuse']:.2f}; to uniform: "
              f"reuse x{v['reuse_over_uniform']:.1f}, no reuse x{v['no_reuse_over_uniform']:.1f}")
    print(f"written to {out}")
    return 0


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true", help="small lattice, few steps")
    p.add_argument("--dt", type=float, default=None,
                   help="cell step, min (default 1; 360 with --reuse)")
    p.add_argument("--out", default=None)
    p.add_argument("--reuse", action="store_true",
                   help="changing tissue with and without preconditioner reuse (6 h steps "
                        "unless --dt is given)")
    p.add_argument("--shape", default=None, help="lattice, e.g. 48x48x24")
    p.add_argument("--steps", type=int, default=None, help="steps per run")
    a = p.parse_args(argv)
    DT = a.dt if a.dt is not None else (360.0 if a.reuse else 1.0)
    shape = (24, 24, 12) if a.quick else (64, 64, 32)
    if a.shape:
        shape = tuple(int(n) for n in a.shape.lower().split("x"))
    n_agents, steps = (200, 3) if a.quick else (2000, 10)
    if a.steps:
        steps = a.steps
    if a.reuse:
        return reuse_main(shape, n_agents, steps, DT, a.out)
    rows = [run("uniform", "auto", shape, n_agents, steps, DT)]
    for prob in ("third_slow", "brain_slab", "bone"):
        for scheme in ("auto", "explicit", "implicit"):
            rows.append(run(prob, scheme, shape, n_agents, steps, DT))
            print(f"{prob:11s} {scheme:8s} {rows[-1]['s_per_sim_min']:.3f} s/sim-min "
                  f"{rows[-1]['paths']}", flush=True)
    base = rows[0]["s_per_sim_min"]
    for r in rows:
        r["ratio_to_uniform"] = r["s_per_sim_min"] / base
        if r["problem"] != "uniform" and r["scheme_requested"] == "auto":
            r["target"] = "at most 2x the uniform path"
            r["meets_target"] = r["ratio_to_uniform"] <= 2.0
    date = _dt.datetime.now(_dt.timezone.utc)
    report = {"benchmark": "benchmarks/heterogeneous_fields.py", "quick": a.quick,
              "date_utc": date.isoformat(timespec="seconds"), "machine": machine(),
              "lattice": list(shape), "dx_um": DX, "dt_min": DT, "agents": n_agents,
              "species": [{"D_um2_per_min": d, "decay_per_min": k} for d, k in SPECIES],
              "rows": rows}
    out = Path(a.out) if a.out else HERE / "results" / \
        f"heterogeneous-fields-dt{DT:g}-{date:%Y-%m-%d}{'-quick' if a.quick else ''}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2) + "\n")
    for r in rows:
        print(f"{r['problem']:11s} {r['scheme_requested']:8s} {r['s_per_sim_min']:.3f} s/sim-min "
              f"x{r['ratio_to_uniform']:.1f} {r['paths']}")
    print(f"written to {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
