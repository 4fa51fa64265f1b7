"""Injection routes as mechanisms (issue 11, item 3).

Each route's delivered count equals the product of its factors computed here from
seeds/delivery.csv (read with the csv module) and voxels counted by hand; routes
differ; arrivals over time add up to the total and follow first-order entry; cells
arrive only in voxels whose blood-brain barrier is open; per-cell state fractions
are binomial and seeded; bad input is refused at its line.
"""

from __future__ import annotations

import math
import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).parent))

from delivery_helpers import (  # noqa: E402
    injection_events,
    load,
    scenario_text,
    seeds_row,
    sphere_voxels,
)

from abm.cli import main  # noqa: E402
from abm.run.runner import run_scenario  # noqa: E402
from abm.runfile import open_run  # noqa: E402
from abm.scenario import ScenarioError, load_scenario_text  # noqa: E402

VOX = 20.0 ** 3                       # um^3 per voxel
MM3 = 1e9                             # um^3 per mm^3


def inj(route, dose="1e8 cells", extra="", at="1 h", target="all"):
    bbb = "" if route in ("intracerebral", "intralesional", "local") else \
        ", bbb_open: [core, penumbra]"
    return (f"  - at: {at}\n    injection: {{cell_type: Graft, dose: {dose}, route: {route}, "
            f"target: {target}{bbb}{extra}}}\n")


def delivered(sc) -> int:
    return sum(e.spec.n_cells for e in injection_events(sc))


def open_volume() -> float:
    """Core sphere (r 100 um) plus the penumbra shell painted at 30 min (to 140 um), um^3."""
    return sphere_voxels(140) * VOX


def test_intravenous_delivers_the_product_of_its_factors():
    sc = load(inj("intravenous", extra=", brain_volume: 1 mm^3"))
    want = (1e8 * (1 - seeds_row("cells:lung_retention"))
            * seeds_row("rat:brain_cardiac_output_share") * open_volume() / (1 * MM3)
            * seeds_row("cells:extravasation_fraction"))
    assert delivered(sc) == round(want) > 100


def test_intravenous_uses_the_rat_brain_by_default_and_the_mouse_when_asked():
    rat = load(inj("intravenous", dose="5e10 cells"))
    mouse = load(inj("intravenous", dose="5e10 cells", extra=", species: mouse"))
    common = 5e10 * (1 - seeds_row("cells:lung_retention")) * open_volume() \
        * seeds_row("cells:extravasation_fraction")
    assert delivered(rat) == round(common * seeds_row("rat:brain_cardiac_output_share")
                                   / (seeds_row("rat:brain_volume") * MM3))
    assert delivered(mouse) == round(common * seeds_row("mouse:brain_cardiac_output_share")
                                     / (seeds_row("mouse:brain_volume") * MM3))
    assert delivered(mouse) > delivered(rat)


def test_intracarotid_is_a_first_pass_term_plus_a_systemic_one():
    sc = load(inj("intracarotid", dose="1e5 cells", extra=", brain_volume: 1 mm^3"))
    fp = seeds_row("cells:intracarotid_first_pass_lodging")
    ex = seeds_row("cells:extravasation_fraction")
    v = open_volume() / MM3
    first = fp * v / (1 * seeds_row("territory_share_of_brain")) * ex
    systemic = (1 - fp) * (1 - seeds_row("cells:lung_retention")) \
        * seeds_row("rat:brain_cardiac_output_share") * v / 1 * ex
    assert delivered(sc) == round(1e5 * (first + systemic)) > 100
    # intra-arterial names the same mechanism
    assert delivered(load(inj("intra-arterial", dose="1e5 cells",
                              extra=", brain_volume: 1 mm^3"))) == delivered(sc)


def test_intracerebral_places_the_dose_less_reflux_at_once():
    sc = load(inj("intracerebral", dose="400 cells", target="core"))
    evs = injection_events(sc)
    assert len(evs) == 1 and evs[0].time == 60.0
    assert evs[0].spec.n_cells == round(400 * (1 - seeds_row("cells:intracerebral_reflux_loss")))
    assert injection_events(load(inj("local", dose="400 cells", target="core")))[0].spec.n_cells \
        == 400


