"""Lesson 30's table and its few-shot reference rows: the rows as printed, the bad inputs refused with their messages,
and a tiny few-shot run landing beside the runs."""
import pytest
from dfm_tutorial.experiments import SMOKE_TOY
from dfm_tutorial.fewshot import FEWSHOT_ROW
from dfm_tutorial.reproduce import SMOKE_OVERRIDES, comparison_table, fewshot_references
from dfm_tutorial.toy import make_toy_dataset


@pytest.fixture(scope='module')
def toy(tmp_path_factory):
    return make_toy_dataset(tmp_path_factory.mktemp('data') / 'toy', **SMOKE_TOY, progress=False)


def test_the_fewshot_row_has_no_top1_and_its_maxboxacc_as_the_method_rows():
    results = {'vgg16_acol': [dict(top1_cls=70.0, top1_loc=40.0, max_box_acc_v2=50.456)]}
    references = {'vgg16': {FEWSHOT_ROW.format(5): dict(max_box_acc_v2=61.234)}}
    table = comparison_table(results, 'cub', [('vgg16', 'acol'), ('resnet50', 'dfm')], references).splitlines()
    assert table[2] == '| vgg16 | acol | 70.00 | 71.90 | 40.00 | 45.92 | 50.46 |'
    assert table[4:] == ['| vgg16 | few-shot (val boxes, 5 a class) | – | – | – | – | 61.23 |']


def test_without_references_there_is_no_fewshot_row():
    table = comparison_table({}, 'cub', [('vgg16', 'acol')])
    assert 'few-shot' not in table and len(table.splitlines()) == 3


@pytest.mark.parametrize('dataset, backbones, says', [
    ('voc', ['resnet50'], "dataset must be 'cub' or 'ilsvrc', got 'voc'"),
    ('cub', ['resnet50', 'resnet18'], r"unknown backbones \['resnet18'\]; backbones are \('resnet50'"),
])
def test_fewshot_references_refuses_bad_inputs(tmp_path, dataset, backbones, says):
    with pytest.raises(ValueError, match=says):
        fewshot_references(dataset, backbones, tmp_path)
    assert not any(tmp_path.iterdir())                                          # refused before anything is written


def test_a_tiny_fewshot_reference_lands_beside_the_runs_and_is_read_back(toy, tmp_path):
    "Once a backbone however many rows name it, in `runs/fewshot-boxes-<hash>`; the second call trains nothing."
    over = dict(SMOKE_OVERRIDES, data=str(toy), num_classes=SMOKE_TOY['num_classes'], cache_dir=str(tmp_path / 'c'))
    refs = fewshot_references('cub', ['mobilenetv1', 'mobilenetv1'], tmp_path / 'runs', **over)
    assert list(refs) == ['mobilenetv1'] and list(refs['mobilenetv1']) == [FEWSHOT_ROW.format(1)]
    (row,) = refs['mobilenetv1'].values()
    assert 0 <= row['max_box_acc_v2'] <= 100 and 'top1_cls' not in row
    (folder,) = (tmp_path / 'runs').glob('fewshot-boxes-*')
    assert {'config.json', 'final.json', 'saliency.pt'} <= {p.name for p in folder.iterdir()}
    stamp = (folder / 'final.json').stat().st_mtime_ns
    assert fewshot_references('cub', ['mobilenetv1'], tmp_path / 'runs', **over) == refs
    assert (folder / 'final.json').stat().st_mtime_ns == stamp                  # read back, not trained again
