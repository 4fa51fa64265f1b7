"""Off-screen pictures and movies of a run file: ``render_run("RUN.h5", "out.png")``, .gif, .mp4.

One PNG shows one snapshot; a GIF or MP4 has one frame per complete snapshot, drawn with the
scene of :mod:`viz.scene`, a fixed camera and a fixed colour range per field (min..max over
all snapshots, read one snapshot at a time), so frames are comparable. Memory does not grow
with the number of snapshots: one snapshot is read at a time, GIF frames are encoded and
written to the file as they are rendered (imageio's GIF writer keeps every frame in memory
until it closes, so it is not used), and MP4 frames are streamed to ffmpeg.

The output is written to a temporary file beside ``out`` and renamed over it only when
complete: a failed render never destroys an earlier picture.
"""

from __future__ import annotations

import importlib.util
import io
import os
import struct
from pathlib import Path

import numpy as np

from abm.errors import ModelInputError

from .scene import CAMERA_PRESETS, MODES, RunScene, apply_camera, time_to_index

__all__ = ["FORMATS", "GifStreamWriter", "render_run"]

#: Output extensions: ".png" one snapshot, ".gif" and ".mp4" one frame per snapshot.
FORMATS = (".png", ".gif", ".mp4")


class GifStreamWriter:
    """Animated GIF written frame by frame (memory of one frame, whatever the frame count).

    Each frame is quantised to its own 256-colour palette (Pillow, median cut) and appended
    with a local colour table; the file loops forever.

    Parameters
    ----------
    path : str or Path
        File to write (created or truncated).
    fps : float
        Frames per second (GIF delays are in 1/100 s, so rounded to that).
    """

    def __init__(self, path, fps: float = 4.0):
        self._fp = open(path, "wb")
        self._delay = max(2, int(round(100.0 / max(float(fps), 1e-3))))
        self._size: tuple[int, int] | None = None
        self.n_frames = 0

    def append(self, frame: np.ndarray) -> None:
        """Append one RGB(A) frame, uint8 (height, width, 3 or 4)."""
        from PIL import Image  # noqa: PLC0415

        frame = np.asarray(frame)
        if frame.ndim != 3 or frame.shape[2] not in (3, 4):
            raise ValueError(f"a GIF frame must be (height, width, 3|4), got {frame.shape}")
        im = Image.fromarray(np.ascontiguousarray(frame[..., :3]).astype(np.uint8), "RGB")
        q = im.quantize(colors=256, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE)
        buf = io.BytesIO()
        q.save(buf, format="GIF", interlace=False)   # the frame is written non-interlaced
        w, h, table, bits, image = _single_gif_parts(buf.getvalue())
        if self._size is None:
            self._size = (w, h)
            self._fp.write(b"GIF89a" + struct.pack("<HHBBB", w, h, 0, 0, 0))
            self._fp.write(b"!\xff\x0bNETSCAPE2.0\x03\x01" + struct.pack("<H", 0) + b"\x00")
        elif (w, h) != self._size:
            raise ValueError(f"GIF frames must all be {self._size}, got {(w, h)}")
        self._fp.write(b"!\xf9\x04\x04" + struct.pack("<H", self._delay) + b"\x00\x00")
        self._fp.write(b"," + struct.pack("<HHHHB", 0, 0, w, h, 0x80 | bits) + table + image)
        self.n_frames += 1

    def close(self) -> None:
        """Write the trailer and close the file (idempotent)."""
        if not self._fp.closed:
            if self._size is not None:
                self._fp.write(b";")
            self._fp.close()

    def __enter__(self) -> "GifStreamWriter":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _single_gif_parts(data: bytes):
    """Split a one-frame GIF into (width, height, colour table, size bits, image data).

    The colour table (global or local) is returned padded to ``3 * 2**(bits + 1)`` bytes;
    the image data runs from the LZW minimum code size to the block terminator.
    """
    if data[:3] != b"GIF":
        raise ValueError("not a GIF")
    w, h, packed = struct.unpack("<HHB", data[6:11])
    pos = 13
    table, bits = b"", 0
    if packed & 0x80:
        bits = packed & 7
        n = 3 * (2 ** (bits + 1))
        table, pos = data[pos:pos + n], pos + n
    while pos < len(data):
        b = data[pos]
        if b == 0x21:                                   # extension: skip its sub-blocks
            pos += 2
            while data[pos] != 0:
                pos += data[pos] + 1
            pos += 1
        elif b == 0x2C:                                 # image descriptor
            lpacked = data[pos + 9]
            pos += 10
            if lpacked & 0x80:
                bits = lpacked & 7
                n = 3 * (2 ** (bits + 1))
                table, pos = data[pos:pos + n], pos + n
            start = pos
            pos += 1                                    # LZW minimum code size
            while data[pos] != 0:
                pos += data[pos] + 1
            pos += 1
            image = data[start:pos]
            n = 3 * (2 ** (bits + 1))
            table = table[:n] + b"\x00" * (n - len(table[:n]))
            return w, h, table, bits, image
        else:
            break
    raise ValueError("GIF without an image")


