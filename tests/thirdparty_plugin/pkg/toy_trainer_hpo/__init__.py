"""A toy "DNNP code" and the dnnp-hpo trainer plugin that drives it (see plugin.py)."""
