"""Micro-CT morphometry of a voxel bone model, computed the way micro-CT analysis software does.

Pure functions on NumPy (or CuPy, copied to the host) arrays of the lattice shape: a boolean
bone mask, a boolean volume of interest (VOI), the mineral fraction, and the voxel edge ``dx``
in µm. The names and units follow the micro-CT reporting guidelines of Bouxsein et al. 2010
(doi:10.1002/jbmr.141):

* ``BV/TV`` (1): bone voxels over VOI voxels;
* ``Tb.Th`` and ``Tb.Sp`` (µm): the *direct* 3D thickness of Hildebrand & Rüegsegger 1997
  (doi:10.1046/j.1365-2818.1997.1340694.x): every voxel of a structure gets the diameter of
  the largest sphere that fits inside the structure and contains the voxel, and the
  thickness is the mean of those diameters over the structure's voxels (a volume-weighted
  mean). Tb.Th measures the bone of the VOI; Tb.Sp the same on its marrow space;
* ``Tb.N`` (1/mm): ``1 / (Tb.Th + Tb.Sp)``, the number of bone-plus-space repeats per mm
  (exact for parallel plates and independent of a plate or rod model; see :func:`tb_n`);
* ``BMD`` (mg HA/cm³): the mean mineral fraction of the VOI times the tissue mineral
  density of fully mineralised bone (``seeds/bone.csv``);
* ``Ct.Th`` (µm): the direct thickness of the cortex, segmented the way a scan is: the mineral
  fraction smoothed by the small Gaussian filter of micro-CT practice and thresholded
  (:func:`filtered_bone`), so that a surface roughened by single-voxel pits and deposits reads
  as the surface it is on average (see :func:`ct_th`);
* ``ultimate_load`` (N): the compressive load of the weakest cross-section along the long
  axis, each compartment's strength from its apparent density by Carter & Hayes 1977
  (doi:10.2106/00004623-197759070-00021), see :func:`ultimate_load`.

Local thickness (the sphere fitting) is PoreSpy's (``porespy.filters.local_thickness``,
its fractional-radius distance-transform method) rather than code of this project;
docs/bone-morphometry.md says why that method and these settings, with the errors measured
on geometry of known thickness.

A measure with nothing to measure (no bone, no marrow, an empty VOI) is NaN, never an error.
"""

from __future__ import annotations

import warnings

import numpy as np

from kernels.backend import to_numpy

from ...errors import ModelInputError
from ...seeds import SEEDS_DIR, load_brain_evidence

__all__ = ["BONE_CSV", "bone_constants", "local_thickness", "bv_tv", "tb_th", "tb_sp", "tb_n",
           "bmd", "filtered_bone", "ct_th", "slice_loads", "ultimate_load", "DEFAULT_REL_STEP",
           "FILTER_SIGMA_VOXELS", "FILTER_SUPPORT_VOXELS"]

#: The bone seeds table (calibration constants of the readouts).
BONE_CSV = SEEDS_DIR / "bone.csv"

#: Sphere radii closer than this relative step are merged (accuracy against speed; see
#: :func:`local_thickness`).
DEFAULT_REL_STEP = 0.05

#: The Gaussian low-pass filter applied to the mineral before the cortex is thresholded:
#: standard deviation and support (truncation radius), in voxels of the scan. These are the
#: defaults of Scanco's evaluation software (sigma 0.8, support 1), the settings most rodent
#: micro-CT studies report; a setting of the measurement, not of the biology.
FILTER_SIGMA_VOXELS = 0.8
FILTER_SUPPORT_VOXELS = 1

# every radius up to this many voxels is kept exactly (there are only a few below it)
_EXACT_BELOW = 3.0


def bone_constants() -> dict[str, tuple[float, str]]:
    """The calibration constants of ``seeds/bone.csv``: quantity to ``(value, unit)``."""
    return load_brain_evidence(BONE_CSV)


def _host(a, what: str, dtype=None) -> np.ndarray:
    a = np.asarray(to_numpy(a))
    if a.ndim != 3:
        raise ModelInputError(f"{what} must be a 3D array of the lattice shape, got shape "
                              f"{a.shape}; pass the mask reshaped to (nx, ny, nz)")
    return a.astype(dtype, copy=False) if dtype is not None else a


