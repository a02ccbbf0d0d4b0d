"""Bad data, odd images and interrupted caches: each path of the data module against a generated CUB-format folder."""
import logging
import numpy as np
import pytest
import torch
from PIL import Image
import dfm_tutorial.cache as cache_mod
import dfm_tutorial.data as data
import dfm_tutorial.loader as loader_mod
from dfm_tutorial.data import WSOLDataset, BadImageError, collate_items
from dfm_tutorial.cache import ImageCache, build_cache
from dfm_tutorial.metadata import MetadataError, read_cub_metadata
from dfm_tutorial.toy import make_toy_dataset


@pytest.fixture
def cub(tmp_path):
    "A small CUB-format folder: 3 classes, 6 training and 2 test images each."
    return make_toy_dataset(tmp_path / 'cub', num_classes=3, train_per_class=6, test_per_class=2, image_size=64,
                            progress=False)


def edit(path, n, new):
    "Replace line `n` (from 1) of `path` with `new`, or delete it when `new` is None."
    lines = path.read_text().splitlines()
    if new is None: del lines[n - 1]
    else: lines[n - 1] = new
    path.write_text('\n'.join(lines) + '\n')


def test_malformed_line_names_file_and_line(cub):
    edit(cub / 'bounding_boxes.txt', 4, '4 1.0 2.0 x 3.0')
    with pytest.raises(
        MetadataError, match=r"bounding_boxes.txt:4: expected '<image id> <x> <y> <w> <h>', got '4 1.0 2.0 x 3.0'"
    ):
        read_cub_metadata(cub)


def test_class_id_out_of_range(cub):
    edit(cub / 'image_class_labels.txt', 2, '2 4')
    with pytest.raises(MetadataError, match=r"image id 2 has class id 4, outside 1..3 \(classes.txt\)"):
        read_cub_metadata(cub)


def test_unknown_and_repeated_ids(cub):
    (cub / 'bounding_boxes.txt').write_text((cub / 'bounding_boxes.txt').read_text() + '99 1 1 2 2\n')
    with pytest.raises(MetadataError, match=r"bounding_boxes.txt:25: image id 99 is not in images.txt"):
        read_cub_metadata(cub)
    edit(cub / 'bounding_boxes.txt', 25, None)
    edit(cub / 'train_test_split.txt', 3, '2 1')
    with pytest.raises(MetadataError, match=r"train_test_split.txt:3: image id 2 has a second split flag"):
        read_cub_metadata(cub)
    edit(cub / 'train_test_split.txt', 3, '3 1')
    edit(cub / 'image_class_labels.txt', 5, None)
    with pytest.raises(
        MetadataError, match=r"image_class_labels.txt: image id 5 \(images.txt line 5\) has no class label"
    ):
        read_cub_metadata(cub)


def test_negative_box_and_bad_flag(cub):
    edit(cub / 'bounding_boxes.txt', 1, '1 3 3 -1 2')
    with pytest.raises(MetadataError, match=r"bounding_boxes.txt:1: a box needs finite x, y and w, h >= 0"):
        read_cub_metadata(cub)
    edit(cub / 'bounding_boxes.txt', 1, '1 3 3 1 2')
    edit(cub / 'train_test_split.txt', 1, '1 2')
    with pytest.raises(MetadataError, match=r"train_test_split.txt:1: the split flag must be 0 or 1, got 2"):
        read_cub_metadata(cub)


def test_missing_metadata_file(cub):
    (cub / 'train_test_split.txt').unlink()
    with pytest.raises(FileNotFoundError, match=r"is not a CUB-format dataset: train_test_split.txt missing"):
        read_cub_metadata(cub)


def test_image_without_box_fails_where_boxes_are_scored(cub):
    edit(cub / 'bounding_boxes.txt', 7, None)                                 # image 7: the first test image
    WSOLDataset(cub, 'train')                                                 # training needs no boxes
    with pytest.raises(
        MetadataError,
        match=r"1 image\(s\) of split 'test' have no line in bounding_boxes.txt, "
              r"first: .*Crimson_0006.jpg \(images.txt line 7\)",
    ):
        WSOLDataset(cub, 'test')


def test_missing_image(cub):
    (cub / 'images/002.Emerald/Emerald_0007.jpg').unlink()
    with pytest.raises(
        BadImageError, match=r"1 image\(s\) of split 'test' missing, first: .*Emerald_0007.jpg \(images.txt line 16\)"
    ):
        WSOLDataset(cub, 'test')


