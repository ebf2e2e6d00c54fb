"""The WordNet-built tasks: labels mean what the docs say, splits are disjoint and seeded."""

from __future__ import annotations

from collections import Counter

from geolm.experiments.tasks import (
    NLI_LABELS,
    glosses_task,
    hypernymy_task,
    lexname_task,
    tag_words,
    tagging_task,
    top_noun_lexnames,
)


def test_top_noun_lexnames_orders_by_frequency(lexicon):
    assert top_noun_lexnames(lexicon, 2) == ["noun.animal", "noun.artifact"]


def test_lexname_task_is_balanced_and_labelled_by_category(lexicon):
    task = lexname_task(lexicon, n_train=6, n_test=3, seed=0, classes=3)
    assert task.labels == ["noun.animal", "noun.artifact", "noun.person"]
    assert Counter(e.label for e in task.test) == {0: 1, 1: 1, 2: 1}
    assert Counter(e.label for e in task.train) == {0: 2, 1: 2, 2: 2}
    glosses = {s.gloss: s.lexname for s in lexicon.synsets}
    for example in task.train + task.test:
        assert glosses[example.text] == task.labels[example.label]
    assert not {e.text for e in task.train} & {e.text for e in task.test}


def test_hypernymy_pairs_follow_the_hierarchy(lexicon):
    task = hypernymy_task(lexicon, n_train=30, n_test=3, seed=0)
    assert task.labels == NLI_LABELS
    expected = {  # premise concept -> (hypernyms, hyponyms, co-hyponyms)
        "heron": ({"bird"}, {"night heron", "grey heron"}, {"egret", "owl"}),
        "hammer": ({"tool"}, {"claw hammer", "sledge"}, {"saw", "chisel"}),
    }
    premises = Counter()
    for example in task.train + task.test:
        premise = example.text.removeprefix("This is a ").removesuffix(".")
        hypothesis = example.pair.removeprefix("This is an ").removeprefix("This is a ").removesuffix(".")
        assert hypothesis in expected[premise][example.label]
        premises[premise] += 1
    assert premises == {"heron": 3, "hammer": 3}  # all three labels per premise, nothing else qualifies
    assert {e.text for e in task.train}.isdisjoint({e.text for e in task.test})


def test_tag_words_uses_longest_match_and_bio():
    labels = ["O", "B-animal", "I-animal", "B-person", "I-person"]
    gazetteer = {("heron",): "noun.animal", ("night", "heron"): "noun.animal", ("farmer",): "noun.person"}
    example = tag_words("The farmer saw a night heron", gazetteer, labels)
    assert example.text == ["The", "farmer", "saw", "a", "night", "heron"]
    assert [labels[t] for t in example.label] == ["O", "B-person", "O", "O", "B-animal", "I-animal"]
    ending = tag_words("a heron", {("heron", "x", "y"): "noun.animal", ("heron",): "noun.animal"}, labels)
    assert ending.label == [0, 1]  # a match cut by the sentence end gives no extra tags
    assert tag_words("nothing here", gazetteer, labels) is None


def test_tagging_task_tags_example_sentences(lexicon):
    task = tagging_task(lexicon, n_train=10, n_test=2, seed=0, classes=2)
    assert task.labels == ["O", "B-animal", "I-animal", "B-artifact", "I-artifact"]
    by_words = {" ".join(e.text): [task.labels[t] for t in e.label] for e in task.train + task.test}
    # "saw" is tagged as the tool: the gazetteer knows words, not senses in context.
    assert by_words["the farmer saw a heron"] == ["O", "O", "B-artifact", "O", "B-animal"]
    assert by_words["he swung the hammer"] == ["O", "O", "O", "B-artifact"]
    assert "one person came" not in by_words  # person is not among the 2 tagged categories
    assert len(task.test) == 2


def test_glosses_task_splits_definitions_by_seed(lexicon):
    first, again = glosses_task(lexicon, 100, 4, seed=3), glosses_task(lexicon, 100, 4, seed=3)
    other = glosses_task(lexicon, 100, 4, seed=4)
    assert [e.text for e in first.test] == [e.text for e in again.test]
    assert [e.text for e in first.test] != [e.text for e in other.test]
    assert len(first.train) + len(first.test) == len(lexicon.synsets)
    assert "A heron is a grey or white wading bird." in {e.text for e in first.train + first.test}
