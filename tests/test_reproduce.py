"""Lesson 30's few-shot reference rows (the table and the bad inputs are tested in the lesson): a tiny few-shot run
lands beside the runs, once a backbone, and is read back."""
import pytest
from dfm_tutorial import reproduce
from dfm_tutorial.experiments import SMOKE_TOY
from dfm_tutorial.fewshot import FEWSHOT_ROW
from dfm_tutorial.toy import make_toy_dataset


@pytest.fixture(scope='module')
def toy(tmp_path_factory):
    return make_toy_dataset(tmp_path_factory.mktemp('data') / 'toy', **SMOKE_TOY, progress=False)


def test_a_tiny_fewshot_reference_lands_beside_the_runs_once_a_backbone(toy, tmp_path, monkeypatch):
    "Once a backbone however many rows name it, in `runs/fewshot-boxes-<hash>`; the second call trains nothing."
    calls = []
    rows = reproduce.fewshot_rows
    monkeypatch.setattr(reproduce, 'fewshot_rows', lambda cfg: calls.append(cfg.arch) or rows(cfg))
    over = dict(reproduce.SMOKE_OVERRIDES, data=str(toy), num_classes=SMOKE_TOY['num_classes'],
                cache_dir=str(tmp_path / 'c'))
    refs = reproduce.fewshot_references('cub', ['mobilenetv1', 'mobilenetv1'], tmp_path / 'runs', **over)
    assert calls == ['mobilenetv1'] and list(refs) == ['mobilenetv1']
    (row,) = refs['mobilenetv1'].values()
    assert list(refs['mobilenetv1']) == [FEWSHOT_ROW.format(1)]
    assert 0 <= row['max_box_acc_v2'] <= 100 and 'top1_cls' not in row
    table = reproduce.comparison_table({}, 'cub', [('mobilenetv1', 'cam')], refs)
    box = f"{row['max_box_acc_v2']:.2f}"
    assert table.splitlines()[-1] == f"| mobilenetv1 | {FEWSHOT_ROW.format(1)} | – | – | – | – | {box} |"
    (folder,) = (tmp_path / 'runs').glob('fewshot-boxes-*')
    assert {'config.json', 'final.json', 'saliency.pt'} <= {p.name for p in folder.iterdir()}
    stamp = (folder / 'final.json').stat().st_mtime_ns
    assert reproduce.fewshot_references('cub', ['mobilenetv1'], tmp_path / 'runs', **over) == refs
    assert (folder / 'final.json').stat().st_mtime_ns == stamp                  # read back, not trained again
