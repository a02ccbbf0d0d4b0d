"""Decode and resize one split once into a memory-mapped uint8 cache (resumable: run again after an interruption).

    python data_scripts/build_cache.py data/CUB_200_2011 train data/cache/cub_train [--size 256] [--workers 2]
    [--skip-bad]
"""
import argparse
from dfm_tutorial.data import build_cache

ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
ap.add_argument('root', help='a CUB-format dataset folder')
ap.add_argument('split', choices=['train', 'val', 'test'])
ap.add_argument('path', help='cache folder to write')
ap.add_argument('--size', type=int, help='default: 256 for train, 224 otherwise')
ap.add_argument('--workers', type=int, default=2)
ap.add_argument('--skip-bad', action='store_true', help='log and leave out unreadable images instead of stopping')
a = ap.parse_args()
print(
    'cache at', build_cache(a.root, a.split, a.path, a.size, a.workers, on_bad_image='skip' if a.skip_bad else 'raise')
)
