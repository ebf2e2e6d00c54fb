"""The small WordNet interface the alignment battery needs: synsets with lemmas, hypernyms and a lexname.

Any iterable of `(synset_id, lemmas, hypernym_ids)` or `(synset_id, lemmas, hypernym_ids, lexname)` works, so
the shipped WordNet corpus, NLTK or a hand-made fixture can all feed it. Path similarity follows WordNet's
definition, 1 / (1 + length of the shortest hypernym path through a common ancestor); pairs without a common
ancestor have none and are counted, not scored.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from functools import lru_cache
from typing import NamedTuple

from geolm.errors import DataError
from geolm.terrain.categories import WordCategories


class SynsetRecord(NamedTuple):
    """One synset: id, lemmas (multi-word lemmas may use "_"), hypernym ids and lexicographer file."""

    id: str
    lemmas: tuple[str, ...]
    hypernyms: tuple[str, ...]
    lexname: str | None = None


class Taxonomy:
    """Synsets by id, with cached ancestor depths for path similarity and hypernym chains."""

    def __init__(self, records: Iterable[Sequence]) -> None:
        self.synsets: dict[str, SynsetRecord] = {}
        for n, raw in enumerate(records):
            if not 3 <= len(raw) <= 4:
                raise DataError(f"taxonomy record {n}: expected (id, lemmas, hypernym_ids[, lexname]), got {raw!r}")
            record = SynsetRecord(str(raw[0]), tuple(raw[1]), tuple(raw[2]), raw[3] if len(raw) == 4 else None)
            if record.id in self.synsets:
                raise DataError(f"taxonomy record {n}: duplicate synset id {record.id!r}")
            self.synsets[record.id] = record
        self._ancestors = lru_cache(maxsize=None)(self._compute_ancestors)

    def __len__(self) -> int:
        return len(self.synsets)

    def _compute_ancestors(self, synset_id: str) -> dict[str, int]:
        """Every ancestor (the synset itself at 0) with its shortest hypernym distance."""
        depths = {synset_id: 0}
        frontier = [synset_id]
        while frontier:
            nxt = []
            for sid in frontier:
                record = self.synsets.get(sid)
                for parent in record.hypernyms if record else ():
                    if parent not in depths:
                        depths[parent] = depths[sid] + 1
                        nxt.append(parent)
            frontier = nxt
        return depths

    def ancestors(self, synset_id: str) -> dict[str, int]:
        return self._ancestors(synset_id)

    def path_similarity(self, a: str, b: str) -> float | None:
        """1 / (1 + shortest path via a common ancestor), or None when the two share no ancestor."""
        up_a, up_b = self.ancestors(a), self.ancestors(b)
        if len(up_b) < len(up_a):
            up_a, up_b = up_b, up_a
        common = [d + up_b[s] for s, d in up_a.items() if s in up_b]
        return 1.0 / (1.0 + min(common)) if common else None

    def chain(self, synset_id: str, depth: int) -> list[str]:
        """The first-hypernym chain above a synset, nearest first, at most `depth` long."""
        out: list[str] = []
        current = self.synsets.get(synset_id)
        while current is not None and current.hypernyms and len(out) < depth:
            parent = current.hypernyms[0]
            if parent in out or parent == synset_id:
                break
            out.append(parent)
            current = self.synsets.get(parent)
        return out

    def lexname_categories(self) -> WordCategories | None:
        """Lemmas grouped by lexicographer file (noun.animal, verb.motion, ...), if the records carry them."""
        groups: dict[str, list[str]] = {}
        for record in self.synsets.values():
            if record.lexname:
                groups.setdefault(record.lexname, []).extend(lemma.replace("_", " ") for lemma in record.lemmas)
        if not groups:
            return None
        return WordCategories("wordnet-lexnames", {k: list(dict.fromkeys(v)) for k, v in groups.items()})


def embedded_wordnet() -> Taxonomy:
    """The noun hierarchy of the WordNet 3.0 corpus shipped with geolm (hypernym and instance links)."""
    from geolm.data.lexicon import CORPUS_FILE
    from geolm.data.wordnet import read_synsets

    return Taxonomy((s.id, s.lemmas, s.hypernyms, s.lexname) for s in read_synsets(CORPUS_FILE) if s.pos == "noun")
