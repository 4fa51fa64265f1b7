"""Estrogen and the ovariectomy: the level falls to its residual with its time constant, exactly.

E(t) = r + (1 − r) exp(−(t − t_ovx)/τ) after an ovariectomy at t_ovx, 1 without one; the event
is refused in a scenario without the estrogen process; a run resumed mid-decline continues it.
"""

from __future__ import annotations

import math
import textwrap

import numpy as np
import pytest

from abm import TissueModel
from abm.biology import Estrogen
from abm.errors import ModelInputError
from abm.fields import Species


def _model(dt=60.0, **p):
    return TissueModel(shape=(3, 3, 3), fields=[Species("RANKL", 0.0, 0.0)], backend="numpy",
                       seed=1, dt=dt, processes=[Estrogen(**p)])


def test_without_an_ovariectomy_the_level_stays_intact():
    m = _model()
    for _ in range(50):
        m.step()
    assert (m.tissue_states["estrogen"] == 1.0).all()


@pytest.mark.parametrize("dt", [30.0, 360.0])
def test_after_an_ovariectomy_the_level_falls_to_the_residual_exponentially(dt):
    m = _model(dt=dt, residual=0.2, decline_time=1000.0)
    for _ in range(3):
        m.step()
    t_ovx = m.time
    m.tissue_states["ovariectomised"][...] = 1.0       # what the event does
    for _ in range(12):
        m.step()
        want = 0.2 + 0.8 * math.exp(-(m.time - t_ovx) / 1000.0)
        assert np.allclose(m.tissue_states["estrogen"], want, rtol=1e-12, atol=0)


def test_bad_parameters_are_refused():
    with pytest.raises(ModelInputError, match="residual"):
        Estrogen(residual=1.5)
    with pytest.raises(ModelInputError, match="decline_time"):
        Estrogen(decline_time=0.0)


SCENARIO = """
name: ovx_tiny
domain: {extent: [60 um, 60 um, 60 um], voxel: 20 um, dt: 6 h, duration: 3 d, seed: 1}
fields: {RANKL: {}}
processes: {estrogen: {}}
events:
  - {name: ovx, at: 1 d, ovariectomy: {}}
outputs:
  snapshot_every: 1 d
  checkpoint_every: 1 d
  readout_every: 6 h
  readouts: [mean estrogen]
"""


def test_an_ovariectomy_in_a_scenario(tmp_path):
    from abm.run import run_scenario  # noqa: PLC0415
    from abm.runfile import open_run  # noqa: PLC0415

    path = tmp_path / "ovx.yaml"
    path.write_text(textwrap.dedent(SCENARIO))
    out = tmp_path / "ovx.h5"
    run_scenario(path, out=out, progress=False)
    with open_run(out) as r:
        ro = r.readouts()
    t, e = ro["time_min"], ro["mean estrogen"]
    tau, r = 1440.0, 0.1
    want = np.where(t <= 1440.0, 1.0, r + (1 - r) * np.exp(-(t - 1440.0) / tau))
    assert np.allclose(e, want, rtol=1e-9)
    # without the estrogen process the event is refused at load, naming the fix
    bad = tmp_path / "bad.yaml"
    bad.write_text(textwrap.dedent(SCENARIO).replace("processes: {estrogen: {}}\n", ""))
    from abm.scenario import load_scenario  # noqa: PLC0415

    with pytest.raises(Exception, match="estrogen: {}"):
        load_scenario(bad)
