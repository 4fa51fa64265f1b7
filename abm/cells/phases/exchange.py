"""The *exchange* phase: what the cells secrete, take up and release goes to the field engine."""

from __future__ import annotations

import numpy as np

from kernels import cpu_jit, xp_ops

from ..plan import StepPlan

__all__ = ["exchange", "exchange_sums_numpy"]


def exchange(model, plan: StepPlan) -> None:
    """Hand every field the summed exchange of the cells in each occupied voxel.

    Per field ``f`` and voxel, over the cells there: ``Σ S·T`` (secretion rate
    ``secretion:f``, 1/min, times its target ``target:f``, field unit), ``Σ (S + U)``
    (plus uptake ``uptake:f``, 1/min) and ``Σ Q`` (``release:f``, amount/min, amount =
    concentration × µm³), plus the releases of ordinary Mesa agents
    (:meth:`TissueModel.release`), through :meth:`FieldSolver.set_exchange_sums`;
    the field engine applies them implicitly while it diffuses. A field nobody
    exchanges with has its exchange cleared.
    """
    xp = model.xp
    fs = model.fields
    cplans = list(plan.populations.values())
    flats = [c.flat for c in cplans]
    custom = model._custom_release
    model._custom_release = []
    if not flats and not custom:
        for sp in fs.species:
            fs.clear_point_exchange(sp.name)
        return
    allflat = xp.concatenate(flats) if flats else xp.zeros(0, np.int64)
    if custom:
        allflat = xp.concatenate([allflat, xp.asarray([f for _, f, _ in custom], np.int64)])
    if custom:
        voxels, inv = xp_ops.unique_inverse(xp, allflat)
    else:
        # every cell sits in an occupied voxel: number those instead of sorting
        voxels = xp.flatnonzero(model.occupancy > 0)
        slot = xp.empty(model.n_voxels, dtype=np.int64)
        slot[voxels] = xp.arange(voxels.shape[0])
        inv = slot[allflat]
    m = int(voxels.shape[0])
    jit = cpu_jit.enabled(model)     # the fused sums: identical to the twin's, bit for bit
    for i, sp in enumerate(fs.species):
        f = sp.name
        terms = []
        for c in cplans:
            terms.append((c.n, *(c.behaviour(b) if c.uses(b) else None
                                 for b in (f"secretion:{f}", f"target:{f}", f"uptake:{f}",
                                           f"release:{f}"))))
        if custom:
            terms.append((len(custom), None, None, None,
                          [r if j == i else 0.0 for j, _, r in custom]
                          if any(j == i for j, _, _ in custom) else None))
        if jit:
            st, su, q, used = cpu_jit.exchange_sums(inv, m, terms)
        else:
            st, su, q, used = exchange_sums_numpy(xp, inv, m, terms)
        if not any(used):
            fs.clear_point_exchange(f)
            continue
        fs.set_exchange_sums(f, voxels, st, su, q)


def exchange_sums_numpy(xp, inv, m: int, terms):
    """Per-voxel exchange sums of one field (the reference of :func:`kernels.cpu_jit.exchange_sums`).

    Parameters
    ----------
    xp : module
        ``numpy`` or ``cupy``.
    inv : int64 array (N,)
        Slot (0..m-1) of each cell's voxel, the populations' cells concatenated in order.
    m : int
        Number of slots (distinct occupied voxels).
    terms : list of (n, S, T, U, Q)
        Per population, in the order of ``inv``: its cell count and its secretion rate
        ``S`` (1/min), target ``T`` (field unit), uptake rate ``U`` (1/min) and release
        ``Q`` (amount/min, amount = concentration × µm³); each a float, an array (n,) or
        None where the population lacks it.

    Returns
    -------
    st, su, q : float64 arrays (m,)
        ``Σ S·T``, ``Σ (S + U)`` and ``Σ Q`` per slot (zeros where no population has
        the term).
    used : tuple of 3 bool
        Whether any population has ``S`` and ``T``; ``S`` or ``U``; ``Q``.
    """
    st, su, q = [], [], []
    any_st = any_su = any_q = False
    for cnt, *vals in terms:
        S, T, U, Q = (None if v is None else
                      xp.broadcast_to(xp.asarray(v, dtype=np.float64), (cnt,)) for v in vals)
        zero = xp.zeros(cnt)
        st.append(S * T if (S is not None and T is not None) else zero)
        su.append((S if S is not None else zero) + (U if U is not None else zero))
        q.append(Q if Q is not None else zero)
        any_st |= S is not None and T is not None
        any_su |= S is not None or U is not None
        any_q |= Q is not None
    # (astype: bincount of no entries gives int64 zeros)
    sums = [xp_ops.bincount(xp, inv, weights=xp.concatenate(a), minlength=m).astype(
        np.float64, copy=False) if used else xp.zeros(m)
        for a, used in ((st, any_st), (su, any_su), (q, any_q))]
    return (*sums, (any_st, any_su, any_q))
