"""The compatibility matrix: its typed model and the loader that validates matrix files."""

from eksaddon.matrix.loader import load_matrix
from eksaddon.matrix.model import AddonType, Matrix

__all__ = ["AddonType", "Matrix", "load_matrix"]