def test_routes_give_different_counts_and_validate_explains_them(capsys, tmp_path):
    scs = {r: load(inj(r, dose="5000 cells", extra=", brain_volume: 1 mm^3"))
           for r in ("intravenous", "intracarotid", "intracerebral")}
    fracs = {r: injection_events(sc)[0].spec.delivered_fraction for r, sc in scs.items()}
    counts = {r: delivered(sc) for r, sc in scs.items()}
    assert fracs["intravenous"] < fracs["intracarotid"] < fracs["intracerebral"]
    assert counts["intravenous"] < counts["intracarotid"] < counts["intracerebral"], counts
    p = tmp_path / "iv.yaml"
    p.write_text(scenario_text(inj("intravenous", extra=", brain_volume: 1 mm^3")))
    assert main(["validate", str(p)]) == 0
    out = capsys.readouterr().out
    assert "route mechanism" in out and "lung pass" in out and "arrival 8/8" in out
    p.write_text(scenario_text(inj("intravenous", extra=", delivered_fraction: 0.00001")))
    assert main(["validate", str(p)]) == 0
    out = capsys.readouterr().out
    assert "delivered_fraction given" in out and "1000 Graft" in out


def test_arrivals_follow_first_order_entry_and_add_up_to_the_total():
    sc = load(inj("intravenous", extra=", brain_volume: 1 mm^3"))
    evs = injection_events(sc)
    n = evs[0].spec.n_total
    half = seeds_row("cells:extravasation_half_time") * 60.0          # h -> min
    assert len(evs) == 8 and sum(e.spec.n_cells for e in evs) == n
    span = 5 * half
    for k, e in enumerate(evs, start=1):
        assert e.time == pytest.approx(60.0 + span * k / 8)
        cum = n if k == 8 else round(n * (1 - 2 ** (-(span * k / 8) / half)))
        assert sum(x.spec.n_cells for x in evs[:k]) == cum
    # an explicit half-time of 0 puts everything at the injection time
    one = injection_events(load(inj("intravenous", extra=", brain_volume: 1 mm^3, "
                                                        "arrival_half_time: 0 h")))
    assert [(e.time, e.spec.n_cells) for e in one] == [(60.0, n)]


def test_cells_arrive_over_time_only_where_the_barrier_is_open(tmp_path):
    text = scenario_text(inj("intravenous", extra=", brain_volume: 1 mm^3"), duration="3 d")
    p = tmp_path / "iv.yaml"
    p.write_text(text)
    out = run_scenario(p, tmp_path / "iv.h5", progress=False)
    sc = load_scenario_text(text, name="iv.yaml")
    evs = injection_events(sc)
    with open_run(out) as r:
        ro = r.readouts()
        a = r.agents("Graft")
        lab = r.labels()
    t = ro["time_min"]
    for k, e in enumerate(evs):
        # placed at the start of the step that begins at the event time: readouts after
        # that step include the cells, those up to its start do not
        after = t > e.time + 1e-9
        before = t <= e.time + 1e-9
        cum = sum(x.spec.n_cells for x in evs[:k + 1])
        if after.any():
            assert ro["count Graft"][np.argmax(after)] == cum
        if before.any():
            assert ro["count Graft"][np.nonzero(before)[0][-1]] == cum - e.spec.n_cells
    assert len(a["id"]) == evs[0].spec.n_total
    pos = a["pos"]
    assert np.isin(lab[pos[:, 0], pos[:, 1], pos[:, 2]], [1, 2]).all()   # core or penumbra
    assert ro["count Graft in core"][-1] + ro["count Graft in penumbra"][-1] == len(pos)


def test_an_injection_before_the_barrier_opens_delivers_nothing_and_says_so():
    text = inj("intravenous", at="0 min").replace("[core, penumbra]", "[penumbra]")
    sc = load(text)
    assert delivered(sc) == 0
    assert any("finds no voxel" in w for w in sc.warnings)


def test_state_fractions_are_binomial_and_seeded(tmp_path):
    ev = inj("local", dose="4000 cells", extra=", states: {A: 0.3, B: 0.7}", at="0 min")
    texts = [scenario_text(ev, duration="10 min", seed=s, snap="10 min") for s in (1, 1, 2)]
    fracs, ids_states = [], []
    for k, text in enumerate(texts):
        p = tmp_path / f"s{k}.yaml"
        p.write_text(text)
        out = run_scenario(p, tmp_path / f"s{k}.h5", progress=False)
        with open_run(out) as r:
            a = r.agents("Graft")
        assert len(a["id"]) == 4000
        fracs.append(float(np.mean(a["state"] == 0)))
        ids_states.append(dict(zip(a["id"].tolist(), a["state"].tolist())))
    sd = math.sqrt(0.3 * 0.7 / 4000)
    for f in fracs:
        assert abs(f - 0.3) < 4 * sd, (f, sd)
    assert ids_states[0] == ids_states[1]
    assert ids_states[0] != ids_states[2]


