"""OpenImages30k (lesson 11b): prepared from a generated fixture in wsolevaluation's layout, read back, trained on for
one epoch with PxAP (its ignore regions left out); a killed preparation resumed; bad sources refused with their
message."""
import json, shutil
import numpy as np
import pytest
from PIL import Image
import dfm_tutorial.openimages as oi
from dfm_tutorial.data import WSOLDataset, has_masks, load_masks
from dfm_tutorial.metadata import MetadataError, read_cub_metadata
from dfm_tutorial.openimages import load_ignore_masks, make_toy_openimages, prepare_openimages
from dfm_tutorial.toy import CUB_FILES, staging_folder


@pytest.fixture(scope='module')
def toy(tmp_path_factory):
    "wsolevaluation's layout: <root>/dataset/OpenImages and <root>/metadata/OpenImages (read only: copy to change)."
    return make_toy_openimages(tmp_path_factory.mktemp('oi') / 'wsolevaluation', num_classes=3, train_per_class=8,
                               val_per_class=2, test_per_class=3)


@pytest.fixture(scope='module')
def prepared(toy, tmp_path_factory):
    return prepare_openimages(toy / 'dataset/OpenImages', tmp_path_factory.mktemp('data') / 'OpenImages',
                              progress=False)


def wsol_ids(toy, split):
    return (toy / 'metadata/OpenImages' / split / 'image_ids.txt').read_text().split()


def test_prepared_folder_reads_back_with_its_splits_and_masks(toy, prepared):
    meta = read_cub_metadata(prepared)
    assert (len(meta), int(meta.is_train.sum()), len(meta.class_names)) == (39, 30, 3)
    assert (prepared / '.prepared').read_text().startswith('24 train, 6 val, 9 test images, 3 classes')
    ids = lambda split, **kw: [meta.paths[i] for i in WSOLDataset(prepared, split, transform=None, **kw).indices]
    assert sorted(ids('val', val_per_class=2)) == sorted(wsol_ids(toy, 'val'))
    assert sorted(ids('train', val_per_class=2, exclude_val=True)) == sorted(wsol_ids(toy, 'train'))
    assert ids('test') == wsol_ids(toy, 'test')
    image, label, boxes, image_id = WSOLDataset(prepared, 'test', transform=None)[0]
    assert image.size == (64, 64) and label == 0 and boxes.shape == (2, 4) and image_id == wsol_ids(toy, 'test')[0]
    assert has_masks(prepared)
    test = wsol_ids(toy, 'test')
    masks, ignore = load_masks(prepared, test, 32), load_ignore_masks(prepared, test, 32)
    assert masks.shape == ignore.shape == (9, 32, 32) and masks.any((1, 2)).all() and (ignore & ~masks).any()
    assert not load_ignore_masks(prepared, wsol_ids(toy, 'train')[:2], 32).any()   # none there: nothing ignored
    assert not staging_folder(prepared).exists()                                     # the rename took it


def test_the_union_is_every_instance_and_the_ignore_region_is_kept(toy, prepared):
    "The mask written is the union of the image's instance files; the ignore region is written as it was (0 or 255)."
    image_id = wsol_ids(toy, 'val')[0]
    lines = [l.split(',') for l in (toy / 'metadata/OpenImages/val/localization.txt').read_text().splitlines()
             if l.startswith(image_id + ',')]
    src = toy / 'dataset/OpenImages'
    union = np.any([np.asarray(Image.open(src / m).convert('L')) > 0 for _, m, _ in lines], axis=0)
    written = np.asarray(Image.open(prepared / 'segmentations' / image_id.replace('.jpg', '.png')))
    assert set(np.unique(written)) <= {0, 255} and ((written > 127) == union).all()
    ignore = np.asarray(Image.open(src / lines[0][2]).convert('L')) > 0
    assert ((np.asarray(Image.open(oi.ignore_path(prepared, image_id))) > 127) == ignore).all()


def test_a_tiny_training_run_reports_pxap(prepared, tmp_path):
    from dfm_tutorial.config import TrainConfig
    from dfm_tutorial.train import train
    cfg = TrainConfig(data=str(prepared), num_classes=3, epochs=1, batch_size=16, loader='pil', workers=0,
                      val_per_class=2, hold_out_val=True, eval_every=1, out=str(tmp_path / 'run'), progress=False)
    result = train(cfg)
    assert 0 <= result['pxap'] <= 100 and result['n_images'] == 9
    row = json.loads((tmp_path / 'run' / 'metrics.jsonl').read_text().splitlines()[-1])
    assert row['val_n_images'] == 6 and 0 <= row['val_pxap'] <= 100
    assert json.loads((tmp_path / 'run' / 'final.json').read_text())['result']['pxap'] == result['pxap']
    from dfm_tutorial.runs import load_checkpoint, model_from_checkpoint
    from dfm_tutorial.train import eval_loader, evaluate
    model = model_from_checkpoint(load_checkpoint(tmp_path / 'run' / 'last.pt'))[0]
    every_pixel = lambda ids: (load_masks(prepared, ids, cfg.eval_size), None)
    plain = evaluate(model, eval_loader(cfg), masks=every_pixel)
    assert plain['max_box_acc_v2'] == result['max_box_acc_v2'] and plain['pxap'] != result['pxap'], \
        "the run's PxAP leaves the ignore regions out, as wsolevaluation's does"


