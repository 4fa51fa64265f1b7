"""Bone-like tissue for the tests of changing tissue: mineral blobs and flips at their surface."""

import numpy as np
from scipy.ndimage import binary_dilation, gaussian_filter


def bone_blobs(shape, seed=1):
    """25% impermeable mineral in blobs (label 1), the rest marrow (label 0)."""
    rng = np.random.default_rng(seed)
    noise = gaussian_filter(rng.random(shape), 2.0)
    return (noise > np.quantile(noise, 0.75)).astype(np.uint8)


def surface_flips(lab, n, rng):
    """``n`` voxels on the mineral surface (either side), flipped between mineral and marrow."""
    b = lab == 1
    surf = np.flatnonzero((binary_dilation(b) & ~b) | (b & binary_dilation(~b)))
    pick = rng.choice(surf, size=n, replace=False)
    out = lab.copy().reshape(-1)
    out[pick] = 1 - out[pick]
    return out.reshape(lab.shape)
