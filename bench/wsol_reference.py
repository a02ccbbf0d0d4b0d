"""THE REFERENCE, not the library: a per-threshold MaxBoxAccV2 evaluator that follows
`clovaai/wsolevaluation` (evaluation.py: `compute_bboxes_from_scoremaps` with
`multi_contour_eval`, `calculate_multiple_iou`, `BoxEvaluator.accumulate/compute`) step by step.

It calls OpenCV's `findContours` once per map per threshold, as wsolevaluation does. The
benchmark times it against `dfm_tutorial.metrics.BoxEvaluator`, and the tests use it as the
oracle for the library's numbers. Keep it boring and literal; do not optimise it.
"""
import cv2
import numpy as np


def reference_boxes(scoremap, thresholds, multi_contour=True):
    "Boxes at each threshold and how many there are, one `findContours` call per threshold."
    height, width = scoremap.shape
    image = np.expand_dims((scoremap * 255).astype(np.uint8), 2)
    boxes_per_threshold, counts = [], []
    for threshold in thresholds:
        _, binary = cv2.threshold(src=image, thresh=int(threshold * np.max(image)), maxval=255, type=cv2.THRESH_BINARY)
        contours = cv2.findContours(image=binary, mode=cv2.RETR_TREE, method=cv2.CHAIN_APPROX_SIMPLE)[-2]
        if len(contours) == 0:
            boxes_per_threshold.append(np.asarray([[0, 0, 0, 0]])); counts.append(1)
            continue
        if not multi_contour:
            contours = [max(contours, key=cv2.contourArea)]
        boxes = []
        for contour in contours:
            x, y, w, h = cv2.boundingRect(contour)
            boxes.append([x, y, min(x + w, width - 1), min(y + h, height - 1)])
        boxes_per_threshold.append(np.asarray(boxes)); counts.append(len(contours))
    return boxes_per_threshold, counts


def reference_iou(box_a, box_b):
    "IoU matrix `(num_a, num_b)` with inclusive coordinates; a non-positive union gives 0."
    a, b = box_a[:, None, :], box_b[None, :, :]
    min_x, min_y = np.maximum(a[..., 0], b[..., 0]), np.maximum(a[..., 1], b[..., 1])
    max_x, max_y = np.minimum(a[..., 2], b[..., 2]), np.minimum(a[..., 3], b[..., 3])
    inter = np.maximum(0, max_x - min_x + 1) * np.maximum(0, max_y - min_y + 1)
    area_a = (a[..., 2] - a[..., 0] + 1) * (a[..., 3] - a[..., 1] + 1)
    area_b = (b[..., 2] - b[..., 0] + 1) * (b[..., 3] - b[..., 1] + 1)
    denominator = area_a + area_b - inter
    degenerate = denominator <= 0
    denominator = np.where(degenerate, 1, denominator)
    ious = inter / denominator
    ious[degenerate] = 0
    return ious


class ReferenceBoxEvaluator:
    "wsolevaluation's BoxEvaluator (MaxBoxAccV2 when `multi_contour`), fed one map at a time."
    def __init__(self, thresholds, iou_thresholds=(30, 50, 70), multi_contour=True):
        self.thresholds, self.iou_thresholds, self.multi_contour = list(thresholds), list(iou_thresholds), multi_contour
        self.num_correct = {d: np.zeros(len(self.thresholds)) for d in self.iou_thresholds}
        self.cnt = 0

    def accumulate(self, scoremap, gt_boxes):
        boxes, counts = reference_boxes(scoremap, self.thresholds, self.multi_contour)
        ious = reference_iou(np.concatenate(boxes, axis=0), np.asarray(gt_boxes))
        best_per_box = ious.max(1)
        starts = np.concatenate([[0], np.cumsum(counts)])
        best = np.array([best_per_box[s:e].max() for s, e in zip(starts[:-1], starts[1:])])
        for d in self.iou_thresholds:
            self.num_correct[d][np.where(best >= d / 100)[0]] += 1
        self.cnt += 1

    def compute(self):
        "Max BoxAcc (%) per IoU threshold, in the order given."
        return [(self.num_correct[d] * 100. / float(self.cnt)).max() for d in self.iou_thresholds]
