"""Reading weights: the WeightSet data model and one reader per checkpoint format."""

from weightspace.io.detect import FORMATS, detect_format
from weightspace.io.load import load_weights
from weightspace.io.weightset import ROLES, Role, WeightSet, WeightTensor

__all__ = [
    "FORMATS",
    "ROLES",
    "Role",
    "WeightSet",
    "WeightTensor",
    "detect_format",
    "load_weights",
]
