"""Scenario files: a virtual experiment in YAML, read safely, converted once, validated
whole (:mod:`.loader`)."""

from .loader import *  # noqa: F401,F403
from .loader import __all__  # noqa: F401
