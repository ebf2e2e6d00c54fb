"""The shipped corpus: it loads offline, its held-out split never reaches training, generation is seeded."""

from __future__ import annotations

import itertools
import operator

from geolm.data.corpus import corpus_documents, dialogues, heldout_questions, minimal_pairs, reasoning_items
from geolm.data.dialogues import generate_dialogues
from geolm.data.glossary import glossary_entries
from geolm.data.lexicon import CORPUS_FILE, EMBEDDED_DIR, is_heldout, load_lexicon
from geolm.data.pairs import generate_pairs
from geolm.data.prepare import prepare_lm_data
from geolm.data.reasoning import generate_reasoning


def test_shipped_corpus_loads_and_keeps_wordnet_facts():
    assert CORPUS_FILE.stat().st_size < 10_000_000
    assert "Princeton University" in (EMBEDDED_DIR / "LICENSE-WordNet.txt").read_text()
    lexicon = load_lexicon()
    assert len(lexicon.synsets) == 117_659  # every WordNet 3.0 synset
    heron = lexicon.by_id["02008041-n"]
    assert heron.lemmas == ["heron"] and heron.lexname == "noun.animal"
    assert lexicon.by_id[heron.hypernyms[0]].lemmas[0] == "wading bird"
    assert 0.015 < sum(is_heldout(s.id) for s in lexicon.synsets) / len(lexicon.synsets) < 0.025


def test_heldout_synsets_never_reach_training():
    lexicon = load_lexicon()
    heldout = {s.id for s in lexicon.synsets if is_heldout(s.id)}
    generators = (
        glossary_entries(lexicon),
        generate_dialogues(lexicon),
        generate_reasoning(lexicon),
        generate_pairs(lexicon),
    )
    seen_heldout = 0
    for _, keys in itertools.chain(*generators):
        seen_heldout += bool(heldout.intersection(keys))
    assert seen_heldout > 0
    train_text = "\n".join(
        d if isinstance(d, str) else str(d) for docs in corpus_documents("train").values() for d in docs
    )
    questions = heldout_questions(5)
    assert len(questions) == 5 and all(q["synset"] in heldout for q in questions)
    for question in questions:
        assert question["answer"] not in train_text
        assert question["messages"] == [{"role": "user", "content": question["question"]}]
    heldout_text = "\n".join(str(d) for docs in corpus_documents("heldout").values() for d in docs)
    assert all(q["answer"] in heldout_text for q in questions)


def test_generators_are_deterministic_and_seeded():
    assert list(itertools.islice(dialogues("train", seed=0), 50)) == list(itertools.islice(dialogues("train", 0), 50))
    assert list(itertools.islice(dialogues("train", seed=0), 50)) != list(itertools.islice(dialogues("train", 1), 50))
    items = list(itertools.islice(reasoning_items("heldout"), 400))
    assert {item["kind"] for item in items} >= {"syllogism"}
    syllogism = next(item for item in items if item["kind"] == "syllogism")
    assert syllogism["text"].startswith("Question: Is ") and syllogism["answer"] == "Yes."
    pairs = list(minimal_pairs("train"))
    assert {kind for _, _, kind in pairs} == {"number", "tense", "register"}
    assert all(a != b for a, b, _ in pairs)
    arithmetic = [i for i in reasoning_items("train") if i["kind"] == "arithmetic"]
    operations = {"+": operator.add, "-": operator.sub, "×": operator.mul}
    for item in arithmetic[:200]:
        a, op, b = item["question"].removeprefix("What is ").rstrip("?").split()
        assert str(operations[op](int(a), int(b))) == item["answer"]
        assert item["steps"][-1].endswith(f"= {item['answer']}.")


def test_embedded_prepare_with_budget(tokenizer):
    train, validation = prepare_lm_data(None, tokenizer, 64, max_train_tokens=5_000)
    assert train.input_ids.shape == (79, 64)
    assert len(validation) > 100 and validation.num_loss_tokens > 0
    assert 0 < train.num_loss_tokens < 5_000
