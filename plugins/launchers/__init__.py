"""Launcher plugins: where evaluations run (Dask; Parsl in a later module)."""
