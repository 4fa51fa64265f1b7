"""Per-step field time of the bone scenario ovx_rat_evs, with and without the implicit speed-ups.

Runs the ``ovx`` arm of scenarios/bone/ovx_rat_evs.yaml (seed 1) for a few simulated days,
at full size (2.0 x 1.6 x 0.2 mm, 20 µm voxels: 80,000 voxels, AMG-preconditioned solves) and
as the reduced validation block (0.7 x 0.5 x 0.1 mm: 4,375 voxels, sparse-LU-preconditioned;
tests/validation/reduced.py), each once with every switch of :mod:`kernels.implicit` named in
``SWITCHES`` off (``before``) and once on (``after``), in the same process, alternating,
after an unrecorded one-day warm-up run (imports, JIT compilation). It
times :meth:`abm.fields.FieldSolver.step` (the field step, cells excluded) and counts the
implicit solves, CG iterations, backward-Euler retakes, preconditioner builds and set-ups
and the voxels each tissue change flipped. JSON to
benchmarks/results/bone-field-step-<date>.json.

Usage: ``python benchmarks/bone_field_step.py [--full-days D] [--reduced-days D]``
``[--repeat N] [--out FILE]``.
"""

from __future__ import annotations

import argparse
import collections
import datetime as _dt
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

import kernels.implicit as ki  # noqa: E402
from abm.fields import solver as fsolver  # noqa: E402

#: The switches of kernels.implicit that ``before`` turns off.
SWITCHES = ("SHARE_COARSENING", "BACKWARD_EULER_FROM_TRBDF2", "LU_OPTIONS")
#: What each switch is set to for ``before`` and ``after``.
SETTINGS = {"SHARE_COARSENING": (False, True), "BACKWARD_EULER_FROM_TRBDF2": (False, True),
            "LU_OPTIONS": (None, ki.LU_OPTIONS)}
OUTPUTS = ["outputs.readout_every=1 week", "outputs.snapshot_every=8 week",
           "outputs.checkpoint_every=8 week"]


class _Probe:
    """Wraps FieldSolver.step, set_tissue and ImplicitPropagator.step/_build to count and time."""

    def __init__(self):
        self.reset()
        self._orig = (fsolver.FieldSolver.step, fsolver.FieldSolver.set_tissue,
                      ki.ImplicitPropagator.step, ki.ImplicitPropagator._build,
                      ki._ruge_stuben)
        probe = self
        step, set_tissue, pstep, build, rs = self._orig

        def f_step(s, *a, **k):
            t = time.perf_counter()
            out = step(s, *a, **k)
            probe.c["field_s"] += time.perf_counter() - t
            probe.c["steps"] += 1
            return out

        def f_set(s, *a, **k):
            set_tissue(s, *a, **k)
            p = s._permeable_flat
            if p is not None and probe.perm is not None and p.shape == probe.perm.shape:
                probe.changes.append(int((p != probe.perm).sum()))
            probe.perm = None if p is None else p.copy()

        def p_step(s, *a, **k):
            out = pstep(s, *a, **k)
            probe.c["species_steps"] += 1
            probe.c["iterations"] += s.last_iterations
            probe.c["backward_euler"] += s.last_method == "backward Euler"
            return out

        def p_build(s, *a, **k):
            t = time.perf_counter()
            out = build(s, *a, **k)
            probe.c["build_s"] += time.perf_counter() - t
            probe.c["builds"] += 1
            return out

        def p_rs(A):
            probe.c["amg_setups"] += 1
            return rs(A)

        fsolver.FieldSolver.step = f_step
        fsolver.FieldSolver.set_tissue = f_set
        ki.ImplicitPropagator.step = p_step
        ki.ImplicitPropagator._build = p_build
        ki._ruge_stuben = p_rs

    def reset(self):
        self.c = collections.Counter()
        self.changes = []
        self.perm = None


def run_once(size: str, days: float, probe: _Probe) -> dict:
    """One run of the ovx arm for ``days`` (d) at ``size`` ("full" or "reduced")."""
    from abm.experiment import run_arms  # noqa: PLC0415

    if size == "full":
        path = ROOT / "scenarios" / "bone" / "ovx_rat_evs.yaml"
        ov = [f"domain.duration={days:g} d"] + OUTPUTS
    else:
        from tests.validation.reduced import reduced_bone  # noqa: PLC0415

        path, ov = reduced_bone("ovx_rat_evs", extent_mm=(0.7, 0.5, 0.1), axis_um=(-1250, 250),
                                duration=f"{days:g} d", extra=OUTPUTS)
    probe.reset()
    t = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        cwd = os.getcwd()
        os.chdir(tmp)
        try:
            run_arms(str(path), arms=["ovx"], seeds=[1], overrides=ov, workers=1)
        finally:
            os.chdir(cwd)
    wall = time.perf_counter() - t
    c = dict(probe.c)
    ch = np.array(probe.changes) if probe.changes else np.zeros(1)
    return {"size": size, "days": days, "run_s": round(wall, 2),
            "field_s": round(c.get("field_s", 0.0), 2), "steps": c.get("steps", 0),
            "field_s_per_step": round(c.get("field_s", 0.0) / max(c.get("steps", 1), 1), 4),
            "species_steps": c.get("species_steps", 0), "iterations": c.get("iterations", 0),
            "backward_euler_retakes": c.get("backward_euler", 0),
            "builds": c.get("builds", 0), "build_s": round(c.get("build_s", 0.0), 2),
            "amg_setups": c.get("amg_setups", 0), "tissue_changes": len(probe.changes),
            "changed_voxels_median": float(np.median(ch)), "changed_voxels_max": int(ch.max())}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--full-days", type=float, default=2.0)
    ap.add_argument("--reduced-days", type=float, default=14.0)
    ap.add_argument("--repeat", type=int, default=1)
    ap.add_argument("--out", type=Path)
    a = ap.parse_args(argv)
    import fields  # noqa: PLC0415  (benchmarks/fields.py)

    probe = _Probe()
    run_once("reduced", 1.0, probe)     # warm-up: imports and JIT compilation, not recorded
    results = []
    for _ in range(a.repeat):
        for size, days in (("reduced", a.reduced_days), ("full", a.full_days)):
            if days <= 0:
                continue
            for label, on in (("before", 0), ("after", 1)):
                for s in SWITCHES:
                    setattr(ki, s, SETTINGS[s][on])
                r = run_once(size, days, probe)
                r["config"] = label
                results.append(r)
                print(json.dumps(r), flush=True)
    for s in SWITCHES:
        setattr(ki, s, SETTINGS[s][1])
    out = {"benchmark": "bone_field_step", "date": _dt.date.today().isoformat(),
           "machine": fields.machine_info(), "switches": list(SWITCHES),
           "note": "before/after alternate in one process; shared 2-core CPU, noisy",
           "results": results}
    path = a.out or ROOT / "benchmarks" / "results" / f"bone-field-step-{out['date']}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(out, indent=1))
    print(path)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
