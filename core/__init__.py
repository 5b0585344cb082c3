"""dnnp-hpo: multi-objective hyperparameter search for deep neural network potentials."""

__version__ = "0.1.0"
