"""Bone cell types: resident marrow BMSCs, osteoblasts, osteoclasts and marrow macrophages.

Structure only; the numbers are the rows of ``seeds/cells.csv`` and the signal → behaviour
rules of remodelling bone are ``seeds/rules/resident_bmsc.csv``, ``osteoblast.csv``,
``osteoclast.csv`` and ``macrophage.csv``. Where each cell sits matters: the ``mineral`` tissue
process (:mod:`.mineral`) lets an *active* osteoblast deposit mineral and an osteoclast resorb
it only in a marrow voxel that touches bone (``tissue_state:surface`` > 0), and cells cannot
enter mineralised voxels.

The lineages (seeds 001_70475427c1d3b693 and 002_d22e3df16e83e9bf):

* mesenchymal: :class:`ResidentBMSC` → :class:`Osteoblast` (``active`` → ``lining``; buried
  osteoblasts become osteocytes, which the model does not follow);
* myeloid: :class:`Macrophage` (``M0``/``M1``/``M2``) → :class:`Osteoclast` under RANKL.
"""

from ...cells.types import LatticeCell
from ..bmsc import BMSC

__all__ = ["ResidentBMSC", "Osteoblast", "Osteoclast", "Macrophage"]


class ResidentBMSC(BMSC):
    """A BMSC resident in the bone marrow: the self-renewing osteoprogenitor pool.

    It inherits the BMSC's structure (states, CXCR4, SDF-1α chemotaxis) and the BMSC rows of
    ``seeds/cells.csv``, and overrides those that differ for a resident cell (its own rows):
    it lives for months rather than days, renews itself with contact-limited division,
    releases no vesicles of its own (the endogenous vesicle background is part of the baseline
    rates, so that only a treatment adds ``exosome``), and turns into an
    :class:`Osteoblast` under osteogenic signals (TGF-β released from resorbed matrix, BMP-2
    from M2 macrophages, BMSC-EV cargo) and less so under TNF-α. Stromal cells of this lineage
    express RANKL, more so without estrogen.
    """

    colour = "#f781bf"  # pink: resident stromal cells
    state_colours = {"BDNF_negative": "#f781bf", "BDNF_positive": "#f781bf"}


class Osteoblast(LatticeCell):
    """Bone-forming cell with states ``active`` (depositing matrix) and ``lining`` (quiescent).

    An active osteoblast on a bone surface deposits mineral at the mineral apposition rate
    (the ``mineral`` process reads how many active osteoblasts each voxel holds). It turns
    into a flat lining cell after its formation period, and lining cells are reactivated by
    coupling signals (TGF-β) and BMSC-EVs. Most osteoblasts die by apoptosis; one whose voxel
    mineralises around it is buried (an osteocyte, which the model no longer follows).
    """

    states = ("active", "lining")
    colour = "#c8a000"  # ochre
    state_colours = {"active": "#ffd700",   # gold: depositing
                     "lining": "#8c6d00"}   # dark ochre: quiescent lining cell


class Osteoclast(LatticeCell):
    """Multinucleated bone-resorbing cell, made from macrophage-lineage precursors under RANKL.

    On a bone surface it resorbs mineral (the ``mineral`` process reads where osteoclasts
    are), releasing matrix-bound TGF-β; it acidifies its resorption lacuna (H+). RANKL keeps it
    alive and estrogen shortens its life.
    """

    colour = "#d62728"  # red


class Macrophage(LatticeCell):
    """Bone-marrow macrophage with states ``M0`` (resting), ``M1`` (pro-inflammatory), ``M2``.

    M1 cells secrete TNF-α, which holds back osteogenic differentiation; M2 cells secrete
    BMP-2, which supports it. BMSC-EVs push M0 and M1 towards M2 (seed
    001_70475427c1d3b693); estrogen loss pushes M0 towards M1. Under RANKL a macrophage
    can turn into an :class:`Osteoclast`.
    """

    states = ("M0", "M1", "M2")
    colour = "#9e9e9e"
    state_colours = {"M0": "#9e9e9e", "M1": "#e41a1c", "M2": "#377eb8"}