def _masks(bone, voi) -> tuple[np.ndarray, np.ndarray]:
    b = _host(bone, "the bone mask", bool)
    v = _host(voi, "the VOI mask", bool)
    if b.shape != v.shape:
        raise ModelInputError(f"the bone mask {b.shape} and the VOI {v.shape} differ in shape; "
                              "pass both on the same lattice")
    return b, v


def _check_dx(dx) -> float:
    dx = float(dx)
    if not (dx > 0 and np.isfinite(dx)):
        raise ModelInputError(f"the voxel size dx must be > 0 um, got {dx!r}")
    return dx


def _radii(dt: np.ndarray, inside: np.ndarray, rel_step: float) -> np.ndarray:
    """The sphere radii to try: the structure's distance values, thinned above 3 voxels.

    Every distinct distance value (in voxels) is a radius a voxel-centred sphere can have;
    below ``_EXACT_BELOW`` all are kept, above it a value is kept only when it is at least
    ``rel_step`` (relative) below the last one kept, so large spaces cost few passes.
    """
    u = np.unique(dt[inside])[::-1]
    keep = [u[0]]
    for r in u[1:]:
        if r <= _EXACT_BELOW or r <= keep[-1] * (1.0 - rel_step):
            keep.append(r)
    return np.asarray(keep)


def local_thickness(mask, dx: float, rel_step: float = DEFAULT_REL_STEP) -> np.ndarray:
    """Direct (sphere-fitting) local thickness of every voxel of ``mask``, µm.

    Each voxel of the structure gets the diameter of the largest sphere that lies inside the
    structure and covers it (Hildebrand & Rüegsegger 1997); 0 outside the structure.
    The sphere fitting is ``porespy.filters.local_thickness(method="legacy")`` on the
    Euclidean distance transform (PoreSpy's, ``porespy.tools.get_edt``), with the radii
    given explicitly (descending): the structure's own distance values, thinned by
    ``rel_step`` above 3 voxels.

    The lattice's outer faces are not treated as surfaces (a structure cut by the edge of
    the lattice continues beyond it, as in a VOI cut from a larger scan).

    Parameters
    ----------
    mask : array_like of bool, shape (nx, ny, nz)
        The structure (bone, or the marrow space).
    dx : float
        Voxel edge, µm.
    rel_step : float, optional
        Relative spacing of the radii tried above 3 voxels (0: every distance value, the
        exact answer of the method; 0.05 costs about a third of that and reads about 2-3 %
        lower on random trabecular-like structures).

    Returns
    -------
    numpy.ndarray of float64
        Local thickness, µm (0 outside ``mask``).

    Notes
    -----
    A voxel-centred sphere of radius ``r`` (the distance, in voxels, from its centre voxel
    to the nearest voxel centre outside) covers the voxels nearer than ``r``. The diameter
    reported is ``(2 r - 0.5) dx``: the distance transform reaches half a voxel past the
    surface on each side, and a sphere centre can only sit on a voxel centre, which for
    an even number of voxels across is half a voxel off the mid-plane; the two biases
    (-1 and 0 voxel) are split, so a plate of ``t`` voxels reads ``t ± 0.5`` voxels.
    """
    import porespy  # noqa: PLC0415  (about 3 s to import: only when a thickness is asked)

    dx = _check_dx(dx)
    if not (0.0 <= float(rel_step) < 0.5):
        raise ModelInputError(f"rel_step must lie in [0, 0.5), got {rel_step!r}")
    m = _host(mask, "the mask", bool)
    out = np.zeros(m.shape, np.float64)
    if not m.any():
        return out
    dt = porespy.tools.get_edt()(m)
    sizes = _radii(dt, m, float(rel_step))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")   # porespy's progress-bar and deprecation chatter
        r = porespy.filters.local_thickness(m, dt=dt, method="legacy", sizes=sizes, smooth=True)
    r = np.asarray(r, np.float64)
    out[m] = (2.0 * r[m] - 0.5) * dx
    return out


def bv_tv(bone, voi) -> float:
    """Bone volume fraction BV/TV of the VOI (1).

    Parameters
    ----------
    bone, voi : array_like of bool, shape (nx, ny, nz)
        Bone voxels; the volume of interest.

    Returns
    -------
    float
        Bone voxels in the VOI over VOI voxels (1); 0 with no bone, NaN for an empty VOI.
    """
    b, v = _masks(bone, voi)
    n = int(v.sum())
    return float("nan") if n == 0 else float((b & v).sum() / n)


