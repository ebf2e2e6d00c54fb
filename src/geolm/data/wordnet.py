"""A reader of the WordNet 3.0 database files (data.*, index.*, *.exc, cntlist.rev) into `Synset` records.

The embedded corpus is regenerated from these files, so the reader is strict: a line it cannot parse is a
`DataError` naming the file and line, never a silently dropped synset.
"""

from __future__ import annotations

import gc
import gzip
import json
import os
import re
import tempfile
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path

from geolm.errors import DataError
from geolm.files import usual_permissions

POS_FILES = {"n": "noun", "v": "verb", "a": "adj", "r": "adv"}
POS_NAMES = {"n": "noun", "v": "verb", "a": "adjective", "s": "adjective", "r": "adverb"}

# The standard lexicographer file names, numbered as in WordNet 3.0 (used when the `lexnames` file is absent).
# fmt: off
LEXNAMES = [
    "adj.all", "adj.pert", "adv.all", "noun.Tops", "noun.act", "noun.animal", "noun.artifact",
    "noun.attribute", "noun.body", "noun.cognition", "noun.communication", "noun.event", "noun.feeling",
    "noun.food", "noun.group", "noun.location", "noun.motive", "noun.object", "noun.person",
    "noun.phenomenon", "noun.plant", "noun.possession", "noun.process", "noun.quantity", "noun.relation",
    "noun.shape", "noun.state", "noun.substance", "noun.time", "verb.body", "verb.change",
    "verb.cognition", "verb.communication", "verb.competition", "verb.consumption", "verb.contact",
    "verb.creation", "verb.emotion", "verb.motion", "verb.perception", "verb.possession", "verb.social",
    "verb.stative", "verb.weather", "adj.ppl",
]
# fmt: on

_ADJ_MARKER = re.compile(r"\((?:a|p|ip)\)$")
_QUOTED = re.compile(r'"([^"]+)"')


@dataclass
class Synset:
    """One WordNet synset; `id` is `<offset>-<n|v|a|r>` as WordNet's own pointers spell it."""

    id: str
    pos: str
    lexname: str
    lemmas: list[str]
    gloss: str
    examples: list[str] = field(default_factory=list)
    hypernyms: list[str] = field(default_factory=list)
    instance: bool = False
    antonyms: list[str] = field(default_factory=list)
    frames: list[int] = field(default_factory=list)
    senses: list[int] = field(default_factory=list)
    count: int = 0
    exceptions: dict[str, list[str]] = field(default_factory=dict)

    def to_json(self) -> str:
        """Compact JSON without empty fields (they are the defaults), so the shipped file stays small."""
        record = {k: v for k, v in asdict(self).items() if v or k in ("id", "pos", "lexname", "gloss")}
        return json.dumps(record, ensure_ascii=False, separators=(",", ":"))

    @classmethod
    def from_dict(cls, record: dict) -> Synset:
        return cls(**record)


def _lines(path: Path) -> Iterator[tuple[int, str]]:
    """Numbered lines of a WordNet file, skipping the license header (lines starting with two spaces)."""
    try:
        with path.open(encoding="utf-8") as handle:
            for number, line in enumerate(handle, 1):
                if line.strip() and not line.startswith("  "):
                    yield number, line.rstrip("\n")
    except UnicodeDecodeError as err:
        raise DataError(f"{path}: not UTF-8 ({err.reason} at byte {err.start} of a line)") from None


def _split_gloss(text: str) -> tuple[str, list[str]]:
    """Split `definition; "example"; "example"` into the definition and the quoted examples."""
    cut = text.find('; "')
    if text.startswith('"'):
        cut = 0
    definition = (text if cut < 0 else text[:cut]).strip().rstrip(";").strip()
    examples = [] if cut < 0 else [e.strip() for e in _QUOTED.findall(text[cut:])]
    return definition, [e for e in examples if e]


