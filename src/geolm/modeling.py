"""geolm models: one Llama-style decoder whose attention, FFN, modulation and memory are chosen by the config.

Read top to bottom: the decoder block, the base model (embeddings, blocks, final norm), then the three heads
(causal LM, sequence classification, token classification). With the baseline parts the module names and
the function computed are those of HF `LlamaForCausalLM`, so weights map one to one (see `geolm.convert`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn
from transformers import GenerationMixin, PreTrainedModel
from transformers.cache_utils import Cache
from transformers.modeling_layers import GradientCheckpointingLayer
from transformers.modeling_outputs import (
    BaseModelOutputWithPast,
    CausalLMOutputWithPast,
    SequenceClassifierOutput,
    TokenClassifierOutput,
)

from geolm.config import GeoConfig
from geolm.errors import ConfigError
from geolm.nn import ATTENTION, FFN, MEMORY, MODULATION, ForwardContext, RMSNorm, RotaryEmbedding
from geolm.nn.cache import CACHE_KWARG, GeoCache, given_cache
from geolm.nn.options import PartOptions


@dataclass
class GeoModelOutput(BaseModelOutputWithPast):
    """The base model's output plus what its parts handed back (see `ForwardContext`).

    `aux_losses` maps each auxiliary loss a part added to its scalar; `part_stats` maps each statistic to its
    per-token values (B, T) or (B, T, k), detached.
    """

    aux_losses: dict[str, torch.Tensor] | None = None
    part_stats: dict[str, torch.Tensor] | None = None
    router_logits: tuple[torch.Tensor, ...] | None = None


@dataclass
class GeoCausalLMOutput(CausalLMOutputWithPast):
    """HF's causal-LM output plus the parts' losses and statistics.

    `loss` stays the language-model loss, so perplexity compares across families; `aux_loss` is the sum of
    `aux_losses` at the weights their parts declare (what the trainer adds unless a phase changes a weight).
    Unlike Mixtral's, the auxiliary losses are always computed: nothing needs switching on. `router_logits`
    holds one (tokens, experts) tensor per mixture layer, as Mixtral names and shapes them.
    """

    aux_loss: torch.Tensor | None = None
    aux_losses: dict[str, torch.Tensor] | None = None
    part_stats: dict[str, torch.Tensor] | None = None
    router_logits: tuple[torch.Tensor, ...] | None = None


class GeoDecoderLayer(GradientCheckpointingLayer):
    """Pre-norm block: x + attention(norm(x)), then x + memory(norm(x)) if any, then x + ffn(norm(x))."""

    def __init__(self, config: GeoConfig, layer_idx: int, modulation: nn.Module) -> None:
        super().__init__()
        self.input_layernorm = RMSNorm(config.hidden_size, config.rms_norm_eps)
        self.self_attn = ATTENTION.get(config.attention)(config, layer_idx, modulation)
        memory_cls = MEMORY.get(config.memory)
        self.memory = memory_cls(config, layer_idx) if memory_cls is not None else None
        if self.memory is not None:
            self.memory_layernorm = RMSNorm(config.hidden_size, config.rms_norm_eps)
        self.post_attention_layernorm = RMSNorm(config.hidden_size, config.rms_norm_eps)
        self.mlp = FFN.get(config.ffn)(config, layer_idx, modulation)

    def forward(
        self, hidden_states: torch.Tensor, rope: tuple[torch.Tensor, torch.Tensor], ctx: ForwardContext
    ) -> torch.Tensor:
        hidden_states = hidden_states + self.self_attn(self.input_layernorm(hidden_states), rope, ctx)
        if self.memory is not None:
            hidden_states = hidden_states + self.memory(self.memory_layernorm(hidden_states), ctx)
        return hidden_states + self.mlp(self.post_attention_layernorm(hidden_states), ctx)


class GeoPreTrainedModel(PreTrainedModel):
    """Shared HF plumbing: config class, weight init, gradient checkpointing and SDPA support flags."""

    config_class = GeoConfig
    config: GeoConfig
    base_model_prefix = "model"
    supports_gradient_checkpointing = True
    _no_split_modules = ["GeoDecoderLayer"]  # noqa: RUF012 (transformers class attribute)
    _skip_keys_device_placement = ["cache", "past_key_values"]  # noqa: RUF012 (the cache's name, new and old)
    _supports_sdpa = True

    def default_loss_weights(self) -> dict[str, float]:
        """Every auxiliary loss the model's parts can add, at the weight each part declares (`aux_loss_weights`)."""
        if "_loss_weights" not in self.__dict__:  # the parts are fixed once built; look once
            weights: dict[str, float] = {}
            for module in self.modules():
                weights.update(getattr(module, "aux_loss_weights", {}))
            self.__dict__["_loss_weights"] = weights
        return dict(self.__dict__["_loss_weights"])

    def set_part_settings(self, settings: Mapping[str, Mapping[str, Any]] | None) -> None:
        """Apply a curriculum phase's settings (`{kind: {key: value}}`); None or {} restores the config's options."""
        self.base_model.phase_options = self.check_part_settings(settings)

    def check_part_settings(self, settings: Mapping[str, Mapping[str, Any]] | None) -> dict[str, PartOptions]:
        """The options each part kind runs with under `settings`; a `ConfigError` names what does not fit."""
        resolved = self.config.resolved_options()
        applied = {}
        for kind, values in (settings or {}).items():
            if kind not in resolved:
                raise ConfigError(
                    f"part_settings[{kind!r}]: the {kind} part {getattr(self.config, kind, '?')!r} takes no settings"
                )
            applied[kind] = resolved[kind].with_settings(values)
        return applied


