"""How the pretrained toy CAM's fine-tuning recipe moves its tight box, scored on the held-out `val` split (never test).

Issue 29 asks the pretrained toy backbone (lesson 17a) to keep a CAM that can draw a tight box (`pretrain.TIGHT_BOX`:
Top-1 Clas >= 95, box accuracy at IoU 0.7 >= 20 at the best threshold, best threshold at IoU 0.5 <= 0.1); with
`configs/toy.toml`'s recipe it does not on test (lesson 17a). Each row is CAM fine-tuned from the backbone with one
recipe, `val` held out of training (`val_per_class` birds a class) and scored, mean over the seeds; the last row is
the from-scratch recipe for reference. A recipe is chosen here, on val, before any method is compared with it: of
the pretrained recipes that meet the goal, the one whose nearer accuracy bound is furthest away (`margin`: the smaller
of Top-1 Clas - 95 and BoxAcc IoU 0.7 - 20, in points; every recipe's best threshold is far below its bound).
`--confirm` then trains the chosen recipe as `toy.toml` trains (no images held out) and scores it on test, once.
Runs are read back when their folder holds the same finished run.

A val split carved from the default toy's 80 training birds a class is small and its runs train on fewer birds than
the confirming run. `--val-data` scores the recipes on another toy set drawn with another seed, 280 training birds a
class of which `--val-per-class 200` are held out: the runs train on 80 birds a class, as on the default toy, and
1,000 val birds score them (the from-scratch CAM scored 23.2 there and 23.0 on the default toy's test).

    python bench/toy_finetune.py --seeds 0 1 2 3 4      # every recipe -> out/finetune
    python bench/toy_finetune.py --seeds 0 1 2 3 4 --confirm    # and the chosen one on test -> out/finetune_test
    python data_scripts/make_toy.py data/toy_bigval --train-per-class 280 --seed 7
    python bench/toy_finetune.py --val-data data/toy_bigval --val-per-class 200 --out out/finetune_bigval --confirm
    python bench/toy_finetune.py --val-data data/toy_bigval --val-per-class 200 --out out/finetune_short \
        --pretrain bench/pretrain_variants/short.toml --recipes ratio1 ratio1_6ep ratio1_8ep    # another backbone
    python bench/toy_finetune.py --val-data data/toy_bigval --val-per-class 200 --out out/finetune_any_colour \
        --pretrain bench/pretrain_variants/any_colour.toml --data data/toy --confirm --confirm-seeds 0 1 2 3 4
"""
import argparse
from pathlib import Path

import numpy as np

from dfm_tutorial.experiments import run_grid
from dfm_tutorial.pretrain import TIGHT_BOX, meets_tight_box, pretrain_backbone, tight_box_means

RECIPES = {                     # name: (what it is, overrides of configs/toy.toml)
    'toy': ("toy.toml (lr 0.01, lr_ratio 10, 4 epochs)", {}),
    'ratio1': ("lr_ratio 1", {'lr_ratio': 1.0}),
    'ratio1_8ep': ("lr_ratio 1, 8 epochs", {'lr_ratio': 1.0, 'epochs': 8}),
    'lr003_ratio1_8ep': ("lr 0.003, lr_ratio 1, 8 epochs", {'lr': 0.003, 'lr_ratio': 1.0, 'epochs': 8}),
    'ratio10_8ep': ("lr_ratio 10, 8 epochs", {'epochs': 8}),
    'ratio3_8ep': ("lr_ratio 3, 8 epochs", {'lr_ratio': 3.0, 'epochs': 8}),
    'ratio1_6ep': ("lr_ratio 1, 6 epochs", {'lr_ratio': 1.0, 'epochs': 6}),
    'lr002_ratio1_8ep': ("lr 0.02, lr_ratio 1, 8 epochs", {'lr': 0.02, 'lr_ratio': 1.0, 'epochs': 8}),
    'lr005_ratio1_8ep': ("lr 0.05 (from scratch's), lr_ratio 1, 8 epochs",
                         {'lr': 0.05, 'lr_ratio': 1.0, 'epochs': 8}),
    'scratch': ("from scratch (toy_scratch.toml)", {'config': 'toy_scratch'}),
}