def test_a_killed_preparation_resumes(toy, prepared, tmp_path, monkeypatch):
    "Killed after two class folders: nothing at dest; the next call redoes only the rest and equals a clean run."
    real, calls = oi._image_masks, []
    def dying(*args):
        if len(calls) == 4: raise KeyboardInterrupt                    # the third class folder's first image
        calls.append(args[1])
        return real(*args)
    monkeypatch.setattr(oi, '_image_masks', dying)
    dest = tmp_path / 'OpenImages'
    with pytest.raises(KeyboardInterrupt): prepare_openimages(toy / 'dataset/OpenImages', dest, progress=False)
    assert not dest.exists() and len(list((staging_folder(dest) / '.parts').glob('*.json'))) == 2
    calls.clear()
    monkeypatch.setattr(oi, '_image_masks', lambda *a: (calls.append(a[1]), real(*a))[1])
    prepare_openimages(toy / 'dataset/OpenImages', dest, progress=False)
    assert len(calls) == 15 - 4 and not staging_folder(dest).exists()     # 6 val + 9 test images, 4 done before
    for f in CUB_FILES: assert (dest / f).read_text() == (prepared / f).read_text(), f
    for sub in ('segmentations', 'ignore_masks'):
        for p in (prepared / sub).rglob('*.png'): assert (dest / p.relative_to(prepared)).read_bytes() == p.read_bytes()


def broken_copy(toy, tmp_path, edit):
    "A copy of the fixture whose metadata `edit(metadata folder, dataset folder)` damages; returns its dataset folder."
    root = tmp_path / 'broken'
    shutil.copytree(toy, root)
    edit(root / 'metadata/OpenImages', root / 'dataset/OpenImages')
    return root / 'dataset/OpenImages'


def first_line(path, new):
    lines = path.read_text().splitlines()
    path.write_text('\n'.join([new(lines[0])] + lines[1:]) + '\n')


@pytest.mark.parametrize('edit, error, message', [
    (lambda m, d: shutil.rmtree(d / 'test'), FileNotFoundError, "no test folder"),
    (lambda m, d: shutil.rmtree(m), FileNotFoundError, "pass metadata="),
    (lambda m, d: (m / 'val/localization.txt').unlink(), FileNotFoundError, "localization.txt missing"),
    (lambda m, d: next((d / 'val').rglob('*_body.png')).unlink(), FileNotFoundError, "1 file(s) the metadata lists"),
    (lambda m, d: first_line(m / 'test/class_labels.txt', lambda l: l.replace(',', ' ')), MetadataError,
     "class_labels.txt:1: expected '<image id>,<class label>'"),
    (lambda m, d: first_line(m / 'test/localization.txt', lambda l: l + ',x'), MetadataError,
     "localization.txt:1: expected '<image id>,<mask path>,<ignore path>'"),
    (lambda m, d: (m / 'test/localization.txt').write_text(''), MetadataError, "has no mask"),
    (lambda m, d: first_line(m / 'test/class_labels.txt', lambda l: l[:-1] + '1'), MetadataError, "two folders"),
    (lambda m, d: [Image.new('L', (64, 64)).save(p) for p in (d / 'test').rglob('*_m*.png')], ValueError,
     "are all empty"),
])
def test_a_bad_source_is_refused_with_its_message(toy, tmp_path, edit, error, message):
    source = broken_copy(toy, tmp_path, edit)
    with pytest.raises(error, match=message.replace('(', r'\(').replace(')', r'\)')):
        prepare_openimages(source, tmp_path / 'out', progress=False)
    assert not (tmp_path / 'out').exists()


def test_a_foreign_destination_is_refused(toy, tmp_path):
    (tmp_path / 'out').mkdir()
    (tmp_path / 'out' / 'mine.txt').write_text('not a dataset')
    with pytest.raises(FileExistsError, match="holds files but no .prepared mark"):
        prepare_openimages(toy / 'dataset/OpenImages', tmp_path / 'out', progress=False)


def test_the_openimages_configs():
    from dfm_tutorial.cli import make_config, read_config
    cfg = make_config('openimages_resnet50')
    assert (cfg.data, cfg.num_classes, cfg.epochs, cfg.lr_decay_epochs, cfg.batch_size) == \
        ('data/OpenImages', 100, 10, 3, 32)
    assert (cfg.val_per_class, cfg.hold_out_val, cfg.arch, cfg.lr, cfg.weight_decay) == \
        (25, True, 'resnet50', 0.00107117324, 1e-4)
    assert read_config('openimages_resnet50')['out'] == 'runs/openimages_resnet50/{name}'
