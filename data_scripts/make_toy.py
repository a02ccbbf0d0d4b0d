"""Write the toy WSOL dataset (CUB-200-2011 format) to a folder; a second run with the same arguments does nothing.

    python data_scripts/make_toy.py data/toy [--classes K] [--train-per-class N] [--test-per-class N]
        [--size S] [--seed S] [--bird-scale LO HI] [--head-scale LO HI] [--body-evidence E]

The defaults (`--help` prints them) are lesson 09's constants in dfm_tutorial.toy.
        [--samples out/toy_samples.png]
"""
import argparse
from dfm_tutorial.toy import (BIRD_SCALE, HEAD_SCALE, IMAGE_SIZE, TEST_PER_CLASS, TRAIN_PER_CLASS, make_toy_dataset,
                              save_toy_samples)

ap = argparse.ArgumentParser(description=__doc__.split('\n')[0], formatter_class=argparse.ArgumentDefaultsHelpFormatter)
ap.add_argument('root', help='folder to write (images/ and the five metadata files)')
ap.add_argument('--classes', type=int, default=5)
ap.add_argument('--train-per-class', type=int, default=TRAIN_PER_CLASS)
ap.add_argument('--test-per-class', type=int, default=TEST_PER_CLASS)
ap.add_argument('--size', type=int, nargs='+', default=[IMAGE_SIZE], help='side, or width height')
ap.add_argument('--seed', type=int, default=0)
ap.add_argument('--bird-scale', type=float, nargs=2, default=BIRD_SCALE, help="body half-axis range, share of the side")
ap.add_argument('--head-scale', type=float, nargs=2, default=HEAD_SCALE, help='head radius range, fraction of the side')
ap.add_argument('--body-evidence', type=float, default=1.0, help='contrast of the class-coded body stripes, 0..1')
ap.add_argument('--samples', help='also draw the first test images with their boxes to this image file')
a = ap.parse_args()
size = a.size[0] if len(a.size) == 1 else tuple(a.size)
root = make_toy_dataset(a.root, a.classes, a.train_per_class, a.test_per_class, size, a.seed,
                        bird_scale=a.bird_scale, head_scale=a.head_scale, body_evidence=a.body_evidence)
print(f"toy dataset at {root}")
if a.samples: print('wrote', save_toy_samples(root, a.samples))
