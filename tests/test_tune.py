"""The pretrained toy backbone (lesson 17a) and the equal-budget search (lesson 17b) as a user meets them: built on
first use, built once when two processes ask, nothing lost when a build or a search is cut short, one-line errors."""
import json, os, subprocess, sys
import pytest
import torch
from dfm_tutorial.experiments import SMOKE_TOY, SMOKE_TRAIN
from dfm_tutorial.toy import make_toy_dataset
from fixtures import in_process

ENV = {**os.environ, 'OMP_NUM_THREADS': '1', 'PYTHONWARNINGS': 'ignore', 'DFM_SMOKE': '1'}
TINY = dict(SMOKE_TRAIN, num_classes=SMOKE_TOY['num_classes'], val_per_class=2)


@pytest.fixture
def toy(tmp_path):
    return make_toy_dataset(tmp_path / 'data' / 'toy', **SMOKE_TOY, progress=False)


def test_toy_pretrained_is_built_beside_the_data_on_first_use(toy, tmp_path, monkeypatch):
    "`weights = \"toy-pretrained\"`: pretrained under data/toy_pretrain, its path in the run's config, fc alone new."
    monkeypatch.setenv('DFM_SMOKE', '1')
    assert in_process('train', f'data="{toy}"', *(f'{k}={v}' for k, v in TINY.items()), 'progress=false',
                      f'out="{tmp_path / "run"}"') is None
    backbone, = (tmp_path / 'data' / 'toy_pretrain').glob('*/runs/*/backbone.pth')
    saved = json.loads((tmp_path / 'run' / 'config.json').read_text())
    assert saved['weights'] == str(backbone) and saved['lr_ratio'] == 10.0
    trained = torch.load(tmp_path / 'run' / 'last.pt', weights_only=False)['model']
    assert set(trained) >= {f'features.{k}' for k in torch.load(backbone, weights_only=True)}


def test_two_processes_build_the_backbone_once(tmp_path):
    "Two processes that need the backbone at once: one builds, the other waits for it and reads the same file."
    code = ("from dfm_tutorial.pretrain import pretrain_backbone, SMOKE_RECIPE\n"
            f"print(pretrain_backbone(SMOKE_RECIPE, {str(tmp_path)!r}, progress=False))")
    procs = [subprocess.Popen([sys.executable, '-c', code], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                              env=ENV) for _ in range(2)]
    outs = [p.communicate(timeout=300) for p in procs]
    assert all(p.returncode == 0 for p in procs), [o[1][-2000:] for o in outs]
    paths = {o[0].strip().splitlines()[-1] for o in outs}
    assert len(paths) == 1, paths
    assert len(list((tmp_path / 'toy_pretrain').glob('*/runs/*'))) == 1                 # one run, not two


def test_a_build_cut_short_before_its_backbone_file_is_finished_on_the_next_call(tmp_path):
    "Killed after training, before backbone.pth: the next call writes it from the run's checkpoint, the same weights."
    from dfm_tutorial.pretrain import SMOKE_RECIPE, pretrain_backbone
    first = pretrain_backbone(SMOKE_RECIPE, tmp_path, progress=False)
    kept = torch.load(first, weights_only=True)
    first.unlink()
    again = pretrain_backbone(SMOKE_RECIPE, tmp_path, progress=False)
    assert again == first and all(torch.equal(kept[k], v) for k, v in torch.load(again, weights_only=True).items())


def test_pretrain_recipe_errors_are_one_line(tmp_path):
    bad = tmp_path / 'bad.toml'
    bad.write_text('[shapes]\nnum_classes = 0\n[train]\nnum_classes = 3\n')
    said = in_process('pretrain', '--recipe', bad, '--root', tmp_path)
    assert said == ("dfm-tutorial pretrain: num_classes must be 1..480 (one (shape, colour, texture) triple each), "
                    "got 0"), said
    said = in_process('pretrain', '--recipe', 'nope')
    assert said.startswith("dfm-tutorial pretrain: no recipe 'nope': give a .toml path or one of ['toy_pretrain'"), said


def test_the_recipe_and_the_shapes_defaults_agree():
    "One fact: make_shapes_dataset's defaults are the packaged recipe's [shapes] (and its classes the run's)."
    import inspect
    from dfm_tutorial.pretrain import read_recipe
    from dfm_tutorial.shapes import make_shapes_dataset
    shapes, train = read_recipe()
    defaults = {k: p.default for k, p in inspect.signature(make_shapes_dataset).parameters.items()}
    assert {k: defaults[k] for k in shapes} == shapes and train['num_classes'] == shapes['num_classes']


