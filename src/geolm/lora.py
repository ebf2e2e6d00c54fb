"""LoRA adapters on any geolm model, through PEFT (`pip install geolm[lora]`).

The projections an adapter wraps are, by default, the ones the model's attention and FFN parts declare
(`modulated_roles`: q/k/v/o_proj, gate/up/down_proj, ...), so the same call adapts a Llama, a coordinate-
modulated model (whose modulation still applies: PEFT hands the forward context on to the wrapped layer) or
an integrator. `merge_lora` folds the adapters into the weights and returns the plain geolm model.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from geolm.errors import ConfigError

if TYPE_CHECKING:
    from peft import LoraConfig, PeftModel
    from transformers import PreTrainedModel


def _peft() -> Any:
    try:
        import peft
    except ImportError:
        raise ConfigError("LoRA needs PEFT: pip install 'geolm[lora]'") from None
    return peft


def lora_config(
    model: PreTrainedModel, rank: int = 8, alpha: float = 16.0, dropout: float = 0.0, targets: Sequence[str] = ()
) -> LoraConfig:
    """PEFT's `LoraConfig` for `model`: `targets` (module name suffixes), by default every projection its parts
    declare."""
    from geolm.nn.registry import modulated_roles

    chosen = list(targets) or sorted({role for roles in modulated_roles(model.config).values() for role in roles})
    if not chosen:
        raise ConfigError("the model's parts declare no projections to adapt; name them with targets=")
    return _peft().LoraConfig(r=rank, lora_alpha=alpha, lora_dropout=dropout, target_modules=chosen)


def add_lora(model: PreTrainedModel, **options: Any) -> PeftModel:
    """`model` with fresh LoRA adapters (`lora_config` options); only the adapters train."""
    return _peft().get_peft_model(model, lora_config(model, **options))


def load_lora(model: PreTrainedModel, adapters: str | Path) -> PeftModel:
    """`model` with the adapters saved (by `PeftModel.save_pretrained`) in the directory `adapters`."""
    if not (Path(adapters) / "adapter_config.json").is_file():
        raise ConfigError(f"{adapters}: no adapter_config.json; not a directory of saved LoRA adapters")
    return _peft().PeftModel.from_pretrained(model, adapters)


def merge_lora(model: PeftModel) -> PreTrainedModel:
    """The geolm model with the adapters folded into its weights (computes what the adapted model did)."""
    return model.merge_and_unload()