def truncate(path):
    raw = path.read_bytes()
    path.write_bytes(raw[:len(raw) // 2])


def test_truncated_jpeg_raises_by_default_and_skips_on_request(cub, caplog):
    truncate(cub / 'images/001.Crimson/Crimson_0007.jpg')                    # test item 1
    ds = WSOLDataset(cub, 'test')
    with pytest.raises(
        BadImageError,
        match=r"cannot decode .*Crimson_0007.jpg \(images.txt line 8\): image file is truncated.*on_bad_image='skip'",
    ):
        ds[1]
    ds = WSOLDataset(cub, 'test', on_bad_image='skip')
    with caplog.at_level(logging.WARNING, logger='dfm_tutorial.data'):
        assert ds[1] is None
    assert 'skipped: cannot decode' in caplog.text and 'Crimson_0007.jpg' in caplog.text
    images, labels, boxes, ids = collate_items([ds[k] for k in range(len(ds))])
    assert len(ids) == 5 and 'Crimson/Crimson_0007.jpg' not in ' '.join(ids)


def test_not_an_image(cub):
    (cub / 'images/001.Crimson/Crimson_0006.jpg').write_text('not a jpeg')
    with pytest.raises(
        BadImageError, match=r"cannot decode .*Crimson_0006.jpg \(images.txt line 7\): cannot identify image file"
    ):
        WSOLDataset(cub, 'test')[0]


def test_grayscale_and_cmyk_become_rgb(cub):
    p = cub / 'images/001.Crimson/Crimson_0006.jpg'
    Image.open(p).convert('L').save(p)
    q = cub / 'images/001.Crimson/Crimson_0007.jpg'
    Image.open(q).convert('CMYK').save(q)
    assert Image.open(p).mode == 'L' and Image.open(q).mode == 'CMYK'
    ds = WSOLDataset(cub, 'test')
    for k in (0, 1):
        image = ds[k][0]
        assert image.shape == (3, 224, 224) and image.dtype == torch.uint8
    gray = ds[0][0]
    assert torch.equal(gray[0], gray[1]) and torch.equal(gray[1], gray[2])


def test_cache_skips_bad_images(cub, tmp_path):
    truncate(cub / 'images/002.Emerald/Emerald_0006.jpg')                    # test item 2
    with pytest.raises(BadImageError, match="Emerald_0006.jpg"):
        build_cache(cub, 'test', tmp_path / 'c', num_workers=0, progress=False)
    cache = ImageCache(build_cache(cub, 'test', tmp_path / 'c2', num_workers=0, progress=False, on_bad_image='skip'))
    assert cache.meta['skipped'] == [2] and len(cache) == 6                  # counted as PILSource counts, ...
    images, labels, boxes, ids, index = cache.batch(np.arange(6))
    assert 2 not in index.tolist() and len(ids) == 5                         # ... left out of its batch
    pil = loader_mod.PILSource(WSOLDataset(cub, 'test', transform=None, on_bad_image='skip'), 224)
    for a, b in zip(pil.batch(np.arange(6)), cache.batch(np.arange(6))):       # PIL leaves the bad image out too
        assert np.array_equal(np.asarray(a), np.asarray(b))


def test_interrupted_cache_build_resumes(cub, tmp_path, monkeypatch):
    real, calls = data.load_rgb, []
    def flaky(path, where=None):
        calls.append(path)
        if len(calls) == 11: raise KeyboardInterrupt
        return real(path, where)
    monkeypatch.setattr(data, 'load_rgb', flaky)
    with pytest.raises(KeyboardInterrupt):
        build_cache(cub, 'train', tmp_path / 'c', num_workers=0, chunk=4, progress=False)
    assert not (tmp_path / 'c/meta.json').exists()                           # unfinished: not readable as a cache
    with pytest.raises(FileNotFoundError, match="is not a finished cache"):
        ImageCache(tmp_path / 'c')
    calls.clear()
    monkeypatch.setattr(data, 'load_rgb', lambda p, w=None: (calls.append(p), real(p, w))[1])
    build_cache(cub, 'train', tmp_path / 'c', num_workers=0, chunk=4, progress=False)
    assert len(calls) == 18 - 8                                               # two chunks of 4 were kept
    monkeypatch.setattr(data, 'load_rgb', real)
    fresh = ImageCache(build_cache(cub, 'train', tmp_path / 'fresh', num_workers=0, progress=False))
    resumed = ImageCache(tmp_path / 'c')
    for a, b in zip(resumed.batch(np.arange(18)), fresh.batch(np.arange(18))):
        assert np.array_equal(np.asarray(a), np.asarray(b))


def test_epoch_loader_with_workers(cub, tmp_path):
    cache = ImageCache(build_cache(cub, 'train', tmp_path / 'c', num_workers=2, progress=False))
    loader = loader_mod.EpochLoader(cache, 5, shuffle=True, num_workers=2, crop=200)
    seen = sum((b.ids for b in loader), [])
    assert sorted(seen) == sorted(cache.ids) and len(loader) == 4
    loader.set_epoch(1)
    assert sum((b.ids for b in loader), []) != seen                          # a new order each epoch
    # a generator left part-way: the pool shuts down
    next(iter(loader))
    # 18 images, 4 ranks, drop_last: 4 each, one full batch of 3
    for r in (0, 1):
        shard = loader_mod.EpochLoader(cache, 3, shuffle=True, drop_last=True, rank=r, world_size=4)
        assert sum(len(b.ids) for b in shard) == 3
    with pytest.raises(ValueError, match="batch_size must be >= 1, got 0"):
        loader_mod.EpochLoader(cache, 0)
    with pytest.raises(ValueError, match="num_workers must be >= 0, got -1"):
        loader_mod.EpochLoader(cache, 4, num_workers=-1)


def test_sixteen_bit_png_keeps_its_gray_levels(tmp_path):
    """PIL's convert('RGB') clips 16-bit gray to white; load_rgb scales it (x / 257) like an 8-bit image of the same
    scene."""
    eight = np.random.default_rng(0).integers(0, 256, (32, 48)).astype(np.uint8)
    Image.fromarray(eight).save(tmp_path / 'eight.png')
    Image.fromarray(eight.astype(np.uint16) * 257).save(tmp_path / 'wide.png')     # the same picture at 16 bits
    assert Image.open(tmp_path / 'wide.png').mode.startswith('I')
    wide, narrow = (np.asarray(data.load_rgb(tmp_path / f'{n}.png')) for n in ('wide', 'eight'))
    assert wide.shape == (32, 48, 3) and np.array_equal(wide, narrow)


def test_zero_byte_and_bomb_images_name_the_file(cub, monkeypatch):
    (cub / 'images/001.Crimson/Crimson_0006.jpg').write_bytes(b'')
    with pytest.raises(
        BadImageError, match=r"cannot decode .*Crimson_0006.jpg .*on_bad_image=\"skip\" on the command line"
    ):
        WSOLDataset(cub, 'test')[0]
    monkeypatch.setattr(Image, 'MAX_IMAGE_PIXELS', 100)                      # any real image is a "bomb" now
    with pytest.raises(BadImageError, match=r"Crimson_0007.jpg \(images.txt line 8\) is larger than Pillow's limit"):
        WSOLDataset(cub, 'test')[1]


def test_empty_metadata_leaves_no_cache_that_looks_complete(cub, tmp_path):
    for name in ('images.txt', 'image_class_labels.txt', 'train_test_split.txt', 'bounding_boxes.txt'):
        (cub / name).write_text('')
    with pytest.raises(ValueError, match="the test split of .* has no images: are its metadata files empty"):
        build_cache(cub, 'test', tmp_path / 'c', num_workers=0, progress=False)
    assert not (tmp_path / 'c' / 'meta.json').exists()


def test_cache_is_complete_only_when_meta_json_is_written(cub, tmp_path, monkeypatch):
    """A build killed after the images and before meta.json is not taken for a finished cache; the next build finishes
    it."""
    real = cache_mod.write_text_atomic
    def killed(path, text): raise KeyboardInterrupt                          # the kill: just before the last file
    monkeypatch.setattr(cache_mod, 'write_text_atomic', killed)
    with pytest.raises(KeyboardInterrupt): build_cache(cub, 'test', tmp_path / 'c', num_workers=0, progress=False)
    with pytest.raises(FileNotFoundError, match="not a finished cache"): ImageCache(tmp_path / 'c')
    monkeypatch.setattr(cache_mod, 'write_text_atomic', real)
    cache = ImageCache(build_cache(cub, 'test', tmp_path / 'c', num_workers=0, progress=False))
    assert len(cache) == 6


def test_box_outside_its_image_is_refused(cub, tmp_path):
    edit(cub / 'bounding_boxes.txt', 7, '7 60.0 2.0 40.0 10.0')                # image 7 is 64 × 64: x + w = 100
    with pytest.raises(
        MetadataError, match=r"a box \(60, 2, 100, 12\) lies outside its 64 × 64 image: .*images.txt line 7"
    ):
        build_cache(cub, 'test', tmp_path / 'c', num_workers=0, progress=False)
    with pytest.raises(MetadataError, match=r"lies outside its 64 × 64 image"):
        WSOLDataset(cub, 'test')[0]


def test_metadata_that_is_not_utf8_names_the_line(cub):
    with open(cub / 'images.txt', 'ab') as f: f.write('99 001.Crimson/Gro\u00df.jpg\n'.encode('latin-1'))
    with pytest.raises(MetadataError, match=r"images.txt:25: not UTF-8 text"):
        read_cub_metadata(cub)


@pytest.mark.parametrize('line, says', [
    ('25 001.Crimson/Crimson_0000.jpg', "images.txt:25: 001.Crimson/Crimson_0000.jpg is listed again (line 1)"),
    ('25 001.Crimson/./Crimson_0006.jpg', "images.txt:25: 001.Crimson/./Crimson_0006.jpg is listed again (line 7)"),
])
def test_one_file_under_two_ids_is_refused(cub, line, says):
    "S16/S17: a file listed twice (a test id pointing at a training image, for one) would be trained on and scored."
    with open(cub / 'images.txt', 'a') as f: f.write(line + '\n')
    with pytest.raises(MetadataError, match=says.replace('.', r'\.').replace('(', r'\(').replace(')', r'\)')):
        read_cub_metadata(cub)


def cache_of(cub, tmp_path, split='test', **kw):
    ds = WSOLDataset(cub, split, transform=None, **kw)
    return cache_mod.cache_folder(tmp_path / 'caches', ds, 64)


def test_a_changed_source_gets_a_cache_of_its_own(cub, tmp_path):
    "S3/S4/S5: redrawn images, a corrected box, another on_bad_image each lead to another cache folder."
    first = cache_of(cub, tmp_path)
    assert cache_of(cub, tmp_path) == first                                  # nothing changed: the same cache
    assert cache_of(cub, tmp_path, on_bad_image='skip') != first
    edit(cub / 'bounding_boxes.txt', 7, '7 1.0 2.0 30.0 10.0')               # a box corrected
    boxed = cache_of(cub, tmp_path)
    assert boxed != first
    image = cub / 'images' / read_cub_metadata(cub).paths[6]
    Image.new('RGB', (64, 64), 'white').save(image)                          # the set redrawn in place
    assert cache_of(cub, tmp_path) not in (first, boxed)


def test_a_cache_of_another_identity_is_refused_by_name(cub, tmp_path):
    "U1/S5: building into a folder that holds a cache of other settings names the settings."
    build_cache(cub, 'val', tmp_path / 'c', size=64, num_workers=0, progress=False, on_bad_image='skip',
                val_per_class=2)
    with pytest.raises(FileExistsError, match=r"val_per_class 2 \(here 1\), on_bad_image 'skip' \(here 'raise'\)"):
        build_cache(cub, 'val', tmp_path / 'c', size=64, num_workers=0, progress=False, val_per_class=1)


def test_a_damaged_cache_names_its_file(cub, tmp_path):
    "U6/U7: a truncated images.npy or meta.json after the cache was finished: one line naming the file."
    path = build_cache(cub, 'test', tmp_path / 'c', size=64, num_workers=0, progress=False)
    data_bytes = (path / 'images.npy').read_bytes()
    (path / 'images.npy').write_bytes(data_bytes[: len(data_bytes) // 2])
    with pytest.raises(ValueError, match=f"{path / 'images.npy'} is damaged .*: delete {path} and the cache is built"):
        ImageCache(path)
    (path / 'images.npy').write_bytes(data_bytes)
    meta = (path / 'meta.json').read_text()
    (path / 'meta.json').write_text(meta[:40])
    with pytest.raises(ValueError, match=f"{path / 'meta.json'} is damaged"): ImageCache(path)
    with pytest.raises(ValueError, match=f"{path / 'meta.json'} is damaged"):
        build_cache(cub, 'test', path, size=64, num_workers=0, progress=False)


def test_two_builders_of_one_cache_take_turns(cub, tmp_path):
    "D6 (caches): two threads build one cache at once; the lock makes the second wait and find it finished."
    from concurrent.futures import ThreadPoolExecutor
    with ThreadPoolExecutor(2) as pool:
        done = list(pool.map(lambda _: build_cache(cub, 'train', tmp_path / 'c', size=64, num_workers=0,
                                                   progress=False), range(2)))
    assert done == [tmp_path / 'c'] * 2
    fresh = ImageCache(build_cache(cub, 'train', tmp_path / 'fresh', size=64, num_workers=0, progress=False))
    assert np.array_equal(ImageCache(tmp_path / 'c').images, fresh.images)


def test_pil_and_cache_sources_give_the_same_epochs(cub, tmp_path):
    "The one loader: the same batches from PIL (threads) and from the cache (no threads), a resumed epoch included."
    cache = ImageCache(build_cache(cub, 'train', tmp_path / 'c', size=72, num_workers=0, progress=False))
    pil = loader_mod.PILSource(WSOLDataset(cub, 'train', transform=None), 72)
    loaders = [loader_mod.EpochLoader(src, 4, shuffle=True, drop_last=True, num_workers=w, seed=5, crop=64)
               for src, w in ((cache, 0), (pil, 2))]
    for epoch, skip in ((0, 0), (3, 2)):
        for loader in loaders: loader.set_epoch(epoch, skip)
        a, b = (list(loader) for loader in loaders)
        assert len(a) == len(b) == 4 - skip
        for x, y in zip(a, b):
            for u, v in zip(x, y): assert (u == v) if isinstance(u, list) else torch.equal(u, v)


def test_skipped_images_make_the_same_epochs_from_either_source(cub, tmp_path):
    "on_bad_image='skip': both sources count every image and leave the bad one out of its batch: the same epochs."
    truncate(cub / 'images/001.Crimson/Crimson_0002.jpg')
    cache = ImageCache(build_cache(cub, 'train', tmp_path / 'c', size=72, num_workers=0, progress=False,
                                   on_bad_image='skip'))
    pil = loader_mod.PILSource(WSOLDataset(cub, 'train', transform=None, on_bad_image='skip'), 72)
    assert len(cache) == len(pil) == 18
    a, b = (list(loader_mod.EpochLoader(src, 4, shuffle=True, drop_last=True, num_workers=0, seed=2, crop=64))
            for src in (cache, pil))
    assert len(a) == len(b) == 4 and sum(len(x.ids) for x in a) in (15, 16)
    for x, y in zip(a, b):
        for u, v in zip(x, y): assert (u == v) if isinstance(u, list) else torch.equal(u, v)


def test_a_finished_cache_is_read_without_locking(cub, tmp_path, monkeypatch):
    "A finished cache on a folder this process cannot write (a shared, read-only cache) is used as it is."
    path = build_cache(cub, 'test', tmp_path / 'c', size=64, num_workers=0, progress=False)
    def cannot(self): raise PermissionError(13, 'Permission denied')
    monkeypatch.setattr(cache_mod.FolderLock, 'acquire', cannot)
    assert build_cache(cub, 'test', path, size=64, num_workers=0, progress=False) == path


def test_metadata_is_read_again_when_a_file_changes(tmp_path):
    "read_cub_metadata parses a folder once a process, but a file changed since (same size) is read anew, at once."
    root = make_toy_dataset(tmp_path / 'toy', num_classes=2, train_per_class=2, test_per_class=1, progress=False)
    first = read_cub_metadata(root)
    assert read_cub_metadata(root).labels is first.labels                    # unchanged: the parse is shared
    path = root / 'image_class_labels.txt'
    lines = path.read_text().splitlines()
    lines[0] = lines[0].rsplit(' ', 1)[0] + ' 2'                               # the first image is now class 2
    path.write_text('\n'.join(lines) + '\n')
    assert first.labels[0] == 0 and read_cub_metadata(root).labels[0] == 1
