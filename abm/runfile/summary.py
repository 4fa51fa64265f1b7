"""The few lines ``abm info RUN.h5`` prints about a run (:meth:`RunReader.summary`)."""

from __future__ import annotations

from .encoding import _esc
from .layout import _lattice_shape
from .xdmf import _spacing

__all__: list[str] = []        # package-internal helpers


def _summary(run) -> str:
    """Describe an open :class:`~abm.runfile.RunReader` in at most 14 lines.

    Parameters
    ----------
    run : abm.runfile.RunReader

    Returns
    -------
    str
        Scenario, backend and seed, lattice (voxels, µm, mm), time step (min), fields and
        tissue states with their units, snapshots (h), agent counts, readouts,
        checkpoints and status, one per line.
    """
    a = run.attrs
    lines = [f"run file      {run.path}"]
    lines.append(f"scenario      {a.get('scenario_name', '?')}   (bmsc-abm "
                 f"{a.get('package_version', '?')}, created {a.get('created', '?')})")
    lines.append(f"backend/seed  {a.get('backend', '?')}, seed {a.get('seed', '?')}")
    shape = a.get("shape")
    dx = a.get("dx_um")
    if shape is None and run.n_snapshots and run.field_names:
        shape = list(_lattice_shape(run._snap(-1)["fields"][_esc(run.field_names[0])]))
    if shape is not None:
        sh = " x ".join(str(int(s)) for s in shape)
        if dx is not None and len(shape) == 3:
            sp = _spacing(dx)                       # scalar or [dx, dy, dz], um
            ext = " x ".join(f"{int(s) * d / 1000:g}" for s, d in zip(shape, sp))
            dtext = (f"{sp[0]:g}" if sp[0] == sp[1] == sp[2]
                     else " x ".join(f"{d:g}" for d in sp))
            lines.append(f"lattice       {sh} voxels x {dtext} um  ({ext} mm)")
        else:
            lines.append(f"lattice       {sh} voxels")
    if "dt_min" in a:
        lines.append(f"time step     {a['dt_min']} min" + (
            f", {a['n_steps']} steps planned" if "n_steps" in a else ""))
    fields = ", ".join(f"{n} [{u}]" if u else n for n, u in run.field_units.items())
    lines.append(f"fields        {fields or 'none'}")
    states = ", ".join(f"{n} [{u}]" if u else n for n, u in run.tissue_state_units.items())
    if states:
        lines.append(f"tissue states {states}")
    if run.n_snapshots:
        t0, t1 = run.times[0] / 60.0, run.times[-1] / 60.0
        lines.append(f"snapshots     {run.n_snapshots}, t = {t0:g} .. {t1:g} h "
                     f"(steps {run.steps[0]} .. {run.steps[-1]})")
        counts = ", ".join(f"{t} {run.agent_count(t)}" for t in run.cell_types)
        lines.append(f"agents (last) {counts or 'none'}")
    else:
        lines.append("snapshots     0")
    cols = [c for c in run.readout_units if c not in ("time_min", "step")]
    lines.append(f"readouts      {run._n_rows} rows: " + (", ".join(
        f"{c} [{run.readout_units[c]}]" if run.readout_units[c] else c for c in cols)
        or "none"))
    lines.append("checkpoints   " + (", ".join(f"step {s}" for s in run.checkpoint_steps)
                                     or "none"))
    status = a.get("status", "unfinished (no status recorded: running, or stopped early)")
    extra = f", wall {a['wall_s']:.0f} s" if isinstance(a.get("wall_s"), (int, float)) else ""
    lines.append(f"status        {status}{extra}")
    return "\n".join(lines)