class GeoModel(GeoPreTrainedModel):
    """Embeddings, decoder blocks and the final norm; causal unless a classification head turns it off."""

    def __init__(self, config: GeoConfig, causal: bool = True) -> None:
        super().__init__(config)
        self.causal = causal
        width = config.embedding_size if config.factorised_embeddings else config.hidden_size
        self.embed_tokens = nn.Embedding(config.vocab_size, width)
        self.embed_proj = nn.Linear(width, config.hidden_size, bias=False) if config.factorised_embeddings else None
        self.modulation = MODULATION.get(config.modulation)(config)
        self.layers = nn.ModuleList(
            GeoDecoderLayer(config, i, self.modulation) for i in range(config.num_hidden_layers)
        )
        self.shared = nn.ModuleDict()  # modules that parts share across layers (see a part's `bind_shared`)
        for module in self.layers.modules():
            share = getattr(module, "bind_shared", None)
            if share is not None:
                share(self.shared)
        self.norm = RMSNorm(config.hidden_size, config.rms_norm_eps)
        self.rotary_emb = RotaryEmbedding(
            config.head_dim, config.rope_theta, config.scaled_rope, config.max_position_embeddings
        )
        self.gradient_checkpointing = False
        self.phase_options: dict[str, PartOptions] = {}
        self.stat_recorders: list[Any] = []  # `geolm.inference_stats` listeners
        self.post_init()

    def get_input_embeddings(self) -> nn.Embedding:
        return self.embed_tokens

    def set_input_embeddings(self, value: nn.Embedding) -> None:
        self.embed_tokens = value

    def new_cache(self) -> GeoCache:
        """The cache a decoding run starts from: keys/values plus the per-sequence state of parts."""
        return GeoCache(config=self.config)

    def forward(
        self,
        input_ids: torch.LongTensor | None = None,
        attention_mask: torch.Tensor | None = None,
        position_ids: torch.LongTensor | None = None,
        cache: Cache | None = None,
        inputs_embeds: torch.Tensor | None = None,
        use_cache: bool | None = None,
        output_hidden_states: bool | None = None,
        past_key_values: Cache | None = None,
        output_aux: bool = True,
        **kwargs: Any,
    ) -> GeoModelOutput:
        """`cache` (or its older name `past_key_values`) carries keys, values and part state between calls.

        `output_aux=False` skips the parts' auxiliary losses and statistics (`aux_losses` and `part_stats` come
        back empty), except the statistics an `inference_stats` recorder listens for: `generate()` reads neither.
        """
        if (input_ids is None) == (inputs_embeds is None):
            raise ValueError("pass exactly one of input_ids or inputs_embeds")
        if inputs_embeds is None:
            inputs_embeds = self.embed_tokens(input_ids)
        if self.embed_proj is not None:  # inputs_embeds are what `get_input_embeddings()` gives, in its width
            inputs_embeds = self.embed_proj(inputs_embeds)
        cache = given_cache(cache, past_key_values)
        use_cache = self.causal and (self.config.use_cache if use_cache is None else use_cache)
        if self.gradient_checkpointing and self.training:
            use_cache = False  # as HF models do: recomputing a layer would append its keys to the cache again
        if use_cache and cache is None:
            cache = self.new_cache()
        cache = cache if use_cache else None
        seq = inputs_embeds.shape[1]
        past = cache.get_seq_length() if cache is not None else 0
        if attention_mask is not None and not torch.compiler.is_compiling() and bool(attention_mask.all()):
            attention_mask = None  # as transformers does in eager mode: no padding keeps the fast SDPA path
        if position_ids is None:
            position_ids = positions_from_mask(attention_mask, past, seq, inputs_embeds.device)
        ctx = ForwardContext(
            position_ids=position_ids,
            attention_mask=build_attention_mask(attention_mask, past, seq, self.causal, inputs_embeds.device),
            is_causal=self.causal,
            cache=cache,
            token_mask=attention_mask[:, -seq:].bool() if attention_mask is not None else None,
            settings=self.phase_options,
            detail=any(recorder.detail for recorder in self.stat_recorders),
            collect_losses=output_aux,
            collect_stats=output_aux or bool(self.stat_recorders),
        )
        self.modulation(inputs_embeds, ctx)
        rope = self.rotary_emb(position_ids, inputs_embeds.dtype)
        want_hidden = output_hidden_states if output_hidden_states is not None else self.config.output_hidden_states
        hidden_states = inputs_embeds
        all_hidden: list[torch.Tensor] = []
        for layer in self.layers:
            if want_hidden:
                all_hidden.append(hidden_states)
            hidden_states = layer(hidden_states, rope, ctx)
        hidden_states = self.norm(hidden_states)
        if want_hidden:
            all_hidden.append(hidden_states)
        aux_losses, part_stats = ctx.close()
        for recorder in self.stat_recorders:
            recorder.observe(part_stats)
        return GeoModelOutput(
            last_hidden_state=hidden_states,
            hidden_states=tuple(all_hidden) if want_hidden else None,
            aux_losses=aux_losses,
            part_stats=part_stats,
            router_logits=tuple(ctx.router_logits) or None,
            **{CACHE_KWARG: cache},
        )


