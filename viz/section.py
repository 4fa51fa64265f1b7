"""A tissue section as a histologist draws it: one plane of the lattice, flat, in mm.

``abm render RUN.h5 --section z=300um --out section.png`` draws, at one snapshot:

* the field (or tissue state) in the plane as an image, with its unit on the colour bar;
* the outline of every tissue label present in the plane (cortex, striatum, ventricle,
  lesion core, penumbra, ...) as a contour line in the label's colour, named in the legend;
* the cells whose voxel lies in the plane (or within ``thickness`` voxels of it), each at
  its own place inside its voxel (:mod:`viz.jitter`), coloured by type and phenotype
  state (BMSCs, M1/M2 microglia over the resident cells), with their numbers in the legend.

For a forebrain slab whose z axis runs rostro-caudally, ``z=`` gives a coronal section.
The figure is a bare :class:`matplotlib.figure.Figure` (no pyplot, no display), so it
works on a batch node; it is written to a temporary file and moved into place.
"""

from __future__ import annotations

import numpy as np

from abm.atomic import atomic_output
from abm.errors import ModelInputError
from abm.runfile import open_run

from .jitter import drawn_positions
from .palette import _EXTRA_TISSUE, TISSUE_PALETTE, cell_colors
from .plots import _check_out
from .selection import format_time, lattice_array, lattice_unit, resolve_field, time_to_index

__all__ = ["AXES", "parse_section", "render_section"]

#: Axis name -> index; the section is the plane normal to it.
AXES = {"x": 0, "y": 1, "z": 2}

def parse_section(text: str, dx_um: float, shape) -> tuple[int, int]:
    """``"z=300um"`` / ``"z=0.3 mm"`` / ``"z=12"`` (a voxel index) -> (axis, voxel index).

    Raises
    ------
    ModelInputError
        Not ``AXIS=POSITION``, an unknown axis, or a position outside the lattice.
    """
    axis_name, sep, where = str(text).partition("=")
    axis_name = axis_name.strip().lower()
    if not sep or axis_name not in AXES or not where.strip():
        raise ModelInputError(f"cannot read section {text!r}; write AXIS=POSITION, e.g. "
                              "z=300um (a position with its unit) or z=12 (a voxel index)")
    axis = AXES[axis_name]
    n = int(shape[axis])
    where = where.strip()
    try:
        k = int(where)
        pos_text = f"voxel {k}"
    except ValueError:
        from abm.units import parse_quantity, ureg  # noqa: PLC0415
        try:
            q, bare = parse_quantity(where)
            if bare:
                raise ValueError("no unit")
            um = float(q.to(ureg.micrometer).magnitude)
        except Exception as e:  # noqa: BLE001 - UnitProblem, DimensionalityError, ValueError
            raise ModelInputError(f"cannot read the section position {where!r} ({e}); give a "
                                  "length with its unit (300um, 0.3 mm) or a voxel index") from None
        k = int(np.floor(um / float(dx_um)))
        pos_text = f"{um:g} µm"
    if not 0 <= k < n:
        raise ModelInputError(f"section {text!r} ({pos_text}) lies outside the lattice: "
                              f"{axis_name} runs over voxels 0..{n - 1} (0..{n * dx_um:g} µm)")
    return axis, k


def _plane(a: np.ndarray, axis: int, k: int) -> np.ndarray:
    """The 2-D plane ``k`` normal to ``axis``, as (horizontal, vertical) = the other two axes."""
    return np.take(a, k, axis=axis)


