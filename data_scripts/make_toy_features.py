"""The trained toy feature maps that lessons 02, 04 and 05 try DFM and ADL on -> dfm_tutorial/assets/toy_features.pt

DFM at the paper's values, trained from scratch on the default toy set (`configs/toy_scratch.toml`, method dfm, seed 0,
as lesson 20's first protocol trains it). For four fresh birds (drawn as the toy draws its birds, from another seed)
it keeps what enters each inserted module with the network in eval mode (the module itself is then the identity,
so each block's input is the trained network's own map), the images, their labels, and the head and body masks.
The lessons load the file from the installed package, so they run alone (Colab) with no training.

    python data_scripts/make_toy_features.py [--data data/toy] [--runs out/toy_features]

The run is read back when its folder holds it; the file is written atomically. Features are stored as float16
(about 0.7 MB); the lessons compute in float32.
"""
import argparse
from pathlib import Path

import torch

from dfm_tutorial.explore import layer_features
from dfm_tutorial.experiments import run_folder, run_grid
from dfm_tutorial.models import inserted
from dfm_tutorial.toy import fresh_birds, make_toy_dataset
from dfm_tutorial.runs import load_checkpoint, model_from_checkpoint, save_atomic
from dfm_tutorial.train import model_inputs

ASSET = Path(__file__).resolve().parents[1] / 'dfm_tutorial' / 'assets' / 'toy_features.pt'
BIRDS, BIRD_SEED = 4, 123       # lesson 22 draws its fresh birds from seed 123 too


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--data', default='data/toy')
    ap.add_argument('--runs', default='out/toy_features')
    a = ap.parse_args(argv)
    toy = make_toy_dataset(a.data, progress=False)
    run_grid({'dfm': {'method': 'dfm'}}, a.runs, (0,), progress=False, config='toy_scratch', data=str(toy),
             cache_dir=f'{a.runs}/cache')
    model = model_from_checkpoint(load_checkpoint(run_folder(a.runs, 'dfm', 0) / 'last.pt'))[0]
    images, labels, head, body = fresh_birds(toy, BIRDS, BIRD_SEED)
    x = model_inputs(model, torch.from_numpy(images).permute(0, 3, 1, 2))
    feats = {pos: layer_features(model, x, pos) for pos in inserted(model)}   # what enters each module (eval: identity)
    asset = {'about': __doc__.split('\n\n')[1].replace('\n', ' '),
             'features': {pos: f.half() for pos, f in feats.items()},          # {position: (n, c, h, w)}
             'images': torch.from_numpy(images), 'labels': torch.from_numpy(labels),   # (n, h, w, 3) uint8, (n,)
             'head': torch.from_numpy(head), 'body': torch.from_numpy(body)}          # (n, h, w) bool each
    ASSET.parent.mkdir(exist_ok=True)
    save_atomic(asset, ASSET)
    print(f"wrote {ASSET} ({ASSET.stat().st_size / 1e6:.2f} MB):",
          {pos: tuple(f.shape) for pos, f in feats.items()})


if __name__ == '__main__':
    main()
