"""Launcher plugin ``parsl`` (not yet implemented: registers nothing)."""
