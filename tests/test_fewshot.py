"""The few-shot baseline (lesson 17c) on a generated toy set: a tiny run end to end, the same maps from the same seed,
and never a test image while it trains."""
import dataclasses
import pytest
import torch
from dfm_tutorial import fewshot, loader
from dfm_tutorial.config import VAL_SEED, TrainConfig
from dfm_tutorial.metadata import read_cub_metadata, split_indices
from dfm_tutorial.experiments import SMOKE_TOY, SMOKE_TRAIN
from dfm_tutorial.toy import make_toy_dataset


@pytest.fixture(scope='module')
def toy(tmp_path_factory):
    return make_toy_dataset(tmp_path_factory.mktemp('data') / 'toy', **SMOKE_TOY, progress=False)


def tiny_config(toy, tmp_path, **over):
    return TrainConfig(**{**dict(data=str(toy), num_classes=SMOKE_TOY['num_classes'], val_per_class=2,
                                 cache_dir=str(tmp_path / 'cache'), out=str(tmp_path / 'runs/{name}'), progress=False,
                                 device='cpu'), **SMOKE_TRAIN, **over})


def test_a_tiny_run_scores_the_test_split_and_is_read_back(toy, tmp_path):
    "Trained on val, scored on all 12 test images like a run, no Top-1; the second call reads the run folder back."
    cfg = tiny_config(toy, tmp_path)
    row = fewshot.fewshot_result(cfg, epochs=3)
    assert row['n_images'] == SMOKE_TOY['num_classes'] * SMOKE_TOY['test_per_class']
    assert {'max_box_acc_v2', 'gt_known_loc', 'pxap'} <= set(row) and not set(row) & set(fewshot.CLASS_METRICS)
    assert 0 <= row['max_box_acc_v2'] <= 100 and 0 <= row['pxap'] <= 100
    folder = fewshot.fewshot_folder(dataclasses.replace(cfg, epochs=3).check())
    assert folder.parent == tmp_path / 'runs' and folder.name.startswith('fewshot-boxes-')
    stamp = (folder / 'final.json').stat().st_mtime_ns
    assert fewshot.fewshot_result(cfg, epochs=3) == row
    assert (folder / 'final.json').stat().st_mtime_ns == stamp                  # read back, not trained again
    with pytest.raises(ValueError, match="score it on 'test'"):
        fewshot.fewshot_result(dataclasses.replace(cfg, eval_split='val'))


def test_the_same_seed_gives_the_same_maps(toy, tmp_path):
    "Two trainings of one config (seeded, deterministic on a CPU): bitwise-equal weights, so equal maps."
    cfg = tiny_config(toy, tmp_path)
    (a, losses_a), (b, losses_b) = (fewshot.train_saliency(cfg, epochs=3) for _ in range(2))
    assert losses_a == losses_b
    x = torch.rand(4, 3, cfg.eval_size, cfg.eval_size)
    assert torch.equal(a.cams(x)[1], b.cams(x)[1])
    c, _ = fewshot.train_saliency(dataclasses.replace(cfg, seed=1), epochs=3)
    assert not torch.equal(a.cams(x)[1], c.cams(x)[1])                        # another seed: other maps


@pytest.mark.parametrize('supervision', fewshot.SUPERVISION)
def test_training_reads_the_val_images_and_no_test_image(toy, tmp_path, monkeypatch, supervision):
    "Every batch the training loads holds only val images, and every val image is loaded: none of test, ever."
    loaded = []
    original = loader.load_batch
    def counting(source, positions, *args, **kw):
        batch = original(source, positions, *args, **kw)
        if batch is not None: loaded.extend(batch.ids)
        return batch
    monkeypatch.setattr(loader, 'load_batch', counting)          # what EpochLoader calls for each batch
    decoded = []
    read = fewshot.load_masks
    monkeypatch.setattr(fewshot, 'load_masks', lambda root, ids, size: decoded.extend(ids) or read(root, ids, size))
    cfg = tiny_config(toy, tmp_path)
    fewshot.train_saliency(cfg, epochs=2, supervision=supervision)
    meta = read_cub_metadata(toy)
    val, test = ({meta.paths[i] for i in split_indices(meta, s, cfg.val_per_class, VAL_SEED)} for s in ('val', 'test'))
    assert set(loaded) == val and not set(loaded) & test
    assert len(loaded) == 2 * len(val) * (2 if supervision == 'masks' else 1)   # 2 epochs, a batch of all; the masks
    assert sorted(decoded) == (sorted(val) if supervision == 'masks' else [])  # each mask PNG decoded once a run


def test_every_results_table_gets_the_row_once_the_package_is_imported(toy, tmp_path):
    """Importing dfm_tutorial registers the row (`experiments.REFERENCE_ROWS`), so `reference_results`, and every table
    `demo` prints, adds it; runs scored on val get none (the model trains on val)."""
    import dfm_tutorial  # noqa: F401
    from dfm_tutorial.experiments import REFERENCE_ROWS, reference_results
    assert REFERENCE_ROWS == {'few-shot': fewshot.fewshot_rows}
    cfg = tiny_config(toy, tmp_path)
    refs = reference_results(cfg)
    assert refs[fewshot.FEWSHOT_ROW.format(2)] == fewshot.fewshot_result(cfg)      # the run it trained, read back
    assert set(reference_results(dataclasses.replace(cfg, eval_split='val'))) == {'center baseline', 'oracle (mask)'}