def _mean_thickness(struct, dx, rel_step) -> float:
    if not struct.any():
        return float("nan")
    return float(local_thickness(struct, dx, rel_step)[struct].mean())


def tb_th(bone, voi, dx: float, rel_step: float = DEFAULT_REL_STEP) -> float:
    """Mean trabecular thickness Tb.Th by the direct 3D method, µm.

    The volume-weighted mean local thickness (:func:`local_thickness`) of the bone inside
    the VOI; the VOI's boundary bounds the spheres (bone outside the VOI is not measured).

    Parameters
    ----------
    bone, voi : array_like of bool, shape (nx, ny, nz)
        Bone voxels; the volume of interest.
    dx : float
        Voxel edge, µm.
    rel_step : float, optional
        Radius spacing (see :func:`local_thickness`).

    Returns
    -------
    float
        Tb.Th, µm; NaN with no bone in the VOI.
    """
    b, v = _masks(bone, voi)
    return _mean_thickness(b & v, dx, rel_step)


def tb_sp(bone, voi, dx: float, rel_step: float = DEFAULT_REL_STEP) -> float:
    """Mean trabecular separation Tb.Sp by the direct 3D method, µm.

    The volume-weighted mean local thickness of the marrow space of the VOI (its voxels
    that are not bone), bounded by the bone and by the VOI's boundary (the endocortical
    surface when the VOI is the trabecular compartment).

    Parameters
    ----------
    bone, voi : array_like of bool, shape (nx, ny, nz)
        Bone voxels; the volume of interest.
    dx : float
        Voxel edge, µm.
    rel_step : float, optional
        Radius spacing (see :func:`local_thickness`).

    Returns
    -------
    float
        Tb.Sp, µm; NaN with no marrow space in the VOI.
    """
    b, v = _masks(bone, voi)
    return _mean_thickness(~b & v, dx, rel_step)


def tb_n(bone=None, voi=None, dx: float | None = None, *, th_um: float | None = None,
         sp_um: float | None = None, rel_step: float = DEFAULT_REL_STEP) -> float:
    """Trabecular number Tb.N = 1 / (Tb.Th + Tb.Sp), 1/mm.

    The definition: one trabecula plus one space is the repeat of the structure, so
    Tb.N is the number of repeats per mm along a line through it. For parallel plates of
    thickness ``t`` and spacing ``s`` it is exactly ``1 / (t + s)``; it uses only the two
    direct (model-independent) thicknesses, and no plate or rod model (unlike the
    parallel-plate Tb.N = BV/TV / Tb.Th of 2D histomorphometry). Micro-CT software
    also reports a *direct* Tb.N from the mean spacing of the structure's mid-axes; for
    plates the two agree.

    Parameters
    ----------
    bone, voi : array_like of bool, shape (nx, ny, nz), optional
        Bone voxels; the volume of interest (not needed when both thicknesses are given).
    dx : float, optional
        Voxel edge, µm.
    th_um, sp_um : float, optional
        Tb.Th and Tb.Sp already computed, µm (saves computing them again).
    rel_step : float, optional
        Radius spacing (see :func:`local_thickness`).

    Returns
    -------
    float
        Tb.N, 1/mm; NaN where Tb.Th or Tb.Sp is (no bone or no marrow).
    """
    if th_um is None or sp_um is None:
        if bone is None or voi is None or dx is None:
            raise ModelInputError("tb_n needs either bone, voi and dx, or both th_um and sp_um")
        th_um = tb_th(bone, voi, dx, rel_step) if th_um is None else th_um
        sp_um = tb_sp(bone, voi, dx, rel_step) if sp_um is None else sp_um
    tot = float(th_um) + float(sp_um)
    return float("nan") if not np.isfinite(tot) or tot <= 0 else 1000.0 / tot


