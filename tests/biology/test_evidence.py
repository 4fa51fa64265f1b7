"""The evidence base in seeds/: every default has a value, a unit, a status and its evidence.

Cited rows name a reference that exists (a DOI or a seed document); derived numbers agree
with the measurements they come from; every parameter a built-in type uses has its row.
"""

from __future__ import annotations

import csv
import math
import re
from pathlib import Path

import pytest

from abm import TissueModel
from abm.biology import BDNF_POSITIVE_FRACTION_ROW, BUILTIN_CELL_TYPES
from abm.rules import load_rules
from abm.seeds import (
    BRAIN_CSV,
    CELLS_CSV,
    FIELDS_CSV,
    REFERENCES_CSV,
    RULES_DIR,
    SEEDS_DIR,
    load_brain_evidence,
    load_cell_defaults,
    load_field_defaults,
    load_references,
    rules_table,
)

STATUSES = {"cited", "estimate"}
DOI = re.compile(r"^(10\.\d{4,9}/\S+|PMID:\d+)$")
SEED_FILE = re.compile(r"^\d{3}_[0-9a-f]{16}\.txt$")
SHARED_SEEDS = SEEDS_DIR.parent.parent / "shared" / "seeds"


def _rows(path: Path) -> list[dict]:
    with open(path, newline="") as fh:
        return list(csv.DictReader(line for line in fh if not line.lstrip().startswith("#")))


def _value_column(path: Path) -> str:
    return "diffusion_um2_per_min" if path == FIELDS_CSV else "value"


REFS = load_references()


def test_references_name_a_doi_or_a_seed_document():
    assert REFS, "seeds/references.csv is empty"
    for key, r in REFS.items():
        where = r["doi_or_file"]
        assert DOI.match(where) or SEED_FILE.match(where), f"{key}: {where!r} is neither"
        assert r["authors"] and r["title"] and r["journal"], f"{key}: incomplete row"
        if SEED_FILE.match(where) and SHARED_SEEDS.is_dir():
            assert (SHARED_SEEDS / where).is_file(), f"{key}: seed file {where} not present"


@pytest.mark.parametrize("path", [CELLS_CSV, FIELDS_CSV, BRAIN_CSV, SEEDS_DIR / "bone.csv"],
                         ids=lambda p: p.name)
def test_every_row_has_value_unit_status_and_evidence(path):
    rows = _rows(path)
    assert rows
    for i, r in enumerate(rows, start=2):
        where = f"{path.name} line {i}"
        assert math.isfinite(float(r[_value_column(path)])), where
        assert r["unit"].strip(), f"{where}: no unit"
        assert r["status"] in STATUSES, f"{where}: status {r['status']!r}"
        assert len(r["evidence_or_reasoning"].strip()) > 20, f"{where}: no evidence or reasoning"
        keys = [k for k in r["references"].split(";") if k]
        for k in keys:
            assert k in REFS, f"{where}: reference key {k!r} not in references.csv"
        if r["status"] == "cited":
            assert keys, f"{where}: a cited row must name its reference"
            named = [REFS[k]["doi_or_file"] for k in keys]
            assert any(n in r["evidence_or_reasoning"] for n in named), \
                f"{where}: a cited row must state the DOI or seed file it rests on ({named})"


def test_field_half_lives_match_their_decay_rates():
    for r in _rows(FIELDS_CSV):
        k, h = float(r["decay_per_min"]), float(r["half_life_min"])
        assert math.log(2) / k == pytest.approx(h, rel=0.01), r["field"]


def test_the_cited_ngf_transport_numbers_agree_with_each_other():
    """Stroh 2003: Db = Df / lambda^2 with their own three numbers (34 C, rat striatum)."""
    b = load_brain_evidence()
    df, db, lam = (b[q][0] for q in ("ngf_free_diffusion_34C", "ngf_brain_diffusion_34C",
                                     "ngf_tortuosity_striatum"))
    assert df / lam**2 == pytest.approx(db, rel=0.01)
    # 12.6e-7 and 2.75e-7 cm^2/s in um^2/min (1 cm^2/s = 1e8 um^2/s, x 60)
    assert df == pytest.approx(12.6e-7 * 1e8 * 60, rel=1e-3)
    assert db == pytest.approx(2.75e-7 * 1e8 * 60, rel=1e-3)


def test_protein_field_diffusivities_follow_stokes_einstein_from_ngf():
    """D* = D_free(NGF) (M_NGF / M)^(1/3) / lambda^2, the derivation each row states."""
    b = load_brain_evidence()
    df, lam, m0 = (b[q][0] for q in ("ngf_free_diffusion_34C", "ngf_tortuosity_striatum",
                                     "ngf_reference_mass"))
    masses = {"SDF-1a": 8, "VEGF": 45, "BDNF": 27, "GDNF": 34, "TNF-a": 51, "IL-10": 37,
              "DAMP": 25}   # kDa, as each row of fields.csv states
    f = load_field_defaults()
    for name, m in masses.items():
        want = df * (m0 / m) ** (1 / 3) / lam**2
        assert f[name].diffusion == pytest.approx(want, rel=0.01), name
    # BDNF, the neurotrophin nearest NGF, is within 2 % of the measured NGF value in striatum
    assert f["BDNF"].diffusion == pytest.approx(b["ngf_brain_diffusion_34C"][0], rel=0.02)


