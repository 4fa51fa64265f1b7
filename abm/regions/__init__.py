"""Regions of a scenario: geometric shapes, masks and tissue labels (:mod:`.shapes`)."""

from .shapes import *  # noqa: F401,F403
from .shapes import __all__  # noqa: F401
