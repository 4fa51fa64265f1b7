"""Cell movement against its statistical laws: drift = w, MSD = 6 D t, capacity never exceeded."""

import numpy as np
import pytest

from abm import BMSC, Microglia, TissueModel
from abm.fields import Species

DX = 10.0


def frozen_field(name="SDF-1a"):
    """A field that neither diffuses nor decays, so a ramp set by the test stays put."""
    return Species(name, 0.0, 0.0, unit="ng/mL")


def motile_bmsc(speed, persistence, chi=0.0, K=1.0, receptor=1.0):
    return {"BMSC": {"speed": speed, "persistence": persistence, "chemotaxis": chi,
                     "chemotaxis_half_saturation": K, "initial:CXCR4": receptor,
                     "gain:CXCR4": 0.0, "loss:CXCR4": 0.0, "division": 0.0, "death": 0.0}}


def centred_block(shape, half):
    region = np.zeros(shape, bool)
    c = [s // 2 for s in shape]
    region[c[0] - half:c[0] + half, c[1] - half:c[1] + half, c[2] - half:c[2] + half] = True
    return region


def test_random_walk_msd_grows_as_6Dt():
    speed, tau = 3.0, 2.0                 # µm/min, min
    D = speed**2 * tau / 3                # 6 µm²/min
    shape = (61, 61, 61)
    m = TissueModel(shape, DX, fields=[frozen_field()], cell_types=[BMSC],
                    parameters=motile_bmsc(speed, tau), capacity=10_000, seed=11)
    m.seed_cells(BMSC, 4000, region=centred_block(shape, 1))
    start = m.positions(BMSC).astype(float)
    steps = 150
    for _ in range(steps):
        m.step()
    r2 = (((m.positions(BMSC) - start) * DX) ** 2).sum(axis=1)
    expected = 6 * D * steps * m.dt
    sem = r2.std(ddof=1) / np.sqrt(r2.size)
    assert abs(r2.mean() - expected) < 4 * sem, (r2.mean(), expected, sem)
    assert sem < 0.03 * expected          # the test is sharp enough to mean something
    assert abs((m.positions(BMSC) - start).mean(axis=0)).max() * DX < 4 * np.sqrt(2 * D * steps / 4000)


@pytest.mark.parametrize("receptor", [1.0, 0.4])
def test_chemotactic_drift_matches_receptor_law(receptor):
    """Mean hop per step equals w = χ r K/(K+c)² ∇c at each cell's own voxel."""
    shape = (80, 15, 15)
    chi, K, g = 2000.0, 100.0, 0.05         # µm²/min, ng/mL, ng/mL per µm
    m = TissueModel(shape, DX, fields=[frozen_field()], cell_types=[BMSC],
                    parameters=motile_bmsc(2.0, 1.0, chi, K, receptor), capacity=10_000, seed=5)
    x_um = (np.arange(shape[0]) + 0.5) * DX
    m.fields.u[0][...] = (g * x_um)[:, None, None]
    region = np.zeros(shape, bool)
    region[30:40, 5:10, 5:10] = True
    m.seed_cells(BMSC, 2000, region=region)
    residual, predicted = [], []
    for _ in range(60):
        x0 = m.positions(BMSC)[:, 0]
        c = g * x_um[x0]
        w = chi * receptor * K / (K + c) ** 2 * g       # µm/min, below the 2 µm/min cap
        m.step()
        dx = (m.positions(BMSC)[:, 0] - x0) * DX
        residual.append(dx - w * m.dt)
        predicted.append(w * m.dt)
    res = np.concatenate(residual)
    sem = res.std(ddof=1) / np.sqrt(res.size)
    mean_w = np.concatenate(predicted).mean()
    assert abs(res.mean()) < 4 * sem, (res.mean(), sem, mean_w)
    assert mean_w > 10 * sem              # the drift is resolved, not lost in the noise


def test_drift_saturates_at_high_concentration():
    """Receptor law: at c ≫ K the drift in the same gradient all but vanishes."""
    shape = (40, 9, 9)
    out = []
    for offset in (0.0, 5000.0):
        m = TissueModel(shape, DX, fields=[frozen_field()], cell_types=[BMSC],
                        parameters=motile_bmsc(2.0, 1.0, 2000.0, 100.0), capacity=10_000, seed=2)
        m.fields.u[0][...] = (offset + 0.05 * (np.arange(shape[0]) + 0.5) * DX)[:, None, None]
        region = np.zeros(shape, bool)
        region[15:25, 3:6, 3:6] = True
        m.seed_cells(BMSC, 1000, region=region)
        x0 = m.positions(BMSC)[:, 0].copy()
        for _ in range(30):
            m.step()
        out.append((m.positions(BMSC)[:, 0] - x0).mean())
    assert out[0] > 1.0                   # ~0.5 µm/min up the gradient over 30 min
    assert abs(out[1]) < 0.25             # K/(K+c)² is 600x smaller


def test_capacity_never_exceeded_under_crowding():
    shape = (8, 8, 8)
    cap = np.full(shape, 2)
    cap[:, :, :2] = 1
    cap[3:5, 3:5, 3:5] = 0                # an excluded core (e.g. mineral)
    params = motile_bmsc(6.0, 2.0)
    params["BMSC"]["division"] = 0.05
    params["Microglia"] = {"speed": 5.0, "persistence": 2.0, "death": 0.0}
    m = TissueModel(shape, DX, fields=[frozen_field()], cell_types=[BMSC, Microglia],
                    parameters=params, capacity=cap, seed=3)
    m.seed_cells(BMSC, 300)
    m.seed_cells(Microglia, 300)
    total_cap = int(cap.sum())
    moved = 0
    for _ in range(60):
        before = m.positions(BMSC).copy()
        m.step()
        occ = np.zeros(int(np.prod(shape)), int)
        for t in (BMSC, Microglia):
            np.add.at(occ, np.ravel_multi_index(m.positions(t).T, shape), 1)
        assert (occ <= cap.ravel()).all()
        assert (occ == np.asarray(m.occupancy)).all()      # bookkeeping matches the cells
        if len(before) == m.count(BMSC):
            moved += int((before != m.positions(BMSC)).any(axis=1).sum())
    assert moved > 0                      # cells did move while crowded
    assert m.count(BMSC) + m.count(Microglia) > 600          # divisions happened...
    assert m.count(BMSC) + m.count(Microglia) <= total_cap   # ...until the room ran out
