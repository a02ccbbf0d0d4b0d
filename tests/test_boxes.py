"""The fast path against OpenCV, on many random maps, at every threshold level.

The notebooks check a handful of maps; these tests check hundreds: CAM-like maps (bicubic blobs),
noise (many small regions and holes), plateaus (few values: large flat regions, ties in area,
rings), tiny and one-row maps, maps touching every border. A box set equal at every level means the
component tree reproduces OpenCV's contours, holes and largest-contour choice exactly.
"""
import os
import sys
import zlib

import numpy as np
import pytest
import torch

from dfm_tutorial.batch_boxes import box_ious
from dfm_tutorial.boxes import box_iou, opencv_boxes, threshold_levels, to_uint8
from dfm_tutorial.sweep import contour_boxes
from dfm_tutorial.cam import random_cams
from dfm_tutorial.metrics import WSOL_THRESHOLDS

from cam_ground_truth import ground_truth
from wsol_reference import ReferenceBoxEvaluator, reference_boxes


def as_set(boxes):
    return sorted(map(tuple, np.asarray(boxes).tolist()))


def all_levels(m8):
    "Thresholds that hit every level 0 .. peak - 1 once, and the levels they give."
    peak = max(int(m8.max()), 1)
    th = np.minimum((np.arange(peak) + 0.5) / peak, 0.999999)
    return th, threshold_levels(th, m8.max())


def random_maps(kind, count, rng):
    if kind == 'cam':
        return [
            to_uint8(m)
            for m in random_cams(
                count, grid=int(rng.integers(3, 9)), size=int(rng.integers(24, 72)), seed=int(rng.integers(1 << 30))
            )
        ]
    if kind == 'noise':
        return [rng.integers(0, 256, tuple(rng.integers(1, 28, 2))).astype(np.uint8) for _ in range(count)]
    if kind == 'plateaus':
        return [
            (rng.integers(0, 3, tuple(rng.integers(2, 26, 2))) * int(rng.integers(40, 127))).astype(np.uint8)
            for _ in range(count)
        ]
    if kind == 'blocky':   # upsampled coarse noise: rings, holes with islands, thin lines after nearest upsampling
        out = []
        for _ in range(count):
            small = rng.integers(0, 4, tuple(rng.integers(2, 8, 2))) * 60
            out.append(np.kron(small, np.ones((int(rng.integers(1, 4)), int(rng.integers(1, 4))))).astype(np.uint8))
        return out
    raise ValueError(kind)


@pytest.mark.parametrize('kind,count', [('cam', 24), ('noise', 60), ('plateaus', 60), ('blocky', 60)])
@pytest.mark.parametrize('multi', [True, False])
def test_fast_path_equals_opencv_at_every_level(kind, count, multi):
    rng = np.random.default_rng(zlib.crc32(f"{kind}-{multi}".encode()))
    checked = 0
    for m8 in random_maps(kind, count, rng):
        th, levels = all_levels(m8)
        for fast, level in zip(contour_boxes(m8, th, multi), levels):
            assert as_set(fast) == as_set(opencv_boxes(m8, level, multi)), (kind, multi, m8.shape, level)
            checked += 1
    assert checked > count      # the comparison really ran at many levels


def test_degenerate_maps():
    for m8 in [np.zeros((5, 7), np.uint8), np.full((4, 4), 255, np.uint8), np.zeros((1, 1), np.uint8),
               np.array([[0, 200, 0, 200, 0]], np.uint8), np.array([[9], [0], [9]], np.uint8)]:
        for multi in (True, False):
            th = [0.0, 0.5, 0.99]
            for fast, level in zip(contour_boxes(m8, th, multi), threshold_levels(th, m8.max())):
                assert as_set(fast) == as_set(opencv_boxes(m8, level, multi))
    assert contour_boxes(np.zeros((5, 7), np.float32), [0.3])[0].tolist() == [[0, 0, 0, 0]]   # all zeros: (0, 0, 0, 0)


def test_box_ious_matches_reference_boxes_on_cams():
    "Best IoUs from the compiled batch equal IoUs of the reference's boxes, threshold by threshold."
    maps = random_cams(12, size=80, seed=3).numpy()
    rng = np.random.default_rng(1)
    gts = [np.sort(rng.integers(0, 80, (2, 2)), axis=0).T.reshape(1, 4)[:, [0, 2, 1, 3]] for _ in maps]
    th = np.arange(0, 1, 0.002)
    multi, single = box_ious(maps, th, gts, single=True)
    for i, (m, g) in enumerate(zip(maps, gts)):
        for mode, got in (('multi', multi[i]), ('single', single[i])):
            boxes, _ = reference_boxes(m, th, multi_contour=mode == 'multi')
            want = np.array([box_iou(b, g).max() for b in boxes])
            np.testing.assert_array_equal(got, want)


