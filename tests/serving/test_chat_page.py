"""`geolm ui` in a real headless browser: type a question, see the model's own answer appear."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from chat_page_browser import ask, browser_paths, chat_page, headless_browser
from geolm import GeoConfig, GeoForCausalLM
from geolm.inference import SamplingOptions, render_chat
from geolm.serving.chat_page import ChatResponder
from geolm.testing import full_forward_greedy

needs_browser = pytest.mark.skipif(
    browser_paths() is None, reason="no Chromium with chromedriver installed (make install adds Debian's)"
)
WORD = " the"


def one_word_model(tokenizer, path: Path) -> GeoForCausalLM:
    """A model that answers everything with one word, repeated: readable on the page, and still the model's own
    output (every projection is zero, every token embeds to one vector, and only that word's head row sees it)."""
    config = GeoConfig.from_preset("llama-tiny", vocab_size=len(tokenizer), tie_word_embeddings=False)
    model = GeoForCausalLM(config)
    direction = torch.randn(config.hidden_size, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        for name, param in model.named_parameters():
            if "norm" not in name:
                param.zero_()
        model.model.embed_tokens.weight.copy_(direction.expand_as(model.model.embed_tokens.weight))
        model.lm_head.weight[tokenizer.convert_tokens_to_ids(tokenizer.tokenize(WORD))[0]] = direction
    model.save_pretrained(path)
    tokenizer.save_pretrained(path)
    return model.eval()


@needs_browser
def test_a_question_typed_in_the_page_gets_the_models_answer(tokenizer, tmp_path: Path) -> None:
    model = one_word_model(tokenizer, tmp_path / "model")
    question = "What is a cat?"
    prompt = render_chat(tokenizer, [{"role": "user", "content": question}], add_generation_prompt=True)
    expected = tokenizer.decode(full_forward_greedy(model, prompt, 6), skip_special_tokens=True).strip()
    assert expected.split() == ["the"] * 6
    flags = ("--greedy", "--repetition-penalty", "1.0", "--max-new-tokens", "6")
    with chat_page(tmp_path / "model", *flags) as url, headless_browser() as driver:
        answer = ask(driver, url, question)
        driver.save_screenshot(str(tmp_path / "page.png"))
        page = driver.page_source
    assert answer.strip() == expected
    assert question in page and "temperature (0: greedy)" in page  # the question echoed, the settings offered
    assert (tmp_path / "page.png").stat().st_size > 0


def test_coordinate_models_show_their_uncertainty_under_each_answer(tokenizer) -> None:
    torch.manual_seed(0)
    config = GeoConfig.from_preset("geometric-llama-tiny", vocab_size=len(tokenizer), pad_token_id=0, eos_token_id=2)
    model = GeoForCausalLM(config).eval()
    responder = ChatResponder(model, tokenizer, SamplingOptions(max_new_tokens=5, repetition_penalty=1.0))
    history = [{"role": "user", "content": [{"type": "text", "text": "hello"}]}, {"role": "assistant", "content": "hi"}]
    shown = list(responder.respond("What is a cat?", history, 0.0, 0.9, 5))
    assert len(shown) >= 2 and shown[-1].startswith(shown[-2])  # the answer grew, then the line came under it
    label, values = shown[-1].rsplit("\n\n", 1)[1].split(":* ")
    assert label == "*coordinate uncertainty per token"
    assert len(values.split()) == 5 and all(float(v) >= 0 for v in values.split())


def test_models_without_per_token_statistics_show_the_answer_alone(tokenizer) -> None:
    torch.manual_seed(0)
    config = GeoConfig.from_preset("llama-tiny", vocab_size=len(tokenizer), pad_token_id=0, eos_token_id=2)
    responder = ChatResponder(GeoForCausalLM(config).eval(), tokenizer, SamplingOptions(max_new_tokens=4))
    shown = list(responder.respond("What is a cat?", [], 0.0, 0.9, 4))
    assert "uncertainty" not in shown[-1]
