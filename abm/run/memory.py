"""How much memory a lattice needs, and refusing one that does not fit.

A run that allocates a 512³ lattice on a 16 GB GPU would fail minutes into its
set-up, or (on a CPU) push the node into swap. :func:`check_fits` estimates the
bytes a model will hold from the lattice size, the number of fields and the
expected number of cells, compares them with the memory the device has free,
and raises :class:`~abm.errors.ModelInputError` with both numbers *before*
anything is allocated.

The estimate counts, per voxel: every field at its precision; the spectral
integrator's two per-field factor arrays (float64); transform work space
(about eight float64 arrays, measured on non-cubic lattices); the explicit scheme's scratch; tissue labels
(uint8), voxel capacity and occupancy (int32); the per-voxel slot table of the
exchange (int64). Per cell it counts the population columns (about 80 bytes
plus 8 per phenotype variable) and about 200 bytes of per-step work arrays,
doubled to leave room for growth. It errs on the generous side: the test
suite checks it against the allocations actually traced on a small model.
"""

from __future__ import annotations

import math
import os

from ..errors import ModelInputError

__all__ = ["estimate_bytes", "available_bytes", "check_fits", "format_bytes"]

#: Bytes per cell: population columns (~80 B) + per-step work arrays (~200 B).
BYTES_PER_CELL = 280
#: Headroom factor on the cell count (divisions, injections).
CELL_GROWTH = 2.0


def estimate_bytes(shape, n_fields: int, field_itemsize: int = 8, n_cells: int = 0,
                   n_variables: int = 1) -> int:
    """Estimated peak bytes of a model on its device.

    Parameters
    ----------
    shape : tuple of 3 int
        Lattice, voxels.
    n_fields : int
        Number of diffusing fields.
    field_itemsize : int
        Bytes per field value (8 for float64, 4 for float32).
    n_cells : int
        Cells expected at most (initial populations plus injections).
    n_variables : int
        Phenotype variables per cell (largest over the cell types).

    Returns
    -------
    int
        Bytes.
    """
    v = math.prod(int(s) for s in shape)
    per_voxel = (n_fields * (field_itemsize + 2 * 8)   # fields + spectral E, P factors
                 + 11 * 8                              # transforms + coupled exchange (CG) work
                 + max(field_itemsize, 8)              # explicit scratch / step copy
                 + 1 + 4 + 4 + 8)                      # labels, capacity, occupancy, slots
    per_cell = BYTES_PER_CELL + 8 * n_variables
    return int(v * per_voxel + CELL_GROWTH * n_cells * per_cell)


def available_bytes(backend_name: str) -> tuple[int, str]:
    """Memory the backend can still allocate, bytes, and a phrase naming where it is.

    ``numpy``: ``MemAvailable`` of ``/proc/meminfo`` (free RAM plus reclaimable cache),
    else total physical memory. ``cupy``: free memory of the current GPU.
    """
    if backend_name == "cupy":
        try:
            import cupy as cp  # noqa: PLC0415

            free, total = cp.cuda.Device().mem_info
            return int(free), f"free on GPU {cp.cuda.Device().id} (of {format_bytes(total)})"
        except Exception:  # noqa: BLE001 - no CUDA here (the CPU shim of tests): host memory
            pass
    try:
        with open("/proc/meminfo") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024, "of RAM available"
    except OSError:
        pass
    try:
        return int(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")), "of RAM"
    except (ValueError, OSError, AttributeError):  # pragma: no cover - exotic platforms
        return 2**63 - 1, "(unknown)"


def format_bytes(n: float) -> str:
    """``1.5 GiB``-style text for a byte count."""
    for unit in ("B", "KiB", "MiB", "GiB", "TiB", "PiB"):
        if abs(n) < 1024 or unit == "PiB":
            return f"{n:.3g} {unit}" if unit != "B" else f"{int(n)} B"
        n /= 1024.0
    return f"{n:.3g} PiB"  # pragma: no cover


def check_fits(shape, n_fields: int, field_itemsize: int, n_cells: int, n_variables: int,
               backend_name: str, limit: int | None = None) -> int:
    """Raise ModelInputError if the model would not fit in the device's memory.

    Parameters
    ----------
    shape, n_fields, field_itemsize, n_cells, n_variables
        As for :func:`estimate_bytes`.
    backend_name : {"numpy", "cupy"}
        Where the arrays will live.
    limit : int, optional
        Bytes allowed (default: what :func:`available_bytes` reports).

    Returns
    -------
    int
        The estimate, bytes.
    """
    need = estimate_bytes(shape, n_fields, field_itemsize, n_cells, n_variables)
    where = "allowed"
    if limit is None:
        limit, where = available_bytes(backend_name)
    if need > limit:
        nvox = math.prod(int(s) for s in shape)
        raise ModelInputError(
            f"the model needs about {format_bytes(need)} ({nvox:.3g} voxels × {n_fields} fields, "
            f"{n_cells:.3g} cells) but only {format_bytes(limit)} "
            f"{'is allowed' if where == 'allowed' else where} on this "
            f"{'GPU' if backend_name == 'cupy' else 'machine'}; use a larger voxel, a smaller "
            "domain or fewer fields, or run on a device with more memory")
    return need

