"""3D playback and pictures of runs (reads run files; built in a later issue)."""
