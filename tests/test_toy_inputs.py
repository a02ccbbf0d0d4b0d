"""Careless use of the toy maker and the data scripts (issue 28): a folder holding another toy set, a draw killed
half-way, arguments out of range, a missing root or a conflicting cache. Each must end in one line naming the problem,
never a traceback, and a killed draw must leave nothing that blocks the next one."""
import json, os, runpy, signal, subprocess, sys, time
from pathlib import Path

import pytest

from dfm_tutorial.toy import make_toy_dataset, staging_folder

ROOT = Path(__file__).resolve().parents[1]
SMALL = dict(num_classes=2, train_per_class=3, test_per_class=2, image_size=64, progress=False)


def run_script(name, *args, capsys, monkeypatch):
    "Run `data_scripts/name` in this process as `python name args`: (its exit code, the last line of its stderr)."
    monkeypatch.setattr(sys, 'argv', [name, *map(str, args)])
    try:
        runpy.run_path(str(ROOT / 'data_scripts' / name), run_name='__main__')
        code = 0
    except SystemExit as exit_: code = exit_.code
    err = capsys.readouterr().err.strip()
    assert 'Traceback' not in err
    return code, err.splitlines()[-1] if err else ''


def files(folder):
    "Every file under `folder`, by relative path, with its bytes."
    return {p.relative_to(folder): p.read_bytes() for p in sorted(Path(folder).rglob('*')) if p.is_file()}


# D3: a folder that holds a toy set made with other settings is refused, named, and left as it was

def test_other_settings_refused(tmp_path):
    root = make_toy_dataset(tmp_path / 'toy', **SMALL)
    before = files(root)
    with pytest.raises(FileExistsError) as err:
        make_toy_dataset(root, **{**SMALL, 'num_classes': 3, 'seed': 1})
    assert str(err.value) == (f"{root} holds a toy set with num_classes=2 (asked: 3), seed=0 (asked: 1): "
                              "use another folder or delete it")
    assert files(root) == before
    assert make_toy_dataset(root, **SMALL) == root and files(root) == before       # the same settings: reused


def test_script_other_settings_refused(tmp_path, capsys, monkeypatch):
    root = make_toy_dataset(tmp_path / 'toy', **SMALL)
    code, line = run_script('make_toy.py', root, '--classes', 3, '--train-per-class', 3, '--test-per-class', 2,
                            '--size', 64, capsys=capsys, monkeypatch=monkeypatch)
    assert code == 2
    assert line == (f"make_toy.py: error: {root} holds a toy set with num_classes=2 (asked: 3): "
                    "use another folder or delete it")
    assert json.loads((root / 'toy.json').read_text())['num_classes'] == 2


# T10: arguments checked up front, one line each, exit 2

@pytest.mark.parametrize('args, message', [
    (['--classes', 9], "argument --classes: invalid choice: 9 (choose from 1, 2, 3, 4, 5, 6, 7, 8)"),
    (['--classes', 0], "argument --classes: invalid choice: 0 (choose from 1, 2, 3, 4, 5, 6, 7, 8)"),
    (['--size', 8], "argument --size: must be at least 32 pixels, got 8"),
    (['--size', 64, 8], "argument --size: must be at least 32 pixels, got 8"),
    (['--size', 64, 64, 64], "image_size must be an int or (width, height), each >= 32, got (64, 64, 64)"),
    (['--test-per-class', 0], "train_per_class and test_per_class must be >= 1, got 80 and 0"),
    (['--bird-scale', .4, .45], "does not fit the image"),
    (['--body-evidence', 2], "body_evidence must lie in [0, 1], got 2.0"),
])
def test_script_bad_arguments(tmp_path, capsys, monkeypatch, args, message):
    code, line = run_script('make_toy.py', tmp_path / 'toy', *args, capsys=capsys, monkeypatch=monkeypatch)
    assert code == 2 and line.startswith('make_toy.py: error: ') and message in line
    assert not (tmp_path / 'toy').exists() and not staging_folder(tmp_path / 'toy').exists()   # nothing drawn


def test_script_file_as_root(tmp_path, capsys, monkeypatch):
    (tmp_path / 'toy').write_text('mine')
    code, line = run_script('make_toy.py', tmp_path / 'toy', capsys=capsys, monkeypatch=monkeypatch)
    assert (code, line) == (2, f"make_toy.py: error: {tmp_path / 'toy'} is a file, not a folder for the toy set")
    assert (tmp_path / 'toy').read_text() == 'mine'


