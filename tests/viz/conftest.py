"""Fixtures of the viz tests: whether off-screen rendering works here."""

from __future__ import annotations

import subprocess
import sys

import pytest


@pytest.fixture(scope="session")
def offscreen():
    """Skip rendering tests when no off-screen OpenGL context can be made."""
    code = ("import pyvista as pv\n"
            "p = pv.Plotter(off_screen=True, window_size=(64, 48))\n"
            "p.add_mesh(pv.Sphere())\n"
            "img = p.screenshot(return_img=True)\n"
            "assert img.std() > 1\n")
    try:
        r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                           timeout=120)
    except subprocess.TimeoutExpired:
        pytest.skip("off-screen rendering unavailable: a test render timed out")
    if r.returncode != 0:
        tail = (r.stderr.strip().splitlines() or ["(no message)"])[-1]
        pytest.skip(f"off-screen rendering unavailable (no EGL/OSMesa context): {tail}")
    return True
