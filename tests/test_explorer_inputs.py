"""Careless use of the explorers (issue 28): unknown controls, values a control cannot take, NaN on a slider, and the
CAM explorer's dimmed region against the box it draws. Small hand-made inputs: no trained model needed."""
import numpy as np
import pytest
import torch

from dfm_tutorial.boxes import cam_box, to_uint8
from dfm_tutorial.boxes import cam_region
from dfm_tutorial.cam_explorer import CAMExplorer
from dfm_tutorial.explore import DFMExplorer


@pytest.fixture
def dfm_explorer():
    torch.manual_seed(0)
    features = {'block3': torch.rand(3, 8, 6, 6), 'block4': torch.rand(3, 8, 6, 6)}
    return DFMExplorer(features, torch.zeros(3, 3, 24, 24, dtype=torch.uint8))


def cam_explorer(cam, gt=((0, 0, 15, 15),), names=('A',)):
    "A CAM explorer over one hand-made map `cam` `(h, w)`, the same for each model of `names`."
    h, w = cam.shape
    return CAMExplorer({n: cam[None] for n in names}, torch.zeros(1, 3, h, w, dtype=torch.uint8),
                       [[list(b) for b in gt]])


def lit(explorer):
    "The pixels the CAM explorer leaves undimmed: the region it shows above the threshold."
    return explorer.panels['A']['shade'].get_array()[..., 3] == 0


# U12: set() names an unknown control and lists the known ones; a bad value names the type and range it needs

@pytest.mark.parametrize('values, message', [
    (dict(gamma=0.5), "no control 'gamma': the controls are image, layer, row, alpha, beta, lam, mu, nu, theta"),
    (dict(row='cam'), "row must be one of ('channel', 'position', 'normal_fusion', 'fusion', 'dfm'), got 'cam'"),
    (dict(layer='block9'), "layer must be one of ('block3', 'block4'), got 'block9'"),
    (dict(alpha=float('nan')), "alpha must be a number in [0.05, 1], got nan"),
    (dict(theta=float('inf')), "theta must be a number in [0, 1], got inf"),
    (dict(beta=1.5), "beta must be a number in [0.05, 1], got 1.5"),
    (dict(lam='0.3'), "lam must be a number in [0, 1], got '0.3'"),
    (dict(image=2.5), "image must be an integer in [0, 2], got 2.5"),
    (dict(image=3), "image must be an integer in [0, 2], got 3"),
    (dict(image=True), "image must be an integer in [0, 2], got True"),
    (dict(beta=0.5, mu=-1), "mu must be a number in [0, 1], got -1"),
])
def test_dfm_set_refuses(dfm_explorer, values, message):
    before = dfm_explorer.values()
    with pytest.raises(ValueError) as err: dfm_explorer.set(**values)
    assert str(err.value) == message
    assert dfm_explorer.values() == before                          # nothing moved, not even the good values before it


# U10/U11: NaN never reaches a slider, by set() or by the widget itself, and later moves still redraw

def test_dfm_slider_refuses_nan(dfm_explorer):
    with pytest.raises(ValueError, match=r"alpha must be a number in \[0.05, 1\], got nan"):
        dfm_explorer.controls['alpha'].value = float('nan')
    assert dfm_explorer.values()['alpha'] == 0.85
    png = bytes(dfm_explorer.live.image.value)
    dfm_explorer.set(alpha=0.5, row='channel', image=np.int64(1))   # numpy scalars are numbers too
    assert bytes(dfm_explorer.live.image.value) != png


def test_dfm_constructor_refuses_nan():
    features = {'block3': torch.rand(1, 8, 6, 6)}
    with pytest.raises(ValueError, match="alpha"):
        DFMExplorer(features, torch.zeros(1, 3, 24, 24, dtype=torch.uint8), alpha=float('nan'))


def test_cam_threshold_refuses_nan():
    ex = cam_explorer(np.linspace(0, 1, 256, dtype=np.float32).reshape(16, 16))
    for value in (float('nan'), float('-inf'), 1.0, -0.1):
        with pytest.raises(ValueError) as err: ex.set(threshold=value)
        assert str(err.value) == f"threshold must be a number in [0, 0.99], got {value!r}"
    with pytest.raises(ValueError, match=r"threshold must be a number in \[0, 0.99\], got nan"):
        ex.controls['threshold'].value = float('nan')
    assert ex.values()['threshold'] == 0.2
    (box, _), = ex.set(threshold=0.5).update().values()              # a later move still draws
    np.testing.assert_array_equal(box, cam_box(ex.cams['A'][0], 0.5))


# S19: the undimmed region is the one the drawn box comes from, where `cam > t` and the uint8 rule differ

@pytest.mark.parametrize('peak, faint, threshold', [
    (0.5, 0.15, 0.2),         # peak below 1: u8 38 > int(0.2 * 127) = 25, though 0.15 < 0.2
    (1.0, 0.2035, 0.2),       # the rounding edge: 0.2035 > 0.2, but u8 51 is not > int(0.2 * 255) = 51
])
def test_shaded_region_is_the_boxed_one(peak, faint, threshold):
    cam = np.zeros((16, 16), np.float32)
    cam[2:9, 3:12], cam[5, 6] = faint, peak
    region = to_uint8(cam) > int(threshold * int(to_uint8(cam).max()))   # wsolevaluation's rule, written out
    assert (region != (cam > threshold)).any()                          # the two rules differ on this map
    ex = cam_explorer(cam)
    (box, _), = ex.set(threshold=threshold).update().values()
    np.testing.assert_array_equal(lit(ex), region)
    np.testing.assert_array_equal(cam_region(cam, threshold)[0], region)
    ys, xs = np.nonzero(lit(ex))                      # one component, boxed as wsolevaluation: x1, y1 one past it
    np.testing.assert_array_equal(box, [xs.min(), ys.min(), xs.max() + 1, ys.max() + 1])
    np.testing.assert_array_equal(box, cam_box(cam, threshold))


# The curve panels have six colours; a seventh model reuses the first instead of failing

def test_seven_models_draw():
    cam = np.linspace(0, 1, 256, dtype=np.float32).reshape(16, 16)
    names = [f'M{k}' for k in range(7)]
    ex = cam_explorer(cam, names=names)
    colours = [ex.panels[n]['curve'].get_color() for n in names]
    assert len(set(colours[:6])) == 6 and colours[6] == colours[0]
    drawn = ex.set(threshold=0.5).update()
    assert list(drawn) == names
    for box, _ in drawn.values(): np.testing.assert_array_equal(box, cam_box(cam, 0.5))