@pytest.mark.parametrize("event, where, words", [
    (inj("intravenus"), "events[1].injection.route", "did you mean 'intravenous'"),
    (inj("intravenous").replace(", bbb_open: [core, penumbra]", ""), "events[1].injection",
     "bbb_open"),
    (inj("intravenous").replace("[core, penumbra]", "[core, penumbre]"),
     "events[1].injection.bbb_open[1]", "did you mean 'penumbra'"),
    (inj("local", extra=", states: {A: 0.3, B: 0.6}"), "events[1].injection.states",
     "add up to 1"),
    (inj("local", extra=", states: {A: 0.3, C: 0.7}"), "events[1].injection.states.C",
     "no state 'C'"),
    (inj("local", extra=", state: A, states: {A: 0.3, B: 0.7}"), "events[1].injection.states",
     "not both"),
    (inj("intravenous", extra=", species: rabbit"), "events[1].injection.species", "presets"),
    (inj("intravenous", extra=", brain_volume: 2 g"), "events[1].injection.brain_volume",
     "volume"),
    (inj("intravenous", extra=", delivered_fraction: 1.5"),
     "events[1].injection.delivered_fraction", "<= 1"),
])
def test_bad_injections_are_refused_at_their_key(event, where, words):
    with pytest.raises(ScenarioError) as ei:
        load(event)
    msg = str(ei.value)
    assert where in msg and words in msg, msg


def test_resume_in_the_middle_of_arrivals_is_bit_identical(tmp_path):
    text = scenario_text(inj("intravenous", extra=", brain_volume: 1 mm^3"), duration="2 d",
                         snap="6 h")
    p = tmp_path / "iv.yaml"
    p.write_text(text)
    full = tmp_path / "full.h5"
    assert main(["run", str(p), "--out", str(full), "--quiet"]) == 0
    part = tmp_path / "part.h5"
    assert main(["run", str(p), "--out", str(part), "--quiet", "--until", "20 h"]) == 0
    with open_run(part) as r:
        n_mid = len(r.agents("Graft")["id"])
    assert 0 < n_mid < delivered(load_scenario_text(text, name="iv.yaml"))   # mid-arrivals
    assert main(["resume", str(part), "--quiet", "--until", "2 d"]) == 0
    with open_run(full) as r0, open_run(part) as r1:
        a0, a1 = r0.agents("Graft"), r1.agents("Graft")
        for col in a0:
            assert np.array_equal(a0[col], a1[col]), col
        ro0, ro1 = r0.readouts(), r1.readouts()
        for k in ro0:
            assert np.array_equal(ro0[k], ro1[k], equal_nan=True), k


def test_a_blood_borne_dose_larger_than_the_open_tissue_holds_is_refused():
    # 5e8 cells to a 1 mm^3 brain deliver ~2.9e3 cells to 1472 open voxels of capacity 1
    with pytest.raises(ScenarioError) as ei:
        load(inj("intravenous", dose="5e8 cells", extra=", brain_volume: 1 mm^3"))
    msg = str(ei.value)
    assert "events[1].injection" in msg and "hold at most 1472" in msg, msg


def test_placements_that_place_nobody_are_left_off_the_timeline():
    from abm.biology.delivery import arrival_schedule

    assert arrival_schedule(0, 720.0) == [(0.0, 0)]
    few = arrival_schedule(3, 720.0)
    assert sum(n for _, n in few) == 3 and len(few) == 8
    # 3e7 cells into the rat brain: about 0.3 cells expected, 0 delivered, one timeline entry
    sc = load(inj("intravenous", dose="3e7 cells", extra=", brain_volume: 20000 mm^3"))
    evs = injection_events(sc)
    assert [(e.time, e.spec.n_cells) for e in evs] == [(60.0, 0)]
    sc = load(inj("intravenous", dose="5e8 cells", extra=", brain_volume: 1000 mm^3"))
    evs = injection_events(sc)
    assert evs[0].spec.n_total == 3 and sum(e.spec.n_cells for e in evs) == 3
    assert all(e.spec.n_cells > 0 for e in evs[1:]) and len(evs) < 8