def test_the_normal_brain_ecs_values_are_those_of_sykova_and_nicholson():
    b = load_brain_evidence()
    assert b["ecs_volume_fraction_normal"] == (0.2, "1")
    assert b["ecs_tortuosity_normal"] == (1.6, "1")


def test_the_bdnf_positive_fraction_is_the_seed_value():
    b = load_brain_evidence()
    assert b["bmsc_bdnf_positive_fraction"][0] == pytest.approx(0.4119)
    assert BDNF_POSITIVE_FRACTION_ROW == "bmsc_bdnf_positive_fraction"


def test_every_parameter_a_builtin_type_uses_has_a_row():
    cells = load_cell_defaults()
    fields = list(load_field_defaults())
    m = TissueModel(shape=(4, 4, 4), fields=fields, cell_types=list(BUILTIN_CELL_TYPES),
                    backend="numpy", seed=1)
    for cls in BUILTIN_CELL_TYPES:
        used = m.params[cls.cell_type]
        # a subclass (ResidentBMSC of BMSC) inherits its parents' rows
        rows = set()
        for klass in cls.__mro__:
            rows |= set(cells.get(getattr(klass, "cell_type", ""), {}))
        missing = sorted(set(used) - rows)
        assert not missing, f"{cls.cell_type} uses parameters without a seeds row: {missing}"


RULE_TABLES = sorted(RULES_DIR.glob("*.csv"))


@pytest.mark.parametrize("path", RULE_TABLES, ids=lambda p: p.name)
def test_every_rule_row_has_its_status_and_source(path):
    rows = _rows(path)
    assert rows and len(rows) == len(load_rules(path))
    for i, r in enumerate(rows):
        assert r["status"] in STATUSES, f"{path.name} row {i + 1}"
        assert len(r["source"].strip()) > 20, f"{path.name} row {i + 1}: no source"


def test_the_rule_tables_are_valid_in_a_model_with_the_seed_fields():
    """All tables together build a model (names known, directions and targets consistent)."""
    import numpy as np

    from abm.biology import Estrogen, MineralTissue
    from abm.fields import TissueClass

    rules = [r for p in RULE_TABLES for r in load_rules(p)]
    # the bone rules read the bone labels and the estrogen and mineral processes' states
    labels = np.zeros((4, 4, 4), dtype=np.uint8)
    labels[0] = 1
    tissue = [TissueClass("marrow"), TissueClass("trabecular", permeable=False),
              TissueClass("cortex", permeable=False)]
    m = TissueModel(shape=(4, 4, 4), fields=list(load_field_defaults()),
                    cell_types=list(BUILTIN_CELL_TYPES), backend="numpy", seed=1, rules=rules,
                    labels=labels, tissue=tissue, processes=[Estrogen(), MineralTissue()])
    assert len(m.rules) == len(rules) > 10
    assert rules_table("microglia").name == "microglia.csv"
    with pytest.raises(FileNotFoundError, match="shipped"):
        rules_table("no_such_table")


def test_the_references_file_is_where_the_loader_reads_it():
    assert REFERENCES_CSV.is_file() and set(REFS) >= {"Sykova2008", "Stroh2003", "ZhangRL2007",
                                                       "Hu2012", "seed000"}


def test_every_builtin_process_parameter_has_its_row():
    from abm.registry import PROCESSES
    from abm.seeds import PROCESSES_CSV, load_process_defaults

    rows = load_process_defaults()
    for r in _rows(PROCESSES_CSV):
        assert r["status"] in STATUSES and len(r["evidence_or_reasoning"]) > 20, r
        assert r["unit"].strip(), r
    for name in PROCESSES.builtin_names():
        cls = PROCESSES.get(name)
        assert set(cls.parameters) == set(rows[name]), name
        for k, (v, _) in cls.parameters.items():
            assert v == rows[name][k], (name, k)


def test_a_scenario_names_a_shipped_rules_table_and_a_wrong_name_is_one_line(tmp_path):
    from abm.scenario import ScenarioError, load_scenario

    qs = (SEEDS_DIR.parent / "scenarios" / "quickstart.yaml").read_text()
    ok = tmp_path / "ok.yaml"
    ok.write_text(qs)
    sc = load_scenario(ok)          # in another folder: seeds: resolves inside the package
    mg = [c for c in sc.cell_types if c.name == "Microglia"][0]
    assert len(mg.rules) == len(load_rules(rules_table("microglia")))
    bad = tmp_path / "bad.yaml"
    bad.write_text(qs.replace("seeds:rules/microglia.csv", "seeds:rules/microglias.csv"))
    with pytest.raises(ScenarioError) as e:
        load_scenario(bad)
    line = next(i for i, t in enumerate(bad.read_text().splitlines(), 1) if "microglias" in t)
    assert e.value.line == line
    assert "did you mean 'seeds:rules/microglia.csv'" in str(e.value)
