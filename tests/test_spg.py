"""SPG (lesson 16b) through the training loop on a generated toy set: one tiny run trains with a finite loss and
scores; two runs with one seed give the same weights; bad thresholds stop a run before it writes anything."""
import json, math
import pytest
import torch

from dfm_tutorial.spg import SPGModel
from dfm_tutorial.config import TrainConfig
from dfm_tutorial.runs import load_checkpoint, model_from_checkpoint
from dfm_tutorial.train import train


def tiny(toy, out, **more):
    "One epoch of SPG on the toy CNN, batches of 16 (6 steps), the test split scored once at the end."
    return TrainConfig(data=str(toy), num_classes=3, method='spg', epochs=1, batch_size=16, device='cpu',
                       out=str(out), progress=False, **more)


def test_a_tiny_spg_run_trains_and_scores(toy, tmp_path):
    result = train(tiny(toy, tmp_path / 'run'))
    rows = [json.loads(l) for l in (tmp_path / 'run' / 'metrics.jsonl').read_text().splitlines()]
    assert len(rows) == 1 and math.isfinite(rows[0]['train_loss']) and rows[0]['train_loss'] > 0
    assert isinstance(result, dict) and result['n_images'] == 24                 # the test split: 3 classes x 8
    assert all(math.isfinite(result[k]) for k in ('top1_cls', 'top1_loc', 'gt_known_loc', 'max_box_acc_v2'))
    model, cfg = model_from_checkpoint(load_checkpoint(tmp_path / 'run' / 'last.pt'))  # the checkpoint fits the model
    assert isinstance(model, SPGModel) and cfg.method == 'spg'
    assert model.thresholds == ((0.7, 0.01), (0.5, 0.05), (0.7, 0.1))              # wsolevaluation's config.py defaults


def test_two_runs_with_one_seed_give_the_same_weights(toy, tmp_path):
    for name, seed in (('a', 3), ('b', 3), ('c', 4)): train(tiny(toy, tmp_path / name, seed=seed))
    sa, sb, sc = (torch.load(tmp_path / n / 'last.pt', weights_only=False)['model'] for n in 'abc')
    assert any(k.startswith('branch_shared.') for k in sa)
    assert sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa)
    assert not all(torch.equal(sa[k], sc[k]) for k in sa), "another seed must train other weights"


@pytest.mark.parametrize('options, message', [
    ({'h2': 1.5}, "h2 must be in [0, 1], got 1.5"),
    ({'h1': 0.2, 'l1': 0.3}, "l1 must be below h1 (0 <= l1 < h1 <= 1), got l1=0.3, h1=0.2"),
    ({'taps': ['block2', 'block7']}, "tap 'block7' is not a submodule of the backbone"),
])
def test_bad_options_stop_before_training(toy, tmp_path, options, message):
    with pytest.raises(ValueError) as stop: train(tiny(toy, tmp_path / 'run', options=options))
    assert message in str(stop.value), stop.value
    assert not (tmp_path / 'run').exists()