def positions_from_mask(attention_mask: torch.Tensor | None, past: int, seq: int, device: torch.device) -> torch.Tensor:
    """Positions of the current tokens: counted over non-padding tokens, so left-padded prompts start at 0."""
    if attention_mask is None:
        return torch.arange(past, past + seq, device=device).unsqueeze(0)
    positions = attention_mask.long().cumsum(-1) - 1
    return positions.clamp(min=0)[:, -seq:]


def build_attention_mask(
    attention_mask: torch.Tensor | None, past: int, seq: int, causal: bool, device: torch.device
) -> torch.Tensor | None:
    """Boolean (B, 1, T, S) mask (True = may attend), or None when SDPA's own causal/full path is exact.

    An explicit mask is needed for padding, and for a causal chunk of several tokens after a cached prefix
    (SDPA's `is_causal` aligns the triangle top-left).
    """
    needs_offset_causal = causal and past > 0 and seq > 1
    if attention_mask is None and not needs_offset_causal:
        return None
    total = past + seq
    keys = torch.arange(total, device=device)
    if causal:
        mask = keys[None, :] <= torch.arange(past, total, device=device)[:, None]
    else:
        mask = torch.ones(seq, total, dtype=torch.bool, device=device)
    mask = mask[None, None]
    if attention_mask is not None:
        mask = mask & attention_mask[:, None, None, -total:].bool()
    # A padding query has nothing to attend to; let it see every key so SDPA returns finite (ignored) values.
    return mask | ~mask.any(-1, keepdim=True)


