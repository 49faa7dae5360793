"""The package's version, in the base layer: the exported models' metadata carries it."""

__version__ = "0.1.0"