def bmd(mineral, voi, tmd_full: float | None = None) -> float:
    """Volumetric bone mineral density of the VOI, mg HA/cm³.

    The calibration: a voxel of mineral fraction ``m`` holds ``m`` times the mineral of
    fully mineralised bone tissue, whose tissue mineral density ``tmd_full`` is a
    ``seeds/bone.csv`` row; marrow (``m = 0``) reads 0 mg HA/cm³ (the water/soft-tissue
    end of a hydroxyapatite phantom calibration). BMD is the mean over the VOI's voxels
    (bone and marrow together), as micro-CT software reports the BMD of a trabecular VOI.

    Parameters
    ----------
    mineral : array_like of float, shape (nx, ny, nz)
        Mineral volume fraction, 0-1 (1).
    voi : array_like of bool, shape (nx, ny, nz)
        The volume of interest.
    tmd_full : float, optional
        Tissue mineral density of fully mineralised bone, mg HA/cm³ (default: the
        ``tmd_fully_mineralised`` row of ``seeds/bone.csv``).

    Returns
    -------
    float
        BMD, mg HA/cm³; NaN for an empty VOI.
    """
    m = _host(mineral, "the mineral fraction", np.float64)
    v = _host(voi, "the VOI mask", bool)
    if m.shape != v.shape:
        raise ModelInputError(f"the mineral field {m.shape} and the VOI {v.shape} differ in "
                              "shape; pass both on the same lattice")
    if tmd_full is None:
        tmd_full = bone_constants()["tmd_fully_mineralised"][0]
    if not v.any():
        return float("nan")
    return float(tmd_full) * float(np.clip(m[v], 0.0, 1.0).mean())


def filtered_bone(mineral, threshold: float = 0.5, sigma: float = FILTER_SIGMA_VOXELS,
                  support: int = FILTER_SUPPORT_VOXELS) -> np.ndarray:
    """Bone as a micro-CT segmentation sees it: the mineral, Gaussian-filtered, thresholded.

    Scanners' evaluation software smooths the grey values with a small Gaussian before a
    global threshold (Bouxsein et al. 2010, doi:10.1002/jbmr.141, describe the step; sigma
    0.8 and support 1 voxel are the usual settings). The filter here acts on the mineral
    fraction, the model's grey value, with ``scipy.ndimage.gaussian_filter`` (each lattice
    face extended by its nearest voxel, so a structure cut by the lattice's edge continues
    beyond it). With the default settings a flat bone surface stays where it is, and a
    single-voxel deposit on it or a single-voxel pit in it is smoothed away, while a patch
    of 2 x 2 voxels or more is kept.

    Parameters
    ----------
    mineral : array_like of float, shape (nx, ny, nz)
        Mineral volume fraction, 0-1 (1).
    threshold : float, optional
        Bone from this filtered mineral fraction up (1; the mineral process's 0.5).
    sigma : float, optional
        Standard deviation of the filter, voxels (0: no filter).
    support : int, optional
        Radius at which the filter is cut off, voxels (1: a 3 x 3 x 3 kernel).

    Returns
    -------
    numpy.ndarray of bool
        The segmented bone.
    """
    from scipy import ndimage  # noqa: PLC0415

    m = np.clip(_host(mineral, "the mineral fraction", np.float64), 0.0, 1.0)
    if not (float(sigma) >= 0.0 and int(support) >= 1):
        raise ModelInputError(f"the filter needs sigma >= 0 and support >= 1 voxel, got sigma "
                              f"{sigma!r} and support {support!r}")
    if sigma > 0:
        m = ndimage.gaussian_filter(m, float(sigma), mode="nearest", radius=int(support))
    return m >= float(threshold)


def ct_th(cortex, dx: float, rel_step: float = 0.0) -> float:
    """Mean cortical thickness Ct.Th by the direct 3D method, µm.

    Parameters
    ----------
    cortex : array_like of bool, shape (nx, ny, nz)
        Cortical bone voxels (for a remodelling bone, the cortex as segmented by
        :func:`filtered_bone`: thresholding the unfiltered mineral leaves single-voxel
        bumps and pits on the surface, which local thickness reads as thin structure, so
        that a cortex gaining bone in scattered voxels would read thinner).
    dx : float
        Voxel edge, µm.
    rel_step : float, optional
        Radius spacing (see :func:`local_thickness`); 0 by default, every radius: a cortex
        a few voxels thick has few distinct radii, and thinning them would round Ct.Th to
        steps of about 8 µm at 20 µm voxels.

    Returns
    -------
    float
        Ct.Th, µm (the volume-weighted mean local thickness of the cortex); NaN with no
        cortex.
    """
    c = _host(cortex, "the cortex mask", bool)
    return _mean_thickness(c, dx, rel_step)


