"""One device choice for every command (CUDA, then MPS, then the CPU), and memory measured where it can be."""

import pytest
import torch

from geolm import GeoConfig, GeoForCausalLM
from geolm.devices import default_device, memory_device
from geolm.experiments.demo import demo_preset
from geolm.experiments.measure import peak_training_memory


@pytest.fixture
def devices(monkeypatch):
    def make(cuda: bool, mps: bool) -> None:
        monkeypatch.setattr(torch.cuda, "is_available", lambda: cuda)
        monkeypatch.setattr(torch.backends.mps, "is_available", lambda: mps)

    return make


@pytest.mark.parametrize(
    ("cuda", "mps", "expected", "preset"),
    [
        (True, True, "cuda", "geometric-llama-10m"),
        (False, True, "mps", "geometric-llama-demo"),
        (False, False, "cpu", "geometric-llama-demo"),
    ],
)
def test_the_default_device_is_the_best_at_hand_and_sets_the_demo(devices, cuda, mps, expected, preset) -> None:
    devices(cuda, mps)
    assert default_device() == torch.device(expected)
    assert demo_preset() == preset


def test_memory_is_measured_on_cuda_or_the_cpu() -> None:
    assert memory_device(torch.device("cuda", 1)) == torch.device("cuda", 1)
    assert memory_device(torch.device("mps")) == torch.device("cpu")
    model = GeoForCausalLM(GeoConfig.from_preset("llama-tiny"))
    with pytest.raises(ValueError, match="measured on CUDA or the CPU, not meta"):
        peak_training_memory(model, torch.zeros(1, 4, dtype=torch.long, device="meta"))
    assert peak_training_memory(model, torch.randint(3, 512, (1, 8))) > 0
