import pytest
import torch
from transformers.generation.logits_process import TopPLogitsWarper

from geolm.coordinate.analysis import prompt_coordinates
from geolm.coordinate.decoding import AdaptiveDecodingProcessor, adaptive_generate
from geolm.coordinate.modulation import UNCERTAINTY
from geolm.errors import InputError
from geolm.nn.stats import InferenceStats
from geolm.testing import full_forward_greedy


def test_processor_keeps_the_argmax_below_and_the_nucleus_above_the_threshold() -> None:
    stats = InferenceStats()
    stats.observe({UNCERTAINTY: torch.tensor([[0.5, 0.1], [0.0, 0.3], [0.9, 0.2]])})  # the newest token decides
    scores = torch.randn(3, 50)
    processor = AdaptiveDecodingProcessor(stats, threshold=0.2, top_p=0.92)
    out = processor(torch.zeros(3, 1, dtype=torch.long), scores.clone())
    for row in (0, 2):  # at or below the threshold: only the best token survives
        assert torch.isfinite(out[row]).sum() == 1 and out[row].argmax() == scores[row].argmax()
    nucleus = TopPLogitsWarper(0.92)(torch.zeros(1, 1, dtype=torch.long), scores[1:2].clone())[0]
    assert torch.equal(out[1], nucleus) and torch.isfinite(out[1]).sum() > 1
    assert processor.explored[0].tolist() == [False, True, False]


@torch.no_grad()
def test_greedy_below_and_sampling_above_the_threshold(make_tiny) -> None:
    model = make_tiny()
    prompt = torch.randint(3, 512, (2, 4))
    model.generation_config.eos_token_id = None  # keep all rows going for the whole length
    greedy = model.generate(prompt, max_new_tokens=8, do_sample=False, pad_token_id=0)
    for row in range(2):  # the reference is a full forward per token, not another generate()
        assert greedy[row, 4:].tolist() == full_forward_greedy(model, prompt[row].tolist(), 8)
    calm = adaptive_generate(model, prompt, max_new_tokens=8, threshold=1e9, seed=1)
    assert torch.equal(calm.sequences, greedy) and not calm.explored.any()

    wild = [adaptive_generate(model, prompt, max_new_tokens=8, threshold=0.0, seed=s) for s in (1, 2)]
    assert all(w.explored.all() for w in wild)
    assert not torch.equal(wild[0].sequences, wild[1].sequences)  # sampled, so seeds matter
    assert not torch.equal(wild[0].sequences, greedy)

    # The uncertainty read at each step is that of the newest token, as a full forward computes it.
    for step in range(8):
        length = prompt.shape[1] + step
        expected = prompt_coordinates(model, wild[0].sequences[:, :length])["uncertainty"][:, -1]
        torch.testing.assert_close(wild[0].uncertainty[:, step], expected, atol=1e-6, rtol=1e-5)


def test_refined_prompt_generation_and_input_errors(make_tiny) -> None:
    model = make_tiny()
    model.generation_config.eos_token_id = None
    out = adaptive_generate(model, [5, 6, 7, 8], max_new_tokens=4, threshold=1e9, refinement_steps=2)
    assert out.sequences.shape == (1, 8) and out.sequences[0, :4].tolist() == [5, 6, 7, 8]
    with pytest.raises(InputError, match="needs a tokenizer"):
        adaptive_generate(model, "hello")
    with pytest.raises(InputError, match="top_p"):
        adaptive_generate(model, [5, 6], top_p=0.0)