def render_section(path, out, *, section: str, field=None, time=None, thickness: int = 0,
                   cell_types=None, overwrite: bool = False, size_in=(7.0, 6.0)):
    """Draw one plane of a run at one snapshot and save it (PNG, PDF or SVG).

    Parameters
    ----------
    path : str or Path
        Run file.
    out : str or Path
        Picture to write; the format follows the extension (``.png`` 150 dpi, ``.pdf``,
        ``.svg``).
    section : str
        ``AXIS=POSITION``: ``"z=300um"`` (a length with its unit) or ``"z=12"`` (voxel
        index); the plane normal to that axis through that voxel layer.
    field : str, optional
        Field or tissue state drawn (default the run's first; ``"none"``: outlines and
        cells only).
    time : str or float, optional
        Snapshot nearest this simulated time (``"3 d"``; a number is minutes); default
        the last.
    thickness : int
        Also draw cells up to this many voxels either side of the plane (0: the plane only).
    cell_types : sequence of str, optional
        Cell types drawn (default all).
    overwrite : bool
        Replace an existing picture.
    size_in : (float, float)
        Figure size, inches.

    Returns
    -------
    matplotlib.figure.Figure
        The figure saved. ``fig.section_cells`` maps each drawn legend entry (``"BMSC"``,
        ``"Microglia M1"``) to the (n, 2) positions drawn, mm, for checks.

    Raises
    ------
    abm.errors.ModelInputError
        Bad section, time, field, cell type, output path; a run without snapshots.
    """
    from matplotlib.figure import Figure  # noqa: PLC0415
    from matplotlib.lines import Line2D  # noqa: PLC0415

    out, fmt = _check_out(out, overwrite)      # .png, .pdf or .svg, as abm plot
    if int(thickness) < 0:
        raise ModelInputError(f"thickness must be >= 0 voxels, got {thickness}")
    with open_run(path) as run:
        a = run.attrs
        shape = tuple(int(s) for s in a["shape"])
        dx = float(a["dx_um"])
        axis, k = parse_section(section, dx, shape)
        i = time_to_index(run, time)
        name = resolve_field(run, field)
        types = list(run.cell_types)
        if cell_types is not None:
            unknown = [t for t in cell_types if t not in types]
            if unknown:
                raise ModelInputError(f"no cell type {unknown[0]!r} in {run.path}; cell types: "
                                      f"{', '.join(types) or 'none'}")
            types = [t for t in types if t in cell_types]
        colours = cell_colors(run.cell_types, {t: list(run.cell_states.get(t, []))
                                               for t in run.cell_types}, run.cell_colours)
        other = [d for d in range(3) if d != axis]
        ext = [0.0, shape[other[0]] * dx / 1000.0, 0.0, shape[other[1]] * dx / 1000.0]
        fig = Figure(figsize=size_in, layout="constrained")
        ax = fig.subplots()
        if name is not None:
            img = _plane(np.asarray(lattice_array(run, name, i)), axis, k)
            im = ax.imshow(img.T, origin="lower", extent=ext, cmap="magma", aspect="equal",
                           interpolation="nearest")
            fig.colorbar(im, ax=ax, shrink=0.8, label=f"{name} [{lattice_unit(run, name)}]")
        handles = []
        # tissue outlines
        lab = _plane(np.asarray(run.labels(i)), axis, k)
        names = list(run.tissue_names)
        extra = iter(_EXTRA_TISSUE * 4)
        xs = (np.arange(lab.shape[0]) + 0.5) * dx / 1000.0
        ys = (np.arange(lab.shape[1]) + 0.5) * dx / 1000.0
        for v in [int(u) for u in np.unique(lab) if int(u) != 0]:
            lname = names[v] if v < len(names) else f"label {v}"
            col = TISSUE_PALETTE.get(lname) or next(extra)
            m = np.pad((lab == v).astype(float), 1)
            xp = np.concatenate([[xs[0] - dx / 1000.0], xs, [xs[-1] + dx / 1000.0]])
            yp = np.concatenate([[ys[0] - dx / 1000.0], ys, [ys[-1] + dx / 1000.0]])
            ax.contour(xp, yp, m.T, levels=[0.5], colors=[col], linewidths=1.4)
            handles.append(Line2D([], [], color=col, lw=1.4, label=lname))
        # cells in the plane
        drawn = {}
        for t in types:
            if run.agent_count(t, i) == 0:
                continue
            tab = run.agents(t, i)
            pos = np.asarray(tab["pos"]).reshape(-1, 3)
            near = np.abs(pos[:, axis] - k) <= int(thickness)
            if not near.any():
                continue
            ids = np.asarray(tab["id"])[near] if "id" in tab else None
            xyz = drawn_positions(pos[near], ids, (0, 0, 0), (dx,) * 3)
            xy = xyz[:, other] / 1000.0
            states = list(run.cell_states.get(t, []))
            if states and "state" in tab:
                st = np.asarray(tab["state"])[near].astype(int)
                groups = [(f"{t} {s}", st == j, colours["states"][t][j])
                          for j, s in enumerate(states)]
            else:
                groups = [(t, np.ones(len(xy), bool), colours["types"][t])]
            for label, sel, col in groups:
                if not sel.any():
                    continue
                ax.scatter(xy[sel, 0], xy[sel, 1], s=7, c=col, edgecolors="black",
                           linewidths=0.2, label=f"{label} ({int(sel.sum())})", zorder=3)
                drawn[label] = xy[sel]
        ax.set_xlim(ext[0], ext[1])
        ax.set_ylim(ext[2], ext[3])
        xn, yn = ("xyz"[other[0]], "xyz"[other[1]])
        ax.set_xlabel(f"{xn} [mm]")
        ax.set_ylabel(f"{yn} [mm]")
        cell_handles, _ = ax.get_legend_handles_labels()
        if handles or cell_handles:
            ax.legend(handles=handles + cell_handles, fontsize="x-small", loc="upper left",
                      bbox_to_anchor=(1.02, 1.0) if name is None else (0.0, 1.0),
                      framealpha=0.85)
        width = f" ± {thickness} voxels" if thickness else ""
        ax.set_title(f"{a.get('scenario_name', run.path.stem)}, "
                     f"{format_time(float(run.times[i]))}, section {'xyz'[axis]} = "
                     f"{(k + 0.5) * dx:g} µm{width}", fontsize="small")
    fig.section_cells = drawn
    with atomic_output(out, "wb") as fh:
        fig.savefig(fh, format=fmt, dpi=150)
    return fig
