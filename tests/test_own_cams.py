"""`dfm-tutorial evaluate-cams` against a literal port of wsolevaluation's `evaluate.py` (`tests/wsol_reference.py`).

The fixtures are folders in wsolevaluation's own layout, generated here: CUB-like (one box per image, images of many
sizes), ILSVRC-like (up to three boxes per image) and OpenImages-like (instance masks and ignore masks), with CAM-like
score maps saved as its `inference.py` saves them (`<id>.npy`, float64, 224 × 224), and raw maps of other sizes.
"""
import contextlib
import io
import json

import cv2
import numpy as np
import pytest

from dfm_tutorial.cam import random_cams
from dfm_tutorial.cli import main
from dfm_tutorial.own_cams import read_wsol_metadata, score_map_path, write_wsol_metadata

from wsol_reference import RESIZE_LENGTH, reference_evaluate_wsol, saved_scoremap

INTERVAL = 0.01          # evaluate.py's own default: 100 thresholds keep the per-threshold reference quick


def write_lines(path, rows):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(''.join(','.join(map(str, r)) + '\n' for r in rows))


def box_folder(root, n, max_boxes, seed):
    "A split folder with `n` images of random sizes and 1..`max_boxes` boxes each, and score maps for it."
    rng = np.random.default_rng(seed)
    ids = [f"{k % 4:03d}.class/img_{k}.jpg" for k in range(n)]
    sizes = rng.integers(80, 500, (n, 2))
    boxes = []
    for image_id, (w, h) in zip(ids, sizes):
        for _ in range(rng.integers(1, max_boxes + 1)):
            x0, x1 = np.sort(rng.integers(0, w, 2))
            y0, y1 = np.sort(rng.integers(0, h, 2))
            boxes.append((image_id, x0, y0, x1, y1))
    folder = root / 'metadata' / 'test'
    write_lines(folder / 'image_ids.txt', [[i] for i in ids])
    write_lines(folder / 'class_labels.txt', [(i, k % 4) for k, i in enumerate(ids)])
    write_lines(folder / 'image_sizes.txt', [(i, w, h) for i, (w, h) in zip(ids, sizes)])
    write_lines(folder / 'localization.txt', boxes)
    return folder, ids


def saved_maps(n, grid=7, seed=0):
    "`n` CAM-like maps as its `inference.py` saves them: float64, at the size its `evaluate.py` scores (224 × 224)."
    return random_cams(n, grid=grid, size=RESIZE_LENGTH, seed=seed).numpy().astype(np.float64)


def save_maps(folder, ids, maps):
    for image_id, m in zip(ids, maps):
        score_map_path(folder, image_id).parent.mkdir(parents=True, exist_ok=True)
        np.save(score_map_path(folder, image_id), m)


def evaluate_cams(*argv):
    "Our command's JSON output, run in this process."
    out = io.StringIO()
    with contextlib.redirect_stdout(out): main(['evaluate-cams', *map(str, argv), '--json', '--no-progress'])
    return json.loads(out.getvalue())


@pytest.mark.parametrize('max_boxes', [1, 3], ids=['CUB-like', 'ILSVRC-like'])
def test_box_numbers_are_evaluate_py_numbers(tmp_path, max_boxes):
    folder, ids = box_folder(tmp_path, 40, max_boxes, seed=max_boxes)
    save_maps(tmp_path / 'maps', ids, saved_maps(len(ids), grid=5, seed=3))
    ours = evaluate_cams('--metadata', folder, '--cams', tmp_path / 'maps', '--interval', INTERVAL)
    v2 = reference_evaluate_wsol(tmp_path / 'maps', folder, None, 'CUB', True, True, cam_curve_interval=INTERVAL)
    v1 = reference_evaluate_wsol(tmp_path / 'maps', folder, None, 'CUB', False, False, cam_curve_interval=INTERVAL)
    assert ours['n_images'] == 40
    assert ours['max_box_acc_v2'] == pytest.approx(v2, abs=1e-9)
    assert ours['max_box_acc'] == pytest.approx(v1, abs=1e-9)
    assert 0 < v1 < 100 and 0 < v2 < 100                              # a test that could fail either way