class GeoForCausalLM(GeoPreTrainedModel, GenerationMixin):
    """Decoder with a language-model head; generation comes from HF's `GenerationMixin` unchanged."""

    _tied_weights_keys = {"lm_head.weight": "model.embed_tokens.weight"}  # noqa: RUF012

    def __init__(self, config: GeoConfig) -> None:
        super().__init__(config)
        self.model = GeoModel(config)
        width = config.embedding_size if config.factorised_embeddings else config.hidden_size
        self.head_proj = nn.Linear(config.hidden_size, width, bias=False) if config.factorised_embeddings else None
        self.lm_head = nn.Linear(width, config.vocab_size, bias=False)
        self.post_init()

    def get_input_embeddings(self) -> nn.Embedding:
        return self.model.embed_tokens

    def set_input_embeddings(self, value: nn.Embedding) -> None:
        self.model.embed_tokens = value

    def get_output_embeddings(self) -> nn.Linear:
        return self.lm_head

    def _prepare_cache_for_generation(self, generation_config, model_kwargs, *args, **kwargs) -> None:
        """Start `generate()` from a `GeoCache` (HF would make a plain `DynamicCache`, losing part state)."""
        if (
            model_kwargs.get(CACHE_KWARG) is None
            and generation_config.use_cache is not False
            and generation_config.cache_implementation is None
        ):
            model_kwargs[CACHE_KWARG] = self.model.new_cache()
        return super()._prepare_cache_for_generation(generation_config, model_kwargs, *args, **kwargs)

    def set_output_embeddings(self, value: nn.Linear) -> None:
        self.lm_head = value

    def prepare_inputs_for_generation(
        self,
        input_ids: torch.LongTensor,
        attention_mask: torch.Tensor | None = None,
        inputs_embeds: torch.Tensor | None = None,
        **kwargs: Any,
    ) -> dict[str, Any]:
        """HF's inputs, and `output_aux=False`: `generate()` reads no auxiliary loss or statistic, so the parts
        skip computing them (for a mixture of experts, about a tenth of a decoding step). The mask and embeddings
        are named, as in HF's signature, which `generate()` reads to check its arguments."""
        inputs = super().prepare_inputs_for_generation(
            input_ids, attention_mask=attention_mask, inputs_embeds=inputs_embeds, **kwargs
        )
        inputs.setdefault("output_aux", False)
        return inputs

    def forward(
        self,
        input_ids: torch.LongTensor | None = None,
        attention_mask: torch.Tensor | None = None,
        position_ids: torch.LongTensor | None = None,
        cache: Cache | None = None,
        inputs_embeds: torch.Tensor | None = None,
        labels: torch.LongTensor | None = None,
        use_cache: bool | None = None,
        output_hidden_states: bool | None = None,
        logits_to_keep: int = 0,
        past_key_values: Cache | None = None,
        output_aux: bool = True,
        **kwargs: Any,
    ) -> GeoCausalLMOutput:
        """`labels` are the inputs themselves (shifted inside); -100 marks tokens that carry no loss.

        The cache comes as `cache` (transformers 5.24 on) or `past_key_values` (earlier), never both.
        """
        out = self.model(
            input_ids=input_ids,
            attention_mask=attention_mask,
            position_ids=position_ids,
            cache=given_cache(cache, past_key_values),
            inputs_embeds=inputs_embeds,
            use_cache=use_cache,
            output_hidden_states=output_hidden_states,
            output_aux=output_aux,
        )
        hidden = out.last_hidden_state
        if logits_to_keep:
            hidden = hidden[:, -logits_to_keep:]
        if self.head_proj is not None:
            hidden = self.head_proj(hidden)
        logits = self.lm_head(hidden)
        loss = None
        if labels is not None:
            loss = causal_lm_loss(logits, labels, kwargs.get("num_items_in_batch"))
        return GeoCausalLMOutput(
            loss=loss,
            logits=logits,
            hidden_states=out.hidden_states,
            aux_loss=weighted_aux_loss(out.aux_losses, self.default_loss_weights()),
            aux_losses=out.aux_losses,
            part_stats=out.part_stats,
            router_logits=out.router_logits,
            **{CACHE_KWARG: getattr(out, CACHE_KWARG)},
        )