# T9: a draw killed half-way leaves nothing in the way; the same command run again draws the whole set

def test_killed_draw_then_rerun(tmp_path):
    root = tmp_path / 'toy'
    cmd = [sys.executable, str(ROOT / 'data_scripts/make_toy.py'), str(root), '--classes', '8',
           '--train-per-class', '40', '--test-per-class', '40']                # 640 birds: ten chunks of 64
    env = {**os.environ, 'OMP_NUM_THREADS': '1'}
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    staged = staging_folder(root) / 'images'
    try:
        deadline = time.monotonic() + 120
        while not any(staged.rglob('*.jpg')) and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.02)
        assert proc.poll() is None, "the draw ended before it could be killed half-way"
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.kill()
        proc.wait()
    assert any(staged.rglob('*.jpg')) and not root.exists()                # the half-drawn birds are out of the way
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert f"toy dataset at {root}" in done.stdout
    assert not staging_folder(root).exists()
    fresh = make_toy_dataset(tmp_path / 'fresh', num_classes=8, train_per_class=40, test_per_class=40, progress=False)
    assert files(root) == files(fresh)                                     # nothing lost: the same set, byte for byte



# Two processes drawing the same folder at once (two notebooks started together): one draws, the other waits for it

def test_two_draws_at_once(tmp_path):
    root = tmp_path / 'toy'
    cmd = [sys.executable, str(ROOT / 'data_scripts/make_toy.py'), str(root), '--classes', '8',
           '--train-per-class', '40', '--test-per-class', '40']
    env = {**os.environ, 'OMP_NUM_THREADS': '1'}
    procs = [subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for _ in range(2)]
    outs = [p.communicate(timeout=300) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], [err for _, err in outs]
    assert any('waiting for it' in out for out, _ in outs)                 # the second one said why it waited
    assert not staging_folder(root).exists()
    fresh = make_toy_dataset(tmp_path / 'fresh', num_classes=8, train_per_class=40, test_per_class=40, progress=False)
    assert files(root) == files(fresh)                                     # one whole set, byte for byte

# T11: build_cache.py with a missing root, a conflicting cache or a file as the cache

def test_build_cache_missing_root(tmp_path, capsys, monkeypatch):
    code, line = run_script('build_cache.py', tmp_path / 'nowhere', 'test', tmp_path / 'cache',
                            capsys=capsys, monkeypatch=monkeypatch)
    assert code == 2 and line.startswith(f"build_cache.py: error: {tmp_path / 'nowhere'} is not a CUB-format dataset")
    assert not (tmp_path / 'cache').exists()


def test_build_cache_conflict(tmp_path, capsys, monkeypatch):
    data = make_toy_dataset(tmp_path / 'toy', **SMALL)
    cache = tmp_path / 'cache'
    code, _ = run_script('build_cache.py', data, 'test', cache, '--size', 64, '--workers', 0,
                         capsys=capsys, monkeypatch=monkeypatch)
    assert code == 0
    meta = (cache / 'meta.json').read_text()
    code, line = run_script('build_cache.py', data, 'test', cache, '--size', 80, '--workers', 0,
                            capsys=capsys, monkeypatch=monkeypatch)
    assert code == 2 and line.startswith(f"build_cache.py: error: {cache} holds a different cache")
    assert 'choose another path or delete it' in line
    assert (cache / 'meta.json').read_text() == meta                        # the other cache is left as it was


@pytest.mark.parametrize('args, message', [
    (['--size', 0], "argument --size: must be at least 1, got 0"),
    (['--workers', -1], "argument --workers: must be at least 0, got -1"),
])
def test_build_cache_bad_options(tmp_path, capsys, monkeypatch, args, message):
    code, line = run_script('build_cache.py', tmp_path, 'test', tmp_path / 'cache', *args,
                            capsys=capsys, monkeypatch=monkeypatch)
    assert (code, line) == (2, f"build_cache.py: error: {message}")


def test_build_cache_file_as_cache(tmp_path, capsys, monkeypatch):
    data = make_toy_dataset(tmp_path / 'toy', **SMALL)
    (tmp_path / 'cache').write_text('mine')
    code, line = run_script('build_cache.py', data, 'test', tmp_path / 'cache', capsys=capsys, monkeypatch=monkeypatch)
    assert (code, line) == (2, f"build_cache.py: error: {tmp_path / 'cache'} is a file, not a folder for the cache")
    assert (tmp_path / 'cache').read_text() == 'mine'
