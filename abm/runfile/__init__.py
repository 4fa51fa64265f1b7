"""HDF5 run files: what ``abm run`` writes, ``abm resume`` continues and ``abm info`` reads.

One run is one HDF5 file (``RUN.h5``) plus an XDMF sidecar (``RUN.xdmf``) that lets
ParaView open the field snapshots directly. The layout is documented in
``docs/run-file.md``; in short::

    /                       root attributes: format, format_version, package_version, created, metadata
    /scenario               the scenario YAML text
    /units                  attributes name -> unit
    /tissue/names           tissue label names;  /tissue/labels/<v>  uint8 label arrays (versions)
    /tissue/state_units     attributes tissue state -> unit (runs with tissue processes)
    /cell_types/<type>      attributes states, variables, colour, state_colours
    /snapshots/<000000>/    fields/<name>, tissue_states/<name>, agents/<type>/<column>
    /readouts/<column>      resizable 1-D time series
    /checkpoints/<000000>/  state/...  everything needed to resume

Axis order
----------
The model indexes lattice arrays ``[x, y, z]`` (shape ``(nx, ny, nz)``). The 3-D lattice
datasets users view (``fields/<name>``, ``tissue_states/<name>`` and ``/tissue/labels/<v>``)
are stored transposed, as C-order ``(nz, ny, nx)`` arrays (x varies fastest) with the
dataset attribute ``axes = "z,y,x"``: ParaView's XDMF reader takes the fastest axis as its
X, and MATLAB's ``h5read`` (which reverses the dimensions) returns ``(nx, ny, nz)``.
:meth:`RunReader.field`, :meth:`RunReader.tissue_state` and :meth:`RunReader.labels`
transpose back and return ``[x, y, z]`` arrays; in raw h5py use
``ds[()].transpose(2, 1, 0)`` (or ``.T``). Checkpoint arrays are stored exactly as given.
A dataset without the ``axes`` attribute (format version 1 files) is ``(nx, ny, nz)``.

Crash safety
------------
The writer keeps the file open for the whole run. Every snapshot and checkpoint is a
new group: its datasets are written first, the attribute ``complete = 1`` is set on
the group last, and then the file is flushed. Readers (:func:`open_run`) ignore groups
without ``complete``; :meth:`RunWriter.resume` deletes them. Readout time series are
resizable 1-D datasets whose group attribute ``n_rows_complete`` is raised only after
the rows are written and flushed. A writer killed at any moment (SIGKILL, node loss)
therefore leaves a file that opens and shows only complete snapshots; the test suite
checks this by killing a writer process at random moments.

Creating and replacing a file
-----------------------------
A new file is built under a temporary name in the same folder (``.NAME.partial-PID``)
and renamed into place: ``abm run`` renames it after the initial checkpoint (step 0) is
written, so a start that is refused or fails, or is killed in its first moments, leaves
an earlier file at that path, its ``.xdmf`` and its ``.log`` exactly as they were (a
killed start may leave the hidden temporary file, which can be deleted). A file that
another program is writing (it holds HDF5's write lock) is never replaced, even with
``--overwrite``; ``abm resume`` opens with that lock too, so two writers never share a
file.

Safety of received files
------------------------
Only plain numeric arrays, HDF5 strings (UTF-8), enums for booleans and attributes
are written; nothing is pickled, and the reader never unpickles: a file received from
somebody else is as safe to open as any HDF5 file.

Modules
-------
:mod:`.opening` (format, :class:`RunFileError`, opening), :mod:`.encoding` (attribute
values, names), :mod:`.layout` (chunking, lattice datasets, trees, snapshot arrays),
:mod:`.declarations` (cell types with their colours, tissue states with their units),
:mod:`.readouts` (time series), :mod:`.writer` (:class:`RunWriter`), :mod:`.restart`
(cutting back to a checkpoint), :mod:`.reader` (:class:`RunReader`, :func:`open_run`),
:mod:`.summary` (``abm info``), :mod:`.xdmf` (the ParaView sidecar).
"""

from .opening import FORMAT, FORMAT_VERSION, RunFileError
from .reader import RunReader, open_run
from .writer import RunWriter
from .xdmf import write_xdmf

__all__ = ["FORMAT", "FORMAT_VERSION", "RunFileError", "RunReader", "RunWriter", "open_run",
           "write_xdmf"]
