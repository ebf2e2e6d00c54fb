"""The three-phase curriculum: its phases, segment coordinates, the loss terms, and a short training run."""

from __future__ import annotations

import itertools
import json
import math
from pathlib import Path

import pytest
import torch

from geolm.config import GeoConfig
from geolm.coordinate.curriculum import coordinate_curriculum, coordinate_sources, encode_parts, pack_whole
from geolm.coordinate.losses import (
    CONTRASTIVE,
    INTERFERENCE,
    TEMPORAL,
    contrastive_loss,
    interference_loss,
    temporal_loss,
)
from geolm.coordinate.scan import causal_ema
from geolm.coordinate.segments import Segments, batch_segments, segment_coordinates, segment_mask
from geolm.data.corpus import corpus_texts
from geolm.data.tokenizer import train_tokenizer
from geolm.errors import ConfigError
from geolm.modeling import GeoForCausalLM
from geolm.training import LOSSES, TrainArgs, train

BLOCK = 128


@pytest.fixture(scope="module")
def tokenizer():
    return train_tokenizer(itertools.islice(corpus_texts("train"), 400), 300)


@pytest.fixture(scope="module")
def sources(tokenizer):
    return coordinate_sources(tokenizer, BLOCK, seed=0, max_documents=60)


def tiny_model(tokenizer) -> GeoForCausalLM:
    torch.manual_seed(0)
    ids = {k: getattr(tokenizer, k) for k in ("bos_token_id", "eos_token_id", "pad_token_id")}
    return GeoForCausalLM(GeoConfig.from_preset("geometric-llama-tiny", vocab_size=len(tokenizer), **ids))


def test_three_phases_with_boundaries_losses_and_learning_rates(tokenizer) -> None:
    plan = coordinate_curriculum()
    assert [p.name for p in plan.phases] == [
        "primitive_differentiation",
        "compositional_blending",
        "conversational_dynamics",
    ]
    assert plan.ends(1000) == [200, 600, 1000] and plan.ends(10) == [2, 6, 10]
    assert [p.losses for p in plan.phases] == [
        {"lm": 1.0, CONTRASTIVE: 0.5},
        {"lm": 1.0, INTERFERENCE: 0.1},
        {"lm": 1.0, TEMPORAL: 0.1},
    ]
    assert [p.mixture for p in plan.phases] == [
        {"pairs": 1.0},
        {"blend": 0.7, "train": 0.3},
        {"dialogue": 0.7, "train": 0.3},
    ]
    assert all(p.lr_mult["coordinates"] * 3e-4 == pytest.approx(1e-3) for p in plan.phases)
    names = [n for n, _ in tiny_model(tokenizer).named_parameters()]
    coordinate = {n for n in names if plan.group_of(n) == "coordinates"}
    assert coordinate == {n for n in names if ".modulation." in n} and len(coordinate) > 10
    assert plan.group_of("model.layers.0.self_attn.q_proj.weight") == "default"
    assert [p.mixture for p in coordinate_curriculum(corpus_share=0).phases][1:] == [
        {"blend": 1.0},
        {"dialogue": 1.0},
    ]
    with pytest.raises(ConfigError, match="boundaries"):
        coordinate_curriculum((0.6, 0.2))


def test_segment_coordinates_equal_a_scan_restarted_at_each_segment() -> None:
    torch.manual_seed(1)
    decay = 0.9
    # <s> a a a \n b b </s> <s> c c c c : segments (1..3), (5..6), (10..13); `\n` (id 9) carries no loss.
    ids = torch.tensor([[1, 20, 21, 22, 9, 23, 24, 2, 1, 25, 26, 27, 28]])
    labels = ids.clone()
    labels[0, [0, 4, 8]] = -100
    theta = torch.randn(1, 13, 5)
    context = causal_ema(theta, decay)
    mask = segment_mask(ids, labels, [1, 2, 0])
    found = segment_coordinates(context, mask, (ids == 1).long().cumsum(1), decay)
    expected = []
    for start, end in ((1, 3), (5, 6), (9, 12)):
        alone = causal_ema(theta[:, start : end + 1], decay)[0, -1]
        expected.append(alone / (1 - decay ** (end - start + 1)))
    torch.testing.assert_close(found.coordinates, torch.stack(expected), rtol=1e-5, atol=1e-6)
    assert found.document.tolist()[0] == found.document.tolist()[1] != found.document.tolist()[2]
    assert found.per_document().tolist() == [2, 2, 1]


def test_loss_values_on_known_segments() -> None:
    a = torch.tensor([1.0, 0.0, 0.0])
    same = Segments(torch.stack([a, a]), torch.tensor([0, 0]))
    assert float(contrastive_loss(same)) == pytest.approx(1.0)  # identical pair: the whole margin
    opposite = Segments(torch.stack([a, -a]), torch.tensor([0, 0]))
    assert float(contrastive_loss(opposite)) == 0.0  # relative distance 2 > margin
    three = Segments(torch.stack([a, -a, a]), torch.tensor([0, 0, 0]))
    assert float(contrastive_loss(three)) == 0.0  # not a pair: three segments in one document
    assert float(temporal_loss(same)) == 0.0
    jumps = Segments(torch.tensor([[1.0, 0.0], [0.0, 1.0], [5.0, 5.0]]), torch.tensor([0, 0, 1]))
    spread = (jumps.coordinates - jumps.coordinates.mean(0)).pow(2).sum(-1).mean()
    assert float(temporal_loss(jumps)) == pytest.approx(2.0 / float(spread))
    parallel = Segments(torch.tensor([[2.0, 0.0], [3.0, 0.0], [-5.0, 0.0]]), torch.tensor([0, 0, 1]))
    assert float(interference_loss(parallel)) == pytest.approx(1.0)
    orthogonal = Segments(torch.tensor([[1.0, 0.0], [0.0, 1.0], [-1.0, -1.0]]), torch.tensor([0, 0, 1]))
    assert float(interference_loss(orthogonal)) == pytest.approx(0.0, abs=1e-12)
    lone = Segments(torch.tensor([[1.0, 2.0]]), torch.tensor([0]))
    assert [float(f(lone)) for f in (contrastive_loss, interference_loss, temporal_loss)] == [0.0, 0.0, 0.0]


