"""How fast is the evaluation: the per-threshold reference vs the library's component tree.

Both evaluate the same CAM-like maps (random 7x7 maps, squared, resized bicubically to 224x224 and
min-max normalised, as real CAMs are) against ground-truth boxes near their regions, with
MaxBoxAccV2's multi-contour boxes at 100 and at 1,000 CAM thresholds. The reference
(`tests/wsol_reference.py`, wsolevaluation's algorithm: `findContours` per map per threshold) runs
on one core, as wsolevaluation does; the library runs its compiled sweep on all cores (numba
threads). The table gives maps/s, the speed-up, and the largest difference between the two
MaxBoxAccV2 values and between their BoxAcc curves (both must be 0).

    python bench/eval_speed.py                  # 1,000 maps
    python bench/eval_speed.py --maps 200       # quicker
    python bench/eval_speed.py --v1             # add a row for MaxBoxAcc (V1: largest contour, IoU 0.5)
"""
import argparse
import os
import platform
import sys
import time

import cv2
import numba
import numpy as np

# the reference and the ground truth live with the tests, which check the library against them; the benchmark times
# the same two, so it reads them from there rather than keeping a second copy
sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), 'tests'))
from cam_ground_truth import ground_truth  # noqa: E402
from wsol_reference import ReferenceBoxEvaluator, reference_boxes  # noqa: E402

from dfm_tutorial.sweep import contour_boxes  # noqa: E402
from dfm_tutorial.cam import random_cams  # noqa: E402
from dfm_tutorial.metrics import WSOL_THRESHOLDS, BoxEvaluator  # noqa: E402


def run_reference(maps, gts, thresholds):
    ev = ReferenceBoxEvaluator(thresholds)
    t0 = time.perf_counter()
    for m, g in zip(maps, gts): ev.accumulate(m, g)
    return time.perf_counter() - t0, ev


def run_library(maps, gts, thresholds, batch=128, v1=False):
    ev = BoxEvaluator(cam_thresholds=thresholds, max_box_acc_v1=v1)
    t0 = time.perf_counter()
    for s in range(0, len(maps), batch): ev.accumulate(maps[s:s + batch], gts[s:s + batch])
    return time.perf_counter() - t0, ev


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('--maps', type=int, default=1000)
    p.add_argument('--box-check-maps', type=int, default=50, help='maps whose box sets are compared at every threshold')
    p.add_argument('--v1', action='store_true', help='also time MaxBoxAcc (V1, largest contour) at 1,000 thresholds')
    args = p.parse_args()

    cv2.setNumThreads(1)
    maps = random_cams(args.maps, grid=7, seed=0).numpy()                 # (n, 224, 224) float32: WSOL_SIZE
    gts = ground_truth(maps)
    t0 = time.perf_counter()
    run_library(maps[:2], gts[:2], np.arange(0, 1, 0.5))
    warm = time.perf_counter() - t0
    print(f"# {platform.processor() or platform.machine()}, {os.cpu_count()} cores, numba {numba.__version__} with "
          f"{numba.get_num_threads()} threads, OpenCV {cv2.__version__}; {args.maps} maps 224x224; "
          f"first call (compile or load cache) {warm:.1f} s, not timed below")

    th = WSOL_THRESHOLDS
    mismatched = 0
    for m in maps[:args.box_check_maps]:
        ref, _ = reference_boxes(m, th)
        fast = contour_boxes(m, th)
        mismatched += sum(sorted(map(tuple, a.tolist())) != sorted(map(tuple, b.tolist())) for a, b in zip(ref, fast))
    print(f"# box sets compared at 1,000 thresholds on {args.box_check_maps} maps: {mismatched} differ")

    print(f"| thresholds | reference maps/s (1 core) | library maps/s ({numba.get_num_threads()} threads) | speed-up "
          f"| MaxBoxAcc(V2) ref | MaxBoxAcc(V2) lib | max |diff| | max curve diff |")
    print("|---:|---:|---:|---:|---:|---:|---:|---:|")
    for step in (0.01, 0.001):
        th = np.arange(0, 1, step)
        t_ref, ref = run_reference(maps, gts, th)
        t_lib, lib = run_library(maps, gts, th)
        v2_ref, v2_lib = np.mean(ref.compute()), lib.compute()['max_box_acc_v2']
        curve_diff = max(np.abs(100 * ref.num_correct[d] / ref.cnt - lib.curves()[d]).max() for d in ref.iou_thresholds)
        print(f"| {len(th)} | {len(maps) / t_ref:.1f} | {len(maps) / t_lib:.1f} | {t_ref / t_lib:.1f}x "
              f"| {v2_ref:.4f} | {v2_lib:.4f} | {abs(v2_ref - v2_lib):.1e} | {curve_diff:.1e} |")
    if args.v1:   # the largest contour needs areas and, at rare contested levels, OpenCV
        th = WSOL_THRESHOLDS
        ref = ReferenceBoxEvaluator(th, iou_thresholds=(50,), multi_contour=False)
        t0 = time.perf_counter()
        for m, g in zip(maps, gts): ref.accumulate(m, g)
        t_ref = time.perf_counter() - t0
        t_lib, lib = run_library(maps, gts, th, v1=True)
        v1_ref, v1_lib = ref.compute()[0], lib.compute()['max_box_acc']
        curve_diff = np.abs(100 * ref.num_correct[50] / ref.cnt - lib.curves()['v1']).max()
        print(
            f"| 1000, V1 (largest contour; library also V2) | {len(maps) / t_ref:.1f} "
            f"| {len(maps) / t_lib:.1f} | {t_ref / t_lib:.1f}x "
            f"| {v1_ref:.4f} | {v1_lib:.4f} | {abs(v1_ref - v1_lib):.1e} | {curve_diff:.1e} |"
        )


if __name__ == '__main__':
    main()
