"""English inflection for the generators: WordNet's exception lists first, then the regular spelling rules.

WordNet's own lemmatiser (morphy) undoes exactly these regular rules, so any form it cannot undo is listed
in its *.exc files; a verb whose only listed forms are not `-ed` forms is irregular and has no safe past.
"""

from __future__ import annotations

_VOWELS = "aeiou"


def article(phrase: str) -> str:
    """`a` or `an` by the first letter (a spelling heuristic: "an hour" and "a unicorn" are missed)."""
    return "an" if phrase[:1].lower() in _VOWELS else "a"


def with_article(phrase: str) -> str:
    """`a heron`, `an owl`; proper names (capitalised) stay bare."""
    return phrase if phrase[:1].isupper() else f"{article(phrase)} {phrase}"


def _suffix_s(word: str) -> str:
    if word.endswith(("s", "x", "z", "ch", "sh")):
        return word + "es"
    if word.endswith("y") and word[-2:-1] not in _VOWELS:
        return word[:-1] + "ies"
    return word + "s"


def plural(noun: str, exceptions: dict[str, list[str]] | None = None) -> str:
    """Plural of a noun phrase: the listed irregular form, else the regular rule on its last word."""
    listed = (exceptions or {}).get(noun)
    if listed:
        return listed[0]
    head, _, last = noun.rpartition(" ")
    return f"{head} {_suffix_s(last)}".strip()


def third_person(verb: str) -> str:
    """Present third-person singular (`wades`, `carries`, `has`, `does`, `goes`, `is`)."""
    irregular = {"be": "is", "have": "has", "do": "does", "go": "goes"}
    return irregular.get(verb, _suffix_s(verb))


def past(verb: str, exceptions: dict[str, list[str]] | None = None) -> str | None:
    """Simple past of a one-word verb, or None where WordNet lists only irregular forms (`go`: went/gone)."""
    listed = (exceptions or {}).get(verb)
    if listed:
        regular = [form for form in listed if form.endswith("ed")]
        return regular[0] if regular else None
    if verb.endswith("e"):
        return verb + "d"
    if verb.endswith("y") and verb[-2:-1] not in _VOWELS:
        return verb[:-1] + "ied"
    return verb + "ed"
