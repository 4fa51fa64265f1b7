"""Bone biology (seeds 001_70475427c1d3b693 and 002_d22e3df16e83e9bf)."""

from .cells import Osteoblast

__all__ = ["Osteoblast"]
from . import readouts as _readouts  # noqa: F401
