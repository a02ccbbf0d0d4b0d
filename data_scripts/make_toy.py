"""Write the toy WSOL dataset (CUB-200-2011 format) to a folder; a second run with the same arguments does nothing.

    python data_scripts/make_toy.py data/toy [--classes K] [--train-per-class N] [--test-per-class N]
        [--size S] [--seed S] [--bird-scale LO HI] [--head-scale LO HI] [--body-evidence E]
        [--samples out/toy_samples.png]

The defaults (`--help` prints them) are lesson 09's constants in dfm_tutorial.toy. A folder that holds a toy set made
with other arguments is refused, never drawn over; a run killed half-way leaves nothing in the folder, so run it again.
"""
import argparse
from dfm_tutorial.toy import (BIRD_SCALE, HEAD_COLOURS, HEAD_SCALE, IMAGE_SIZE, MIN_IMAGE_SIZE, TEST_PER_CLASS,
                              TRAIN_PER_CLASS, make_toy_dataset, save_toy_samples)


def side(text):
    "An image side in pixels, at least the toy's smallest (argparse reports the error with the option's name)."
    value = int(text)
    if value < MIN_IMAGE_SIZE:
        raise argparse.ArgumentTypeError(f"must be at least {MIN_IMAGE_SIZE} pixels, got {value}")
    return value


ap = argparse.ArgumentParser(description=__doc__.split('\n')[0], formatter_class=argparse.ArgumentDefaultsHelpFormatter)
ap.add_argument('root', help='folder to write (images/ and the five metadata files)')
ap.add_argument('--classes', type=int, default=5, choices=range(1, len(HEAD_COLOURS) + 1), metavar='K',
                help=f'number of classes, 1..{len(HEAD_COLOURS)} (one head colour each)')
ap.add_argument('--train-per-class', type=int, default=TRAIN_PER_CLASS)
ap.add_argument('--test-per-class', type=int, default=TEST_PER_CLASS)
ap.add_argument('--size', type=side, nargs='+', default=[IMAGE_SIZE], help='side, or width height')
ap.add_argument('--seed', type=int, default=0)
ap.add_argument('--bird-scale', type=float, nargs=2, default=BIRD_SCALE, help="body half-axis range, share of the side")
ap.add_argument('--head-scale', type=float, nargs=2, default=HEAD_SCALE, help='head radius range, fraction of the side')
ap.add_argument('--body-evidence', type=float, default=1.0, help='contrast of the class-coded body stripes, 0..1')
ap.add_argument('--samples', help='also draw the first test images with their boxes to this image file')
a = ap.parse_args()
size = a.size[0] if len(a.size) == 1 else tuple(a.size)
try:
    root = make_toy_dataset(a.root, a.classes, a.train_per_class, a.test_per_class, size, a.seed,
                            bird_scale=a.bird_scale, head_scale=a.head_scale, body_evidence=a.body_evidence)
except (ValueError, FileExistsError, NotADirectoryError) as err:   # checked before a bird is drawn: one line, exit 2
    ap.error(str(err))
print(f"toy dataset at {root}")
if a.samples: print('wrote', save_toy_samples(root, a.samples))
