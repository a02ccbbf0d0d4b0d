"""CutMix (lesson 16a) through the training loop: a tiny run on a generated toy set finishes with a finite loss and
its scores; the same seed gives bitwise the same weights, another seed others; `prob=0` trains exactly as CAM."""
import json
import math
import pytest
import torch
from dfm_tutorial.toy import make_toy_dataset
from dfm_tutorial.config import TrainConfig
from dfm_tutorial.train import train


@pytest.fixture(scope='module')
def toy(tmp_path_factory):
    return make_toy_dataset(
        tmp_path_factory.mktemp('toy') / 'toy', num_classes=3, train_per_class=16, test_per_class=4, progress=False
    )


def tiny_run(toy, out, **over):
    "One epoch of the toy CNN on `toy` (3 batches of 16), val never scored, test scored once: `(result, weights)`."
    settings = dict(data=str(toy), num_classes=3, method='cutmix', epochs=1, batch_size=16, workers=0, eval_every=0,
                    device='cpu', out=str(out), progress=False)
    result = train(TrainConfig(**{**settings, **over}))
    return result, torch.load(out / 'last.pt', weights_only=False)['model']


def same(a, b): return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def test_a_tiny_cutmix_run_trains_and_scores(toy, tmp_path):
    result, _ = tiny_run(toy, tmp_path / 'run', options={'beta': 1.0, 'prob': 1.0})
    assert isinstance(result, dict) and result['n_images'] == 12                 # the test split: 3 classes x 4
    assert all(math.isfinite(result[k]) for k in ('max_box_acc_v2', 'top1_cls', 'top1_loc'))
    rows = [json.loads(l) for l in (tmp_path / 'run' / 'metrics.jsonl').read_text().splitlines()]
    assert [r['epoch'] for r in rows] == [1] and math.isfinite(rows[0]['train_loss'])
    config = json.loads((tmp_path / 'run' / 'config.json').read_text())
    assert config['method'] == 'cutmix' and config['options'] == {'beta': 1.0, 'prob': 1.0}


def test_the_same_seed_gives_the_same_weights(toy, tmp_path):
    "The draws (the per-batch coin, λ, π, the box) come from the generators the loop seeds: runs repeat bitwise."
    _, a = tiny_run(toy, tmp_path / 'a')
    _, b = tiny_run(toy, tmp_path / 'b')
    _, other = tiny_run(toy, tmp_path / 'c', seed=1)
    assert same(a, b)
    assert not same(a, other)


def test_prob_zero_trains_as_cam(toy, tmp_path):
    "Never mixed: bitwise the CAM run of the same seed; mixed every batch: another run."
    _, never = tiny_run(toy, tmp_path / 'never', options={'prob': 0.0})
    _, cam = tiny_run(toy, tmp_path / 'cam', method='cam')
    _, mixed = tiny_run(toy, tmp_path / 'mixed')
    assert same(never, cam)
    assert not same(mixed, cam)
