"""The seed's five-stage schedule of the mixture of geometric experts, as curriculum data (recipe "mgm").

1. curvature_calibration (10% of the steps): only the experts' curvatures train, on the run's data;
2. reasoning_warmup (10%): everything trains, on chain-of-thought and reasoning items;
3. branch_pretrain (30%): the experts (and the rest of the model) train with the router held;
4. gate_training (20%): only the router trains, the experts and curvatures held ("branches fixed");
5. joint_finetune (30%): everything trains on the whole mixture.

Every stage ends with a checkpoint (RUN_DIR/phase-<i>-<name>), so `geolm train --start-phase 1 --resume
RUN_DIR/phase-0-curvature_calibration` is the seed's `--skip-setup`. The data sources are the embedded
corpus's reasoning and dialogue generators, the seed's three subsets: "cot" (question, steps, answer),
"reasoning" (question and answer only) and "conversational" (dialogues, loss on the assistant's turns).
"""

from __future__ import annotations

import itertools

from geolm.data import TokenBlocks, dialogues, encode_documents, pack, reasoning_items
from geolm.training import Curriculum, Phase
from geolm.training.recipes import RECIPES, TRAIN_SOURCE, RecipeInputs

GROUPS = {"curvature": ["*.mlp.groups.*.raw_kappa"], "router": ["*.mlp.gate.*"], "experts": ["*.mlp.groups.*"]}
SUBSETS = ("cot", "reasoning", "conversational")
STAGES = ("curvature_calibration", "reasoning_warmup", "branch_pretrain", "gate_training", "joint_finetune")
MAX_DOCUMENTS = 20_000


def mgm_curriculum(subsets: tuple[str, ...] = SUBSETS) -> Curriculum:
    """The five stages; `subsets` are the seed's dataset flags (which of the three sources the mixtures use)."""
    everything = {TRAIN_SOURCE: 0.5, **{name: 0.5 / len(subsets) for name in subsets}}
    reasoning = {name: 1.0 for name in subsets if name != "conversational"} or {TRAIN_SOURCE: 1.0}
    held = ["default", "router", "experts", "curvature"]
    phases = [
        Phase(STAGES[0], 0.1, mixture={TRAIN_SOURCE: 1.0}, freeze=[g for g in held if g != "curvature"]),
        Phase(STAGES[1], 0.1, mixture=reasoning),
        Phase(STAGES[2], 0.3, mixture=everything, freeze=["router"]),
        Phase(STAGES[3], 0.2, mixture=everything, freeze=[g for g in held if g != "router"]),
        Phase(STAGES[4], 0.3, mixture=everything),
    ]
    for phase in phases:
        phase.checkpoint = True
    return Curriculum(phases, {name: list(patterns) for name, patterns in GROUPS.items()})


def mgm_sources(tokenizer, block_size: int, seed: int, subsets: tuple[str, ...] = SUBSETS) -> dict[str, TokenBlocks]:
    """Token blocks of each chosen subset from the corpus's train split."""
    items = list(itertools.islice(reasoning_items("train", seed), MAX_DOCUMENTS))
    documents = {
        "cot": [item["text"] for item in items],
        "reasoning": [f"Question: {item['question']}\nAnswer: {item['answer']}" for item in items],
        "conversational": list(itertools.islice(dialogues("train", seed), MAX_DOCUMENTS)),
    }
    return {
        name: pack(encode_documents(tokenizer, documents[name]), block_size, tokenizer.pad_token_id, description=name)
        for name in subsets
    }


@RECIPES.register("mgm")
def mgm_recipe(inputs: RecipeInputs) -> tuple[Curriculum, dict[str, TokenBlocks]]:
    """The five-stage schedule on the run's data plus the cot, reasoning and conversational sources."""
    return mgm_curriculum(), {
        TRAIN_SOURCE: inputs.train,
        **mgm_sources(inputs.tokenizer, inputs.block_size, inputs.seed),
    }