def test_maps_of_other_sizes_are_resized_as_inference_py_saves_them(tmp_path):
    folder, ids = box_folder(tmp_path, 24, 2, seed=5)
    raw = [random_cams(1, grid=4, size=int(s), seed=k).numpy()[0] for k, s in enumerate(np.linspace(7, 300, 24))]
    save_maps(tmp_path / 'raw', ids, raw)                                     # float32 CAMs at 7² ... 300²
    save_maps(tmp_path / 'saved', ids, [saved_scoremap(m.copy()) for m in raw])
    ours = evaluate_cams('--metadata', folder, '--cams', tmp_path / 'raw', '--interval', INTERVAL)
    ref = reference_evaluate_wsol(tmp_path / 'saved', folder, None, 'CUB', True, True, cam_curve_interval=INTERVAL)
    assert ours['max_box_acc_v2'] == pytest.approx(ref, abs=1e-9)


def mask_folder(root, n, seed):
    "An OpenImages-like split: 1-2 instance masks and an ignore mask per image, PNGs at the image's own size."
    rng = np.random.default_rng(seed)
    ids, rows = [f"test/c{k % 3}/{k:04x}.jpg" for k in range(n)], []
    for image_id in ids:
        w, h = (int(v) for v in rng.integers(60, 300, 2))
        stem = image_id[:-4]
        ignore = np.zeros((h, w), np.uint8)
        ignore[:, : w // 3] = 255
        (root / 'masks' / stem).parent.mkdir(parents=True, exist_ok=True)
        cv2.imwrite(str(root / 'masks' / f"{stem}_ignore.png"), ignore)
        for j in range(rng.integers(1, 3)):
            m = np.zeros((h, w), np.uint8)
            cx, cy = int(rng.integers(0, w)), int(rng.integers(0, h))
            cv2.ellipse(m, (cx, cy), (int(rng.integers(5, w // 2)), int(rng.integers(5, h // 2))), 0, 0, 360, 255, -1)
            cv2.imwrite(str(root / 'masks' / f"{stem}_m{j}.png"), m)
            rows.append((image_id, f"{stem}_m{j}.png", f"{stem}_ignore.png" if j == 0 else ''))
    folder = root / 'metadata' / 'test'
    write_lines(folder / 'image_ids.txt', [[i] for i in ids])
    write_lines(folder / 'class_labels.txt', [(i, k % 3) for k, i in enumerate(ids)])
    (folder / 'image_sizes.txt').write_text('')                               # empty, as OpenImages' is
    write_lines(folder / 'localization.txt', rows)
    return folder, ids


def test_pxap_is_evaluate_py_pxap(tmp_path):
    folder, ids = mask_folder(tmp_path, 30, seed=7)
    save_maps(tmp_path / 'maps', ids, saved_maps(len(ids), grid=6, seed=9))
    ours = evaluate_cams('--metadata', folder, '--cams', tmp_path / 'maps', '--masks', tmp_path / 'masks',
                         '--interval', INTERVAL)
    ref = reference_evaluate_wsol(tmp_path / 'maps', folder, tmp_path / 'masks', 'OpenImages', True, True,
                                  cam_curve_interval=INTERVAL)
    assert ours['pxap'] == pytest.approx(ref, abs=1e-9) and 0 < ref < 100
    meta = read_wsol_metadata(folder)
    assert meta.masks[0][1].endswith('_ignore.png') and meta.sizes is None


def test_written_metadata_is_read_by_evaluate_py(tmp_path):
    "Our writer's folder, read by the reference's readers: the same boxes and sizes, the same score."
    folder, ids = box_folder(tmp_path, 20, 3, seed=11)
    meta = read_wsol_metadata(folder)
    copy = write_wsol_metadata(meta, tmp_path / 'copy' / 'test')
    for name in ('image_ids.txt', 'class_labels.txt', 'image_sizes.txt'):
        assert (copy / name).read_text() == (folder / name).read_text()
    assert sorted((copy / 'localization.txt').read_text().splitlines()) == sorted(
        (folder / 'localization.txt').read_text().splitlines())
    save_maps(tmp_path / 'maps', ids, saved_maps(len(ids), seed=1))
    assert reference_evaluate_wsol(tmp_path / 'maps', copy, None, 'CUB', True, True, cam_curve_interval=INTERVAL) == \
        reference_evaluate_wsol(tmp_path / 'maps', folder, None, 'CUB', True, True, cam_curve_interval=INTERVAL)


def cli_error(*argv):
    "The one line the command exits with."
    with pytest.raises(SystemExit) as e: main(['evaluate-cams', *map(str, argv), '--no-progress'])
    return str(e.value.code)


def test_bad_folders_stop_with_one_line(tmp_path):
    folder, ids = mask_folder(tmp_path, 4, seed=1)
    assert 'the metadata lists masks (OpenImages): pass the folder they are relative to (--masks)' in cli_error(
        '--metadata', folder, '--cams', tmp_path)
    save_maps(tmp_path / 'maps', ids[:3], saved_maps(3))
    said = cli_error('--metadata', folder, '--cams', tmp_path / 'maps', '--masks', tmp_path / 'masks')
    assert f"1 of 4 score maps are missing from {tmp_path / 'maps'}, e.g. {tmp_path / 'maps' / ids[3]}.npy" in said
    (folder / 'localization.txt').write_text((folder / 'localization.txt').read_text() + 'test/c0/0000.jpg,1,2,3,4\n')
    assert 'localization.txt: mixes box lines' in cli_error('--metadata', folder, '--cams', tmp_path / 'maps')


def test_help_lists_the_plugin_command(capsys):
    with pytest.raises(SystemExit): main(['--help'])
    assert 'evaluate-cams' in capsys.readouterr().out


def small_folder(root, sizes=True):
    "Two 64 × 64 images with one box each, score maps for them; `sizes=False` leaves image_sizes.txt out."
    ids = ['a/0.jpg', 'a/1.jpg']
    folder = root / 'metadata' / 'test'
    write_lines(folder / 'image_ids.txt', [[i] for i in ids])
    write_lines(folder / 'class_labels.txt', [(i, 0) for i in ids])
    write_lines(folder / 'localization.txt', [(ids[0], 4, 4, 40, 40), (ids[1], 0, 0, 64, 64)])   # x1 = w: the slack
    if sizes: write_lines(folder / 'image_sizes.txt', [(i, 64, 64) for i in ids])
    save_maps(root / 'maps', ids, saved_maps(2, seed=0))
    return folder, ids


def test_a_box_outside_its_image_is_refused(tmp_path):
    "Issue 28, S13: a 10,10,5000,5000 box on a 64² image was scored; the size comes from image_sizes.txt or the image."
    folder, ids = small_folder(tmp_path)
    assert evaluate_cams('--metadata', folder, '--cams', tmp_path / 'maps')['n_images'] == 2   # within BOX_SLACK
    write_lines(folder / 'localization.txt', [(ids[0], 10, 10, 5000, 5000), (ids[1], 0, 0, 64, 64)])
    said = cli_error('--metadata', folder, '--cams', tmp_path / 'maps')
    assert said == (f"dfm-tutorial evaluate-cams: {folder / 'localization.txt'}: a box (10, 10, 5000, 5000) lies "
                    f"outside its 64 × 64 image: {folder / ids[0]} (image_ids.txt line 1); its size is from "
                    f"{folder / 'image_sizes.txt'}")
    (folder / 'image_sizes.txt').unlink()
    for image_id in ids:
        (tmp_path / 'images' / image_id).parent.mkdir(parents=True, exist_ok=True)
        cv2.imwrite(str(tmp_path / 'images' / image_id), np.zeros((64, 64, 3), np.uint8))
    said = cli_error('--metadata', folder, '--cams', tmp_path / 'maps', '--images', tmp_path / 'images')
    assert said.endswith(f"lies outside its 64 × 64 image: {tmp_path / 'images' / ids[0]} (image_ids.txt line 1); "
                         "its size is from the image file")


def test_image_sizes_need_image_sizes_txt_or_images(tmp_path):
    "Issue 28, U3: without both, '[Errno 2] ... meta/test/<id>'; now one line naming what is missing."
    folder, ids = small_folder(tmp_path, sizes=False)
    assert cli_error('--metadata', folder, '--cams', tmp_path / 'maps') == (
        f"dfm-tutorial evaluate-cams: {folder / 'image_sizes.txt'} is missing (or empty) and no images folder was "
        "given: the image sizes come from image_sizes.txt or from the images folder given with --images (images=)")
    (tmp_path / 'images').mkdir()
    said = cli_error('--metadata', folder, '--cams', tmp_path / 'maps', '--images', tmp_path / 'images')
    assert said == (f"dfm-tutorial evaluate-cams: cannot read the size of {tmp_path / 'images' / ids[0]} "
                    "(image_ids.txt line 1): No such file or directory; the metadata lists no image sizes "
                    "(image_sizes.txt), so they come from the image files")


def npy_header(shape, descr='<f8', fortran=False):
    "A bare .npy header: what a file that lies about its contents starts with."
    out = io.BytesIO()
    np.lib.format.write_array_header_1_0(out, {'descr': descr, 'fortran_order': fortran, 'shape': shape})
    return out.getvalue()


BAD_NPY = {   # issue 28: T1 (EOFError), U2 ('pickled data'), T2 (a 149 GiB allocation), and their relatives
    'empty': (b'', " is empty (0 bytes), not a numpy score map (.npy)"),
    'text': (b'0.1 0.2\n0.3 0.4\n', " is not a numpy score map (.npy): the magic string is not correct"),
    'huge': (npy_header((200000, 200000), '<f4'), ": a 200000 × 200000 score map is larger than 16384 pixels a side"),
    'short': (npy_header((224, 224)) + bytes(100), ": the header says 224 × 224 float64 (401,408 bytes of data), "
                                                   "the file holds 100"),
    'pickle': (npy_header((2,), '|O') + b'\x80\x04N.', ": a score map must be a 2-D float array, got object of shape "
                                                      "(2,)"),
    'ints': (npy_header((2, 2), '<i8') + bytes(32), ": a score map must be a 2-D float array, got int64 of shape"),
    'v3': (b'\x93NUMPY\x03\x00' + bytes(8), " is not a numpy score map (.npy): format version (3, 0) is not 1.0 or "
                                            "2.0"),
}


@pytest.mark.parametrize('kind', list(BAD_NPY))
def test_bad_npy_files_stop_in_one_line_naming_the_file(tmp_path, kind):
    folder, ids = small_folder(tmp_path)
    data, said = BAD_NPY[kind]
    path = score_map_path(tmp_path / 'maps', ids[1])
    path.write_bytes(data)
    line = cli_error('--metadata', folder, '--cams', tmp_path / 'maps')
    assert line.startswith(f"dfm-tutorial evaluate-cams: {path}{said}") and '\n' not in line


def test_npy_maps_in_any_layout_read_as_numpy_reads_them(tmp_path):
    "Fortran order, big-endian and half precision: the header parser reads what np.load reads."
    from dfm_tutorial.own_cams import read_npy_map
    a = random_cams(1, size=30, seed=2).numpy()[0][:, :20].astype(np.float64)
    for name, m in {'fortran': np.asfortranarray(a), 'big': a.astype('>f8'), 'half': a.astype(np.float16)}.items():
        np.save(tmp_path / f'{name}.npy', m)
        got = read_npy_map(tmp_path / f'{name}.npy')
        assert got.dtype.isnative and np.array_equal(got, np.load(tmp_path / f'{name}.npy')), name
