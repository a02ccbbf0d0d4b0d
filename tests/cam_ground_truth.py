"""Ground-truth boxes for generated CAM-like maps, near their regions: what `tests/test_boxes.py` and
`bench/eval_speed.py` score the library and the reference (`tests/wsol_reference.py`) against."""
import numpy as np

from dfm_tutorial.boxes import opencv_boxes, threshold_levels, to_uint8


def ground_truth(maps, seed=0):
    "One or two boxes per map: the largest region at a random threshold, jittered by up to 12 px."
    rng = np.random.default_rng(seed)
    out = []
    for m in maps:
        m8 = to_uint8(m)
        b = opencv_boxes(m8, threshold_levels([rng.uniform(0.2, 0.6)], m8.max())[0], multi=False)[0]
        b = np.clip(b + rng.integers(-12, 13, 4), 0, m.shape[-1] - 1)
        box = [min(b[0], b[2]), min(b[1], b[3]), max(b[0], b[2]), max(b[1], b[3])]
        out.append([box] + ([[0, 0, 40, 40]] if rng.random() < 0.2 else []))
    return out
