"""The `uptrain` recipe: a pretrained model with geometric parts added (`geolm convert --parts`) learns the new
parts first with its own weights frozen, then everything at a lower rate.

The base is every weight a Llama-family checkpoint has (embeddings, norms, the attention and feed-forward
projections, the output head), named by pattern; whatever else the model holds (coordinate banks, κ and τ,
experts, integrator controllers) is geometry.
"""

from __future__ import annotations

from dataclasses import dataclass

from geolm.data.blocks import TokenBlocks
from geolm.nn.options import is_real, positive
from geolm.training.curriculum import DEFAULT_GROUP, Curriculum
from geolm.training.recipes import RECIPES, TRAIN_SOURCE, RecipeInputs, RecipeOptions, declare_options, recipe_option

BASE_PATTERNS = [
    "model.embed_tokens.*",
    "lm_head.*",
    "model.norm.*",
    "model.layers.*.input_layernorm.*",
    "model.layers.*.post_attention_layernorm.*",
    "model.layers.*.self_attn.[qkvo]_proj.*",
    "model.layers.*.self_attn.[qk]_norm.*",
    "model.layers.*.mlp.gate_proj.*",
    "model.layers.*.mlp.up_proj.*",
    "model.layers.*.mlp.down_proj.*",
]


@declare_options("uptrain")
@dataclass(frozen=True)
class UptrainOptions(RecipeOptions):
    """How long the geometry learns alone, and how much slower everything learns after."""

    geometry_share: float = recipe_option(
        0.3,
        lambda v: is_real(v) and 0 < v < 1,
        "in (0, 1)",
        "share of the steps training only the added parts",
        parse=float,
    )
    base_lr_mult: float = recipe_option(
        0.1, positive, "a positive number", "learning-rate multiplier of every weight after that", parse=float
    )


def uptrain_curriculum(options: UptrainOptions) -> Curriculum:
    """Phase "geometry" (the base frozen, checkpointed when it ends), then phase "all" at `base_lr_mult`."""
    mult = options.base_lr_mult
    return Curriculum.from_dict(
        {
            "groups": {"base": BASE_PATTERNS},
            "phases": [
                {
                    "name": "geometry",
                    "length": options.geometry_share,
                    "losses": {"lm": 1.0},
                    "freeze": ["base"],
                    "checkpoint": True,
                },
                {
                    "name": "all",
                    "length": 1.0 - options.geometry_share,
                    "losses": {"lm": 1.0},
                    "lr_mult": {"base": mult, DEFAULT_GROUP: mult},
                },
            ],
        },
        where="recipe 'uptrain'",
    )


@RECIPES.register("uptrain")
def uptrain_recipe(inputs: RecipeInputs) -> tuple[Curriculum, dict[str, TokenBlocks]]:
    """The added geometric parts alone, then everything at a lower rate, on the run's data."""
    return uptrain_curriculum(inputs.options_as(UptrainOptions)), {TRAIN_SOURCE: inputs.train}
