"""Decode and resize one split once into a memory-mapped uint8 cache (resumable: run again after an interruption).

    python data_scripts/build_cache.py data/CUB_200_2011 train data/cache/cub_train [--size 256] [--workers 2]
    [--skip-bad]

A root that is not a CUB-format dataset, or a cache folder that holds another cache, is reported in one line (exit 2).
"""
import argparse
from pathlib import Path
from dfm_tutorial.cache import build_cache


def count(low):
    "An integer option that must be at least `low` (argparse reports the error with the option's name)."
    def parse(text):
        value = int(text)
        if value < low: raise argparse.ArgumentTypeError(f"must be at least {low}, got {value}")
        return value
    return parse


ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
ap.add_argument('root', help='a CUB-format dataset folder')
ap.add_argument('split', choices=['train', 'val', 'test'])
ap.add_argument('path', help='cache folder to write')
ap.add_argument('--size', type=count(1), help='default: 256 for train, 224 otherwise')
ap.add_argument('--workers', type=count(0), default=2)
ap.add_argument('--skip-bad', action='store_true', help='log and leave out unreadable images instead of stopping')
a = ap.parse_args()
if Path(a.path).exists() and not Path(a.path).is_dir(): ap.error(f"{a.path} is a file, not a folder for the cache")
try:
    path = build_cache(a.root, a.split, a.path, a.size, a.workers, on_bad_image='skip' if a.skip_bad else 'raise')
except (FileNotFoundError, FileExistsError, NotADirectoryError, ValueError) as err:   # the arguments, not a bug
    ap.error(str(err))
print('cache at', path)
