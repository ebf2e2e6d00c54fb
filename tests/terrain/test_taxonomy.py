import pytest

from geolm.errors import DataError
from geolm.terrain import Taxonomy


def test_path_similarity_follows_the_shortest_hypernym_path(taxonomy):
    assert taxonomy.path_similarity("dog.n.01", "dog.n.01") == 1.0
    assert taxonomy.path_similarity("dog.n.01", "wolf.n.01") == pytest.approx(1 / 3)  # via canine
    assert taxonomy.path_similarity("dog.n.01", "cat.n.01") == pytest.approx(1 / 5)  # via carnivore
    assert taxonomy.path_similarity("dog.n.01", "hammer.n.02") == pytest.approx(1 / 10)  # 6 + 3 steps via entity
    assert taxonomy.path_similarity("dog.n.01", "run.v.01") is None  # no common ancestor


def test_chain_and_lexname_categories(taxonomy):
    assert taxonomy.chain("dog.n.01", 3) == ["canine.n.02", "carnivore.n.01", "mammal.n.01"]
    assert taxonomy.chain("entity.n.01", 3) == []
    cats = taxonomy.lexname_categories()
    assert cats.name == "wordnet-lexnames"
    groups = cats.categories()
    assert "domestic dog" in groups["noun.animal"] and "rose" in groups["noun.plant"]


def test_bad_records_name_the_record():
    with pytest.raises(DataError, match="record 1"):
        Taxonomy([("a", ["x"], []), ("b", ["y"])])
    with pytest.raises(DataError, match="duplicate synset id 'a'"):
        Taxonomy([("a", ["x"], []), ("a", ["y"], [])])
    assert Taxonomy([("a", ["x"], [])]).lexname_categories() is None


def test_embedded_wordnet_noun_hierarchy():
    from geolm.terrain import embedded_wordnet

    taxonomy = embedded_wordnet()
    assert len(taxonomy.synsets) == 82115  # WordNet 3.0 noun synsets
    heron = next(sid for sid, rec in taxonomy.synsets.items() if "heron" in rec.lemmas)
    chain = taxonomy.chain(heron, 3)
    assert chain and all(c in taxonomy.synsets for c in chain)
