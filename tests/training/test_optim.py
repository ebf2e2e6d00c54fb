import torch
from trainkit import tiny_args, tiny_model

from geolm.training import Curriculum, Phase
from geolm.training.optim import build_optimizer, param_groups, set_learning_rates


def test_no_decay_on_norms_biases_and_embeddings():
    model = tiny_model()
    model.model.layers[0].self_attn.q_proj.bias = torch.nn.Parameter(torch.zeros(64))
    groups = param_groups(model, Curriculum.baseline(), weight_decay=0.1)
    decay = {n for g in groups if g["weight_decay"] == 0.1 for n in g["names"]}
    no_decay = {n for g in groups if g["weight_decay"] == 0.0 for n in g["names"]}
    assert "model.embed_tokens.weight" in no_decay  # the tied lm_head shares this tensor
    assert "model.norm.weight" in no_decay and "model.layers.1.input_layernorm.weight" in no_decay
    assert "model.layers.0.self_attn.q_proj.bias" in no_decay
    assert "model.layers.0.self_attn.q_proj.weight" in decay and "model.layers.1.mlp.down_proj.weight" in decay
    assert len(decay) == 2 * 7  # q, k, v, o, gate, up, down in each of two layers
    assert not decay & no_decay
    assert len(decay | no_decay) == len(list(model.parameters()))


def test_named_groups_get_their_phase_learning_rate():
    model = tiny_model()
    curriculum = Curriculum([Phase("main", lr_mult={"attention": 0.5})], groups={"attention": ["*self_attn*"]})
    optimizer = build_optimizer(model, curriculum, tiny_args(weight_decay=0.1))
    set_learning_rates(optimizer, 2e-3, curriculum.phases[0])
    lrs = {(g["group"], g["weight_decay"]): g["lr"] for g in optimizer.param_groups}
    assert lrs == {("default", 0.0): 2e-3, ("default", 0.1): 2e-3, ("attention", 0.1): 1e-3}
    attention = next(g for g in optimizer.param_groups if g["group"] == "attention")
    assert len(attention["params"]) == 8 and all("self_attn" in n for n in attention["names"])
