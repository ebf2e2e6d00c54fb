"""lm-evaluation-harness tasks built from the embedded WordNet corpus, held-out items only.

Every item comes from the corpus's fixed held-out 2% (synsets, minimal pairs and reasoning items that
training never sees), so a score measures what a model learned, not what it memorised:

- `wordnet_hypernym`: "A heron is a kind of" -> the synset's hypernym among four names (log-likelihood);
- `wordnet_definition`: "<gloss> is called" -> the word among four held-out words;
- `wordnet_agreement`: minimal pairs of subject-verb agreement ("The pythons are boas." against "The pythons
  is boas."), the grammatical one should be likelier, as in BLiMP;
- `wordnet_arithmetic`: the corpus's held-out arithmetic and word problems whose question is not also a
  training question, answered by greedy generation and scored by exact match of the number after "Answer:".

`write_tasks(directory)` writes one JSONL of items and one task YAML per task, all tagged `geolm_wordnet`, so
`TaskManager(include_path=directory)` finds them; the items are the same on every machine (seeded choices).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from geolm.data.corpus import minimal_pairs, reasoning_items
from geolm.data.lexicon import Lexicon, is_heldout, item_rng, load_lexicon
from geolm.data.morphology import with_article
from geolm.files import write_atomic

TAG = "geolm_wordnet"
CHOICES = 4
ARITHMETIC_KINDS = ("arithmetic", "word_problem")


def _multiple_choice(context: str, correct: str, wrong: list[str], key: str, seed: int) -> dict[str, Any]:
    """An item whose correct choice sits at a seeded position among the wrong ones; `id` names its synset."""
    choices = [*wrong]
    label = item_rng(seed, key).randrange(len(choices) + 1)
    choices.insert(label, correct)
    return {"id": key, "context": context, "choices": choices, "label": label}


def _heldout_nouns(lexicon: Lexicon) -> list:
    return [
        s
        for s in lexicon.synsets
        if s.pos == "noun" and is_heldout(s.id) and lexicon.askable(s) and not s.instance and lexicon.hypernym(s)
    ]


def hypernym_items(seed: int = 0) -> list[dict[str, Any]]:
    lexicon = load_lexicon()
    nouns = _heldout_nouns(lexicon)
    items = []
    for synset in nouns:
        parent = lexicon.name(lexicon.hypernym(synset)).replace("_", " ")
        rng = item_rng(seed, f"hypernym-wrong-{synset.id}")
        pool = [lexicon.name(lexicon.hypernym(s)).replace("_", " ") for s in nouns if s.lexname != synset.lexname]
        wrong = list(dict.fromkeys(p for p in rng.sample(pool, min(len(pool), 12)) if p != parent))[: CHOICES - 1]
        if len(wrong) < CHOICES - 1:
            continue
        subject = with_article(lexicon.name(synset).replace("_", " "))
        context = f"{subject[:1].upper()}{subject[1:]} is a kind of"
        items.append(_multiple_choice(context, f" {parent}", [f" {w}" for w in wrong], synset.id, seed))
    return items


def definition_items(seed: int = 0) -> list[dict[str, Any]]:
    lexicon = load_lexicon()
    nouns = _heldout_nouns(lexicon)
    names = [lexicon.name(s).replace("_", " ") for s in nouns]
    items = []
    for synset, name in zip(nouns, names, strict=True):
        rng = item_rng(seed, f"definition-wrong-{synset.id}")
        wrong = [w for w in dict.fromkeys(rng.sample(names, min(len(names), 8))) if w != name][: CHOICES - 1]
        gloss = synset.gloss.rstrip(".").split(";")[0]
        context = f"{gloss[:1].upper()}{gloss[1:]} is called"
        choices = [f" {with_article(w)}" for w in wrong]
        items.append(_multiple_choice(context, f" {with_article(name)}", choices, synset.id, seed))
    return items


def agreement_items(seed: int = 0) -> list[dict[str, Any]]:
    """From each held-out number pair, the singular and the plural sentence against their copula swapped."""
    items = []
    for singular, plural_sentence, kind in minimal_pairs("heldout", seed):
        if kind != "number":
            continue
        for good, wrong, right in ((singular, " are ", " is "), (plural_sentence, " is ", " are ")):
            if good.count(right) == 1:
                items.append({"context": "", "choices": [good, good.replace(right, wrong)], "label": 0})
    return items


def arithmetic_items(seed: int = 0) -> list[dict[str, Any]]:
    """Held-out arithmetic and word problems whose question training never shows (the corpus's held-out
    arithmetic repeats many training questions, "What is 23 × 2?" among them: those are left out)."""
    trained = {item["question"] for item in reasoning_items("train", seed)}
    return [
        {"question": item["question"], "answer": item["answer"].split()[0].rstrip(".")}
        for item in reasoning_items("heldout", seed)
        if item["kind"] in ARITHMETIC_KINDS and item["question"] not in trained
    ]


MULTIPLE_CHOICE = {
    "output_type": "multiple_choice",
    "doc_to_text": "{{context}}",
    "doc_to_choice": "{{choices}}",
    "doc_to_target": "{{label}}",
    "metric_list": [
        {"metric": "acc", "aggregation": "mean", "higher_is_better": True},
        {"metric": "acc_norm", "aggregation": "mean", "higher_is_better": True},
    ],
}
GENERATED_NUMBER = {
    "output_type": "generate_until",
    "doc_to_text": "Question: {{question}}\n",
    "doc_to_target": "{{answer}}",
    "generation_kwargs": {"until": ["\nQuestion:", "\n\n"], "do_sample": False, "max_gen_toks": 64},
    "filter_list": [
        {
            "name": "answer",
            "filter": [{"function": "regex", "regex_pattern": r"Answer: (-?\d+)"}, {"function": "take_first"}],
        }
    ],
    "metric_list": [{"metric": "exact_match", "aggregation": "mean", "higher_is_better": True}],
}
TASKS: dict[str, tuple[Callable[[int], list[dict]], dict[str, Any]]] = {
    "wordnet_hypernym": (hypernym_items, MULTIPLE_CHOICE),
    "wordnet_definition": (definition_items, MULTIPLE_CHOICE),
    "wordnet_agreement": (agreement_items, MULTIPLE_CHOICE),
    "wordnet_arithmetic": (arithmetic_items, GENERATED_NUMBER),
}
# The number to quote of each task, as lm-eval keys it: raw accuracy (a minimal pair's two sentences differ in
# length, so the length-normalised `acc_norm` shifts the choice), and exact match after the number filter.
HEADLINE_METRICS = {
    "wordnet_hypernym": "acc,none",
    "wordnet_definition": "acc,none",
    "wordnet_agreement": "acc,none",
    "wordnet_arithmetic": "exact_match,answer",
}


def task_config(name: str, data_file: Path) -> dict[str, Any]:
    """The lm-eval task config of `name`, reading its items from `data_file` (JSON lines)."""
    return {
        "task": name,
        "tag": [TAG],
        "dataset_path": "json",
        "dataset_kwargs": {"data_files": {"test": str(data_file.resolve())}},
        "test_split": "test",
        **TASKS[name][1],
        "metadata": {"version": 1.0},
    }


def write_tasks(directory: Path, seed: int = 0) -> Path:
    """Write every task's items (NAME.jsonl) and config (NAME.yaml) into `directory`; return it."""
    directory.mkdir(parents=True, exist_ok=True)
    for name, (build, _) in TASKS.items():
        data = directory / f"{name}.jsonl"
        lines = "".join(json.dumps(item, ensure_ascii=False) + "\n" for item in build(seed))
        write_atomic(data, lambda temp, lines=lines: temp.write_text(lines, encoding="utf-8"))
        config = json.dumps(task_config(name, data), indent=2, ensure_ascii=False)  # JSON is YAML
        write_atomic(directory / f"{name}.yaml", lambda temp, config=config: temp.write_text(config + "\n"))
    return directory
