"""The suite's four tasks, built offline from the embedded WordNet, each a stand-in for a public benchmark.

- `lexname` (SST-2-like single-sentence classification): a noun gloss -> its lexicographer category,
  among the most frequent noun categories, balanced so chance is 1/number of classes.
- `hypernymy` (MNLI-like inference): premise "This is a heron." and a hypothesis naming another concept.
  entailment: a hypernym of the premise's concept (every heron is a wading bird); neutral: a hyponym (a
  wading bird may or may not be a heron); contradiction: a co-hyponym (a heron is not an egret). A
  concept unrelated to the premise would be a contradiction in the world, not neutral, so the hyponym is
  the neutral case. Each premise concept appears with all three labels, so the premise alone tells
  nothing, and train and test premises are disjoint.
- `tagging` (NER-like BIO tagging): words of WordNet's example sentences that are the first lemma of a
  common noun sense get B-/I- tags of that sense's category (the most frequent categories only), all
  other words O. Scored by entity-level F1.
- `glosses` (language modelling): definition sentences; held-out perplexity.
Splits are seeded shuffles: the same seed gives the same items on every machine.
"""

from __future__ import annotations

import random
import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass

from geolm.data.lexicon import Lexicon, definition_sentence
from geolm.data.morphology import with_article
from geolm.data.wordnet import Synset
from geolm.errors import DataError

KINDS = ("classify", "tag", "lm")
METRICS = {"classify": "accuracy", "tag": "entity_f1", "lm": "perplexity"}
NLI_LABELS = ["entailment", "neutral", "contradiction"]
WORD = re.compile(r"\w+(?:[-']\w+)*|[^\w\s]")
MAX_ENTITY_WORDS = 3


@dataclass
class Example:
    """One item: a sentence (or a list of words for tagging), an optional second sentence, and its label(s)."""

    text: str | list[str]
    pair: str | None = None
    label: int | list[int] | None = None


@dataclass
class Task:
    """A named task: its kind ("classify", "tag" or "lm"), label names and train/test items."""

    name: str
    kind: str
    labels: list[str]
    train: list[Example]
    test: list[Example]
    description: str = ""
    source: str = "wordnet"

    @property
    def metric(self) -> str:
        return METRICS[self.kind]

    def texts(self) -> list[str]:
        """Every training sentence (for the tokenizer)."""
        out = []
        for example in self.train:
            out.append(" ".join(example.text) if isinstance(example.text, list) else example.text)
            if example.pair:
                out.append(example.pair)
        return out


def top_noun_lexnames(lexicon: Lexicon, count: int) -> list[str]:
    """The `count` most frequent noun categories (ties broken by name, so the order is stable)."""
    counts = Counter(s.lexname for s in lexicon.synsets if s.pos == "noun")
    return [name for name, _ in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:count]]


def split(items: list, n_test: int, seed: int) -> tuple[list, list]:
    """(train, test) after a seeded shuffle; test takes the first `n_test`."""
    items = list(items)
    random.Random(seed).shuffle(items)
    return items[n_test:], items[:n_test]


