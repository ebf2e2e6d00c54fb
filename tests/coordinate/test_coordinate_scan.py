import pytest
import torch

from geolm.coordinate.scan import CHUNK, causal_ema, decay_matrix


def loop_ema(x: torch.Tensor, decay: float, initial: torch.Tensor) -> torch.Tensor:
    context, out = initial.double(), []
    for t in range(x.shape[1]):
        context = decay * context + (1 - decay) * x[:, t].double()
        out.append(context)
    return torch.stack(out, dim=1)


@pytest.mark.parametrize("length", [1, 2, 7, CHUNK, CHUNK + 1, 3 * CHUNK + 5])
@pytest.mark.parametrize("decay", [0.0, 0.5, 0.95, 0.999])
def test_scan_equals_a_loop(length: int, decay: float) -> None:
    x = torch.randn(2, length, 5)
    initial = torch.randn(2, 5)
    expected = loop_ema(x, decay, initial)
    got = causal_ema(x, decay, initial)
    assert got.dtype == torch.float32 and got.shape == x.shape
    torch.testing.assert_close(got.double(), expected, atol=1e-5, rtol=1e-5)


def test_scan_starts_from_zero_and_splits_exactly() -> None:
    x = torch.randn(1, 100, 3)
    whole = causal_ema(x, 0.95)
    torch.testing.assert_close(whole, loop_ema(x, 0.95, torch.zeros(1, 3)).float(), atol=1e-5, rtol=1e-5)
    head = causal_ema(x[:, :37], 0.95)
    tail = causal_ema(x[:, 37:], 0.95, head[:, -1])  # what cached decoding does: carry the last context
    torch.testing.assert_close(torch.cat((head, tail), dim=1), whole, atol=1e-6, rtol=1e-5)


def test_long_sequences_stay_finite() -> None:
    matrix = decay_matrix(4096, 0.95, torch.device("cpu"))
    assert torch.isfinite(matrix).all() and matrix.max() == 1.0 and matrix.triu(1).abs().max() == 0
    out = causal_ema(torch.ones(1, 4096, 2), 0.95)
    torch.testing.assert_close(out[0, -1], torch.ones(2))  # converges to the constant input
    assert out[0, 0, 0].item() == pytest.approx(0.05)
