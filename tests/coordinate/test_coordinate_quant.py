import torch

from geolm.config import GeoConfig
from geolm.coordinate.quant import Int8FactorBank, Int8Linear, quantize_int8, quantize_weight
from geolm.modeling import GeoForCausalLM


def test_per_channel_rounding_error_is_at_most_half_a_step() -> None:
    weight = torch.randn(7, 33) * torch.logspace(-3, 1, 7)[:, None]  # rows of very different scales
    weight[3] = 0.0
    qweight, scale = quantize_weight(weight)
    assert qweight.dtype == torch.int8 and scale.shape == (7,)
    error = (qweight.float() * scale[:, None] - weight).abs()
    assert torch.all(error <= scale[:, None] / 2 + 1e-7) and error[3].max() == 0


@torch.no_grad()
def test_int8_logits_stay_close_to_float(make_tiny) -> None:
    model = make_tiny()
    tokens = torch.randint(0, 512, (2, 16))
    reference = model(tokens, labels=tokens)
    float_bytes = sum(t.numel() * t.element_size() for t in model.state_dict().values())
    quantize_int8(model)
    swapped = [m for m in model.modules() if isinstance(m, Int8Linear | Int8FactorBank)]
    assert len(swapped) == 2 * 7 + 2 * 7  # every projection of both layers, and every bank
    assert not any(name.endswith((".up", ".down", "proj.weight")) for name, _ in model.named_parameters())
    quantized = model(tokens, labels=tokens)
    spread = reference.logits.std()
    error = (quantized.logits - reference.logits).abs()
    assert error.mean() < 0.03 * spread and error.max() < 0.25 * spread
    assert abs(quantized.loss - reference.loss) < 0.01
    assert (quantized.logits.argmax(-1) == reference.logits.argmax(-1)).float().mean() > 0.95
    int8_bytes = sum(t.numel() * t.element_size() for t in model.state_dict().values())
    assert int8_bytes < float_bytes


@torch.no_grad()
def test_plain_llama_quantizes_too() -> None:
    model = GeoForCausalLM(GeoConfig.from_preset("llama-tiny")).eval()
    tokens = torch.randint(0, 512, (1, 8))
    reference = model(tokens).logits
    error = (quantize_int8(model)(tokens).logits - reference).abs()
    assert 0 < error.mean() < 0.03 * reference.std()