def margin(results):
    "How far the mean Top-1 Clas and BoxAcc IoU 0.7 of CAM runs lie above the goal's bounds: the nearer one, in points."
    means = tight_box_means(results)
    return min(means[k] - bound for k, (_, side, bound) in TIGHT_BOX.items() if side == 'at least')


def table(results, recipes):
    "Markdown rows, one a recipe: the goal's numbers (mean over seeds), MaxBoxAccV2, the margin and whether it is met."
    lines = ['| recipe | ' + ' | '.join(TIGHT_BOX) + ' | MaxBoxAccV2 | margin | goal |',
             '|---|' + '---:|' * (len(TIGHT_BOX) + 2) + '---|']
    for name, res in results.items():
        means = tight_box_means(res)
        cells = [f"{means[k]:.3f}" if 'threshold,' in k else f"{means[k]:.1f}" for k in TIGHT_BOX]
        box = np.mean([r['max_box_acc_v2'] for r in res])
        lines.append(f"| {recipes[name]} | " + ' | '.join(cells) + f" | {box:.1f} | {margin(res):+.1f} | "
                     f"{'met' if meets_tight_box(res) else 'not met'} |")
    return '\n'.join(lines)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--recipes', nargs='+', choices=list(RECIPES), default=list(RECIPES))
    p.add_argument('--seeds', nargs='+', type=int, default=[0, 1, 2])
    p.add_argument('--val-per-class', type=int, default=20)
    p.add_argument('--data', default='data/toy', help="the toy set a chosen recipe is confirmed on (its test split)")
    p.add_argument('--val-data', default=None, help="the toy set whose held-out val birds score the recipes "
                                                    "(default: --data)")
    p.add_argument('--out', default='out/finetune')
    p.add_argument('--pretrain', default=None, help="a pretraining recipe file (as configs/recipes/toy_pretrain.toml): "
                                                    "the pretrained runs start from its backbone (default: toy.toml's)")
    p.add_argument('--confirm', action='store_true', help="train the chosen recipe on all training images, score test")
    p.add_argument('--confirm-seeds', nargs='+', type=int, default=None, help="the test runs' seeds (default: --seeds)")
    a = p.parse_args(argv)
    val_data = a.val_data or a.data
    backbone = {} if a.pretrain is None else {                        # built beside the data, as toy-pretrained is
        'weights': str(pretrain_backbone(a.pretrain, Path(val_data).resolve().parent, progress=False))}
    runs = {name: {'method': 'cam', 'hold_out_val': True, 'eval_split': 'val', 'val_per_class': a.val_per_class,
                   **RECIPES[name][1], **({} if name == 'scratch' else backbone)} for name in a.recipes}
    results = run_grid(runs, a.out, a.seeds, progress=False, data=val_data, cache_dir=f'{a.out}/cache')
    print(f"CAM on the val split of {val_data} ({a.val_per_class} birds a class), mean over seeds {a.seeds}")
    print(table(results, {name: RECIPES[name][0] for name in results}))
    met = [name for name, res in results.items() if name != 'scratch' and meets_tight_box(res)]
    if not met:
        print("\nNo pretrained recipe meets the goal on val.")
        return
    margins = {name: margin(results[name]) for name in met}
    chosen = max(margins, key=margins.get)
    print(f"\nChosen on val: {RECIPES[chosen][0]} (margin {margins[chosen]:+.1f})")
    if a.confirm:
        run = {'cam': {'method': 'cam', **RECIPES[chosen][1], **backbone}}
        seeds = a.confirm_seeds or a.seeds
        test = run_grid(run, f'{a.out}_test', seeds, progress=False, data=a.data, cache_dir=f'{a.out}_test/cache')
        print(f"\nThe chosen recipe trained on every training image, {a.data}'s test split (seeds {seeds}, mean):")
        print(table({chosen: test['cam']}, {chosen: RECIPES[chosen][0]}))


if __name__ == '__main__':
    main()