def weighted_aux_loss(aux_losses: Mapping[str, torch.Tensor], weights: Mapping[str, float]) -> torch.Tensor | None:
    """Sum of the auxiliary losses at `weights`, or None when the parts added none."""
    if not aux_losses:
        return None
    undeclared = sorted(set(aux_losses) - set(weights))
    if undeclared:
        raise ValueError(f"auxiliary loss(es) {undeclared} were added but no part declares them in aux_loss_weights")
    return sum(weights[name] * value for name, value in aux_losses.items())


def causal_lm_loss(
    logits: torch.Tensor, labels: torch.Tensor, num_items_in_batch: torch.Tensor | int | None = None
) -> torch.Tensor:
    """Next-token cross-entropy in float32; `num_items_in_batch` makes accumulated steps average per token."""
    shift_logits = logits[:, :-1].float().reshape(-1, logits.shape[-1])
    shift_labels = labels[:, 1:].reshape(-1).to(logits.device)
    if num_items_in_batch is None:
        return F.cross_entropy(shift_logits, shift_labels, ignore_index=-100)
    return F.cross_entropy(shift_logits, shift_labels, ignore_index=-100, reduction="sum") / num_items_in_batch


class GeoEncoderHead(GeoPreTrainedModel):
    """A bidirectional encoder and a linear `score` head; subclasses say what the head reads and how it is scored."""

    def __init__(self, config: GeoConfig) -> None:
        super().__init__(config)
        self.num_labels = config.num_labels
        self.model = GeoModel(config, causal=False)
        self.score = nn.Linear(config.hidden_size, config.num_labels, bias=False)
        self.post_init()

    def forward(
        self,
        input_ids: torch.LongTensor | None = None,
        attention_mask: torch.Tensor | None = None,
        inputs_embeds: torch.Tensor | None = None,
        labels: torch.LongTensor | None = None,
        output_hidden_states: bool | None = None,
        **kwargs: Any,
    ):
        out = self.model(
            input_ids=input_ids,
            attention_mask=attention_mask,
            inputs_embeds=inputs_embeds,
            output_hidden_states=output_hidden_states,
        )
        logits = self.score(self.head_input(out.last_hidden_state, attention_mask))
        loss = self.loss(logits, labels) if labels is not None else None
        return self.output_class(loss=loss, logits=logits, hidden_states=out.hidden_states)


class GeoForSequenceClassification(GeoEncoderHead):
    """Encoder pooled (mean over real tokens, or the last real token) into one prediction per sequence.

    One label means regression (MSE); more labels mean single-label classification (cross-entropy).
    """

    output_class = SequenceClassifierOutput

    def head_input(self, hidden: torch.Tensor, attention_mask: torch.Tensor | None) -> torch.Tensor:
        return pool(hidden, attention_mask, self.config.classifier_pooling)

    def loss(self, logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        if self.num_labels == 1:
            return F.mse_loss(logits.squeeze(-1).float(), labels.float())
        return F.cross_entropy(logits.float(), labels.reshape(-1))


def pool(hidden: torch.Tensor, attention_mask: torch.Tensor | None, how: str) -> torch.Tensor:
    """Mean over non-padding positions, or the last non-padding position (right padding assumed)."""
    if attention_mask is None:
        return hidden.mean(1) if how == "mean" else hidden[:, -1]
    mask = attention_mask.to(hidden.dtype)
    if how == "mean":
        return (hidden * mask[..., None]).sum(1) / mask.sum(1, keepdim=True).clamp(min=1)
    last = (attention_mask.long().sum(1) - 1).clamp(min=0)
    return hidden[torch.arange(hidden.shape[0], device=hidden.device), last]


class GeoForTokenClassification(GeoEncoderHead):
    """Encoder with a per-token head (tagging tasks such as NER); labels of -100 carry no loss."""

    output_class = TokenClassifierOutput

    def head_input(self, hidden: torch.Tensor, attention_mask: torch.Tensor | None) -> torch.Tensor:
        return hidden

    def loss(self, logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        return F.cross_entropy(logits.float().view(-1, self.num_labels), labels.reshape(-1), ignore_index=-100)
