"""`geolm eval`: lm-evaluation-harness scores a checkpoint offline on the WordNet tasks (held-out items only),
agreeing with log-likelihoods computed here, and takes the user's own task files."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from tiny_checkpoint import build_tokenizer, write_checkpoint

from geolm.data.corpus import reasoning_items
from geolm.data.lexicon import is_heldout
from geolm.errors import ConfigError
from geolm.experiments.harness import check_tasks, task_manager
from geolm.experiments.wordnet_tasks import TASKS, write_tasks

LIMIT = 24
USER_TASK = """task: my_colours
dataset_path: json
dataset_kwargs:
  data_files:
    test: {data}
test_split: test
output_type: multiple_choice
doc_to_text: "{{{{context}}}}"
doc_to_choice: "{{{{choices}}}}"
doc_to_target: "{{{{label}}}}"
metric_list:
  - metric: acc
"""


@pytest.fixture(scope="module")
def task_dir(tmp_path_factory) -> Path:
    return write_tasks(tmp_path_factory.mktemp("tasks"))


def items(task_dir: Path, name: str) -> list[dict]:
    return [json.loads(line) for line in (task_dir / f"{name}.jsonl").read_text().splitlines()]


def test_every_task_holds_only_held_out_items(task_dir: Path) -> None:
    assert sorted(p.stem for p in task_dir.glob("*.yaml")) == sorted(TASKS)
    for name in ("wordnet_hypernym", "wordnet_definition"):
        found = items(task_dir, name)
        assert len(found) > 500 and all(is_heldout(item["id"]) for item in found)
        assert all(0 <= item["label"] < len(item["choices"]) == 4 for item in found)
        assert len({item["label"] for item in found}) == 4  # the answer is not always in one place
    trained = {item["question"] for item in reasoning_items("train")}
    arithmetic = items(task_dir, "wordnet_arithmetic")
    assert arithmetic and not {item["question"] for item in arithmetic} & trained
    pairs = items(task_dir, "wordnet_agreement")
    assert pairs and all(item["choices"][0] != item["choices"][1] and item["label"] == 0 for item in pairs)


def test_unknown_tasks_are_named_with_a_suggestion(task_dir: Path) -> None:
    manager = task_manager(task_dir, [], ["wordnet_hypernym", "geolm_wordnet"])
    assert "geolm_wordnet" in manager.all_tags and "hellaswag" not in manager.all_tasks  # geolm's tasks alone
    check_tasks(manager, ["wordnet_hypernym", "geolm_wordnet"])
    with pytest.raises(ConfigError, match=r"unknown task 'wordnet_hypernim' \(did you mean 'wordnet_hypernym'\?\)"):
        check_tasks(manager, ["wordnet_hypernim"])


@torch.no_grad()
def reference_accuracy(model, tokenizer, found: list[dict]) -> float:
    """Multiple-choice accuracy from summed log-likelihoods of each choice after its context, computed here."""
    right = 0
    for item in found:
        scores = []
        for choice in item["choices"]:
            whole = tokenizer(item["context"] + choice)["input_ids"]
            start = len(tokenizer(item["context"])["input_ids"])
            logits = model(torch.tensor([whole])).logits[0, :-1].float().log_softmax(-1)
            scores.append(sum(float(logits[i - 1, whole[i]]) for i in range(start, len(whole))))
        right += int(max(range(len(scores)), key=scores.__getitem__) == item["label"])
    return right / len(found)


def test_geolm_eval_scores_as_the_likelihoods_say_and_runs_user_tasks(tmp_path: Path) -> None:
    import typer
    from typer.testing import CliRunner

    from geolm.cli.evaluate import evaluate
    from geolm.inference import load_for_inference

    tokenizer = build_tokenizer()
    checkpoint = write_checkpoint(tmp_path / "model", tokenizer)
    user_data = tmp_path / "colours.jsonl"
    colours = [{"context": "The sky is", "choices": [" blue", " loud"], "label": 0}] * 3
    user_data.write_text("".join(json.dumps(row) + "\n" for row in colours))
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "my_colours.yaml").write_text(USER_TASK.format(data=user_data))
    app = typer.Typer()
    app.command("eval")(evaluate)
    app.command("other")(lambda: None)  # two commands, so the verb is named as on the real CLI
    args = ["eval", str(checkpoint), "--tasks", "wordnet_hypernym,wordnet_arithmetic,my_colours", "--limit", str(LIMIT)]
    args += ["--include", str(tmp_path / "mine"), "--out", str(tmp_path / "eval"), "--device", "cpu"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    saved = json.loads((tmp_path / "eval" / "results.json").read_text())
    assert set(saved["results"]) == {"wordnet_hypernym", "wordnet_arithmetic", "my_colours"}
    assert saved["n-samples"]["wordnet_hypernym"]["effective"] == LIMIT
    assert saved["n-samples"]["my_colours"]["effective"] == 3
    model, _ = load_for_inference(checkpoint, device="cpu")
    expected = reference_accuracy(model, tokenizer, items(tmp_path / "eval" / "tasks", "wordnet_hypernym")[:LIMIT])
    assert saved["results"]["wordnet_hypernym"]["acc,none"] == pytest.approx(expected)
    assert 0.0 <= saved["results"]["wordnet_arithmetic"]["exact_match,answer"] <= 1.0
    table = (tmp_path / "eval" / "results.md").read_text()
    assert "| wordnet_hypernym | acc |" in table and "| my_colours | acc |" in table
