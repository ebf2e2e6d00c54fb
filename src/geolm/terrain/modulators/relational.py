"""WordNet items for training and scoring a modulator: lemmas with their hypernym chains, split by synset.

Items are chosen along hypernym chains (a synset, then its first hypernym and the one above), so that
hypernym pairs exist among a few thousand items; a random sample of WordNet lemmas would hold almost none.
Each item's synset goes to the training or the held-out side; training pairs (item, ancestor item) use only
training items, and held-out scores only held-out items, so a held-out word was never a training target.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from geolm.terrain.batteries.wordnet import correlations, sample_pairs, unit_rows
from geolm.terrain.sampling import word_token_ids
from geolm.terrain.taxonomy import Taxonomy


@dataclass
class RelationalItems:
    """Lemma items (text, synset, token ids), which side each is on, and the training hypernym pairs."""

    synsets: list[str]
    texts: list[str]
    ids: list[list[int]]
    heldout: np.ndarray
    pairs: np.ndarray

    def side(self, heldout: bool) -> np.ndarray:
        """Item indices of the held-out side (True) or the training side (False)."""
        return np.flatnonzero(self.heldout == heldout)

    def counts(self) -> dict[str, int]:
        train_tokens = {t for i in self.side(False) for t in self.ids[i]}
        unseen = sum(any(t not in train_tokens for t in self.ids[i]) for i in self.side(True))
        return {
            "items": len(self.synsets),
            "train_items": int((~self.heldout).sum()),
            "heldout_items": int(self.heldout.sum()),
            "train_pairs": len(self.pairs),
            "heldout_with_unseen_token": int(unseen),
        }


def _lemma_item(taxonomy: Taxonomy, tokenizer: Any, synset: str, seen: set, max_tokens: int):
    """The synset's first lemma that tokenises (no unknown token, at most `max_tokens`) into new ids."""
    lemmas = [lemma.replace("_", " ") for lemma in taxonomy.synsets[synset].lemmas]
    for text, ids in word_token_ids(tokenizer, lemmas):
        if ids and tokenizer.unk_token_id not in ids and len(ids) <= max_tokens and tuple(ids) not in seen:
            return text, ids
    return None


def select_items(
    taxonomy: Taxonomy,
    tokenizer: Any,
    n_items: int,
    rng: np.random.Generator,
    *,
    heldout_fraction: float = 0.3,
    depth: int = 2,
    max_tokens: int = 3,
) -> RelationalItems:
    """Seeded chains of up to `depth` hypernyms; synsets split into training and held-out sides."""
    order = list(taxonomy.synsets)
    index: dict[str, int] = {}
    texts, ids, seen = [], [], set()
    for pos in rng.permutation(len(order)):
        if len(index) >= n_items:
            break
        for synset in [order[pos], *taxonomy.chain(order[pos], depth)]:
            if synset in index or synset not in taxonomy.synsets:
                continue
            item = _lemma_item(taxonomy, tokenizer, synset, seen, max_tokens)
            if item is not None:
                seen.add(tuple(item[1]))
                index[synset] = len(texts)
                texts.append(item[0])
                ids.append(item[1])
    synsets = list(index)
    heldout = rng.random(len(synsets)) < heldout_fraction
    pairs = [
        (index[s], index[a])
        for s in synsets
        if not heldout[index[s]]
        for a in taxonomy.chain(s, depth)
        if a in index and not heldout[index[a]]
    ]
    return RelationalItems(synsets, texts, ids, heldout, np.array(pairs, dtype=np.int64).reshape(-1, 2))


def shuffled_pairs(pairs: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """The control: same anchors and partners, partners permuted, so the pairs carry no WordNet relation."""
    out = pairs.copy()
    out[:, 1] = rng.permutation(out[:, 1])
    return out


def relational_scores(
    vectors: np.ndarray, items: RelationalItems, taxonomy: Taxonomy, heldout: bool, n_pairs: int, seed: int
) -> dict[str, float | int]:
    """Pearson and Spearman of cosine against path similarity over seeded pairs within one side."""
    side = items.side(heldout)
    synsets = [items.synsets[i] for i in side]
    i, j, sims, no_common = sample_pairs(taxonomy, synsets, n_pairs, np.random.default_rng([seed, 0x52454C]))
    pearson, spearman = correlations(unit_rows(vectors[side]), i, j, sims)
    return {"pearson": pearson, "spearman": spearman, "pairs": len(sims), "no_common_ancestor": no_common}
