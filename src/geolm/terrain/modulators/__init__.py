"""Residual and field modulators that hook into geolm and Hugging Face models.

`attach(model, modulator)` hooks a modulator after every block (detachable); `GeometricResidualModulator`
LERPs the residual stream towards projected per-token sphere points; `GeometricFieldModulator` gates it with
KSimplexChannel experts; `train_modulator` trains one with the base frozen. The claim they carry ("+152%
Pearson") is checked by `geolm.experiments.modulator_claim`.
"""

from geolm.terrain.modulators.alpha import LayerAlpha
from geolm.terrain.modulators.compare import coherence, preservation, side_by_side
from geolm.terrain.modulators.field import (
    FieldConfig,
    GeometricFieldModulator,
    KSimplexChannel,
    regular_simplex,
)
from geolm.terrain.modulators.hooks import AttachedModulator, attach, find_blocks
from geolm.terrain.modulators.relational import (
    RelationalItems,
    relational_scores,
    select_items,
    shuffled_pairs,
)
from geolm.terrain.modulators.residual import SEED_ALPHA, GeometricResidualModulator
from geolm.terrain.modulators.training import TrainingTrace, encode, pooled_hidden, train_modulator

__all__ = [
    "SEED_ALPHA",
    "AttachedModulator",
    "FieldConfig",
    "GeometricFieldModulator",
    "GeometricResidualModulator",
    "KSimplexChannel",
    "LayerAlpha",
    "RelationalItems",
    "TrainingTrace",
    "attach",
    "coherence",
    "encode",
    "find_blocks",
    "pooled_hidden",
    "preservation",
    "regular_simplex",
    "relational_scores",
    "select_items",
    "shuffled_pairs",
    "side_by_side",
    "train_modulator",
]
