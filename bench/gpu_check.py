"""The prepared GPU check: every CUDA path of the package in one command (a few minutes on one GPU), one table.

    python bench/gpu_check.py           # (make gpu-check) on a machine with a CUDA GPU
    python bench/gpu_check.py --cpu     # the same steps, tiny, on the CPU: proves the check starts (CI runs this)

Steps: the CUDA tests; `dfm_overhead.py` (ResNet50 plain / ADL / DFM step times); `train_speed.py` for ResNet50
CAM, ADL and DFM (amp auto, channels_last) with the CUB and ILSVRC wall times it implies; `loader_speed.py
--gpu-decode`; and lesson 30's path end to end: a generated CUB-format set at 224² (300 images), prepared by
`prepare_cub` from its archive, one epoch of `--config cub_resnet50` with every real setting except random weights
(nothing can be downloaded on the GPU machine) and the data size. Each step runs as its own process with a time
limit; a failing step is a row with its last error line, and the check goes on. The exit status is 1 if any failed.
"""
import argparse, json, os, subprocess, sys, tarfile, tempfile, time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PY = sys.executable


def steps(cpu, work):
    "(name, command, time limit s) of each step; `cpu`: tiny sizes on the CPU."
    bench = lambda script, *args: [PY, str(ROOT / 'bench' / script), *args]
    small = ['--device', 'cpu', '--size', '64']
    cub = work / 'cub'
    return [
        ('CUDA tests', [PY, '-m', 'pytest', '-q', '-p', 'no:cacheprovider', '-o', 'addopts=',
                        str(ROOT / 'tests/test_networks.py'), str(ROOT / 'tests/test_train.py'),
                        '-k', 'cuda or amp_auto or gpu_runtime'], 300),
        ('DFM overhead, ResNet50', bench('dfm_overhead.py', *(small + ['--rounds', '2', '--warmup', '1'] if cpu else
                                                                ['--device', 'cuda'])), 120),
        ('training speed, ResNet50', bench('train_speed.py', '--methods', 'cam', 'adl', 'dfm',
                                           *(small + ['--batch', '4', '--steps', '2', '--warmup', '1'] if cpu else [])),
         240),
        ('loader speed', bench('loader_speed.py', *(['--images', '64', '--epochs', '1', '--batch', '16'] if cpu else
                                                    ['--gpu-decode'])), 180),
        ('lesson 30 end to end, 224²', [PY, str(Path(__file__).resolve()), '--end-to-end', str(cub),
                                        *(['--cpu'] if cpu else [])], 300),
    ]


def end_to_end(folder, cpu):
    "A CUB-format archive of toy birds, `prepare_cub` on it, one epoch of the cub_resnet50 config; prints final.json."
    from dfm_tutorial.cli import main
    from dfm_tutorial.prepare import prepare_cub
    from dfm_tutorial.toy import make_toy_dataset
    folder = Path(folder)
    classes, per_class = (3, 8) if cpu else (10, 20)
    src = make_toy_dataset(folder / 'src/CUB_200_2011', num_classes=classes, train_per_class=per_class,
                           test_per_class=per_class // 2, image_size=64 if cpu else 224, progress=False)
    with tarfile.open(folder / 'CUB_200_2011.tgz', 'w:gz') as tar: tar.add(src, 'CUB_200_2011')
    root = prepare_cub(folder / 'prepared', archive=folder / 'CUB_200_2011.tgz', md5=None, progress=False)
    out = folder / 'run'
    tiny = ['resize=72', 'crop=64', 'eval_size=64', 'batch_size=8', 'device="cpu"', 'workers=0'] if cpu else []
    main(['train', '--config', 'cub_resnet50', 'method=dfm', f'data="{root}"', f'num_classes={classes}', 'weights=""',
          'epochs=1', 'val_per_class=2', f'out="{out}"', 'progress=false', *tiny])
    result = json.loads((out / 'final.json').read_text())['result']
    print('| split | images | Top-1 Clas | Top-1 Loc | MaxBoxAccV2 |\n|---|---:|---:|---:|---:|')
    print(f"| test | {result['n_images']} | {result['top1_cls']:.1f} | {result['top1_loc']:.1f} | "
          f"{result['max_box_acc_v2']:.1f} |")


def table_rows(text):
    "The data rows of the markdown tables in `text`, each as 'first cell: header value, ...'."
    lines = [l.strip() for l in text.splitlines() if l.strip().startswith('|')]
    rows, header = [], None
    for line in lines:
        cells = [c.strip() for c in line.strip('|').split('|')]
        if set(line) <= set('|-: '): continue
        if header is None or cells[0] in ('method', 'network', 'split', 'loader'):
            header = cells
            continue
        rows.append(f"{cells[0]}: " + ', '.join(f"{h} {v}" for h, v in zip(header[1:], cells[1:])))
    return rows


def run_step(name, cmd, limit):
    "(status, seconds, result rows) of one step."
    t0 = time.perf_counter()
    try:
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=limit, cwd=ROOT,
                           env={**os.environ, 'PYTHONWARNINGS': 'ignore'})
        status, text = ('ok' if p.returncode == 0 else f'FAILED (exit {p.returncode})'), p.stdout + p.stderr
    except subprocess.TimeoutExpired as e:
        status, text = f'FAILED (over {limit} s)', (e.stdout or b'').decode(errors='replace')
    seconds = time.perf_counter() - t0
    rows = table_rows(p.stdout) if status == 'ok' else []
    if status == 'ok' and not rows:                                        # pytest: its summary line
        rows = [next((l for l in reversed(text.splitlines()) if ' passed' in l or ' skipped' in l), text[-200:])]
    if status != 'ok': rows = [next((l for l in reversed(text.splitlines()) if l.strip()), 'no output')[:200]]
    return status, seconds, rows


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--cpu', action='store_true', help='tiny sizes on the CPU: check that every step starts')
    ap.add_argument('--end-to-end', metavar='FOLDER', help=argparse.SUPPRESS)   # the last step, in its own process
    a = ap.parse_args()
    if a.end_to_end: return end_to_end(a.end_to_end, a.cpu)
    import torch
    if not a.cpu and not torch.cuda.is_available():
        sys.exit("gpu_check: no CUDA GPU here; run it on a GPU machine, or with --cpu to check that it starts")
    device = 'CPU (--cpu)' if a.cpu else torch.cuda.get_device_name(0)
    print(f"# GPU check on {device}; torch {torch.__version__}, CUDA {torch.version.cuda}")
    print('| step | status | seconds | result |\n|---|---|---:|---|')
    failed = False
    with tempfile.TemporaryDirectory() as work:
        for name, cmd, limit in steps(a.cpu, Path(work)):
            status, seconds, rows = run_step(name, cmd, limit)
            failed |= status != 'ok'
            for k, row in enumerate(rows or ['']):
                print(f"| {name if k == 0 else ''} | {status if k == 0 else ''} | {f'{seconds:.0f}' if k == 0 else ''} "
                      f"| {row} |", flush=True)
    sys.exit(1 if failed else 0)


if __name__ == '__main__':
    main()