def check_writable(out: Path, ext: str, overwrite: bool) -> None:
    """Refuse an output path that is a folder, exists (unless ``overwrite``) or has no folder.

    Raises
    ------
    ModelInputError
        One message naming the problem and the fix.
    """
    if out.is_dir():
        raise ModelInputError(f"{out} is a folder; give a file name ending in {ext}")
    if out.exists() and not overwrite:
        raise ModelInputError(f"{out} exists; pass --overwrite (overwrite=True) to replace it, "
                              "or choose another output path")
    if not out.parent.exists():
        raise ModelInputError(f"cannot create {out}: the folder {out.parent} does not exist; "
                              "create it first or choose another output path")


def _check_output(out: Path, overwrite: bool) -> str:
    ext = out.suffix.lower()
    if ext not in FORMATS:
        shown = repr(out.suffix) if out.suffix else "(none)"
        raise ModelInputError(f"cannot render to {out}: unknown extension {shown}; "
                              "use .png (one snapshot), .gif or .mp4 (one frame per snapshot)")
    check_writable(out, ext, overwrite)
    if ext == ".mp4" and importlib.util.find_spec("imageio_ffmpeg") is None:
        raise ModelInputError("writing .mp4 needs the imageio-ffmpeg package: pip install "
                              "imageio-ffmpeg (or render a .gif instead)")
    return ext


