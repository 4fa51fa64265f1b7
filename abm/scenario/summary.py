"""What ``abm validate`` and ``abm info`` print about a scenario.

The few lines ``abm validate`` prints about a scenario; each event is described by its
registered kind (:meth:`abm.events.EventKind.describe`).
"""

from __future__ import annotations

__all__ = ["summarize", "timeline"]


def summarize(sc) -> str:
    """A few lines describing scenario ``sc`` (a :class:`~abm.scenario.Scenario`)."""
    from ..events import event_kind  # noqa: PLC0415

    d = sc.domain
    lines = [f"scenario {sc.name}" + (f": {sc.description.strip()}" if sc.description else "")]
    lines.append(f"  lattice {d.shape[0]} x {d.shape[1]} x {d.shape[2]} voxels of {d.dx:g} µm "
                 f"({' x '.join(f'{e:g}' for e in d.extent)} µm); dt {d.dt:g} min, "
                 f"{d.n_steps} steps ({d.duration:g} min); seed "
                 f"{'drawn at run time' if d.seed is None else d.seed}")
    counts = _label_voxels(sc)
    lines.append("  tissue: " + ", ".join(
        f"{i} {t.name}" + ("" if t.initially else " (painted by an event)")
        + ("" if counts is None or not t.initially else f" ({int(counts[i])} voxels)")
        for i, t in enumerate(sc.tissue)))
    lines.append("  fields: " + "; ".join(
        f"{f.name} [{f.unit}] D {f.diffusion:g} µm²/min, decay {f.decay:g}/min"
        for f in sc.fields))
    lines.append("  cell types: " + ("; ".join(_cell_type(c) for c in sc.cell_types) or "none"))
    if sc.processes:
        lines.append("  tissue processes: " + "; ".join(
            p.name + (" (" + ", ".join(f"{k} {v:g}" for k, v in p.parameters.items()) + ")"
                      if p.parameters else "") + ": states " + ", ".join(p.cls.states)
            for p in sc.processes))
    lines.append("  populations: " + ("; ".join(
        f"{p.n_cells if p.n_cells is not None else '?'} {p.cell_type}"
        + (f" {p.state}" if p.state else "") + f" in {p.region.describe()}"
        for p in sc.populations) or "none"))
    lines.append("  events: " + ("; ".join(
        f"{e.time:g} min {e.kind} {event_kind(e.kind).describe(e.spec)}" for e in sc.events)
        or "none"))
    o = sc.outputs
    lines.append(f"  outputs: snapshots every {o.snapshot_every:g} min, checkpoints every "
                 f"{o.checkpoint_every:g} min, readouts every {o.readout_every:g} min: "
                 + ", ".join(r.text for r in o.readouts))
    if sc.plugins:
        lines.append("  plugins: " + ", ".join(sc.plugins))
    if sc.arms:
        lines.append("  arms: " + "; ".join(
            a.name + (" (this run)" if a.name == sc.arm else "")
            + (f" without {', '.join(a.without)}" if a.without else "")
            + (f" with {', '.join(a.set)}" if a.set else "") for a in sc.arms.values()))
    for c in sc.reported:
        when = "at the end" if c.time is None else f"at {c.time / 60:g} h"
        lines.append(f"  reported: {c.readout} {when}: {c.a} {c.op} {c.b} ({c.source})")
    lines.extend(f"  warning: {w}" for w in getattr(sc, "warnings", ()))
    return "\n".join(lines)


#: Largest lattice whose labels ``abm validate`` paints to count their voxels.
COUNT_LIMIT = 50_000_000


def _label_voxels(sc):
    """Voxels of each tissue label at t = 0 (None when nothing is painted or the lattice is huge)."""
    import math  # noqa: PLC0415

    import numpy as np  # noqa: PLC0415

    from .objects import build_labels  # noqa: PLC0415

    if len(sc.tissue) < 2 or math.prod(sc.domain.shape) > COUNT_LIMIT:
        return None
    return np.bincount(build_labels(sc).ravel(), minlength=len(sc.tissue))


def _cell_type(c) -> str:
    text = f"{c.name} ({len(c.parameters)} parameter override(s), {len(c.rules)} rule(s))"
    if c.declared and c.cls is not None:
        base = c.cls.__mro__[1]
        ext = "" if base.__name__ == "LatticeCell" else f" extends {base.cell_type},"
        states = f" states {', '.join(c.cls.states)}" if c.cls.states else ""
        text = (f"{c.name} (declared,{ext}{states}{';' if states else ''} "
                f"{len(c.parameters)} parameter override(s), {len(c.rules)} rule(s))")
    return text


def timeline(sc) -> list[str]:
    """``abm info`` lines for a run's timeline.

    ``abm info`` lines for what a run file's metadata does not show: the events (each
    described by its kind), the tissue processes and the plugins.
    """
    from ..events import event_kind  # noqa: PLC0415

    out = [f"{'events':<14}" + ("; ".join(
        f"{e.time:g} min {e.kind} {event_kind(e.kind).describe(e.spec)}" for e in sc.events)
        or "none")]
    if sc.processes:
        out.append(f"{'processes':<14}" + ", ".join(p.name for p in sc.processes))
    if sc.plugins:
        out.append(f"{'plugins':<14}" + ", ".join(sc.plugins))
    return out