def parse_data_line(line: str, file_pos: str, lexnames: list[str], where: str) -> tuple[Synset, list]:
    """Parse one data.* line; returns the synset and its (lemma, lex_id) pairs for sense-key matching."""
    head, bar, gloss_text = line.partition(" | ")
    fields = head.split()
    try:
        offset, lex_filenum, ss_type = fields[0], int(fields[1]), fields[2]
        w_cnt = int(fields[3], 16)
        words = [(fields[4 + 2 * i], int(fields[5 + 2 * i], 16)) for i in range(w_cnt)]
        pos = 4 + 2 * w_cnt
        p_cnt = int(fields[pos])
        pointers = [fields[pos + 1 + 4 * i : pos + 5 + 4 * i] for i in range(p_cnt)]
        pos += 1 + 4 * p_cnt
        frames: list[int] = []
        if file_pos == "v" and pos < len(fields):
            f_cnt = int(fields[pos])
            frames = sorted({int(fields[pos + 2 + 3 * i]) for i in range(f_cnt)})
        if len(offset) != 8 or ss_type not in POS_NAMES or any(len(p) != 4 for p in pointers):
            raise ValueError
        lexname = lexnames[lex_filenum]
    except (IndexError, ValueError):
        raise DataError(f"{where}: malformed synset line (expected WordNet data-file fields)") from None
    if not bar:
        raise DataError(f"{where}: synset {offset} has no gloss (missing ' | ')")
    lemmas = [_ADJ_MARKER.sub("", word).replace("_", " ") for word, _ in words]
    hypernyms = [f"{p[1]}-{p[2]}" for p in pointers if p[0] in ("@", "@i")]
    antonyms = [f"{p[1]}-{p[2]}" for p in pointers if p[0] == "!"]
    definition, examples = _split_gloss(gloss_text.strip())
    synset = Synset(
        id=f"{offset}-{file_pos}",
        pos=POS_NAMES[ss_type],
        lexname=lexname,
        lemmas=list(dict.fromkeys(lemmas)),
        gloss=definition,
        examples=examples,
        hypernyms=list(dict.fromkeys(hypernyms)),
        instance=any(p[0] == "@i" for p in pointers),
        antonyms=list(dict.fromkeys(antonyms)),
        frames=frames,
    )
    keys = [(_ADJ_MARKER.sub("", w).lower(), lex_id, lex_filenum, ss_type) for w, lex_id in words]
    return synset, keys


def _read_lexnames(dict_dir: Path) -> list[str]:
    path = dict_dir / "lexnames"
    if not path.exists():
        return list(LEXNAMES)
    names = list(LEXNAMES)
    for number, line in _lines(path):
        parts = line.split()
        if len(parts) < 2 or not parts[0].isdigit() or int(parts[0]) >= len(names):
            raise DataError(f"{path}:{number}: malformed lexnames line")
        names[int(parts[0])] = parts[1]
    return names


def _read_index(path: Path, file_pos: str) -> dict[str, dict[str, int]]:
    """Sense numbers from index.<pos>: synset id -> {lemma: sense number (1 = most frequent)}."""
    senses: dict[str, dict[str, int]] = {}
    for number, line in _lines(path):
        fields = line.split()
        try:
            synset_cnt, p_cnt = int(fields[2]), int(fields[3])
            offsets = fields[6 + p_cnt : 6 + p_cnt + synset_cnt]
            if len(offsets) != synset_cnt:
                raise ValueError
        except (IndexError, ValueError):
            raise DataError(f"{path}:{number}: malformed index line") from None
        lemma = fields[0].replace("_", " ")
        for rank, offset in enumerate(offsets, 1):
            senses.setdefault(f"{offset}-{file_pos}", {})[lemma] = rank
    return senses