def lexname_task(lexicon: Lexicon, n_train: int, n_test: int, seed: int, classes: int = 10) -> Task:
    """Gloss -> noun category, the same number of glosses per category."""
    labels = top_noun_lexnames(lexicon, classes)
    per_train, per_test = max(1, n_train // len(labels)), max(1, n_test // len(labels))
    train, test = [], []
    for index, name in enumerate(labels):
        glosses = sorted({s.gloss for s in lexicon.synsets if s.pos == "noun" and s.lexname == name})
        rest, held = split(glosses, per_test, seed + index)
        train += [Example(g, label=index) for g in rest[:per_train]]
        test += [Example(g, label=index) for g in held]
    random.Random(seed).shuffle(train)
    description = f"noun gloss -> lexicographer category ({len(labels)} classes, balanced)"
    return Task("lexname", "classify", labels, train, test, description)


def hypernymy_task(lexicon: Lexicon, n_train: int, n_test: int, seed: int) -> Task:
    """Premise/hypothesis pairs from the noun hierarchy: hypernym, hyponym, co-hyponym (three per premise)."""
    premises = [s for s in lexicon.synsets if s.pos == "noun" and not s.instance and _triple(lexicon, s)]
    if not premises:
        raise DataError("the lexicon has no noun with a hypernym, a hyponym and a co-hyponym")
    rest, held = split(premises, max(1, n_test // 3), seed)
    rng = random.Random(seed)

    def pairs(synsets: list[Synset], limit: int) -> list[Example]:
        out = []
        for synset in synsets[: max(1, limit // 3)]:
            related = _triple(lexicon, synset)
            premise = f"This is {with_article(synset.lemmas[0])}."
            for label, choices in enumerate(related):
                other = lexicon.by_id[rng.choice(choices)]
                out.append(Example(premise, f"This is {with_article(other.lemmas[0])}.", label))
        return out

    train, test = pairs(rest, n_train), pairs(held, n_test)
    random.Random(seed).shuffle(train)
    description = "premise/hypothesis over the noun hierarchy: hypernym / hyponym / co-hyponym"
    return Task("hypernymy", "classify", list(NLI_LABELS), train, test, description)


def _triple(lexicon: Lexicon, synset: Synset) -> tuple[list[str], list[str], list[str]] | None:
    """(hypernyms, hyponyms, co-hyponyms) ids of a synset, or None when one of them is empty."""
    if not synset.hypernyms:
        return None
    names = {synset.lemmas[0].lower()}
    hyponyms = [h for h in lexicon.hyponyms.get(synset.id, []) if _distinct(lexicon, h, names)]
    parent = synset.hypernyms[0]
    siblings = [s for s in lexicon.hyponyms.get(parent, []) if s != synset.id and _distinct(lexicon, s, names)]
    hypernyms = [h for h in synset.hypernyms if h in lexicon.by_id and _distinct(lexicon, h, names)]
    return (hypernyms, hyponyms, siblings) if hypernyms and hyponyms and siblings else None


def _distinct(lexicon: Lexicon, synset_id: str, names: set[str]) -> bool:
    """A concept named differently from the premise (else the pair would read "a bank is a bank")."""
    other = lexicon.by_id.get(synset_id)
    return other is not None and other.lemmas[0].lower() not in names


def tagging_task(lexicon: Lexicon, n_train: int, n_test: int, seed: int, classes: int = 6) -> Task:
    """BIO tags of noun categories on the words of WordNet's example sentences."""
    categories = top_noun_lexnames(lexicon, classes)
    gazetteer = {}
    for synset in lexicon.common():
        name = synset.lemmas[0].lower()
        if synset.pos == "noun" and synset.lexname in categories and len(name.split()) <= MAX_ENTITY_WORDS:
            gazetteer.setdefault(tuple(name.split()), synset.lexname)
    labels = ["O"] + [f"{prefix}-{c.removeprefix('noun.')}" for c in categories for prefix in "BI"]
    sentences = sorted({e for s in lexicon.synsets for e in s.examples})
    tagged = [item for item in (tag_words(sentence, gazetteer, labels) for sentence in sentences) if item]
    if not tagged:
        raise DataError("no example sentence mentions a common noun of the tagged categories")
    rest, held = split(tagged, n_test, seed)
    description = f"BIO tags of {len(categories)} noun categories on example sentences"
    return Task("tagging", "tag", labels, rest[:n_train], held, description)


def tag_words(sentence: str, gazetteer: dict[tuple[str, ...], str], labels: list[str]) -> Example | None:
    """Words and tag ids of a sentence by longest match against the gazetteer; None when nothing matches."""
    words = WORD.findall(sentence)
    lowered = [w.lower() for w in words]
    tags = [0] * len(words)
    position = 0
    while position < len(words):
        for width in range(min(MAX_ENTITY_WORDS, len(words) - position), 0, -1):
            category = gazetteer.get(tuple(lowered[position : position + width]))
            if category is not None:
                kind = category.removeprefix("noun.")
                tags[position] = labels.index(f"B-{kind}")
                tags[position + 1 : position + width] = [labels.index(f"I-{kind}")] * (width - 1)
                position += width
                break
        else:
            position += 1
    return Example(words, label=tags) if any(tags) else None


def glosses_task(lexicon: Lexicon, n_train: int, n_test: int, seed: int) -> Task:
    """Definition sentences for language modelling."""
    rest, held = split([definition_sentence(s) for s in lexicon.synsets], n_test, seed)
    description = "definition sentences of every part of speech; held-out perplexity"
    return Task("glosses", "lm", [], [Example(t) for t in rest[:n_train]], [Example(t) for t in held], description)


BUILDERS: dict[str, Callable[[Lexicon, int, int, int], Task]] = {
    "lexname": lexname_task,
    "hypernymy": hypernymy_task,
    "tagging": tagging_task,
    "glosses": glosses_task,
}