def test_evaluator_equals_reference_evaluator():
    "MaxBoxAccV2 of the library equals wsolevaluation's per-threshold algorithm on the same maps."
    from dfm_tutorial.metrics import BoxEvaluator
    maps = random_cams(60, size=96, seed=5)
    gts = ground_truth(maps.numpy(), seed=2)
    th = WSOL_THRESHOLDS
    ref = ReferenceBoxEvaluator(th)
    for m, g in zip(maps.numpy(), gts): ref.accumulate(m, g)
    lib = BoxEvaluator(cam_thresholds=th, max_box_acc_v1=False)
    for s in range(0, 60, 25): lib.accumulate(maps[s:s + 25], gts[s:s + 25])
    for d, r in zip(ref.iou_thresholds, ref.compute()):                    # the reference's own δ, in its order
        assert lib.compute()['max_box_acc_v2_per_iou'][str(d)] == pytest.approx(r, abs=1e-6)
        np.testing.assert_array_equal(lib.curves()[d], 100 * ref.num_correct[d] / ref.cnt)
    assert lib.compute()['max_box_acc_v2'] == pytest.approx(np.mean(ref.compute()), abs=1e-6)


def test_box_ious_inputs_torch_and_float64():
    maps = random_cams(4, size=40, seed=9)
    gts = torch.tensor([[2, 3, 30, 35]] * 4)
    a = box_ious(maps, [0.2, 0.5], gts)[0]
    b = box_ious(maps.numpy().astype(np.float64), [0.2, 0.5], gts.numpy())[0]
    c = box_ious(maps.half(), [0.2, 0.5], gts)[0]
    assert a.shape == (4, 2) and np.isfinite(a).all() and np.isfinite(b).all() and np.isfinite(c).all()
    padded = torch.tensor([[[2, 3, 30, 35], [-1, -1, -1, -1]]] * 4)           # (n, k, 4) with padding rows
    np.testing.assert_array_equal(box_ious(maps, [0.2, 0.5], padded)[0], a)


def test_scoring_leaves_torch_threads_as_they_were():
    "numba's OpenMP layer resets the thread count torch shares on its first launch; box_ious puts it back."
    import subprocess
    code = ("import numpy as np, torch\n"
            "from dfm_tutorial.batch_boxes import box_ious\n"
            "before = torch.get_num_threads()\n"
            "box_ious(np.random.rand(4, 32, 32), np.arange(0, 1, 0.01), [np.array([[1, 1, 10, 10]])] * 4)\n"
            "print(before, torch.get_num_threads())")
    env = {**os.environ, 'OMP_NUM_THREADS': '1', 'NUMBA_NUM_THREADS': '2'}
    p = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True, env=env, check=True)
    assert p.stdout.split() == ['1', '1'], p.stdout + p.stderr


@pytest.mark.parametrize('dtype', [np.float32, np.uint8])
@pytest.mark.parametrize('multi', [False, True])
def test_maps_to_boxes_of_no_maps_is_empty(dtype, multi):
    "Zero maps (issue 28, U5): no boxes, as (0, 4) or an empty list, whatever the map size or dtype."
    from dfm_tutorial.batch_boxes import maps_to_boxes
    out = maps_to_boxes(np.zeros((0, 8, 8), dtype), 0.5, multi=multi)
    assert (out == []) if multi else (out.shape == (0, 4) and out.dtype == np.int64)


@pytest.mark.parametrize('shape', [(1, 0, 8), (2, 8, 0), (0, 0), (8,), (1, 1, 2, 2)])
@pytest.mark.parametrize('dtype', [np.float32, np.uint8])
def test_maps_to_boxes_refuses_empty_sides_in_one_line(shape, dtype):
    "A map with an empty side (issue 28, U4) stops with the shape, on the uint8 path too (it skipped check_maps)."
    from dfm_tutorial.batch_boxes import maps_to_boxes
    with pytest.raises(ValueError) as e: maps_to_boxes(np.zeros(shape, dtype), 0.5)
    assert str(e.value) == f"maps must be one map (h, w) or a batch (n, h, w) with h, w >= 1, got shape {shape}"


def test_the_cam_region_is_the_boxed_contour_only():
    "S19: with two blobs above the threshold, the region is the largest contour's pixels, all inside its box."
    from dfm_tutorial.boxes import cam_region
    cam = np.zeros((32, 32))
    cam[2:12, 2:12], cam[20:26, 20:26] = 1.0, 0.9
    region, box = cam_region(cam, 0.2)
    assert box.tolist() == [2, 2, 12, 12]                                   # wsolevaluation's x + w convention
    ys, xs = np.nonzero(region)
    assert region.sum() == 100 and (xs.min(), ys.min(), xs.max(), ys.max()) == (2, 2, 11, 11)
    assert not region[20:26, 20:26].any()                                  # the second blob is not shaded as boxed
