"""The XDMF sidecar (``RUN.xdmf``) that lets ParaView open a run file directly.

One temporal collection of 3DCoRectMesh grids, one per complete snapshot.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

import h5py
import numpy as np

from ..atomic import atomic_output
from .encoding import _decode_attr, _unesc
from .layout import _complete, _is_zyx, _numbered
from .opening import _open_h5

__all__ = ["write_xdmf"]


def write_xdmf(h5_path) -> Path:
    """Write the XDMF sidecar ``RUN.xdmf`` beside ``RUN.h5`` for ParaView.

    One temporal collection of uniform grids, one per complete snapshot, each a
    3DCoRectMesh with one node-centred Attribute per field referencing
    ``RUN.h5:/snapshots/NNNNNN/fields/NAME`` by a relative file name, and one per tissue
    state (``.../tissue_states/NAME``; named ``tissue_state:NAME`` if a field has the
    same name). Nodes sit at
    voxel centres: origin ``origin_um + dx_um / 2`` (metadata; origin defaults to 0).

    Axis order: the field datasets are stored C-order (nz, ny, nx), x varying
    fastest (attribute ``axes = "z,y,x"``). XDMF lists Dimensions, origin and
    spacing slowest-first and ParaView's reader names the fastest axis its X, so the
    sidecar writes ``Dimensions="nz ny nx"``, origin ``"oz oy ox"`` and spacing
    ``"dz dy dx"``: ParaView's X, Y, Z are the model's x, y, z (no mirroring). A
    snapshot of a format-version-1 file (datasets (nx, ny, nz), no ``axes``) gets
    its triples in x y z order, matching its datasets (and shows x and z swapped).

    Parameters
    ----------
    h5_path : str or Path
        The run file.

    Returns
    -------
    pathlib.Path
        The sidecar, written atomically (temporary file then ``os.replace``).
    """
    p = Path(h5_path)
    f = _open_h5(p, "r")
    try:
        return _write_xdmf_from(f, p)
    finally:
        f.close()


def _xdmf_path(h5_path: Path) -> Path:
    return h5_path.with_suffix(".xdmf")


def _number_type(dtype: np.dtype) -> tuple[str, str]:
    kind = {"f": "Float", "i": "Int", "u": "UInt", "b": "UChar"}.get(dtype.kind, "Float")
    if kind == "Int" and dtype.itemsize == 1:
        kind = "Char"
    if kind == "UInt" and dtype.itemsize == 1:
        kind = "UChar"
    return kind, str(dtype.itemsize)


def _spacing(dx) -> list[float]:
    """Voxel edge per axis (x, y, z), µm, from a scalar or a 3-list ``dx_um``."""
    if isinstance(dx, (int, float)) and not isinstance(dx, bool) and dx > 0:
        return [float(dx)] * 3
    if isinstance(dx, list) and len(dx) == 3 and all(isinstance(v, (int, float)) for v in dx):
        return [float(v) for v in dx]
    return [1.0, 1.0, 1.0]


def _xdmf_entry(g: h5py.Group, name: str) -> dict | None:
    """What the sidecar needs of one complete snapshot group (None: nothing to show).

    ``arrays`` lists ``(attribute name, group, link name, shape, dtype, zyx)`` of every
    3-D dataset of the snapshot's ``fields`` and then ``tissue_states`` groups; a tissue
    state whose name is also a field's is shown as ``tissue_state:<name>``.
    """
    if not _complete(g) or "fields" not in g:
        return None
    arrays = []
    for group in ("fields", "tissue_states"):
        if group not in g:
            continue
        gg = g[group]
        for k in gg.keys():
            ds = gg[k]
            if ds.ndim != 3:
                continue
            label = _unesc(k)
            if group == "tissue_states" and label in {a[0] for a in arrays}:
                label = f"tissue_state:{label}"
            arrays.append((label, group, k, ds.shape, ds.dtype, _is_zyx(ds)))
    if not arrays:
        return None
    return {"name": name, "time": float(g.attrs["time_min"]), "arrays": arrays}


def _xdmf_entries(f: h5py.File) -> list[dict]:
    sn = f["snapshots"]
    entries = [_xdmf_entry(sn[n], n) for _, n in _numbered(sn)]
    return [e for e in entries if e is not None]


def _write_xdmf_from(f: h5py.File, h5_path: Path, entries: list[dict] | None = None) -> Path:
    """Render the sidecar of the open run file ``f`` (entries: cached _xdmf_entries)."""
    h5_path = Path(h5_path)
    out = _xdmf_path(h5_path)
    meta = f.attrs
    spacing = _spacing(_decode_attr(meta.get("dx_um", 1.0)))
    origin = _decode_attr(meta.get("origin_um", [0.0, 0.0, 0.0]))
    if not (isinstance(origin, list) and len(origin) == 3
            and all(isinstance(v, (int, float)) for v in origin)):
        origin = [0.0, 0.0, 0.0]
    nodes = [float(origin[k]) + spacing[k] / 2 for k in range(3)]      # x, y, z: voxel centres
    texts = {False: (" ".join(repr(v) for v in nodes), " ".join(repr(v) for v in spacing)),
             True: (" ".join(repr(v) for v in nodes[::-1]),                   # z y x
                    " ".join(repr(v) for v in spacing[::-1]))}
    root = ET.Element("Xdmf", Version="3.0")
    dom = ET.SubElement(root, "Domain")
    coll = ET.SubElement(dom, "Grid", Name="run", GridType="Collection", CollectionType="Temporal")
    fname = h5_path.name
    for e in (_xdmf_entries(f) if entries is None else entries):
        name, shape, zyx = e["name"], e["arrays"][0][3], e["arrays"][0][5]
        origin_text, spacing_text = texts[zyx]
        grid = ET.SubElement(coll, "Grid", Name=f"snapshot {name}", GridType="Uniform")
        ET.SubElement(grid, "Time", Value=repr(e["time"]))
        ET.SubElement(grid, "Topology", TopologyType="3DCoRectMesh",
                      Dimensions=" ".join(str(s) for s in shape))
        geo = ET.SubElement(grid, "Geometry", GeometryType="ORIGIN_DXDYDZ")
        o = ET.SubElement(geo, "DataItem", Name="Origin", Dimensions="3", NumberType="Float",
                          Precision="8", Format="XML")
        o.text = origin_text
        s = ET.SubElement(geo, "DataItem", Name="Spacing", Dimensions="3", NumberType="Float",
                          Precision="8", Format="XML")
        s.text = spacing_text
        for label, group, k, kshape, dtype, kzyx in e["arrays"]:
            if kshape != shape or kzyx != zyx:
                continue
            att = ET.SubElement(grid, "Attribute", Name=label, AttributeType="Scalar",
                                Center="Node")
            nt, prec = _number_type(dtype)
            di = ET.SubElement(att, "DataItem", Format="HDF", NumberType=nt, Precision=prec,
                               Dimensions=" ".join(str(x) for x in kshape))
            di.text = f"{fname}:/snapshots/{name}/{group}/{k}"
    ET.indent(root)
    text = '<?xml version="1.0" ?>\n<!DOCTYPE Xdmf SYSTEM "Xdmf.dtd" []>\n' + ET.tostring(
        root, encoding="unicode") + "\n"
    with atomic_output(out, "w") as fh:
        fh.write(text)
    return out
