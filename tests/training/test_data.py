import numpy as np
import pytest
import torch
from trainkit import random_blocks

from geolm.data import TokenBlocks
from geolm.errors import DataError
from geolm.training.data import BatchStream, EpochOrder, as_sources, eval_batches


def test_each_epoch_is_a_fresh_permutation():
    order = EpochOrder(10, seed=3, stream=0)
    first, second = order.take(10), order.take(10)
    assert sorted(first) == list(range(10)) and sorted(second) == list(range(10))
    assert not np.array_equal(first, second)
    assert order.position == (1, 10)


def test_seeking_reproduces_the_order_across_epochs():
    straight = EpochOrder(7, seed=5, stream=1)
    expected = straight.take(12)
    resumed = EpochOrder(7, seed=5, stream=1)
    resumed.take(5)
    position = resumed.position
    fresh = EpochOrder(7, seed=5, stream=1)
    fresh.seek(*position)
    assert np.array_equal(np.concatenate([expected[:5], fresh.take(7)]), expected)


def test_mixture_draws_follow_the_weights_and_resume_exactly():
    a = TokenBlocks(torch.zeros(50, 4, dtype=torch.long), torch.zeros(50, 4, dtype=torch.long))
    b = TokenBlocks(torch.ones(50, 4, dtype=torch.long), torch.ones(50, 4, dtype=torch.long))
    stream = BatchStream({"a": a, "b": b}, seed=0)
    drawn = torch.cat([stream.next_batch(20, {"a": 3.0, "b": 1.0}, step, 0)["input_ids"] for step in range(20)])
    share_a = float((drawn[:, 0] == 0).float().mean())
    assert 0.68 < share_a < 0.82
    only_b = stream.next_batch(8, {"b": 1.0}, 99, 0)["input_ids"]
    assert bool((only_b == 1).all())
    state = stream.state()
    again = BatchStream({"a": a, "b": b}, seed=0)
    again.load_state(state)
    assert torch.equal(stream.next_batch(6, None, 100, 1)["input_ids"], again.next_batch(6, None, 100, 1)["input_ids"])


def test_sources_must_share_a_block_size():
    with pytest.raises(DataError, match="share one block size"):
        as_sources({"a": random_blocks(4, length=8), "b": random_blocks(4, length=16)})


def test_eval_batches_are_full_and_in_order():
    data = random_blocks(5)
    batches = eval_batches(data, count=2, max_batches=10)
    assert len(batches) == 3
    assert torch.equal(batches[0]["input_ids"], data.input_ids[:2])
    assert torch.equal(batches[2]["input_ids"], data.input_ids[[4, 0]])


class CountedBlocks(TokenBlocks):
    """Blocks that remember how many rows were read."""

    read = 0

    def rows(self, index):
        self.read += len(index)
        return super().rows(index)


def test_a_process_reads_only_its_own_rows_of_the_global_batch():
    blocks = {name: random_blocks(30, seed=i) for i, name in enumerate("ab")}
    everything = BatchStream(blocks, seed=1)
    whole = everything.next_batch(8, {"a": 1.0, "b": 1.0}, 0, 0)
    for rank in range(2):
        counted = {name: CountedBlocks(b.input_ids, b.labels) for name, b in blocks.items()}
        stream = BatchStream(counted, seed=1)
        mine = stream.next_batch(8, {"a": 1.0, "b": 1.0}, 0, 0, slice(rank * 4, rank * 4 + 4))
        assert torch.equal(mine["input_ids"], whole["input_ids"][rank * 4 : rank * 4 + 4])
        assert torch.equal(mine["labels"], whole["labels"][rank * 4 : rank * 4 + 4])
        assert sum(b.read for b in counted.values()) == 4  # the other process's rows were drawn but not read
        assert stream.state() == everything.state()  # every process's orders advance alike


def test_padded_examples_train_with_the_trainer_and_resume_exactly(tmp_path):
    """Sequence classification on padded examples (`Encoded`, one label per row): the trainer counts rows, not
    tokens, the loss falls, and N + resume + N equals 2N."""
    import json

    from geolm import GeoConfig
    from geolm.experiments.encode import Encoded
    from geolm.modeling import GeoForSequenceClassification
    from geolm.training import TrainArgs, train

    generator = torch.Generator().manual_seed(0)
    lengths = torch.randint(4, 12, (40,), generator=generator)
    mask = (torch.arange(12)[None] < lengths[:, None]).long()
    labels = torch.randint(0, 2, (40,), generator=generator)
    ids = torch.randint(3, 500, (40, 12), generator=generator) * mask + labels[:, None] * 7 * mask
    data = Encoded(ids, mask, labels)

    def run(out: str, resume: str | None = None, **settings) -> list[float]:
        torch.manual_seed(0)
        model = GeoForSequenceClassification(GeoConfig.from_preset("llama-tiny", num_labels=2))
        args = TrainArgs(steps=8, batch_size=4, lr=3e-3, eval_every=0, save_every=0, log_every=1, warmup_steps=1)
        train(model, data, None, TrainArgs(**{**args.__dict__, **settings}), tmp_path / out, resume=resume)
        rows = [json.loads(line) for line in (tmp_path / out / "metrics.jsonl").read_text().splitlines()]
        return [row["loss"] for row in rows if "loss" in row and "event" not in row]

    straight = run("straight")
    assert len(straight) == 8 and min(straight[-3:]) < straight[0]
    run("split", stop_after=4)
    assert run("split", resume="auto") == straight
    with pytest.raises(DataError, match="holds padded examples, which train alone"):
        as_sources({"a": data, "b": random_blocks(4)})
