"""THE REFERENCE, not the library: a per-threshold MaxBoxAccV2 evaluator that follows
`clovaai/wsolevaluation` (evaluation.py: `compute_bboxes_from_scoremaps` with
`multi_contour_eval`, `calculate_multiple_iou`, `BoxEvaluator.accumulate/compute`) step by step.

It calls OpenCV's `findContours` once per map per threshold, as wsolevaluation does. The tests use it as the
oracle for the library's numbers, and `bench/eval_speed.py` times it against `dfm_tutorial.metrics.BoxEvaluator`.
Keep it boring and literal; do not optimise it, and do not import the library: its numbers (224, 30/50/70, the
threshold step) are wsolevaluation's own, written here again on purpose, so the library's constants are checked,
not copied.

`reference_evaluate_wsol` is its `evaluate.py` (`evaluate_wsol`): metadata read by its
`data_loaders.py` functions, ground-truth boxes resized with `resize_bbox`, each saved score map
fed to the box evaluator, or to `MaskEvaluator` with `get_mask` for OpenImages. Run as a
script it takes `evaluate.py`'s arguments and prints its last line (`localization: ...`).
"""
import argparse
import os
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
            boxes_per_threshold.append(np.asarray([[0, 0, 0, 0]]))
            counts.append(1)
            continue
        if not multi_contour:
            contours = [max(contours, key=cv2.contourArea)]
        boxes = []
        for contour in contours:
            x, y, w, h = cv2.boundingRect(contour)
            boxes.append([x, y, min(x + w, width - 1), min(y + h, height - 1)])
        boxes_per_threshold.append(np.asarray(boxes))
        counts.append(len(contours))
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


# --- wsolevaluation's data_loaders.py: the metadata readers, line by line -----------------------------------------

def get_image_ids(folder):
    with open(os.path.join(folder, 'image_ids.txt')) as f:
        return [line.strip('\n') for line in f.readlines()]


def get_bounding_boxes(folder):
    boxes = {}
    with open(os.path.join(folder, 'localization.txt')) as f:
        for line in f.readlines():
            image_id, x0s, x1s, y0s, y1s = line.strip('\n').split(',')   # its names; the columns are x0, y0, x1, y1
            boxes.setdefault(image_id, []).append((int(x0s), int(x1s), int(y0s), int(y1s)))
    return boxes


def get_mask_paths(folder):
    mask_paths, ignore_paths = {}, {}
    with open(os.path.join(folder, 'localization.txt')) as f:
        for line in f.readlines():
            image_id, mask_path, ignore_path = line.strip('\n').split(',')
            if image_id in mask_paths:
                mask_paths[image_id].append(mask_path)
                assert len(ignore_path) == 0
            else:
                mask_paths[image_id] = [mask_path]
                ignore_paths[image_id] = ignore_path
    return mask_paths, ignore_paths


def get_image_sizes(folder):
    sizes = {}
    with open(os.path.join(folder, 'image_sizes.txt')) as f:
        for line in f.readlines():
            image_id, ws, hs = line.strip('\n').split(',')
            sizes[image_id] = (int(ws), int(hs))
    return sizes


# --- wsolevaluation's inference.py: what a saved score map went through -----------------------------------------

def normalize_scoremap(cam):
    if np.isnan(cam).any():
        return np.zeros_like(cam)
    if cam.min() == cam.max():
        return np.zeros_like(cam)
    cam -= cam.min()
    cam /= cam.max()
    return cam


def saved_scoremap(cam, image_size=(224, 224)):
    "The map inference.py saves for a model's CAM: resized bicubically to the input size, then min-max normalised."
    return normalize_scoremap(cv2.resize(cam, image_size, interpolation=cv2.INTER_CUBIC))


# --- wsolevaluation's evaluation.py -------------------------------------------------------------------------------

RESIZE_LENGTH = 224


def resize_bbox(box, image_size, resize_size):
    box_x0, box_y0, box_x1, box_y1 = map(float, box)
    image_w, image_h = map(float, image_size)
    new_image_w, new_image_h = map(float, resize_size)
    return (int(box_x0 * new_image_w / image_w), int(box_y0 * new_image_h / image_h),
            int(box_x1 * new_image_w / image_w), int(box_y1 * new_image_h / image_h))


def load_mask_image(file_path, resize_size):
    mask = np.float32(cv2.imread(file_path, cv2.IMREAD_GRAYSCALE))
    return cv2.resize(mask, resize_size, interpolation=cv2.INTER_NEAREST)


