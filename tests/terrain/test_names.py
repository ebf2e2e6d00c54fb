import pytest

from geolm.terrain.names import classify

CASES = [
    ("encoder.layer.3.attention.self.query.weight", "q", 3, "encoder", "self"),
    ("encoder.layer.3.attention.self.key.weight", "k", 3, "encoder", "self"),
    ("encoder.layer.3.attention.self.value.weight", "v", 3, "encoder", "self"),
    ("encoder.layer.3.attention.output.dense.weight", "o", 3, "encoder", "self"),
    ("encoder.layer.3.attention.output.LayerNorm.weight", "norm", 3, "encoder", ""),
    ("encoder.layer.3.intermediate.dense.weight", "up", 3, "encoder", ""),
    ("encoder.layer.3.output.dense.weight", "down", 3, "encoder", ""),
    ("embeddings.word_embeddings.weight", "embedding", None, "", ""),
    ("model.layers.0.self_attn.q_proj.weight", "q", 0, "", "self"),
    ("model.layers.1.self_attn.o_proj.weight", "o", 1, "", "self"),
    ("model.layers.1.mlp.gate_proj.weight", "gate", 1, "", ""),
    ("model.layers.1.mlp.up_proj.weight", "up", 1, "", ""),
    ("model.layers.1.mlp.down_proj.weight", "down", 1, "", ""),
    ("model.layers.1.input_layernorm.weight", "norm", 1, "", ""),
    ("model.embed_tokens.weight", "embedding", None, "", ""),
    ("lm_head.weight", "lm_head", None, "", ""),
    ("encoder.block.2.layer.0.SelfAttention.q.weight", "q", 2, "encoder", "self"),
    ("decoder.block.1.layer.1.EncDecAttention.k.weight", "k", 1, "decoder", "cross"),
    ("decoder.block.1.layer.2.DenseReluDense.wo.weight", "down", 1, "decoder", ""),
    ("encoder.block.0.layer.0.SelfAttention.relative_attention_bias.weight", "position_bias", 0, "encoder", ""),
]


@pytest.mark.parametrize(("name", "kind", "layer", "stack", "attention"), CASES)
def test_classify(name, kind, layer, stack, attention):
    pn = classify(name)
    assert (pn.kind, pn.layer, pn.stack, pn.attention) == (kind, layer, stack, attention)


def test_group_keys_match_across_layers():
    assert classify("model.layers.0.self_attn.q_proj.weight").group == "self.q"
    assert classify("decoder.block.5.layer.1.EncDecAttention.q.weight").group == "decoder.cross.q"
