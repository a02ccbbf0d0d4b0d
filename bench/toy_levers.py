"""What limits the toy CAM: one lever at a time from a base toy regime, CAM only, on 1,000 test birds.

The base is the first toy (64², bird_scale 0.16-0.26, toy CNN width 32, resize 72 / crop 64); the row `default` is
today's default toy and recipe (lesson 09's constants, configs/toy.toml), which these levers chose.
Each row changes one thing against the base (or, marked with +, the row it names): the image size, the toy CNN's
output stride and width, the training images, the epochs, the birds' size and the body's class evidence. The columns
are what issue 16 asks of a toy CAM: Top-1 Clas, MaxBoxAccV2, box accuracy at IoU 0.7 at its best CAM threshold (goal
>= 20), the best CAM threshold at IoU 0.5 (a part-dominated CAM boxes the object only at a low threshold: goal <= 0.1),
PxAP, and the training seconds of a run (its epochs' `train_seconds`, so a run read back keeps its time). With
`--methods`, each other method is trained on the same lever
and compared with that lever's CAM: its MaxBoxAccV2 and Top-1 Loc differences with 95 % paired bootstrap intervals.
Runs are read back when their folder holds the same finished run.

    python bench/toy_levers.py                      # every lever, seed 0 -> out/levers
    python bench/toy_levers.py --levers base size96 --seeds 0 1
    python bench/toy_levers.py --levers big+size96 --methods cam dfm has    # DFM and HaS against CAM on one lever
"""
import argparse
import json
from pathlib import Path

from dfm_tutorial.experiments import format_interval, paired_intervals, run_folder, run_grid
from dfm_tutorial.models import METHODS
from dfm_tutorial.toy import make_toy_dataset

BASE_DATA = dict(num_classes=5, train_per_class=80, test_per_class=200, image_size=64,
                 bird_scale=(0.16, 0.26))                                     # the first toy, 1,000 test birds
BASE_TRAIN = dict(resize=72, crop=64, eval_size=64, toy_width=32)            # its recipe
BIG = dict(bird_scale=(0.28, 0.36))                                          # issue 16's larger birds
AT96 = dict(resize=104, crop=96, eval_size=96)
LEVERS = {                      # name: (toy arguments, training overrides), both against the base; None: the defaults
    'default': None,
    'base': ({}, {}),
    'size96': ({'image_size': 96}, AT96),
    'stride8': ({}, {'toy_stride': 8}),
    'stride2': ({}, {'toy_stride': 2}),
    'width64': ({}, {'toy_width': 64}),
    'train400': ({'train_per_class': 400}, {}),
    'epochs16': ({}, {'epochs': 16}),
    'big': (BIG, {}),
    'big+size96': ({**BIG, 'image_size': 96}, AT96),
    'big+size96+width24': ({**BIG, 'image_size': 96}, {**AT96, 'toy_width': 24}),
    'big+size96+width16': ({**BIG, 'image_size': 96}, {**AT96, 'toy_width': 16}),
    'big+size96+train400+epochs16': ({**BIG, 'image_size': 96, 'train_per_class': 400}, {**AT96, 'epochs': 16}),
    'body0': ({'body_evidence': 0.0}, {}),
}


def data_for(root, toy):
    "The toy set for `toy` arguments against the base (None: the default toy), in a folder named after them, made once."
    if toy is None: return make_toy_dataset(Path(root) / 'data' / 'default', progress=False)
    name = '_'.join(f"{k}{v}" for k, v in sorted(toy.items())).replace(' ', '') or 'base'
    return make_toy_dataset(Path(root) / 'data' / name, progress=False, **{**BASE_DATA, **toy})


def train_seconds(runs, run, seeds):
    "Mean over seeds of a run's training time: the sum of its epochs' `train_seconds` in `metrics.jsonl`."
    rows = lambda s: [json.loads(l) for l in (run_folder(runs, run, s) / 'metrics.jsonl').read_text().splitlines()]
    return sum(sum(r['train_seconds'] for r in rows(s)) for s in seeds) / len(seeds)


def row(name, results, seconds, interval=None):
    "One table line: mean over seeds of each column, and the paired differences to CAM where given."
    mean = lambda f: sum(f(r) for r in results) / len(results)
    cols = [mean(lambda r: r['top1_cls']), mean(lambda r: r['max_box_acc_v2']),
            mean(lambda r: r['max_box_acc_v2_per_iou']['70']), mean(lambda r: r['best_cam_threshold_v2']['50']),
            mean(lambda r: r['pxap'])]
    diffs = [format_interval(interval[k]) if interval else '–' for k in ('max_box_acc_v2', 'top1_loc')]
    cells = [f"{c:.3f}" if i == 3 else f"{c:.1f}" for i, c in enumerate(cols)] + [f"{seconds:.0f}"] + diffs
    return f"| {name} | " + ' | '.join(cells) + ' |'


def label(lever, method):
    "The run's label: the lever's name for CAM (the rows above), `lever-method` otherwise."
    return lever if method == 'cam' else f'{lever}-{method}'


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--out', default='out/levers')
    ap.add_argument('--levers', nargs='+', default=list(LEVERS), choices=list(LEVERS))
    ap.add_argument('--seeds', type=int, nargs='+', default=[0])
    ap.add_argument('--methods', nargs='+', default=['cam'], choices=METHODS,
                    help='CAM is always trained: the baseline')
    a = ap.parse_args()
    runs = Path(a.out) / 'runs'
    print('| lever | Top-1 Clas | MaxBoxAccV2 | BoxAcc IoU 0.7 | best t (IoU 0.5) | PxAP | train s '
          '| Δ MaxBoxAccV2 vs cam | Δ Top-1 Loc vs cam |')
    print('|---|---:|---:|---:|---:|---:|---:|---:|---:|')
    for name in a.levers:
        toy, over = LEVERS[name] or (None, {})
        over = over if toy is None else {**BASE_TRAIN, **over}
        data = data_for(a.out, toy)
        num_classes = json.loads((data / 'toy.json').read_text())['num_classes']
        common = dict(data=str(data), num_classes=num_classes, cache_dir=str(Path(a.out) / 'cache' / data.name))
        for method in ['cam'] + [m for m in a.methods if m != 'cam']:
            run = label(name, method)
            res = run_grid({run: {'method': method, **over}}, runs, a.seeds, progress=False, **common)[run]
            interval = None if method == 'cam' else paired_intervals(runs, [name, run], a.seeds, baseline=name)[run]
            print(row(run, res, train_seconds(runs, run, a.seeds), interval), flush=True)


if __name__ == '__main__':
    main()