def _strength_constants(coefficient, exponent, strain_rate, tissue_density):
    k = bone_constants()
    coefficient = k["carter_hayes_coefficient"][0] if coefficient is None else coefficient
    exponent = k["carter_hayes_rate_exponent"][0] if exponent is None else exponent
    strain_rate = k["test_strain_rate"][0] if strain_rate is None else strain_rate
    tissue_density = k["tissue_density_full"][0] if tissue_density is None else tissue_density
    return float(coefficient), float(exponent), float(strain_rate), float(tissue_density)


def slice_loads(mineral, compartments, dx: float, axis: int = 2, coefficient=None,
                exponent=None, strain_rate=None, tissue_density=None) -> np.ndarray:
    """The compressive load each cross-section along ``axis`` carries, N.

    In each slice perpendicular to ``axis``, each compartment (e.g. the trabecular VOI and
    the cortex) has an apparent density ``rho = rho_t * mean(mineral)`` over its voxels of
    the slice and a compressive strength ``sigma = C * rate**a * rho**2`` (Carter & Hayes
    1977); the compartments carry load side by side, so the slice's load is
    ``sum(sigma * area)``.

    Parameters
    ----------
    mineral : array_like of float, shape (nx, ny, nz)
        Mineral volume fraction, 0-1 (1).
    compartments : sequence of array_like of bool
        Disjoint masks of the compartments (voxels outside all carry nothing).
    dx : float
        Voxel edge, µm.
    axis : int, optional
        The bone's long axis (the lattice's z axis, 2, in this project's bone geometry).
    coefficient : float, optional
        ``C``, MPa (g/cm³)^-2 s^a (default: ``seeds/bone.csv``).
    exponent : float, optional
        ``a``, the strain-rate exponent (1).
    strain_rate : float, optional
        The test's strain rate, 1/s.
    tissue_density : float, optional
        ``rho_t``, apparent density of fully mineralised bone tissue, g/cm³.

    Returns
    -------
    numpy.ndarray
        Load per slice, N (NaN for a slice with no compartment voxel).
    """
    dx = _check_dx(dx)
    m = np.clip(_host(mineral, "the mineral fraction", np.float64), 0.0, 1.0)
    if axis not in (0, 1, 2):
        raise ModelInputError(f"axis must be 0, 1 or 2 (the long axis), got {axis!r}")
    c, a, rate, rho_t = _strength_constants(coefficient, exponent, strain_rate, tissue_density)
    area_mm2 = dx * dx * 1e-6
    other = tuple(d for d in range(3) if d != axis)
    total = np.zeros(m.shape[axis])
    any_vox = np.zeros(m.shape[axis], bool)
    for comp in compartments:
        k = _host(comp, "a compartment mask", bool)
        n = k.sum(axis=other)
        msum = np.where(k, m, 0.0).sum(axis=other)
        with np.errstate(invalid="ignore", divide="ignore"):
            rho = np.where(n > 0, rho_t * msum / np.maximum(n, 1), 0.0)
        sigma = c * rate ** a * rho ** 2             # MPa = N/mm^2
        total += sigma * n * area_mm2
        any_vox |= n > 0
    return np.where(any_vox, total, np.nan)


def ultimate_load(mineral, compartments, dx: float, axis: int = 2, **constants) -> float:
    """Estimated ultimate compressive load of the bone, N: its weakest cross-section's.

    The minimum over slices along ``axis`` of :func:`slice_loads` (the weakest slice
    fails first). An estimate for comparing arms, not a finite-element result: it keeps
    Carter & Hayes' quadratic dependence of strength on apparent density, so doubling the
    mineral of every voxel quadruples it, and bone with no mineral carries 0 N.

    Parameters
    ----------
    mineral : array_like of float, shape (nx, ny, nz)
        Mineral volume fraction, 0-1 (1).
    compartments : sequence of array_like of bool
        Disjoint compartment masks (the trabecular VOI, the cortex).
    dx : float
        Voxel edge, µm.
    axis : int, optional
        The long axis (2).
    **constants
        ``coefficient``, ``exponent``, ``strain_rate``, ``tissue_density`` (see
        :func:`slice_loads`).

    Returns
    -------
    float
        Load, N; NaN with no compartment voxel at all.
    """
    loads = slice_loads(mineral, compartments, dx, axis, **constants)
    ok = np.isfinite(loads)
    return float(loads[ok].min()) if ok.any() else float("nan")