def test_sources_hold_whole_documents_split_into_their_parts(tokenizer, sources) -> None:
    assert set(sources) == {"pairs", "blend", "dialogue"}
    assert all(blocks.block_size == BLOCK for blocks in sources.values())
    pairs = sources["pairs"]
    assert bool((pairs.input_ids[:, 0] == tokenizer.bos_token_id).all())
    model = tiny_model(tokenizer)
    found = batch_segments(model, {"input_ids": pairs.input_ids, "labels": pairs.labels})
    assert found.per_document().unique().tolist() == [2]  # every pair document: exactly two sentences
    first = pairs.input_ids[0, : int((pairs.input_ids[0] == tokenizer.eos_token_id).nonzero()[0]) + 1]
    a, b = tokenizer.decode(first, skip_special_tokens=True).split("\n")
    assert a and b and a != b
    blend = batch_segments(model, {"input_ids": sources["blend"].input_ids, "labels": sources["blend"].labels})
    assert blend.per_document().float().mean() > 2  # multi-fact items
    ids, labels = next(encode_parts(tokenizer, [["One fact.", "Another fact."]]))
    assert tokenizer.decode(ids) == "<s>One fact.\nAnother fact.</s>"
    assert ids == [
        tokenizer.bos_token_id,
        *tokenizer("One fact.\nAnother fact.").input_ids[1:],
        tokenizer.eos_token_id,
    ]
    assert labels.count(-100) == 2  # the leading <s> and the joining newline
    packed = pack_whole([([1, 5, 6, 2], [-100, 5, 6, 2])] * 3 + [(list(range(10, 20)), list(range(10, 20)))], 9, 0)
    assert packed.input_ids.tolist() == [
        [1, 5, 6, 2, 1, 5, 6, 2, 0],
        [1, 5, 6, 2, 0, 0, 0, 0, 0],
        list(range(10, 19)),
        [19, 0, 0, 0, 0, 0, 0, 0, 0],
    ]


@pytest.mark.parametrize(("source", "term"), [("pairs", CONTRASTIVE), ("blend", INTERFERENCE), ("dialogue", TEMPORAL)])
def test_each_term_is_a_finite_scalar_with_gradient_to_the_coordinates(tokenizer, sources, source, term) -> None:
    model = tiny_model(tokenizer)
    blocks = sources[source]
    batch = {"input_ids": blocks.input_ids[:4], "labels": blocks.labels[:4]}
    value = LOSSES.get(term)(model, batch, None)
    assert value.shape == () and math.isfinite(float(value.detach())) and float(value.detach()) > 0
    value.backward()
    predictor = model.model.modulation.predictor
    assert float(predictor.fc_out.weight.grad.abs().sum()) > 0


def test_training_switches_loss_terms_at_the_phase_boundaries(tokenizer, sources, tmp_path: Path) -> None:
    model = tiny_model(tokenizer)
    args = TrainArgs(steps=10, batch_size=2, lr=1e-3, warmup_steps=1, eval_every=0, save_every=0, log_every=1)
    result = train(model, sources, None, args, tmp_path / "run", curriculum=coordinate_curriculum(corpus_share=0))
    assert result.step == 10 and result.skipped_steps == 0
    records = [json.loads(line) for line in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    events = [(r["step"], r["phase"]) for r in records if r.get("event") == "phase"]
    assert events == [
        (0, "primitive_differentiation"),
        (2, "compositional_blending"),
        (6, "conversational_dynamics"),
    ]
    terms = {r["step"]: sorted(k for k in r if k.startswith("loss/")) for r in records if "loss" in r}
    assert terms[1] == terms[2] == ["loss/coordinate_contrastive", "loss/lm"]
    assert all(terms[s] == ["loss/coordinate_interference", "loss/lm"] for s in (3, 4, 5, 6))
    assert all(terms[s] == ["loss/coordinate_temporal", "loss/lm"] for s in (7, 8, 9, 10))
    for record in records:
        if "loss" in record:
            extra = sum(v for k, v in record.items() if k.startswith("loss/coordinate"))
            weight = {"loss/coordinate_contrastive": 0.5}.get(
                next(k for k in record if k.startswith("loss/coordinate")), 0.1
            )
            assert record["loss"] == pytest.approx(record["loss/lm"] + weight * extra, rel=1e-5)


def test_token_texts_are_decoded_text_not_byte_level_markers(tokenizer) -> None:
    from geolm.coordinate.analysis import token_texts

    ids = tokenizer("A heron is a wading bird.", add_special_tokens=False).input_ids
    texts = token_texts(tokenizer, ids)
    assert "".join(texts) == "A heron is a wading bird."
    assert not any("Ġ" in t for t in texts) and any("Ġ" in t for t in tokenizer.convert_ids_to_tokens(ids))
