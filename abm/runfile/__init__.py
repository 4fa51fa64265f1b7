"""HDF5 run files: snapshots, agent tables, readouts and checkpoints, written crash-safely
and read back lazily (:mod:`.core`)."""

from .core import RunFileError, RunReader, RunWriter, open_run, write_xdmf

__all__ = ["RunFileError", "RunReader", "RunWriter", "open_run", "write_xdmf"]
