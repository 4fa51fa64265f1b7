"""The CuPy-specific array calls of the project, each with its NumPy twin.

Everything else in the array code is written once against ``xp``; the few
calls whose spelling or guarantees differ between NumPy and CuPy live here,
so the rest of the code has a single path:

* :func:`scatter_add` -- ``np.add.at`` / ``cupyx.scatter_add`` (unbuffered
  accumulation over repeated indices);
* :func:`unique_inverse` -- ``unique(..., return_inverse=True)`` with the
  inverse always flat (NumPy 2 and CuPy disagree on its shape across versions);
* :func:`argsort_stable` -- NumPy sorts stably only when asked
  (``kind="stable"``); CuPy's argsort is always stable and accepts no other kind;
* :func:`bincount` -- ``bincount`` with optional weights and ``minlength``.

On the NumPy backend every function runs exactly the NumPy call the code ran
before it was moved here, so results are bit-identical.
"""

from __future__ import annotations

import numpy as np

__all__ = ["scatter_add", "unique_inverse", "argsort_stable", "bincount"]


def scatter_add(xp, target, index, values) -> None:
    """``target[index] += values`` with repeated indices accumulated, in place.

    Parameters
    ----------
    xp : module
        ``numpy`` or ``cupy``.
    target : array
        Accumulator, modified in place.
    index : int array
        Positions in ``target`` (repeats allowed).
    values : array or scalar
        Amounts added, in ``target``'s units.
    """
    if xp is np:
        np.add.at(target, index, values)
    else:  # pragma: no cover - GPU path
        import cupyx  # noqa: PLC0415

        cupyx.scatter_add(target, index, values)


def unique_inverse(xp, a):
    """Sorted unique values of ``a`` and the flat inverse map.

    Parameters
    ----------
    xp : module
        ``numpy`` or ``cupy``.
    a : array
        Values (any shape; read flat).

    Returns
    -------
    uniq : array, shape (m,)
        Sorted distinct values.
    inv : int array, shape (a.size,)
        ``uniq[inv] == a.ravel()``.
    """
    uniq, inv = xp.unique(a, return_inverse=True)
    return uniq, inv.reshape(-1)


def argsort_stable(xp, a):
    """Indices that sort the 1D array ``a``, equal elements kept in input order.

    Parameters
    ----------
    xp : module
        ``numpy`` or ``cupy``.
    a : array, shape (n,)
        Keys.

    Returns
    -------
    int array, shape (n,)
        The stable sorting permutation (the same on both backends).
    """
    if xp is np:
        return np.argsort(a, kind="stable")
    return xp.argsort(a)  # pragma: no cover - CuPy's argsort is always stable


def bincount(xp, x, weights=None, minlength: int = 0):
    """Count (or sum ``weights``) per non-negative integer value of ``x``.

    Parameters
    ----------
    xp : module
        ``numpy`` or ``cupy``.
    x : int array, shape (n,)
        Non-negative bins.
    weights : float array, shape (n,), optional
        Amount per entry; counts when ``None``.
    minlength : int
        Least length of the result.

    Returns
    -------
    array, shape (max(minlength, x.max() + 1),)
        Counts (int64) or sums of the weights (float64) per bin.
    """
    if weights is None:
        return xp.bincount(x, minlength=minlength)
    return xp.bincount(x, weights=weights, minlength=minlength)