def _read_counts(path: Path) -> dict[tuple[str, int, int, int], int]:
    """Tagged-corpus frequencies from cntlist.rev, keyed by (lemma, lex_id, lex_filenum, ss_type number)."""
    counts: dict[tuple[str, int, int, int], int] = {}
    if not path.exists():
        return counts
    for number, line in _lines(path):
        try:
            key, _, count = line.split()
            lemma, rest = key.split("%")
            ss_num, lex_filenum, lex_id = rest.split(":")[:3]
            counts[(lemma, int(lex_id), int(lex_filenum), int(ss_num))] = int(count)
        except ValueError:
            raise DataError(f"{path}:{number}: malformed cntlist line") from None
    return counts


def _read_exceptions(path: Path) -> dict[str, list[str]]:
    """Irregular forms from <pos>.exc, inverted to base form -> inflected forms."""
    forms: dict[str, list[str]] = {}
    if not path.exists():
        return forms
    for number, line in _lines(path):
        parts = line.split()
        if len(parts) < 2:
            raise DataError(f"{path}:{number}: malformed exception line")
        for base in parts[1:]:
            forms.setdefault(base.replace("_", " "), []).append(parts[0].replace("_", " "))
    return forms


_SS_NUM = {"n": 1, "v": 2, "a": 3, "r": 4, "s": 5}


def parse_wordnet(dict_dir: str | Path) -> list[Synset]:
    """Read every synset of a WordNet dict directory (needs data.<pos>; index, exc and counts are optional)."""
    dict_dir = Path(dict_dir)
    if not dict_dir.is_dir():
        raise DataError(f"{dict_dir}: not a directory of WordNet files")
    lexnames = _read_lexnames(dict_dir)
    counts = _read_counts(dict_dir / "cntlist.rev")
    synsets: list[Synset] = []
    for file_pos, name in POS_FILES.items():
        data_path = dict_dir / f"data.{name}"
        if not data_path.exists():
            continue
        index_path = dict_dir / f"index.{name}"
        senses = _read_index(index_path, file_pos) if index_path.exists() else {}
        exceptions = _read_exceptions(dict_dir / f"{name}.exc")
        for number, line in _lines(data_path):
            synset, keys = parse_data_line(line, file_pos, lexnames, f"{data_path}:{number}")
            ranks = senses.get(synset.id, {})
            synset.senses = [ranks.get(lemma.lower(), ranks.get(lemma, 0)) for lemma in synset.lemmas]
            if not any(synset.senses):
                synset.senses = []
            synset.count = sum(counts.get((w, i, f, _SS_NUM[t]), 0) for w, i, f, t in keys)
            synset.exceptions = {w: exceptions[w] for w in synset.lemmas if w in exceptions}
            synsets.append(synset)
    if not synsets:
        raise DataError(f"{dict_dir}: no data.noun/data.verb/data.adj/data.adv files with synsets")
    return synsets


def write_synsets(synsets: list[Synset], out: str | Path) -> Path:
    """Write synsets as gzip JSONL, atomically (temp file then rename), byte-identical for the same input."""
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=out.parent, prefix=f".{out.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb", mtime=0, filename="") as gz:
            for synset in synsets:
                gz.write(synset.to_json().encode("utf-8") + b"\n")
        usual_permissions(Path(tmp))
        os.replace(tmp, out)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return out


def read_synsets(path: str | Path) -> list[Synset]:
    """Load a gzip JSONL file written by `write_synsets`."""
    path = Path(path)
    was_enabled = gc.isenabled()
    gc.disable()  # collection passes over 10^5 new objects would take most of the load time
    try:
        with gzip.open(path, "rt", encoding="utf-8") as handle:
            return [Synset.from_dict(json.loads(line)) for line in handle if line.strip()]
    except FileNotFoundError:
        raise DataError(f"{path}: corpus file not found") from None
    except (OSError, json.JSONDecodeError, TypeError) as err:
        raise DataError(f"{path}: not a synset file written by geolm ({err})") from None
    finally:
        if was_enabled:
            gc.enable()
