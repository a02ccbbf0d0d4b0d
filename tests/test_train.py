"""Training end to end on a small toy set: a run killed with SIGKILL resumes to the same weights, DDP on 2 CPU
processes, CLI errors."""
import json, os, signal, subprocess, sys, time
import pytest
import torch
from dfm_tutorial.toy import make_toy_dataset
from fixtures import in_process

ENV = {**os.environ, 'OMP_NUM_THREADS': '1', 'PYTHONWARNINGS': 'ignore'}


def cli(*args, **kw):
    return subprocess.run(
        [sys.executable, '-m', 'dfm_tutorial', *map(str, args)], capture_output=True, text=True, env=ENV, **kw
    )


def run_args(toy, out, *more):
    return ['train', f'data="{toy}"', 'num_classes=3', 'epochs=3', 'batch_size=16', 'save_every=2', f'out="{out}"',
            'progress=false', *more]


def same_weights(a, b):
    sa, sb = torch.load(a, weights_only=False)['model'], torch.load(b, weights_only=False)['model']
    return sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa)


def metric_lines(out):
    rows = [json.loads(l) for l in (out / 'metrics.jsonl').read_text().splitlines()]
    for r in rows: r.pop('train_seconds')
    return rows


@pytest.mark.parametrize('loader', ['cache', 'pil'])
def test_killed_run_resumes_to_the_same_weights(toy, tmp_path, loader):
    "S7/S8: killed mid-epoch (save_every) and resumed, with either loader: the weights of an uninterrupted run."
    args = lambda out: run_args(toy, out, 'method=dfm', f'loader={loader}', 'workers=2')
    whole = cli(*args(tmp_path / 'whole'))
    assert whole.returncode == 0, whole.stderr
    killed = subprocess.Popen([sys.executable, '-m', 'dfm_tutorial', *args(tmp_path / 'killed')],
                              env=ENV, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    last = tmp_path / 'killed' / 'last.pt'
    while not last.exists() and killed.poll() is None: time.sleep(0.02)
    killed.send_signal(signal.SIGKILL)
    killed.wait()
    ck = torch.load(last, weights_only=False)
    assert (ck['epoch'], ck['step']) < (3, 0), "the run finished before it was killed: nothing was tested"
    assert not same_weights(last, tmp_path / 'whole' / 'last.pt')
    resumed = cli(*args(tmp_path / 'killed'), '--resume')                  # the killed process's lock is gone with it
    assert resumed.returncode == 0, resumed.stderr
    assert same_weights(last, tmp_path / 'whole' / 'last.pt')                # bitwise
    assert metric_lines(tmp_path / 'killed') == metric_lines(tmp_path / 'whole')


def test_two_process_ddp_on_cpu(toy, tmp_path):
    out = tmp_path / 'ddp'
    r = subprocess.run(
        [sys.executable, '-m', 'torch.distributed.run', '--standalone', '--nproc_per_node', '2', '-m', 'dfm_tutorial',
         *run_args(toy, out, 'method=adl', 'device="cpu"', 'epochs=2')],
        capture_output=True,
        text=True,
        env=ENV,
    )
    assert r.returncode == 0, r.stderr[-3000:]
    final = json.loads((out / 'final.json').read_text())
    assert final['world_size'] == 2 and final['weights_checksums'][0] == final['weights_checksums'][1]
    ev = cli('evaluate', out / 'last.pt')
    assert ev.returncode == 0, ev.stderr
    single = json.loads(ev.stdout)
    for k in ('top1_cls', 'top1_loc', 'gt_known_loc', 'max_box_acc_v2'): assert single[k] == final['result'][k], k


def test_a_run_does_not_depend_on_whether_its_caches_existed(toy, tmp_path):
    "S6: two runs of one DFM config sharing one cache folder: the first builds the caches, the second finds them."
    for name in ('builds', 'finds'):
        assert in_process(*tiny_run(toy, tmp_path / name, 'method="dfm"', f'cache_dir="{tmp_path / "cache"}"')) is None
    assert same_weights(tmp_path / 'builds' / 'last.pt', tmp_path / 'finds' / 'last.pt')


@pytest.mark.parametrize(
    'override, message',
    [
        ('arch="resnet18"', "arch must be one of"),
        ('method="psol"', "method must be one of"),
        ('num_classes=7', "num_classes=7 but"),
        ('batch_size=0', "batch_size must be >= 1, got 0"),
        ('data="/nonexistent/toy"', "has no images.txt"),
        ('learning_rate=0.1', "unknown config keys ['learning_rate']"),
        (('method="has"', 'options={drop_rate=1.5}'), "drop_rate must be in [0, 1], got 1.5"),
        (('method="has"', 'options={grid_size=0}'), "grid_size must be a positive integer, got 0"),
        (('method="acol"', 'options={threshold=0.0}'), "threshold must be in (0, 1], got 0.0"),
        (('method="dfm"', 'options={theta=-1}'), "theta must be in [0, 1], got -1"),
    ],
)
def test_bad_configuration_stops_before_training(toy, tmp_path, override, message):
    said = in_process('train', f'data="{toy}"', 'num_classes=3', f'out="{tmp_path / "run"}"',
                      *([override] if isinstance(override, str) else override))
    assert said is not None and said.startswith('dfm-tutorial train: ') and message in said, said
    assert not (tmp_path / 'run').exists()


@pytest.mark.parametrize('override, message', [
    ('epochs=x', "epochs must be an integer, got 'x'"),
    ('epochs=1.5', "epochs must be an integer, got 1.5"),
    ('lr=fast', "lr must be a number, got 'fast'"),
    ('lr=nan', "lr must be a finite number, got nan"),
    ('device=tpu', "device must be 'auto', 'cpu', 'cuda' or 'cuda:N', got 'tpu'"),
    ('toy_width=0', "toy_width must be >= 1, got 0"),
    ('toy_stride=3', "toy_stride must be one of (2, 4, 8), got 3"),
    ('eval_every=-1', "eval_every must be >= 0 (0: val is never scored), got -1"),
    (('method="adl"', 'options={beta=0.8}'), "unknown option 'beta' for adl; it takes drop_rate, drop_threshold"),
    (('method="cam"', 'options={beta=0.8}'), "unknown option 'beta' for cam; it takes none"),
])
def test_bad_values_stop_in_one_line_before_writing(toy, tmp_path, override, message):
    "The same path as the command line (`main`), in this process: the checks run before anything is written."
    override = [override] if isinstance(override, str) else override
    assert in_process('train', f'data="{toy}"', 'num_classes=3', f'out="{tmp_path / "run"}"', *override) == \
        f"dfm-tutorial train: {message}"
    assert not (tmp_path / 'run').exists()


def tiny_run(toy, out, *more):
    return ['train', f'data="{toy}"', 'num_classes=3', 'epochs=1', 'batch_size=16', f'out="{out}"', 'progress=false',
            *more]


def test_resume_refuses_a_finished_run_and_a_changed_config(toy, tmp_path):
    out = tmp_path / 'run'
    assert in_process(*tiny_run(toy, out)) is None
    final = (out / 'final.json').read_text()
    said = in_process(*tiny_run(toy, out, 'resume=true'))
    assert f"{out} holds a finished run of 1 epochs: nothing to resume" in said, said
    assert (out / 'final.json').read_text() == final                       # the result is kept, not rewritten
    (out / 'final.json').unlink()                                           # as if killed after the last checkpoint
    said = in_process(*tiny_run(toy, out, 'resume=true', 'lr=0.5', 'seed=7'))
    assert "refuses changes to lr, seed" in said and "lr=0.01" in said, said   # toy.toml's lr
    assert json.loads((out / 'config.json').read_text())['lr'] == 0.01     # config.json still says what ran
    said = in_process(*tiny_run(toy, out, 'resume=true', f'cache_dir="{tmp_path / "elsewhere"}"'))
    assert "refuses" not in (said or ''), said                              # where caches go changes nothing computed


def test_a_diverging_run_stops_with_the_step(toy, tmp_path):
    said = in_process(*tiny_run(toy, tmp_path / 'run', 'lr=1e30'))
    assert "the training loss is " in said and "at epoch 1, step " in said, said
    assert "lr=1e+30 is likely too large" in said
    assert not (tmp_path / 'run' / 'final.json').exists()


def test_evaluate_checks_its_overrides(toy, tmp_path):
    assert in_process(*tiny_run(toy, tmp_path / 'run')) is None
    said = in_process('evaluate', tmp_path / 'run' / 'last.pt', 'eval_size=0')
    assert said == "dfm-tutorial evaluate: eval_size must be >= 1, got 0", said


def test_a_kill_before_the_metrics_line_loses_nothing(toy, tmp_path):
    "last.pt holds every finished epoch's row: a run killed after the checkpoint and before metrics.jsonl gets it back."
    whole, cut = tmp_path / 'whole', tmp_path / 'cut'
    assert in_process(*tiny_run(toy, whole, 'epochs=2')) is None
    assert in_process(*tiny_run(toy, cut, 'epochs=2')) is None
    (cut / 'final.json').unlink()                                         # as if killed after epoch 2's checkpoint ...
    lines = (cut / 'metrics.jsonl').read_text().splitlines()
    (cut / 'metrics.jsonl').write_text(lines[0] + '\n{"epoch": 2, "train_lo')   # ... half-way through the line
    assert in_process(*tiny_run(toy, cut, 'epochs=2', 'resume=true')) is None
    assert metric_lines(cut) == metric_lines(whole)


def test_metrics_are_written_atomically(tmp_path, monkeypatch):
    from pathlib import Path
    from dfm_tutorial.runs import write_metrics
    path = tmp_path / 'metrics.jsonl'
    write_metrics(path, [{'epoch': 1}])
    def killed(self, target): raise KeyboardInterrupt                     # a kill between the write and the rename
    monkeypatch.setattr(Path, 'replace', killed)
    with pytest.raises(KeyboardInterrupt): write_metrics(path, [{'epoch': 1}, {'epoch': 2}])
    assert path.read_text() == '{"epoch": 1}\n'                           # the old file, whole


@pytest.mark.parametrize('content, says', [
    (b'', 'is empty (0 bytes): not a checkpoint'),
    (b'PK\x03\x04 truncated', 'is not a readable checkpoint (truncated or not made by torch.save)'),
])
def test_bad_checkpoint_files_name_themselves(tmp_path, content, says):
    (tmp_path / 'last.pt').write_bytes(content)
    said = in_process('evaluate', tmp_path / 'last.pt')
    assert said.startswith(f"dfm-tutorial evaluate: {tmp_path / 'last.pt'} ") and says in said, said


def test_foreign_checkpoints_are_refused_in_one_line(toy, tmp_path):
    torch.save({'model': {}}, tmp_path / 'other.pt')
    said = in_process('evaluate', tmp_path / 'other.pt')
    assert "is not a dfm-tutorial training checkpoint: it has no config, optimizer" in said, said
    assert in_process(*tiny_run(toy, tmp_path / 'run')) is None
    ck = torch.load(tmp_path / 'run' / 'last.pt', weights_only=False)
    ck['config']['arch'] = 'resnet50'                                     # weights of the toy net, config of a ResNet
    torch.save(ck, tmp_path / 'mixed.pt')
    said = in_process('evaluate', tmp_path / 'mixed.pt')
    assert "the checkpoint's weights do not fit the resnet50 / cam model of its config:" in said, said
    assert said.count('\n') == 0 and len(said) < 400


def test_out_folder_that_cannot_be_used(toy, tmp_path):
    (tmp_path / 'file').write_text('mine')
    said = in_process(*tiny_run(toy, tmp_path / 'file'))
    assert said == f"dfm-tutorial train: out={tmp_path / 'file'} is a file: choose a folder for the run", said
    assert (tmp_path / 'file').read_text() == 'mine'
    import dfm_tutorial.train as train_module                 # root may write anywhere: make os.access say no
    (tmp_path / 'ro').mkdir()
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(train_module.os, 'access', lambda path, mode: False)
        said = in_process(*tiny_run(toy, tmp_path / 'ro'))
    assert said == f"dfm-tutorial train: the run folder out={tmp_path / 'ro'} is not writable: choose another one", said
    assert list((tmp_path / 'ro').iterdir()) == []


def test_full_disk_keeps_the_last_checkpoint(toy, tmp_path, monkeypatch):
    "A checkpoint that cannot be written (ENOSPC) leaves the previous last.pt whole and no .tmp behind."
    import errno
    import dfm_tutorial.train as train_module
    out, real, kept = tmp_path / 'run', torch.save, []
    def full(obj, f, *a, **kw):
        if not (out / 'last.pt').exists(): return real(obj, f, *a, **kw)    # epoch 1's checkpoint is written ...
        kept.append((out / 'last.pt').read_bytes())
        real(obj, f, *a, **kw)                                            # ... part of epoch 2's ...
        raise OSError(errno.ENOSPC, 'No space left on device')             # ... then the disk is full
    monkeypatch.setattr(train_module.torch, 'save', full)
    said = in_process(*tiny_run(toy, out, 'epochs=2'))
    assert "could not write" in said and "No space left on device" in said and "the previous one is kept" in said, said
    assert (out / 'last.pt').read_bytes() == kept[0] and not (out / 'last.pt.tmp').exists()
    assert torch.load(out / 'last.pt', weights_only=False)['epoch'] == 1


def test_invalid_toml_config_names_the_file(tmp_path):
    (tmp_path / 'mine.toml').write_text('epochs = 8\nlr = \n')
    said = in_process('train', '--config', tmp_path / 'mine.toml')
    assert said.startswith(f"dfm-tutorial train: {tmp_path / 'mine.toml'} is not valid TOML: "), said


def test_on_bad_image_is_a_config_key(toy, tmp_path):
    import shutil
    data = tmp_path / 'toy'
    shutil.copytree(toy, data)
    (data / 'images/001.Crimson/Crimson_0000.jpg').write_bytes(b'')       # a 0-byte training image
    said = in_process(*tiny_run(data, tmp_path / 'a'))
    assert "Crimson_0000.jpg" in said and 'on_bad_image="skip" on the command line' in said, said
    assert in_process(*tiny_run(data, tmp_path / 'b', 'on_bad_image="skip"')) is None
    assert in_process(*tiny_run(data, tmp_path / 'c', 'on_bad_image="ignore"')) == \
        "dfm-tutorial train: on_bad_image must be one of ('raise', 'skip'), got 'ignore'"


@pytest.mark.parametrize('override, message', [
    ('options={alpha=true}', "alpha must be a number, got True"),
    ('options={mu=inf}', "mu must be a finite number, got inf"),
    ('positions="block3"', "positions must be a list, got 'block3'"),            # the type check, before the model
])
def test_dfm_values_that_were_silently_accepted(toy, tmp_path, override, message):
    said = in_process('train', f'data="{toy}"', 'num_classes=3', 'method="dfm"', f'out="{tmp_path / "run"}"', override)
    assert said == f"dfm-tutorial train: {message}", said
    assert not (tmp_path / 'run').exists()


def test_resume_from_a_damaged_checkpoint_names_it(toy, tmp_path):
    out = tmp_path / 'run'
    assert in_process(*tiny_run(toy, out, 'epochs=2')) is None
    (out / 'final.json').unlink()
    data = (out / 'last.pt').read_bytes()
    (out / 'last.pt').write_bytes(data[: len(data) // 3])                  # truncated, as by a crash of the disk
    said = in_process(*tiny_run(toy, out, 'epochs=2', 'resume=true'))
    assert f"{out / 'last.pt'} is not a readable checkpoint (truncated or not made by torch.save)" in said, said


def test_demo_never_draws_over_a_foreign_dataset(tmp_path):
    mine = tmp_path / 'mine'
    mine.mkdir()
    (mine / 'images.txt').write_text('1 001.Albatross/a.jpg\n')
    said = in_process('demo', '--data', mine, '--out', tmp_path / 'out', '--methods', 'cam')
    assert "holds files that are not a toy set made by dfm-tutorial" in said, said
    assert (mine / 'images.txt').read_text() == '1 001.Albatross/a.jpg\n'
    assert sorted(p.name for p in mine.iterdir()) == ['images.txt']
    said = in_process('demo', '--data', tmp_path / 'new', '--out', tmp_path / 'out', '--epochs', '0')
    assert said == "dfm-tutorial demo: epochs must be >= 1, got 0" and not (tmp_path / 'new').exists(), said


def test_train_config_defaults_are_the_toy_config():
    """TrainConfig's defaults are the toy run from scratch, written once: toy_scratch.toml sets nothing, and toy.toml
    starts from it and states only what fine-tuning changes."""
    from dfm_tutorial.cli import CONFIGS, make_config
    from dfm_tutorial.config import TrainConfig
    try: import tomllib
    except ImportError: import tomli as tomllib   # Python 3.10
    assert tomllib.loads((CONFIGS / 'toy_scratch.toml').read_text()) == {}
    assert make_config('toy_scratch') == TrainConfig()
    toy = tomllib.loads((CONFIGS / 'toy.toml').read_text())
    assert toy.pop('base') == 'toy_scratch'
    assert all(getattr(TrainConfig(), k) != v for k, v in toy.items()), "toy.toml restates a default"


def test_a_new_run_never_replaces_another(toy, tmp_path):
    "Starting (not resuming) where a run lives is refused in one line, unless overwrite=true; nothing is touched."
    out = tmp_path / 'run'
    assert in_process(*tiny_run(toy, out)) is None
    final = (out / 'final.json').read_text()
    said = in_process(*tiny_run(toy, out, 'method=dfm'))
    assert said.startswith(f"dfm-tutorial train: {out} holds a finished run of another config (method differ)"), said
    assert "overwrite=true to replace it" in said and (out / 'final.json').read_text() == final
    said = in_process(*tiny_run(toy, out))
    assert "holds a finished run of this config: nothing to do" in said, said
    (out / 'final.json').unlink()                                          # as if killed before the end
    said = in_process(*tiny_run(toy, out))
    assert "holds an unfinished run of this config: --resume continues it" in said, said
    assert in_process(*tiny_run(toy, out, 'method=dfm', 'overwrite=true')) is None
    assert json.loads((out / 'config.json').read_text())['method'] == 'dfm'


def test_the_default_out_folder_names_the_method_and_its_options():
    "Every config writes <runs>/<config>/{name}: CAM after DFM, or DFM at another beta, goes to a folder of its own."
    from dfm_tutorial.cli import CONFIGS, make_config
    from dfm_tutorial.runs import run_folder_of
    for path in CONFIGS.glob('*.toml'):
        assert make_config(path.stem).out.endswith('/{name}'), path
    folder = lambda *o: str(run_folder_of(make_config('cub_resnet50', o)))
    name = lambda *o: folder(*o).rsplit('-', 1)[0]                          # without the identity's hash
    assert name('method=cam') == 'runs/cub_resnet50/cam'
    assert name('method=dfm', 'options={beta = 0.8}', 'seed=1') == 'runs/cub_resnet50/dfm_beta0.8_seed1'
    assert name('method=adl', "positions=['layer4.2']") == 'runs/cub_resnet50/adl_at-layer4.2'
    assert folder('lr=0.01') != folder('lr=0.02') and folder('workers=1') == folder('workers=3')   # D1, D2
    assert len(folder('method=cam').rsplit('-', 1)[1]) == 8
    assert folder('out="mine"') == 'mine'                                 # an out without {name} is taken as it is


def test_amp_auto_fits_the_gpu(monkeypatch):
    "bf16 from compute capability 8, fp16 below (Colab's T4 is 7.5), none on a CPU; bf16 on a T4 is refused."
    from dfm_tutorial.config import resolve_amp
    assert resolve_amp('auto', 'cpu') == ('none', 'auto, no GPU') and resolve_amp('bf16', 'cpu')[0] == 'bf16'
    monkeypatch.setattr(torch.cuda, 'get_device_name', lambda d=None: 'Tesla T4')
    monkeypatch.setattr(torch.cuda, 'get_device_capability', lambda d=None: (7, 5))
    assert resolve_amp('auto', 'cuda') == ('fp16', 'auto, Tesla T4, compute capability 7.5')
    with pytest.raises(ValueError, match="amp='bf16' on Tesla T4, compute capability 7.5: this GPU has no bf16"):
        resolve_amp('bf16', 'cuda')
    monkeypatch.setattr(torch.cuda, 'get_device_capability', lambda d=None: (8, 0))
    assert resolve_amp('auto', 'cuda:0')[0] == 'bf16' and resolve_amp('none', 'cuda')[0] == 'none'


def test_gpu_runtime_defaults(tmp_path):
    "Deterministic kernels by default on CPU only (cudnn.benchmark on GPU); workers capped at the CPUs; pinned batches."
    from dfm_tutorial.cli import make_config
    from dfm_tutorial.loader import PIN_MEMORY
    from dfm_tutorial.config import TrainConfig, usable_workers, wants_determinism
    from dfm_tutorial.train import eval_loader, seed_everything, train_loader
    assert wants_determinism(TrainConfig(), 'cpu') and not wants_determinism(TrainConfig(), 'cuda')
    assert wants_determinism(TrainConfig(deterministic=True), 'cuda:1')
    assert make_config('cub_resnet50').deterministic is False and make_config('cub_resnet50').amp == 'auto'
    seed_everything(0, False)
    assert torch.backends.cudnn.benchmark and not torch.are_deterministic_algorithms_enabled()
    seed_everything(0, True)
    assert not torch.backends.cudnn.benchmark and torch.are_deterministic_algorithms_enabled()
    cpus = len(os.sched_getaffinity(0))
    assert usable_workers(10 * cpus) == cpus and usable_workers(0) == 0
    toy = make_toy_dataset(tmp_path / 'toy', num_classes=2, train_per_class=4, test_per_class=2, progress=False)
    cfg = TrainConfig(data=str(toy), num_classes=2, loader='pil', batch_size=2, workers=0, out=str(tmp_path / 'run'))
    pinned = [next(iter(dl)).images.is_pinned() for dl in (train_loader(cfg), eval_loader(cfg))]
    assert pinned == [PIN_MEMORY] * 2 and PIN_MEMORY == torch.cuda.is_available()


def test_epochs_score_val_and_the_end_scores_test(toy, tmp_path):
    "With hold_out_val the val images are not trained on; each epoch scores val; test is scored once, at the end."
    from dfm_tutorial.data import WSOLDataset
    from dfm_tutorial.config import VAL_SEED, TrainConfig, split_options
    from dfm_tutorial.train import train
    cfg = TrainConfig(data=str(toy), num_classes=3, epochs=2, batch_size=16, val_per_class=4, hold_out_val=True,
                      eval_every=1, out=str(tmp_path / 'run'), progress=False)
    ids = lambda split: set(WSOLDataset(toy, split, transform=None, **split_options(cfg, split)).indices.tolist())
    train_ids, val_ids = ids('train'), ids('val')
    assert len(val_ids) == 12 and not train_ids & val_ids and len(train_ids) == 96 - 12
    assert val_ids == set(WSOLDataset(toy, 'val', transform=None, val_per_class=4, seed=VAL_SEED).indices.tolist())
    result = train(cfg)
    rows = [json.loads(l) for l in (tmp_path / 'run' / 'metrics.jsonl').read_text().splitlines()]
    assert [r['epoch'] for r in rows] == [1, 2] and all(r['val_n_images'] == 12 for r in rows)
    assert not any('max_box_acc_v2' in r for r in rows)                   # no epoch is scored on test
    assert result['n_images'] == 24                                        # the test split: 3 classes x 8
    assert json.loads((tmp_path / 'run' / 'final.json').read_text())['result']['n_images'] == 24


def test_batches_are_normalised_with_the_backbone_statistics():
    "model_inputs: a loader's uint8 batch (n, 3, s, s) gets the statistics of the model's weights."
    from dfm_tutorial.data import IMAGENET_MEAN, IMAGENET_STD
    from dfm_tutorial.models import create_wsol_model
    from dfm_tutorial.train import model_inputs
    white_cache = torch.full((2, 8, 8, 3), 255, dtype=torch.uint8).permute(0, 3, 1, 2)   # channels_last, as cached
    white_pil = white_cache.contiguous()
    mobilenet, toy = create_wsol_model("mobilenetv1"), create_wsol_model("toy", num_classes=3)   # timm's vs ImageNet's
    for batch in (white_cache, white_pil):
        torch.testing.assert_close(model_inputs(mobilenet, batch), torch.ones(2, 3, 8, 8))        # (1 - 0.5) / 0.5
        want = ((1 - torch.tensor(IMAGENET_MEAN)) / torch.tensor(IMAGENET_STD)).view(1, 3, 1, 1).expand(2, 3, 8, 8)
        torch.testing.assert_close(model_inputs(toy, batch), want)


def final_checksum(out):
    return json.loads((out / 'final.json').read_text())['weights_checksums'][0]


def test_a_run_is_the_same_whatever_its_loader_workers_and_evaluation(toy, tmp_path):
    "S9/S10: cache or PIL, 0 or 2 workers, val scored every epoch or never: bitwise the same weights."
    settings = {'a': ('loader="cache"', 'workers=0', 'eval_every=0'),
                'b': ('loader="pil"', 'workers=2', 'eval_every=1'),
                'c': ('loader="pil"', 'workers=0', 'eval_every=0'),
                'd': ('loader="cache"', 'workers=2', 'eval_every=1')}
    for name, more in settings.items():
        assert in_process(*tiny_run(toy, tmp_path / name, 'method="dfm"', 'epochs=2', *more)) is None
    assert len({final_checksum(tmp_path / name) for name in settings}) == 1


@pytest.mark.parametrize('override, message', [
    ('lr_decay=-1', "lr_decay must be in (0, 1], got -1"),
    ('lr_ratio=-1', "lr_ratio must be in (0, inf), got -1"),
    ('momentum=1.5', "momentum must be in [0, 1), got 1.5"),
    ('weight_decay=-0.1', "weight_decay must be in [0, inf), got -0.1"),
    ('save_every=-2', "save_every must be in [0, inf), got -2"),
    ('val_per_class=0', "val_per_class must be >= 1, got 0"),
    ('val_per_class=-3', "val_per_class must be >= 1, got -3"),
    ("options=beta", "options must be a table, got 'beta'"),
    ("options=[1,2]", "options must be a table, got [1, 2]"),
    ('method=5', "method must be a string, got 5"),
    ('positions=5', "positions must be a list, got 5"),
    ('out=5', "out must be a string, got 5"),
    ('out=""', "out must name a folder for the run, got ''"),
    ('weights="x.pth"', 'weights file x.pth does not exist'),
    ('weights="imagenet"', "weights='imagenet': the toy backbone takes a .pth file of its features, or none (train "
                           "resolves weights='toy-pretrained' to the pretrained one, lesson 17a)"),
])
def test_values_that_crashed_or_trained_wrong_stop_in_one_line(toy, tmp_path, override, message):
    "S18, T3-T7, U8, U9: checked before any use, nothing written."
    said = in_process('train', f'data="{toy}"', 'num_classes=3', f'out="{tmp_path / "run"}"', override)
    assert said == f"dfm-tutorial train: {message}", said
    assert not (tmp_path / 'run').exists()


def test_resume_without_a_checkpoint_never_replaces_another_config(toy, tmp_path):
    "D4: rm last.pt, then --resume with another lr: refused, the finished run's files kept."
    out = tmp_path / 'run'
    assert in_process(*tiny_run(toy, out)) is None
    (out / 'last.pt').unlink()
    final = (out / 'final.json').read_text()
    for more in (('lr=0.01',), ()):
        said = in_process(*tiny_run(toy, out, *more), 'resume=true')
        assert said == (f"dfm-tutorial train: --resume: {out} holds no checkpoint (last.pt) to resume; start the run "
                        "without --resume"), said
        assert (out / 'final.json').read_text() == final
    said = in_process(*tiny_run(toy, tmp_path / 'typo'), 'resume=true')           # no folder at all: nothing to resume
    assert "holds no checkpoint (last.pt) to resume" in said and not (tmp_path / 'typo').exists(), said


@pytest.mark.parametrize('theirs', ['config.json', 'metrics.jsonl'])
def test_files_the_package_did_not_write_are_never_overwritten(toy, tmp_path, theirs):
    "D5: a folder holding the user's own config.json or metrics.jsonl is refused, even with overwrite=true."
    out = tmp_path / 'mine'
    out.mkdir()
    (out / theirs).write_text('{"my": "settings"}\n')
    for more in ((), ('overwrite=true',)):
        said = in_process(*tiny_run(toy, out, *more))
        assert said == (f"dfm-tutorial train: out={out} holds files dfm-tutorial did not write ({theirs}): choose "
                        "another out= (overwrite=true never replaces them)"), said
    assert sorted(p.name for p in out.iterdir()) == [theirs] and (out / theirs).read_text() == '{"my": "settings"}\n'


def test_two_processes_never_share_a_run_folder(toy, tmp_path):
    "D6: while one process trains in out=, a second one (another config, or the same) is refused; the first is whole."
    out = tmp_path / 'run'
    first = subprocess.Popen([sys.executable, '-m', 'dfm_tutorial', *run_args(toy, out, 'epochs=4')], env=ENV,
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    while not (out / '.lock').exists() and first.poll() is None: time.sleep(0.02)
    while not (out / 'config.json').exists() and first.poll() is None: time.sleep(0.02)
    for more, says in ((('lr=0.02',), 'holds an unfinished run of another config (lr differ)'),
                       (('overwrite=true',), 'is in use (training) by pid'),
                       (('resume=true',), 'is in use (training) by pid|holds no checkpoint (last.pt) to resume')):
        said = in_process(*run_args(toy, out, 'epochs=4', *more))          # resume: before or after a checkpoint
        assert said is not None and any(s in said for s in says.split('|')), (more, said)
    assert first.wait() == 0, first.stderr.read()
    ck = torch.load(out / 'last.pt', weights_only=False)
    assert ck['epoch'] == 4 and ck['config'] == json.loads((out / 'config.json').read_text())


def test_an_interrupted_overwrite_is_never_read_as_finished(toy, tmp_path, monkeypatch):
    "S1/S2: overwrite=true epochs=3 over a finished 1-epoch run, stopped after epoch 1: not finished; resumable."
    import dfm_tutorial.train as train_module
    from dfm_tutorial.experiments import run_grid
    out = tmp_path / 'grid' / 'cam_seed0'
    common = dict(data=str(toy), num_classes=3, batch_size=16)
    run_grid({'cam': {'epochs': 1}}, tmp_path / 'grid', progress=False, **common)
    real, calls = train_module.log_epoch, []
    def stop_after_one(run, row):
        real(run, row)
        calls.append(1)
        if len(calls) == 1: raise KeyboardInterrupt                      # a kill after epoch 1's checkpoint
    monkeypatch.setattr(train_module, 'log_epoch', stop_after_one)
    with pytest.raises(KeyboardInterrupt):
        run_grid({'cam': {'epochs': 3}}, tmp_path / 'grid', progress=False, overwrite=True, **common)
    monkeypatch.setattr(train_module, 'log_epoch', real)
    assert not (out / 'final.json').exists()
    said = in_process(*tiny_run(toy, out, 'epochs=3'))
    assert "holds an unfinished run of this config: --resume continues it" in said, said
    result = run_grid({'cam': {'epochs': 3}}, tmp_path / 'grid', progress=False, **common)['cam'][0]   # resumed
    assert [r['epoch'] for r in map(json.loads, (out / 'metrics.jsonl').read_text().splitlines())] == [1, 2, 3]
    assert result == json.loads((out / 'final.json').read_text())['result']


def test_evaluate_scores_as_train_does_and_refuses_model_changes(toy, tmp_path, capsys):
    "S11: evaluate gives final.json's scores, PxAP included; S12: overrides that change the model are refused."
    out = tmp_path / 'run'
    assert in_process(*tiny_run(toy, out)) is None
    capsys.readouterr()
    assert in_process('evaluate', out / 'last.pt') is None
    scores, final = json.loads(capsys.readouterr().out), json.loads((out / 'final.json').read_text())['result']
    assert 'pxap' in scores and all(scores[k] == final[k] for k in ('pxap', 'max_box_acc_v2', 'top1_loc', 'top1_cls'))
    for override in ('method=dfm', 'arch=resnet50', 'options={beta=0.5}'):
        said = in_process('evaluate', out / 'last.pt', override)
        key = override.split('=')[0]
        said_first = "dfm-tutorial evaluate: evaluate scores the checkpoint's model as it was trained: "
        assert said.startswith(f"{said_first}{key} cannot change (it may: data, eval_split"), said


def test_checkpoints_of_the_first_format_are_migrated(toy, tmp_path):
    "A checkpoint without `format` (and, older still, without `history`) loads as format 2; a newer one is refused."
    from dfm_tutorial.runs import CHECKPOINT_FORMAT, load_checkpoint
    out = tmp_path / 'run'
    assert in_process(*tiny_run(toy, out, 'epochs=2')) is None
    ck = torch.load(out / 'last.pt', weights_only=False)
    assert ck['format'] == CHECKPOINT_FORMAT == 2
    history = ck.pop('history')
    del ck['format']
    torch.save(ck, out / 'last.pt')                                       # as the first format wrote it
    migrated = load_checkpoint(out / 'last.pt')
    assert migrated['format'] == 2 and migrated['history'] == history    # from metrics.jsonl
    (out / 'final.json').unlink()                                         # as if killed after the last checkpoint
    said = in_process(*tiny_run(toy, out, 'epochs=2', 'resume=true'))
    assert said.startswith(f"dfm-tutorial train: {out / 'last.pt'} was written before the seeded batch pipeline"), said
    ck['format'] = 3
    torch.save(ck, tmp_path / 'new.pt')
    said = in_process('evaluate', tmp_path / 'new.pt')
    assert "has checkpoint format 3; this dfm-tutorial reads formats 1 to 2: upgrade the package" in said, said


def test_demo_never_replaces_runs_of_other_settings(tmp_path):
    """D2: demo --epochs 2 over demo --epochs 1's runs is refused, naming epochs; --overwrite retrains. D3: a toy set
    of other settings is refused, not redrawn."""
    data, out = tmp_path / 'toy', tmp_path / 'out'
    small = make_toy_dataset(tmp_path / 'small', num_classes=3, train_per_class=4, test_per_class=2, progress=False)
    toy_json = (small / 'toy.json').read_text()
    said = in_process('demo', '--data', small, '--out', out, '--methods', 'cam', '--epochs', '1')
    assert said.startswith(f"dfm-tutorial demo: {small} holds a toy set with num_classes=3 (asked: 5)"), said
    assert (small / 'toy.json').read_text() == toy_json
    demo = ('demo', '--data', data, '--out', out, '--methods', 'cam')
    assert in_process(*demo, '--epochs', '1') is None                      # draws the default toy set
    first = (out / 'cam_seed0' / 'final.json').read_text()
    said = in_process(*demo, '--epochs', '2')
    assert said == (f"dfm-tutorial demo: {out / 'cam_seed0'} holds a run of another config (epochs differ): choose "
                    "another out, or overwrite=True (--overwrite for dfm-tutorial demo) to retrain it"), said
    assert (out / 'cam_seed0' / 'final.json').read_text() == first
    assert in_process(*demo, '--epochs', '2', '--overwrite') is None
    assert len((out / 'cam_seed0' / 'metrics.jsonl').read_text().splitlines()) == 2


def test_one_setting_spelled_two_ways_is_one_run():
    "0 and 0.0 for a number, data as a relative or an absolute path: one identity, one folder; save_every is runtime."
    from dfm_tutorial.cli import make_config
    from dfm_tutorial.runs import run_folder_of
    folder = lambda *o: run_folder_of(make_config('toy', o))
    assert folder('weight_decay=0') == folder('weight_decay=0.0') and folder('lr_ratio=1') == folder('lr_ratio=1.0')
    assert folder('save_every=5') == folder('save_every=0')
    assert folder('lr=0.01') != folder('lr=0.02')


def test_ddp_ranks_share_a_refusal_instead_of_hanging(toy, tmp_path):
    "Rank 0 refuses the run folder (files train did not write): both ranks stop with that line, none waits forever."
    out = tmp_path / 'mine'
    out.mkdir()
    (out / 'metrics.jsonl').write_text('mine\n')
    r = subprocess.run(
        [sys.executable, '-m', 'torch.distributed.run', '--standalone', '--nproc_per_node', '2', '-m', 'dfm_tutorial',
         *run_args(toy, out, 'device="cpu"', 'epochs=1')],
        capture_output=True, text=True, env=ENV, timeout=240,
    )
    assert r.returncode != 0 and r.stderr.count("holds files dfm-tutorial did not write (metrics.jsonl)") == 2, r.stderr
    assert (out / 'metrics.jsonl').read_text() == 'mine\n'


def test_a_run_that_fails_before_it_begins_leaves_its_folder_as_found(toy, tmp_path):
    "val_per_class larger than a class: one line, and no config.json or lock left to block the corrected run."
    out = tmp_path / 'run'
    said = in_process(*tiny_run(toy, out, 'val_per_class=40', 'eval_every=1'))
    assert "val_per_class=40: class" in said and "has only 32 boxed training images" in said, said
    assert not out.exists() or not any(p.name in ('config.json', '.lock') for p in out.iterdir())
    assert in_process(*tiny_run(toy, out, 'val_per_class=4', 'eval_every=1')) is None


def test_the_gpu_configs_state_only_what_differs():
    """Each GPU config names its base (configs/base/cub.toml, ilsvrc.toml or openimages.toml, each on base/gpu.toml)
    and sets only its backbone, learning rate, weight decay, run folder and, where its source has one, the feature
    map's size; resolved, cub_resnet50 is every value it had in one file."""
    from dfm_tutorial.cli import CONFIGS, read_config
    try: import tomllib
    except ImportError: import tomli as tomllib   # Python 3.10
    gpu = [p for p in CONFIGS.glob('*.toml') if not p.stem.startswith('toy')]
    assert {p.stem.split('_')[0] for p in gpu} == {'cub', 'ilsvrc', 'openimages'} and len(gpu) == 11
    for path in gpu:
        own = set(tomllib.loads(path.read_text()))
        assert {'base', 'arch', 'lr', 'weight_decay', 'out'} <= own <= {'base', 'arch', 'lr', 'weight_decay', 'out',
                                                                        'large_feature_map'}, (path.name, own)
    assert read_config('cub_resnet50') == {
        'weights': 'imagenet', 'resize': 256, 'crop': 224, 'eval_size': 224, 'eval_split': 'test', 'val_per_class': 5,
        'hold_out_val': True, 'eval_every': 1, 'batch_size': 32, 'lr_ratio': 10.0, 'schedule': 'step', 'amp': 'auto',
        'deterministic': False, 'workers': 8, 'data': 'data/CUB_200_2011', 'num_classes': 200, 'epochs': 50,
        'lr_decay_epochs': 15, 'arch': 'resnet50', 'lr': 2e-4, 'weight_decay': 1e-4, 'out': 'runs/cub_resnet50/{name}'}
    assert read_config('ilsvrc_vgg16')['save_every'] == 2000 and read_config('ilsvrc_vgg16')['loader'] == 'pil'
