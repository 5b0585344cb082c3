"""Built-in plugins; each registers through the ``dnnp_hpo`` entry-point group."""
