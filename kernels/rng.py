"""Counter-based random numbers: each draw is a pure function of (seed, step, agent id, purpose).

There is no generator state to carry, so results do not depend on the order
in which threads or agents are visited, a restart needs only the step counter,
and the CPU and GPU draw exactly the same numbers: every operation below is
64-bit unsigned integer arithmetic (wrapping multiplication, xor, shifts),
which NumPy and CuPy evaluate bit for bit alike.

The mixing function is the SplitMix64 finaliser (Steele, Lea & Flood 2014,
"Fast splittable pseudorandom number generators", OOPSLA; the variant of
``java.util.SplittableRandom``), applied once per key component::

    h = mix(mix(mix(seed) + step * G) ^ (id * C)) ^ purpose * G) ...

A uniform float in [0, 1) takes the top 53 bits: ``(h >> 11) * 2**-53``.
"""

from __future__ import annotations

import numpy as np

__all__ = ["PURPOSES", "mix64", "agent_keys", "draw_bits", "uniform", "uniform_from_keys"]

_G = np.uint64(0x9E3779B97F4A7C15)   # golden-ratio increment of SplitMix64
_C = np.uint64(0xD1B54A32D192ED03)   # odd multiplier that spreads agent ids
_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)
_S30, _S27, _S31, _S11 = np.uint64(30), np.uint64(27), np.uint64(31), np.uint64(11)
_MASK64 = (1 << 64) - 1

#: Named purposes; a draw for one purpose is independent of the draws for the others.
PURPOSES = {
    "place": 1, "move": 2, "priority": 3, "death": 4, "division": 5,
    "division_direction": 6, "differentiation": 7, "transition": 8, "division_priority": 9,
    "custom": 100,
}


def _mix_scalar(x: int) -> int:
    """SplitMix64 finaliser on a Python int (mod 2**64)."""
    x &= _MASK64
    x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & _MASK64
    x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & _MASK64
    return x ^ (x >> 31)


def mix64(xp, x):
    """SplitMix64 finaliser applied elementwise to a uint64 array (returns a new array)."""
    x = x ^ (x >> _S30)
    x *= _M1
    x ^= x >> _S27
    x *= _M2
    x ^= x >> _S31
    return x


def _step_key(seed: int, step: int) -> int:
    return _mix_scalar(_mix_scalar(int(seed)) + (int(step) & _MASK64) * 0x9E3779B97F4A7C15)


def agent_keys(xp, seed: int, step: int, ids):
    """Per-agent key for one step: ``mix(mix(seed, step) ^ id * C)``.

    Parameters
    ----------
    xp : module
        numpy or cupy.
    seed, step : int
        Run seed and model step.
    ids : int array
        Agent unique ids.

    Returns
    -------
    uint64 array
        One key per agent; feed it to :func:`draw_bits` or :func:`uniform_from_keys`.
    """
    k = xp.asarray(ids).astype(xp.uint64)
    k *= _C
    k ^= np.uint64(_step_key(seed, step))
    return mix64(xp, k)


def draw_bits(xp, keys, purpose: int | str):
    """64 random bits per agent for one purpose (uint64 array)."""
    p = PURPOSES[purpose] if isinstance(purpose, str) else int(purpose)
    return mix64(xp, keys ^ np.uint64(_mix_scalar(p * 0x9E3779B97F4A7C15 + 1)))


def uniform_from_keys(xp, keys, purpose: int | str):
    """Uniform floats in [0, 1) (float64), one per agent key, for one purpose."""
    return (draw_bits(xp, keys, purpose) >> _S11).astype(xp.float64) * (2.0 ** -53)


def uniform(xp, seed: int, step: int, ids, purpose: int | str):
    """Uniform floats in [0, 1) as a pure function of (seed, step, id, purpose).

    Parameters
    ----------
    xp : module
        numpy or cupy; both give bit-identical results.
    seed, step : int
        Run seed and model step.
    ids : int array
        Agent unique ids.
    purpose : str or int
        A key of :data:`PURPOSES` or an integer (e.g. ``PURPOSES["custom"] + k``).

    Returns
    -------
    float64 array, same shape as ``ids``
    """
    return uniform_from_keys(xp, agent_keys(xp, seed, step, ids), purpose)
