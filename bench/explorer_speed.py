"""How fast the explorers of lessons 40 and 40a redraw: milliseconds from a control's new value to a new PNG.

Three ways to redraw the same figure after a move:
  blit     what the explorers do: restore the cached background (axes, ticks, legends) and draw
           only the artists that changed
  full     draw the whole figure again (the background thrown away before every move)
  rebuild  build a new explorer, and with it a new figure, for every move (the naive way)

The models are randomly initialised toy CNNs and the images generated toy birds: the time of a
redraw depends on the figure, not on what the network learned. Medians over --moves moves.

    python bench/explorer_speed.py
"""
import argparse
import platform
import statistics
import time

import matplotlib
import numpy as np
import torch

from dfm_tutorial.data import normalize_batch
from dfm_tutorial.cam_explorer import CAMExplorer, model_cams
from dfm_tutorial.explore import DFMExplorer, layer_features
from dfm_tutorial.models import create_wsol_model
from dfm_tutorial.toy import draw_toy_birds

LAYERS = ('block1', 'block2', 'block3', 'block4')


def toy_batch(n, seed=0):
    "`n` toy birds: uint8 images (n, 3, 64, 64), labels (n,), boxes (n, 4) as x0, y0, x1, y1."
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 5, n)
    images, xywh, _ = draw_toy_birds(labels, rng=rng)
    boxes = np.concatenate([xywh[:, :2], xywh[:, :2] + xywh[:, 2:] - 1], 1)
    return torch.from_numpy(images).permute(0, 3, 1, 2).contiguous(), torch.from_numpy(labels), torch.from_numpy(boxes)


def median_ms(move, values, full=False, explorer=None):
    "Median milliseconds of `move(v)` over `values`; `full` drops the cached background before each move."
    times = []
    for v in values:
        if full: explorer.live.background = None
        start = time.perf_counter()
        move(v)
        times.append(time.perf_counter() - start)
    return 1000 * statistics.median(times)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('--moves', type=int, default=30, help='timed moves per cell of the table')
    args = ap.parse_args()
    torch.manual_seed(0)
    images, labels, boxes = toy_batch(100)
    models = {m.upper(): create_wsol_model('toy', m, num_classes=5).eval() for m in ('cam', 'adl', 'dfm')}
    x = normalize_batch(images[:24])
    features = {layer: layer_features(models['DFM'], x, layer) for layer in LAYERS}
    cams = model_cams(models, images, labels)
    dfm = DFMExplorer(features, images[:24], layer='block3')
    cam = CAMExplorer(cams, images, boxes)

    betas = np.resize(np.linspace(0.5, 0.95, 10).round(2), args.moves)
    thresholds = np.resize(np.linspace(0.05, 0.75, 15).round(2), args.moves)
    frames = np.resize(np.arange(1, 24), args.moves)
    rows = [
        ('DFM', 'β slider', lambda v: dfm.set(beta=float(v)), betas, dfm,
         lambda v: DFMExplorer(features, images[:24], layer='block3', beta=float(v))),
        ('DFM', 'image slider', lambda v: dfm.set(image=int(v)), frames, dfm,
         lambda v: DFMExplorer(features, images[:24], layer='block3').set(image=int(v))),
        ('CAM', 'threshold slider', lambda v: cam.set(threshold=float(v)), thresholds, cam,
         lambda v: CAMExplorer(cams, images, boxes, threshold=float(v))),
        ('CAM', 'image slider', lambda v: cam.set(image=int(v)), frames, cam,
         lambda v: CAMExplorer(cams, images, boxes).set(image=int(v))),
    ]
    print(
        f"# {platform.machine()}, {torch.get_num_threads()} torch threads, matplotlib {matplotlib.__version__} (Agg), "
        f"{args.moves} moves per cell, median ms from a new control value to a new PNG"
    )
    w, h = dfm.live.fig.canvas.get_width_height()
    cw, ch = cam.live.fig.canvas.get_width_height()
    print(f"# figures: DFM explorer {w}x{h} px (11 panels), CAM explorer {cw}x{ch} px (3 models, 2 curve panels)")
    print('| explorer | move | blit (what it does) | full redraw | rebuild per move | blit speed-up vs rebuild |')
    print('|---|---|---:|---:|---:|---:|')
    for name, what, move, values, explorer, rebuild in rows:
        blit = median_ms(move, values)
        # [1:]: the first move must change the value
        full = median_ms(move, values[::-1][1:], full=True, explorer=explorer)
        fresh = median_ms(rebuild, values[:max(5, args.moves // 3)])
        print(f'| {name} | {what} | {blit:.1f} | {full:.1f} | {fresh:.1f} | {fresh / blit:.1f}x |')


if __name__ == '__main__':
    main()