def get_mask(mask_root, mask_paths, ignore_path):
    mask_all_instances = []
    for mask_path in mask_paths:
        mask = load_mask_image(os.path.join(mask_root, mask_path), (RESIZE_LENGTH, RESIZE_LENGTH))
        mask_all_instances.append(mask > 0.5)
    mask_all_instances = np.stack(mask_all_instances, axis=0).any(axis=0)
    ignore_box_mask = load_mask_image(os.path.join(mask_root, ignore_path), (RESIZE_LENGTH, RESIZE_LENGTH)) > 0.5
    ignore_mask = np.logical_and(ignore_box_mask, np.logical_not(mask_all_instances))
    return mask_all_instances.astype(np.uint8) + 255 * ignore_mask.astype(np.uint8)


class ReferenceMaskEvaluator:
    "wsolevaluation's MaskEvaluator: score histograms on mask and background pixels, then the PR curve's area."
    def __init__(self, thresholds):
        self.threshold_list_right_edge = np.append(list(thresholds), [1.0, 2.0, 3.0])
        self.gt_true_score_hist = np.zeros(len(thresholds) + 2)
        self.gt_false_score_hist = np.zeros(len(thresholds) + 2)

    def accumulate(self, scoremap, gt_mask):
        self.gt_true_score_hist += np.histogram(scoremap[gt_mask == 1], bins=self.threshold_list_right_edge)[0]
        self.gt_false_score_hist += np.histogram(scoremap[gt_mask == 0], bins=self.threshold_list_right_edge)[0]

    def compute(self):
        num_gt_true = self.gt_true_score_hist.sum()
        tp = self.gt_true_score_hist[::-1].cumsum()
        fn = num_gt_true - tp
        fp = self.gt_false_score_hist[::-1].cumsum()
        non_zero_indices = (tp + fp) != 0
        with np.errstate(invalid='ignore', divide='ignore'):
            precision = tp / (tp + fp)
        recall = tp / (tp + fn)
        return (precision[1:] * np.diff(recall))[non_zero_indices[1:]].sum() * 100


def reference_evaluate_wsol(scoremap_root, metadata_folder, mask_root, dataset_name, multi_contour_eval,
                            multi_iou_eval, iou_threshold_list=(30, 50, 70), cam_curve_interval=.001):
    "evaluate_wsol: the number its evaluate.py prints (MaxBoxAccV2 with both flags; PxAP for OpenImages)."
    image_ids = get_image_ids(metadata_folder)
    thresholds = list(np.arange(0, 1, cam_curve_interval))
    if dataset_name == 'OpenImages':
        evaluator = ReferenceMaskEvaluator(thresholds)
        mask_paths, ignore_paths = get_mask_paths(metadata_folder)
        for image_id in image_ids:
            scoremap = np.load(os.path.join(scoremap_root, image_id + '.npy'))
            evaluator.accumulate(scoremap, get_mask(mask_root, mask_paths[image_id], ignore_paths[image_id]))
        return evaluator.compute()
    boxes, sizes = get_bounding_boxes(metadata_folder), get_image_sizes(metadata_folder)
    evaluator = ReferenceBoxEvaluator(thresholds, list(iou_threshold_list), multi_contour_eval)
    for image_id in image_ids:
        gt = [resize_bbox(b, sizes[image_id], (RESIZE_LENGTH, RESIZE_LENGTH)) for b in boxes[image_id]]
        evaluator.accumulate(np.load(os.path.join(scoremap_root, image_id + '.npy')), gt)
    performance = evaluator.compute()
    if multi_iou_eval:
        return np.average(performance)
    return performance[list(iou_threshold_list).index(50)]


def main():
    "evaluate.py's command line (its folder layout: metadata_root/<dataset>/<split>, mask_root/OpenImages)."
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--scoremap_root', required=True)
    p.add_argument('--metadata_root', default='metadata/')
    p.add_argument('--mask_root', default='dataset/')
    p.add_argument('--dataset_name', required=True)
    p.add_argument('--split', required=True)
    p.add_argument('--cam_curve_interval', type=float, default=0.01)
    p.add_argument('--multi_contour_eval', action='store_true')
    p.add_argument('--multi_iou_eval', action='store_true')
    p.add_argument('--iou_threshold_list', nargs='+', type=int, default=[30, 50, 70])
    a = p.parse_args()
    performance = reference_evaluate_wsol(a.scoremap_root, os.path.join(a.metadata_root, a.dataset_name, a.split),
                                          os.path.join(a.mask_root, 'OpenImages'), a.dataset_name, a.multi_contour_eval,
                                          a.multi_iou_eval, a.iou_threshold_list, a.cam_curve_interval)
    print(f'localization: {performance}')


if __name__ == '__main__':
    main()
