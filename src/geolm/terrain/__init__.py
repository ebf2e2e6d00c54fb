"""Geometric terrain analysis of any local Hugging Face model: embeddings, hidden states, weights, WordNet.

`analyze(path)` runs the batteries and returns a `TerrainReport` of tidy pandas frames; `describe(path)` is
the dry run; `compare(a, b)` aligns two models with orthogonal Procrustes against null maps.
"""

from geolm.terrain.alignment import linear_cka, procrustes_alignment
from geolm.terrain.analyze import TerrainPlan, analyze, describe
from geolm.terrain.batteries import BATTERIES
from geolm.terrain.categories import BUILTIN, CategorySource, WordCategories
from geolm.terrain.compare import compare
from geolm.terrain.context import TerrainOptions
from geolm.terrain.loading import LoadedModel, load_model
from geolm.terrain.report import TerrainReport
from geolm.terrain.taxonomy import SynsetRecord, Taxonomy, embedded_wordnet

__all__ = [
    "BATTERIES",
    "BUILTIN",
    "CategorySource",
    "LoadedModel",
    "SynsetRecord",
    "Taxonomy",
    "TerrainOptions",
    "TerrainPlan",
    "TerrainReport",
    "WordCategories",
    "analyze",
    "compare",
    "describe",
    "embedded_wordnet",
    "linear_cka",
    "load_model",
    "procrustes_alignment",
]