def render_run(path, out, *, field=None, time=None, camera="iso", mode="slices",
               window_size=(1024, 768), max_points=200_000, overwrite=False, fps=4.0,
               clim="all", show_tissue=True, cell_types=None) -> Path:
    """Render a run file off-screen to a picture (PNG) or a movie (GIF, MP4).

    Parameters
    ----------
    path : str or Path
        The run file (``RUN.h5``). A file from an interrupted run renders up to its last
        complete snapshot.
    out : str or Path
        ``.png``: one snapshot; ``.gif`` / ``.mp4``: one frame per complete snapshot (MP4
        needs ``pip install imageio-ffmpeg``).
    field : str, optional
        Field or tissue state to draw, with its unit on the colour bar (default: the first
        field of the run; ``"none"``: cells and tissue only).
    time : str or float, optional
        PNG only: the snapshot nearest this simulated time, a string with its unit
        (``"12 h"``, ``"90 min"``) or minutes as a number; default the last snapshot.
    camera : {"iso", "xy", "xz", "yz"}
        Camera preset (see :data:`viz.scene.CAMERA_PRESETS`): ``iso`` isometric from the
        (+x, +y, +z) octant; ``xy`` top view (x right, y up); ``xz`` front view (x right, z up);
        ``yz`` side view (y right, z up). The camera is set on the first frame and kept.
    mode : {"slices", "iso", "volume"}
        How the field is drawn (see :class:`viz.scene.RunScene`).
    window_size : (int, int)
        Picture size, pixels (width, height).
    max_points : int
        Most agents drawn per frame (every k-th row above it; the picture says so).
    overwrite : bool
        Replace an existing ``out``.
    fps : float
        Movie frames per second.
    clim : {"all", "last"} or (float, float) or dict
        Colour range of the field in its unit, fixed for the whole movie: ``"all"`` (default)
        the min..max over every snapshot (a first pass reads the field one snapshot at a
        time); ``"last"`` from the last snapshot; or explicit values. The same default
        applies to PNGs, so pictures at different times of one run share a colour scale.
    show_tissue : bool
        Draw the non-default tissue regions as translucent surfaces.
    cell_types : sequence of str, optional
        Draw only these cell types (default: all), e.g. ``["BMSC"]`` to see where the
        transplanted cells went among thousands of resident cells.

    Returns
    -------
    Path
        ``out``.

    Raises
    ------
    ModelInputError
        Unknown field (with did-you-mean), extension, camera or mode; existing output without
        ``overwrite``; missing output folder; time outside the run; ``.mp4`` without
        imageio-ffmpeg; a run file with no complete snapshot.
    abm.runfile.RunFileError
        Missing, corrupt or foreign run file (a ModelInputError).
    """
    out = Path(out)
    ext = _check_output(out, overwrite)
    if camera not in CAMERA_PRESETS:
        raise ModelInputError(f"unknown camera preset {camera!r}; choose one of "
                              f"{', '.join(CAMERA_PRESETS)}")
    if mode not in MODES:
        raise ModelInputError(f"unknown mode {mode!r}; choose one of {', '.join(MODES)}")
    try:
        w, h = (int(v) for v in window_size)
    except (TypeError, ValueError):
        raise ModelInputError(f"window_size must be (width, height) in pixels, got "
                              f"{window_size!r}") from None
    if not (16 <= w <= 16384 and 16 <= h <= 16384):
        raise ModelInputError(f"window_size must be 16..16384 pixels each way, got {window_size!r}")
    if not float(fps) > 0:
        raise ModelInputError(f"fps must be > 0, got {fps!r}")
    if ext != ".png" and time is not None:
        raise ModelInputError(f"time selects one snapshot for a .png; a {ext} movie shows every "
                              "snapshot: leave time out")

    import pyvista as pv  # noqa: PLC0415

    from abm.runfile import open_run  # noqa: PLC0415

    run = open_run(path)
    tmp = out.with_name(f".{out.stem}.partial-{os.getpid()}{out.suffix}")
    plotter = None
    try:
        if run.n_snapshots == 0:
            raise ModelInputError(f"{run.path} holds no complete snapshot yet; wait for the run to "
                                  "write its first snapshot")
        index = time_to_index(run, time) if ext == ".png" else None
        plotter = pv.Plotter(off_screen=True, window_size=(w, h))
        scene = RunScene(plotter, run, field=field, mode=mode, max_points=max_points, clim=clim,
                         show_tissue=show_tissue)
        if cell_types is not None:
            unknown = [t for t in cell_types if t not in run.cell_types]
            if unknown:
                raise ModelInputError(f"unknown cell type(s) {', '.join(map(repr, unknown))}; the run "
                                      f"has {', '.join(run.cell_types)}")
            for t in run.cell_types:
                scene.set_cell_type_visible(t, t in cell_types)
        if ext == ".png":
            scene.show_snapshot(index)
            apply_camera(plotter, camera, scene.bounds)
            plotter.screenshot(str(tmp))
        elif ext == ".gif":
            with GifStreamWriter(tmp, fps=fps) as gif:
                for i in range(run.n_snapshots):
                    scene.show_snapshot(i)
                    if i == 0:
                        apply_camera(plotter, camera, scene.bounds)
                    gif.append(plotter.screenshot(return_img=True))
        else:
            plotter.open_movie(str(tmp), framerate=float(fps), quality=8)
            try:
                for i in range(run.n_snapshots):
                    scene.show_snapshot(i)
                    if i == 0:
                        apply_camera(plotter, camera, scene.bounds)
                    plotter.write_frame()
            finally:
                plotter.mwriter.close()
                plotter.mwriter = None
        os.replace(tmp, out)
    finally:
        if plotter is not None:
            plotter.close()
        run.close()
        if tmp.exists():
            tmp.unlink()
    return out
