"""The *exchange* phase: what the cells secrete, take up and release goes to the field engine."""

from __future__ import annotations

import numpy as np

from kernels import xp_ops

from ..plan import StepPlan

__all__ = ["exchange"]


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
    for i, sp in enumerate(fs.species):
        f = sp.name
        st, su, q = [], [], []
        any_st = any_su = any_q = False
        for c in cplans:
            cnt = c.n

            def val(b):
                if not c.uses(b):
                    return None
                return xp.broadcast_to(xp.asarray(c.behaviour(b), dtype=np.float64), (cnt,))

            S, T, U, Q = (val(f"secretion:{f}"), val(f"target:{f}"), val(f"uptake:{f}"),
                          val(f"release:{f}"))
            zero = xp.zeros(cnt)
            st.append(S * T if (S is not None and T is not None) else zero)
            su.append((S if S is not None else zero) + (U if U is not None else zero))
            q.append(Q if Q is not None else zero)
            any_st |= S is not None and T is not None
            any_su |= S is not None or U is not None
            any_q |= Q is not None
        if custom:
            st.append(xp.zeros(len(custom)))
            su.append(xp.zeros(len(custom)))
            q.append(xp.asarray([r if j == i else 0.0 for j, _, r in custom]))
            any_q |= any(j == i for j, _, _ in custom)
        if not (any_st or any_su or any_q):
            fs.clear_point_exchange(f)
            continue
        sums = [xp_ops.bincount(xp, inv, weights=xp.concatenate(a), minlength=m) if used
                else xp.zeros(m) for a, used in ((st, any_st), (su, any_su), (q, any_q))]
        fs.set_exchange_sums(f, voxels, *sums)