def test_a_search_cut_short_goes_on_where_it_stopped(toy, tmp_path):
    "A kill while a line was written: the cut line is dropped and its trial run again, to the same result."
    from dfm_tutorial.tune import SEARCH_LOG, search
    where = dict(data=str(toy), cache_dir=str(tmp_path / 'cache'), **TINY)
    rows = search('adl', 2, tmp_path / 'tune', progress=False, **where)
    log = tmp_path / 'tune' / 'adl' / SEARCH_LOG
    lines = log.read_text().splitlines()
    log.write_text(lines[0] + '\n' + lines[1][:25])                     # the second line cut off half-way
    again = search('adl', 3, tmp_path / 'tune', progress=False, **where)
    drop = lambda r: {k: v for k, v in r.items() if k != 'seconds'}
    assert [drop(r) for r in again[:2]] == [drop(r) for r in rows] and again[2]['trial'] == 2
    assert len(log.read_text().splitlines()) == 4                        # the cut line, then trials 1 and 2 again


def test_tune_and_demo_tuned_from_the_command_line(toy, tmp_path):
    out, tuned = tmp_path / 'tune', tmp_path / 'tuned.toml'
    assert in_process('tune', '--trials', 0) == "dfm-tutorial tune: --trials must be >= 1, got 0"
    from dfm_tutorial.tune import TuneCommand, search, write_tuned
    assert TuneCommand.help
    rows = {m: search(m, 1, out, data=str(toy), cache_dir=str(tmp_path / 'cache'), progress=False, **TINY)
            for m in ('cam', 'dfm')}
    write_tuned(rows, tuned)
    said = in_process('demo', '--data', toy, '--out', tmp_path / 'demo', '--tuned', tuned, '--methods', 'cam', 'has')
    assert said == f"dfm-tutorial demo: {tuned} has no tuned settings for has: it has cam, dfm", said
    said = in_process('demo', '--data', toy, '--out', tmp_path / 'demo', '--tuned', tmp_path / 'missing.toml')
    assert said.startswith("dfm-tutorial demo: no recipe"), said


def test_a_diverging_trial_is_logged_as_failed_and_never_wins(toy, tmp_path, monkeypatch):
    "A learning rate far too large: the loss turns NaN, the trial's line says so, the search goes on, it never wins."
    import dfm_tutorial.tune as tune
    monkeypatch.setitem(tune.COMMON_SPACE, 'lr', ('log', 1e4, 1e5))
    where = dict(data=str(toy), cache_dir=str(tmp_path / 'cache'), **TINY)
    rows = tune.search('cam', 2, tmp_path / 'tune', progress=False, **where)
    assert all(any(s in r.get('failed', '') for s in ('the training loss is nan', 'logits are not finite'))
               for r in rows), rows
    with pytest.raises(ValueError, match=r'holds no finished trial \(2 failed\)'): tune.best_trial(rows)
    assert tune.search('cam', 2, tmp_path / 'tune', progress=False, **where) == rows     # logged: not trained again


def test_a_finished_backbone_is_returned_while_another_process_holds_the_lock(tmp_path):
    "A run that needs a finished backbone does not wait for the lock another build (or a stuck process) holds."
    from dfm_tutorial.core import FolderLock
    from dfm_tutorial.pretrain import SMOKE_RECIPE, pretrain_backbone, pretrain_config
    built = pretrain_backbone(SMOKE_RECIPE, tmp_path, progress=False)
    data = pretrain_config(SMOKE_RECIPE, tmp_path, False)[0]
    code = ("from dfm_tutorial.pretrain import pretrain_backbone, SMOKE_RECIPE\n"
            f"print(pretrain_backbone(SMOKE_RECIPE, {str(tmp_path)!r}, progress=False))")
    with FolderLock(data.parent, 'a test holding the lock', wait=False):
        done = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True, env=ENV, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip().splitlines()[-1] == str(built)
    assert 'waiting' not in done.stdout + done.stderr                    # FolderLock says it waits on stdout


def test_demo_tuned_trains_the_methods_its_file_has(tmp_path, monkeypatch):
    "With --tuned and no --methods, demo trains every method the tuned file has, however many more are registered."
    import dfm_tutorial.tune as tune
    from dfm_tutorial.models import METHODS
    tuned = tmp_path / 'tuned.toml'
    tuned.write_text('[cam]\nlr = 0.01\n\n[dfm]\nlr = 0.02\n')
    seen = {}
    monkeypatch.setattr(tune, 'demo', lambda *args, **kw: seen.update(methods=args[2], runs=kw['runs']))
    assert in_process('demo', '--tuned', tuned) is None
    assert seen['methods'] is None and list(seen['runs']) == ['cam', 'dfm'] and len(METHODS) > 2
    assert seen['runs']['dfm'] == {'method': 'dfm', 'lr': 0.02}
