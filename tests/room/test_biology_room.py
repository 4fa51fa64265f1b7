"""Issue 10, item 1: biology declared once, outside the package, is usable everywhere.

``room_plugin.py`` (beside this file, not in the package) registers a cell type, a tissue
process, an event kind and a readout kind. A scenario file names it under ``plugins:``;
it is validated, run by ``abm run``, checkpointed, resumed by ``abm resume`` to exactly
the state of an uninterrupted run, read back, summarised by ``abm info`` and rendered in
the cell type's declared colour.
"""

from __future__ import annotations

import math
import shutil
from pathlib import Path

import numpy as np
import pytest

from abm.cli import main
from abm.registry import CELL_TYPES, EVENT_KINDS, PROCESSES, READOUT_KINDS
from abm.runfile import open_run

HERE = Path(__file__).resolve().parent
RATE = 0.002  # 1/min, the mineral_loss rate of the scenario below

SCENARIO = """\
name: room
description: resorbers switched on in one corner resorb the mineral under them
plugins: [room_plugin.py]
domain: {{extent: [200 um, 200 um, 100 um], voxel: 20 um, dt: 2 min, duration: {duration},
         seed: 11, capacity: 2}}
fields:
  VEGF: {{}}
cell_types:
  Resorber:
    parameters: {{speed: 0 um/min}}
processes:
  mineral_loss: {{rate: 0.12 1/h}}
populations:
  - {{cell_type: Resorber, region: all, count: 120, state: resting}}
events:
  - at: 10 min
    activate: {{region: {{shape: box, lower: [0 um, 0 um, 0 um], upper: [100 um, 200 um, 100 um]}}}}
outputs:
  snapshot_every: 20 min
  checkpoint_every: 20 min
  readout_every: 10 min
  readouts: [mineral_lost, count Resorber resorbing, mean mineral]
"""


@pytest.fixture
def scenario(tmp_path):
    shutil.copy(HERE / "room_plugin.py", tmp_path / "room_plugin.py")
    paths = {}
    for name, duration in (("short", "40 min"), ("long", "80 min")):
        p = tmp_path / f"{name}.yaml"
        p.write_text(SCENARIO.format(duration=duration))
        paths[name] = p
    yield paths
    CELL_TYPES.unregister("Resorber")
    PROCESSES.unregister("mineral_loss")
    EVENT_KINDS.unregister("activate")
    READOUT_KINDS.unregister("mineral_lost")


def _checkpoint(path):
    with open_run(path) as r:
        return r.checkpoint()


def test_biology_from_a_test_module_runs_resumes_reads_back_and_renders(scenario, tmp_path, capsys):
    assert main(["validate", str(scenario["long"])]) == 0
    long_run, short_run = tmp_path / "long.h5", tmp_path / "short.h5"
    assert main(["run", str(scenario["long"]), "--out", str(long_run), "--quiet",
                 "--backend", "numpy"]) == 0
    assert main(["run", str(scenario["short"]), "--out", str(short_run), "--quiet",
                 "--backend", "numpy"]) == 0
    # a .py plugin named inside a run file is not imported from the folder the file
    # records (a crafted file could point anywhere): resume asks for --plugins-dir
    capsys.readouterr()
    assert main(["resume", str(short_run), "--quiet", "--until", "80 min"]) == 2
    err = capsys.readouterr().err
    assert "--plugins-dir" in err and "room_plugin.py" in err and "Traceback" not in err
    # resume the 40-min run from its last checkpoint to 80 min: the uninterrupted run, exactly
    assert main(["resume", str(short_run), "--quiet", "--until", "80 min",
                 "--plugins-dir", str(tmp_path)]) == 0
    a, b = _checkpoint(long_run), _checkpoint(short_run)
    assert a["step"] == b["step"] == 40
    for key in ("populations", "tissue_states", "fields"):
        assert a["state"][key].keys() == b["state"][key].keys()
    for t, cols in a["state"]["populations"].items():
        for c, v in cols.items():
            assert np.array_equal(v, b["state"]["populations"][t][c]), (t, c)
    assert np.array_equal(a["state"]["tissue_states"]["mineral"],
                          b["state"]["tissue_states"]["mineral"])
    with open_run(long_run) as r0, open_run(short_run) as r1:
        ra, rb = r0.readouts(), r1.readouts()
        assert set(ra) == set(rb)
        for k in ra:
            assert np.array_equal(ra[k], rb[k], equal_nan=True), k

        # read back: the tissue state obeys its law voxel by voxel. Cells do not move
        # (speed 0) and are activated at the start of step 5 (t = 10 min), so a voxel with n
        # resorbing cells has resorbed for 80 - 10 = 70 min: m = exp(-k n 70 min).
        m = r0.tissue_state("mineral")
        assert r0.tissue_state_units["mineral"] == "1"
        ag = r0.agents("Resorber")
        n = np.zeros(m.shape)
        active = ag["state"] == 1
        np.add.at(n, tuple(ag["pos"][active].T), 1.0)
        assert active.sum() == np.sum(ag["pos"][:, 0] < 5) > 0     # exactly the left half
        k = RATE  # 0.12 1/h
        assert np.allclose(m, np.exp(-k * n * 70.0), rtol=1e-12, atol=0)
        lost = ra["mineral_lost"][-1]
        assert lost == pytest.approx(float((1 - m).sum()) * 20.0**3, rel=1e-12)
        assert r0.readout_units["mineral_lost"] == "um^3"
        assert ra["count Resorber resorbing"][0] == 0 and ra["count Resorber resorbing"][-1] == active.sum()
        assert r0.cell_colours["Resorber"]["colour"] == "#00ff00"
    capsys.readouterr()
    assert main(["info", str(long_run)]) == 0
    info = capsys.readouterr().out
    assert "Resorber" in info and "--plugins-dir" in info     # timeline not rebuilt without it
    assert main(["info", str(long_run), "--plugins-dir", str(tmp_path)]) == 0
    info = capsys.readouterr().out
    assert "Resorber" in info and "mineral" in info and "activate" in info

    pytest.importorskip("pyvista")
    iio = pytest.importorskip("imageio.v3")
    from viz.render import render_run  # noqa: PLC0415

    try:
        out = render_run(long_run, tmp_path / "room.png", field="mineral", camera="xy",
                         window_size=(480, 360))
    except Exception as exc:  # noqa: BLE001 - no OpenGL context on this machine
        if "context" in str(exc).lower() or "display" in str(exc).lower():
            pytest.skip(f"off-screen rendering unavailable: {exc}")
        raise
    img = iio.imread(out)[..., :3].astype(float)
    green = (img[..., 1] > 120) & (img[..., 0] < 0.45 * img[..., 1]) & (img[..., 2] < 0.45 * img[..., 1])
    assert green.sum() > 200, "the Resorbers should be drawn in their declared colour"
    assert math.isfinite(img.std()) and img.std() > 10
