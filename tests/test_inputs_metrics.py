"""Bad arguments to the evaluators of lesson `08_metrics` (issue 28, S14 and S15): each stops with one line naming the
argument, instead of being read as something else (IoU 0.5 as 0 %, a float label that never matches a class)."""
import numpy as np
import pytest
import torch

from dfm_tutorial.metrics import BoxEvaluator, MaskEvaluator, best_cam_thresholds

MAPS = np.zeros((2, 8, 8), np.float32)
MAPS[:, 2:6, 2:6] = 1.0
GTS = [[[2, 2, 6, 6]], [[2, 2, 6, 6]]]


def message(call):
    with pytest.raises(ValueError) as e: call()
    return str(e.value)


@pytest.mark.parametrize('ious,said', [
    ((0.5,), "iou_thresholds are percentages in (0, 100], whole numbers such as 30, 50, 70; got 0.5 (IoU 0.5 is 50)"),
    ((0.3, 0.5, 0.7), "got 0.3 (IoU 0.3 is 30)"),
    ((30, 50.5), "iou_thresholds are percentages in (0, 100], whole numbers such as 30, 50, 70; got 50.5"),
    ((50, 50), "iou_thresholds must be distinct, got [50, 50]"),
    (50, "iou_thresholds must be a list of percentages such as (30, 50, 70), got 50"),
    ('50', "iou_thresholds must be a list of percentages such as (30, 50, 70), got '50'"),
    ((), "iou_thresholds must not be empty"),
    ((50, 101), "iou_thresholds must be in (0, 100], got 101"),
])
def test_iou_thresholds_are_whole_percentages(ious, said):
    assert said in message(lambda: BoxEvaluator(iou_thresholds=ious))


def test_fractional_iou_was_read_as_zero_percent():
    "Before the fix, (0.5,) became IoU 0: every image counted and MaxBoxAccV2 was 100 on maps that miss the box."
    far = [[[0, 0, 1, 1]], [[0, 0, 1, 1]]]
    assert BoxEvaluator(iou_thresholds=(50,)).accumulate(MAPS, far).compute()['max_box_acc_v2'] == 0
    assert 'percentages' in message(lambda: best_cam_thresholds(MAPS, far, iou_thresholds=(0.5,)))
    assert np.array_equal(BoxEvaluator(iou_thresholds=np.array([30, 50])).ious, [30, 50])   # numpy ints are fine


@pytest.mark.parametrize('kwargs,said', [
    (dict(topk=2.5), "topk must be a positive integer, got 2.5"),
    (dict(topk=0), "topk must be a positive integer, got 0"),
    (dict(max_box_acc_v1='False'), "max_box_acc_v1 must be True or False, got 'False'"),
    (dict(per_image=1), "per_image must be True or False, got 1"),
    (dict(cam_thresholds=[]), "thresholds must be a non-empty 1-D list"),
])
def test_other_box_evaluator_arguments(kwargs, said):
    assert said in message(lambda: BoxEvaluator(**kwargs))


@pytest.mark.parametrize('labels,dtype', [([0.0, 1.0], 'float64'), (torch.tensor([0.0, 1.0]), 'float32'),
                                          ([True, False], 'bool')])
def test_labels_must_be_integers(labels, dtype):
    "A float label never equals an argmax, so every image would count as misclassified (issue 28, S15)."
    said = message(lambda: BoxEvaluator().accumulate(MAPS, GTS, labels=labels, logits=np.eye(2)))
    assert said == f"labels must be integer class indices, got dtype {dtype}"


def test_integer_labels_of_any_kind_are_accepted():
    for labels in ([1, 0], np.array([1, 0], np.int32), torch.tensor([1, 0])):
        res = BoxEvaluator().accumulate(MAPS, GTS, labels=labels, logits=np.eye(2)[::-1]).compute()
        assert res['top1_cls'] == 100.0


@pytest.mark.parametrize('name', ['masks', 'ignore'])
@pytest.mark.parametrize('value,shown', [(0.3, '[0.0, 0.3]'), (255, '[0, 255]'), (np.nan, '[nan, nan]')])
def test_masks_must_be_boolean_or_zero_one(name, value, shown):
    "0.3 would have been read as 'on' (astype(bool)); wsolevaluation's masks are on above 0.5."
    masks, ignore = np.zeros((2, 8, 8), bool), None
    masks[:, 2:6, 2:6] = True
    bad = np.zeros((2, 8, 8), type(value))
    bad[0, 0, 0] = value
    args = dict(masks=bad, ignore=None) if name == 'masks' else dict(masks=masks, ignore=bad)
    said = message(lambda: MaskEvaluator().accumulate(MAPS, **args))
    assert said == f"{name} must be boolean (or 0 and 1), got values in {shown}: threshold first"
    assert MaskEvaluator().accumulate(MAPS, masks.astype(np.uint8), ignore).compute()['pxap'] == 100.0


def test_mask_thresholds_must_increase():
    "They are np.histogram's bin edges: out of order, numpy raised its own error at the first batch."
    assert message(lambda: MaskEvaluator([0.5, 0.2])) == \
        "cam_thresholds must increase, each once: they are PxAP's histogram bin edges"
    assert 'cam_thresholds must increase' in message(lambda: MaskEvaluator([0.2, 0.2]))
