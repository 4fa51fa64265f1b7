"""Event readouts (divisions, deaths, cycling), cell-variable means, markers and ratios.

Every expected value here is counted independently of the event log: by diffing the cell
ids (and their ``parent`` column) step by step on a tiny lattice where cells do not move,
so a cell's voxel before a step is where it divided or died.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from abm.cells import LatticeCell, TissueModel
from abm.cells.markers import start_pulse
from abm.errors import ModelInputError
from abm.fields import TissueClass
from abm.readouts import evaluate_readouts, parse_readout, readout_units


class Blast(LatticeCell):
    """A test type that divides and dies at fixed rates and never moves."""

    states = ("quiet", "active")
    variables = ("reactivity",)
    parameters = {"speed": 0.0, "division": 0.02, "death": 0.01}


class Neuro(LatticeCell):
    """A test type Blast cells differentiate into."""

    parameters = {"speed": 0.0, "division": 0.0, "death": 0.0}


TYPES = {"Blast": ("quiet", "active"), "Neuro": ()}
VARS = {"Blast": ("reactivity",), "Neuro": ()}
UNITS = {"VEGF": "ng/mL"}
LABELS = ["a", "b"]
SHAPE = (6, 6, 6)


def parse(text, markers=("BrdU",)):
    return parse_readout(text, TYPES, UNITS, LABELS, variables=VARS, markers=markers)


def model(seed=3, types=(Blast,), parameters=None, n=240):
    labels = np.zeros(SHAPE, np.uint8)
    labels[3:] = 1
    m = TissueModel(SHAPE, 20.0, fields=("VEGF",), cell_types=list(types), seed=seed,
                    capacity=4, labels=labels, tissue=[TissueClass("a"), TissueClass("b")],
                    parameters=parameters)
    half = n // 2
    m.seed_cells("Blast", half, state="quiet")
    m.seed_cells("Blast", n - half, state="active")
    return m, labels


def snapshot(m, name="Blast"):
    """Per living cell: id -> (label of its voxel, state index, parent id)."""
    p = m.populations[name]
    pos = np.asarray(p.pos)
    lab = m.fields.labels[pos[:, 0], pos[:, 1], pos[:, 2]]
    st = np.asarray(p.columns["state"]) if "state" in p.columns else np.full(len(p), -1)
    return {int(i): (int(lab_), int(s), int(par))
            for i, lab_, s, par in zip(np.asarray(p.ids), lab, st, np.asarray(p.columns["parent"]))}


def step_and_count(m):
    """Step once; the divisions and deaths of the step as counted from the ids."""
    before = snapshot(m)
    m.step()
    after = snapshot(m)
    died = [before[i] for i in before if i not in after]
    born = [i for i in after if i not in before]
    mothers = [before[after[i][2]] for i in born]       # the mother sat where it was
    return {"t": m.time, "died": died, "mothers": mothers, "born": born,
            "parents": [after[i][2] for i in born]}


def window_sum(history, t, w, what, pick=lambda rec: True):
    return sum(sum(1 for rec in h[what] if pick(rec)) for h in history if h["t"] > t - w + 1e-9)


def test_divisions_and_deaths_in_a_window_match_the_ids_counted_step_by_step():
    m, _ = model()
    texts = ["divisions Blast over 1 min", "divisions Blast over 7 min",
             "divisions Blast in b over 7 min", "divisions Blast over 1000 h",
             "deaths Blast over 5 min", "deaths Blast quiet over 5 min",
             "deaths Blast active in a over 12 min", "deaths Blast over 1000 h"]
    ro = [parse(t) for t in texts]
    assert evaluate_readouts(m, ro) == {t: 0.0 for t in texts}     # step 0: nothing yet
    history = []
    seen = {"div": 0, "death": 0}
    for _ in range(40):
        history.append(step_and_count(m))
        t = m.time
        got = evaluate_readouts(m, ro)
        exp = {
            texts[0]: window_sum(history, t, 1, "mothers"),
            texts[1]: window_sum(history, t, 7, "mothers"),
            texts[2]: window_sum(history, t, 7, "mothers", lambda r: r[0] == 1),
            texts[3]: sum(len(h["mothers"]) for h in history),      # longer than the run: from 0
            texts[4]: window_sum(history, t, 5, "died"),
            texts[5]: window_sum(history, t, 5, "died", lambda r: r[1] == 0),
            texts[6]: window_sum(history, t, 12, "died", lambda r: r[0] == 0 and r[1] == 1),
            texts[7]: sum(len(h["died"]) for h in history),
        }
        assert got == {k: float(v) for k, v in exp.items()}, t
        assert got[texts[0]] == m.last_step_events["Blast"]["divisions"]
        seen["div"] += len(history[-1]["mothers"])
        seen["death"] += len(history[-1]["died"])
    assert seen["div"] > 50 and seen["death"] > 30       # the test saw real events


def test_the_log_keeps_only_its_horizon():
    m, _ = model()
    evaluate_readouts(m, [parse("deaths Blast over 5 min")])
    for _ in range(30):
        m.step()
    assert m.event_log.horizon == 5.0
    assert min(m.event_log._times) > m.time - 5.0 - 1e-9
    assert m.event_log.complete_since == pytest.approx(m.time - 5.0)


def test_a_model_that_stepped_without_a_log_says_how_to_keep_one():
    m, _ = model()
    m.step()
    with pytest.raises(ModelInputError, match=r"keep_event_log\(360\)"):
        evaluate_readouts(m, [parse("deaths Blast over 6 h")])
    m2, _ = model()
    m2.keep_event_log(5.0)
    for _ in range(10):
        m2.step()
    # a longer window than the log has kept since: refused, not silently short
    with pytest.raises(ModelInputError, match="holds only events after t = 5 min"):
        evaluate_readouts(m2, [parse("deaths Blast over 8 min")])


def test_cycling_counts_living_mothers_and_daughters_of_recent_divisions():
    m, _ = model()
    ro = [parse("cycling Blast over 6 min"), parse("cycling Blast active in b over 6 min")]
    last = {}                     # id -> time of its last division (as mother or daughter)
    for _ in range(30):
        h = step_and_count(m)
        for i, par in zip(h["born"], h["parents"]):
            last[i] = h["t"]
            last[par] = h["t"]
        now = snapshot(m)
        got = evaluate_readouts(m, ro)
        recent = [i for i in now if last.get(i, -math.inf) > m.time - 6 + 1e-9]
        assert got[ro[0].text] == len(recent)
        assert got[ro[1].text] == sum(1 for i in recent if now[i][0] == 1 and now[i][1] == 1)
    assert got[ro[0].text] > 10


def test_a_brdu_pulse_marks_divisions_in_its_window_and_their_descendants():
    # division only at chosen steps: the rate is switched on and off between steps
    m, _ = model(types=(Blast, Neuro), parameters={"Blast": {"death": 0.0,
                                                             "differentiation:Neuro": 0.02}})
    ro = [parse("count Blast marked BrdU"), parse("count Neuro marked BrdU"),
          parse("count Blast active marked BrdU in a")]
    assert evaluate_readouts(m, ro)[ro[0].text] == 0.0          # no column before the pulse
    assert not any(c.startswith("marker:") for c in m.populations["Blast"].columns)
    marked = set()
    divide_at = {2, 3, 6, 7, 8, 12, 13}            # steps (by start time, min) with divisions
    for s in range(16):
        if s == 6:
            start_pulse(m, "BrdU", m.time, 2.0)        # the steps starting at 6 and 7 min
        m.params["Blast"]["division"] = 0.05 if s in divide_at else 0.0
        before = {**snapshot(m), **snapshot(m, "Neuro")}
        m.step()
        after = {**snapshot(m), **snapshot(m, "Neuro")}
        for i in after:
            if i not in before:
                mother = after[i][2]
                if 6 <= s < 8 or mother in marked:
                    marked.add(i)
                if 6 <= s < 8:
                    marked.add(mother)
        marked &= set(after)
        got = evaluate_readouts(m, ro)
        for name, text in (("Blast", ro[0].text), ("Neuro", ro[1].text)):
            p = m.populations[name]
            assert ("marker:BrdU" in p.columns) == (s >= 6)     # made by the pulse, not before
            col = np.asarray(p.columns.get("marker:BrdU", np.zeros(len(p), bool)))
            assert set(np.asarray(p.ids)[col].tolist()) == marked & set(snapshot(m, name))
            assert got[text] == len(marked & set(snapshot(m, name)))
        blast = snapshot(m)
        assert got[ro[2].text] == sum(1 for i in marked if i in blast and blast[i][:2] == (0, 1))
    assert 10 < got[ro[0].text] < len(m.populations["Blast"])
    assert got[ro[1].text] > 0               # a marked Blast that became a Neuro kept its mark


def test_mean_of_a_cell_variable_and_of_a_field():
    m, labels = model()
    p = m.populations["Blast"]
    rng = np.random.default_rng(0)
    p.columns["reactivity"][:] = rng.uniform(size=len(p))
    m.fields.field("VEGF")[...] = rng.uniform(size=SHAPE)
    ro = [parse("mean Blast reactivity"), parse("mean Blast reactivity in b"),
          parse("mean VEGF in b"), parse("mean Blast reactivity in a")]
    got = evaluate_readouts(m, ro)
    pos = np.asarray(p.pos)
    in_b = labels[pos[:, 0], pos[:, 1], pos[:, 2]] == 1
    vals = np.asarray(p.columns["reactivity"])
    assert got["mean Blast reactivity"] == pytest.approx(vals.mean(), rel=1e-12)
    assert got["mean Blast reactivity in b"] == pytest.approx(vals[in_b].mean(), rel=1e-12)
    assert got["mean Blast reactivity in a"] == pytest.approx(vals[~in_b].mean(), rel=1e-12)
    assert got["mean VEGF in b"] == pytest.approx(m.fields.field("VEGF")[labels == 1].mean())
    assert readout_units(m, ro)["mean Blast reactivity"] == "1"
    m.remove_cells("Blast", np.asarray(p.ids))
    assert math.isnan(evaluate_readouts(m, [ro[0]])["mean Blast reactivity"])


def test_fraction_in_a_label_is_counted_among_the_cells_there():
    m, labels = model()
    for _ in range(5):
        m.step()
    p = m.populations["Blast"]
    pos = np.asarray(p.pos)
    in_b = labels[pos[:, 0], pos[:, 1], pos[:, 2]] == 1
    active = np.asarray(p.columns["state"]) == 1
    assert 0 < (in_b & active).sum() < in_b.sum()          # the test sees both states in b
    got = evaluate_readouts(m, [parse("fraction Blast active in b"),
                                parse("fraction Blast active")])
    assert got["fraction Blast active in b"] == (in_b & active).sum() / in_b.sum()
    assert got["fraction Blast active"] == active.sum() / len(active)
    m.remove_cells("Blast", np.asarray(p.ids)[in_b])
    assert math.isnan(evaluate_readouts(m, [parse("fraction Blast active in b")])[
        "fraction Blast active in b"])


def test_a_ratio_is_the_quotient_of_its_two_readouts_and_nan_over_zero():
    m, _ = model()
    for _ in range(5):
        m.step()
    num, den = parse("count Blast active in b"), parse("count Blast quiet in b")
    r = parse("ratio count Blast active in b / count Blast quiet in b")
    got = evaluate_readouts(m, [num, den, r])
    assert got[r.text] == got[num.text] / got[den.text]
    assert readout_units(m, [r])[r.text] == "1"
    r2 = parse("ratio mean VEGF in a / count Blast")
    assert readout_units(m, [r2])[r2.text] == "ng/mL/cells"
    m.remove_cells("Blast", np.asarray(m.populations["Blast"].ids))
    assert math.isnan(evaluate_readouts(m, [r])[r.text])
    r3 = parse("ratio divisions Blast in a over 2 h / deaths Blast over 1 h")
    assert r3.numerator.window == 120.0 and r3.denominator.window == 60.0


@pytest.mark.parametrize("text, message", [
    ("divison Blast over 1 h", "'divison' is not a measure (did you mean 'divisions'?)"),
    ("divisions Blast", "'divisions' counts events in a time window; add 'over <duration>', "
                        "e.g. 'divisions Blast over 24 h'"),
    ("divisions Blast over", "'over' needs a duration"),
    ("divisions Blast over 24 hurs", "the window 'over 24 hurs': cannot read '24 hurs' as a "
                                     "quantity: unknown unit 'hurs'"),
    ("divisions Blast over 24 um", "expected a time"),
    ("divisions Blast quiet over 1 h", "write 'divisions <type> [in <label>] over <duration>'"),
    ("deaths Blst over 1 h", "unknown cell type 'Blst' (did you mean 'Blast'?)"),
    ("deaths Blast quite over 1 h", "no state 'quite' (did you mean 'quiet'?)"),
    ("deaths Neuro quiet over 1 h", "Neuro has no phenotype states"),
    ("cycling Blast in bb over 1 h", "unknown tissue label 'bb' (did you mean 'b'?)"),
    ("count Blast over 1 h", "'count' takes no 'over <duration>'"),
    ("count Blast marked Brdu", "no pulse declares the marker 'Brdu' (did you mean 'BrdU'?)"),
    ("count Blast marked", "'marked' takes one marker name"),
    ("mean Blast reactivty", "no variable 'reactivty' (did you mean 'reactivity'?)"),
    ("mean Blast", "'Blast' is a cell type; name one of its variables: 'mean Blast reactivity'"),
    ("mean Neuro reactivity", "Neuro has no phenotype variable 'reactivity'"),
    ("ratio count Blast", "a ratio is two readouts with one ' / ' between them"),
    ("ratio count Blast/count Neuro", "put spaces around '/'"),
    ("ratio count Blast / ", "the denominator is missing"),
    ("ratio count Blast / ratio count Blast / count Neuro", "one ' / '"),
    ("ratio ratio count Blast / count Neuro", "a ratio cannot contain a ratio"),
    ("ratio count Blast / count Nero", "in the denominator of 'ratio count Blast / count Nero': "
                                       "readout 'count Nero': unknown cell type 'Nero' "
                                       "(did you mean 'Neuro'?)"),
])
def test_parse_errors_name_the_problem_and_the_fix(text, message):
    with pytest.raises(ModelInputError) as ei:
        parse(text)
    assert message in str(ei.value)


def test_a_marker_without_any_pulse_says_how_to_declare_one():
    with pytest.raises(ModelInputError, match=r"add an event such as '- \{at: 3 d, pulse: "
                                              r"\{marker: EdU, duration: 2 h\}\}'"):
        parse("count Blast marked EdU", markers=())


def test_window_forms_and_order():
    a = parse("divisions Blast in b over 24 h")
    b = parse("divisions Blast over 24h in b")
    c = parse("divisions Blast over 1 day in b")
    assert a.window == b.window == c.window == 1440.0 and a.label == b.label == "b"
