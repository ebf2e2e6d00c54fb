"""Glossary entries: each synset as a short English paragraph (the plain-text part of the corpus)."""

from __future__ import annotations

from collections.abc import Iterator

from geolm.data.lexicon import Lexicon, definition_sentence, kind_sentence, listing


def glossary_entries(lexicon: Lexicon) -> Iterator[tuple[str, list[str]]]:
    """(`heron (noun, animal). A heron is a grey ... A heron is a kind of wading bird.`, synset ids used)."""
    for synset in lexicon.synsets:
        keys = [synset.id]
        category = synset.lexname.split(".", 1)[1]
        parts = [f"{synset.lemmas[0]} ({synset.pos}, {category}).", definition_sentence(synset)]
        parent = lexicon.hypernym(synset)
        if parent is not None:
            parts.append(kind_sentence(synset, parent))
            keys.append(parent.id)
        if len(synset.lemmas) > 1:
            parts.append(f"Also called {listing(synset.lemmas[1:])}.")
        opposites = [lexicon.by_id[a].lemmas[0] for a in synset.antonyms if a in lexicon.by_id]
        if opposites:
            parts.append(f"The opposite is {listing(opposites)}.")
            keys.extend(a for a in synset.antonyms if a in lexicon.by_id)
        parts.extend(f'Example: "{example}".' for example in synset.examples[:2])
        yield " ".join(parts), keys
