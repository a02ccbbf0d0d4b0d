"""Download, extraction and dataset preparation against archives generated here and served from 127.0.0.1."""
import filecmp, tarfile
from pathlib import Path
import numpy as np
import pytest
import torchvision.datasets.imagenet as tv_imagenet
from dfm_tutorial.metadata import read_cub_metadata
from dfm_tutorial.data import WSOLDataset
from dfm_tutorial.download import ChecksumError, UnsafeArchiveError, download, md5_file, safe_extract
from dfm_tutorial.prepare import prepare_cub, prepare_ilsvrc
from dfm_tutorial.toy import CUB_FILES
from fixtures import Server, add_bytes, cub_tarball, md5, mini_ilsvrc


def test_resume_after_dropped_connection(tmp_path):
    tgz = cub_tarball(tmp_path)
    with Server(tgz.parent, drop=True) as server:
        out = download(server.url(tgz.name), tmp_path / 'got.tgz', md5(tgz), backoff=0, progress=False)
    assert out.read_bytes() == tgz.read_bytes()
    half = tgz.stat().st_size // 2
    # the second request resumed, not restarted
    assert server.requests == [None, f'bytes={half}-']
    assert not (tmp_path / 'got.tgz.part').exists()


def test_transient_failures_are_retried_and_resumed(tmp_path):
    "A 503, a reset connection and a 429 in turn, then a transfer cut half-way: retried with backoff and resumed."
    from dfm_tutorial.download import USER_AGENT
    tgz = cub_tarball(tmp_path)
    with Server(tgz.parent, drop=True, failures=[503, 'reset', 429]) as server:
        out = download(server.url(tgz.name), tmp_path / 'got.tgz', md5(tgz), backoff=0, progress=False)
    assert out.read_bytes() == tgz.read_bytes()
    assert server.requests == [None, None, None, None, f'bytes={tgz.stat().st_size // 2}-']   # 3 failures, half, rest
    assert set(server.agents) == {USER_AGENT} and USER_AGENT.startswith('dfm-tutorial/')
    with Server(tgz.parent, failures=[503] * 3) as server:                 # still failing after the last retry
        with pytest.raises(ConnectionError, match="HTTP 503"):
            download(server.url(tgz.name), tmp_path / 'again.tgz', retries=2, backoff=0, progress=False)
    assert len(server.requests) == 3 and not (tmp_path / 'again.tgz').exists()
    with Server(tgz.parent, failures=[403]) as server:                     # a refusal is not retried
        with pytest.raises(ConnectionError, match="HTTP 403"):
            download(server.url(tgz.name), tmp_path / 'refused.tgz', backoff=0, progress=False)
    assert len(server.requests) == 1


def test_server_ignoring_range_restarts_cleanly(tmp_path):
    tgz = cub_tarball(tmp_path)
    with Server(tgz.parent, drop=True, ranges=False) as server:
        out = download(server.url(tgz.name), tmp_path / 'got.tgz', md5(tgz), backoff=0, progress=False)
    assert out.read_bytes() == tgz.read_bytes()                              # not the first half twice


def test_partial_file_from_an_earlier_run_is_continued(tmp_path):
    tgz = cub_tarball(tmp_path)
    data = tgz.read_bytes()
    (tmp_path / 'got.tgz.part').write_bytes(data[:1000])
    with Server(tgz.parent) as server:
        download(server.url(tgz.name), tmp_path / 'got.tgz', md5(tgz), progress=False)
    assert server.requests == ['bytes=1000-'] and (tmp_path / 'got.tgz').read_bytes() == data


def test_gives_up_with_the_partial_file_kept(tmp_path):
    with Server(tmp_path) as server: url = server.url('x.tgz')                # closed: nothing listens any more
    with pytest.raises(ConnectionError, match=r"failed 2 times .*run again to resume"):
        download(url, tmp_path / 'x.tgz', retries=1, backoff=0, progress=False)
    with Server(tmp_path) as server:
        with pytest.raises(ConnectionError, match=r"HTTP 404"):
            download(server.url('missing.tgz'), tmp_path / 'y.tgz', progress=False)


def test_checksum_mismatch_keeps_the_file_aside(tmp_path):
    tgz = cub_tarball(tmp_path)
    with Server(tgz.parent) as server:
        with pytest.raises(
            ChecksumError,
            match=r"arrived with MD5 [0-9a-f]{32}, expected 0{32}. The file was moved aside to .*got.tgz.corrupt",
        ):
            download(server.url(tgz.name), tmp_path / 'got.tgz', '0' * 32, progress=False)
    assert (tmp_path / 'got.tgz.corrupt').read_bytes() == tgz.read_bytes() and not (tmp_path / 'got.tgz').exists()


def test_existing_file_with_wrong_checksum_is_left_untouched(tmp_path):
    (tmp_path / 'got.tgz').write_bytes(b'mine')
    with pytest.raises(ChecksumError, match=r"exists but its MD5 is .* It was left untouched"):
        download('http://127.0.0.1:9/never', tmp_path / 'got.tgz', '0' * 32, progress=False)
    assert (tmp_path / 'got.tgz').read_bytes() == b'mine'


def test_prepare_cub_end_to_end_and_idempotent(tmp_path, capsys):
    tgz = cub_tarball(tmp_path)
    with Server(tgz.parent) as server:
        out = prepare_cub(tmp_path / 'data', url=server.url(tgz.name), md5=md5(tgz), progress=False)
        meta = read_cub_metadata(out)
        assert len(meta) == 48 and (tmp_path / 'data/attributes.txt').exists()
        assert len(WSOLDataset(out, 'test')) == 12
        stamp = (out / '.prepared').stat().st_mtime_ns
        prepare_cub(tmp_path / 'data', url=server.url(tgz.name), md5=md5(tgz))
        assert server.requests == [None]                                     # the second call fetched nothing
    assert 'already prepared' in capsys.readouterr().out and (out / '.prepared').stat().st_mtime_ns == stamp


def test_prepare_cub_user_archive_with_wrong_checksum(tmp_path):
    tgz = cub_tarball(tmp_path)
    before = tgz.read_bytes()
    with pytest.raises(
        ChecksumError,
        match=r"has MD5 .* but the official CUB_200_2011.tgz has 97eceeb196236b17998738112f37df78. Nothing was changed",
    ):
        prepare_cub(tmp_path / 'data', archive=tgz, progress=False)
    assert tgz.read_bytes() == before and not (tmp_path / 'data/CUB_200_2011').exists()
    assert prepare_cub(tmp_path / 'data', archive=tgz, md5=None, progress=False).exists()


@pytest.mark.parametrize('extra, why', [({'../evil.txt': b'!'}, "member '../evil.txt' contains '..'"),
                                         ({'CUB_200_2011/../../evil.txt': b'!'}, "contains '..'"),
                                         ({'/tmp/evil.txt': b'!'}, "has an absolute path")])
def test_unsafe_tarball_is_refused(tmp_path, extra, why):
    tgz = cub_tarball(tmp_path, extra=extra)
    with Server(tgz.parent) as server:
        with pytest.raises(UnsafeArchiveError, match=why):
            prepare_cub(tmp_path / 'data', url=server.url(tgz.name), md5=md5(tgz), progress=False)
    assert sorted(p.name for p in (tmp_path / 'data').iterdir()) == ['CUB_200_2011.tgz']   # nothing extracted
    assert not (tmp_path / 'evil.txt').exists() and not Path('/tmp/evil.txt').exists()


def test_links_pointing_outside_are_refused(tmp_path):
    with tarfile.open(tmp_path / 'l.tar', 'w') as tar:
        add_bytes(tar, 'a/ok.txt', b'ok')
        add_bytes(tar, 'a/escape', b'', tarfile.SYMTYPE, '../../outside')
    with pytest.raises(UnsafeArchiveError, match=r"member 'a/escape' refused: .*outside the destination"):
        safe_extract(tmp_path / 'l.tar', tmp_path / 'out', progress=False)
    assert list((tmp_path / 'out').iterdir()) == []


@pytest.fixture
def ilsvrc(tmp_path, monkeypatch):
    off, kag, truth = mini_ilsvrc(tmp_path / 'src')
    # the fixture devkit stands in for the official one, whose MD5 torchvision checks
    monkeypatch.setitem(tv_imagenet.ARCHIVE_META, 'devkit',
                        ('ILSVRC2012_devkit_t12.tar.gz', md5_file(off / 'ILSVRC2012_devkit_t12.tar.gz')))
    return off, kag, truth


def official(off, dest, **kw):
    return prepare_ilsvrc(dest, train=off / 'ILSVRC2012_img_train.tar', val=off / 'ILSVRC2012_img_val.tar',
                          devkit=off / 'ILSVRC2012_devkit_t12.tar.gz', val_boxes=off / 'ILSVRC2012_bbox_val_v3.tgz',
                          progress=False, **kw)


def test_ilsvrc_both_layouts_give_the_same_dataset(tmp_path, ilsvrc):
    off, kag, truth = ilsvrc
    a, b = official(off, tmp_path / 'a'), prepare_ilsvrc(tmp_path / 'b', kaggle=kag, progress=False)
    for f in CUB_FILES: assert filecmp.cmp(a / f, b / f, shallow=False), f
    meta = read_cub_metadata(a)
    assert meta.class_names == ['n01440764 tench, Tinca tinca', 'n01443537 goldfish, Carassius auratus',
                                'n01484850 great white shark, white shark']
    test = ~meta.is_train
    assert meta.labels[test].tolist() == truth['val_labels'] and meta.is_train.sum() == 12
    first_val = int(np.flatnonzero(test)[0])
    assert meta.image_boxes(first_val).tolist() == truth['val_boxes'][0] == [truth['val_boxes'][0][0], [1, 2, 10, 12]]
    assert (
        meta.paths[0] == 'train/n01440764/n01440764_0.JPEG'
        and meta.paths[first_val] == 'val/ILSVRC2012_val_00000001.JPEG'
    )
    for p in meta.paths: assert (a / 'images' / p).read_bytes() == (b / 'images' / p).read_bytes()
    assert (b / 'images/train').is_symlink() and not (a / 'images/train').is_symlink()
    images, label, boxes, _ = WSOLDataset(a, 'test')[0]
    assert images.shape == (3, 224, 224) and boxes.shape == (2, 4)


def test_ilsvrc_official_from_folders_and_idempotent(tmp_path, ilsvrc, capsys):
    off, kag, _ = ilsvrc
    a = official(off, tmp_path / 'a')
    c = prepare_ilsvrc(tmp_path / 'c', train=kag / 'ILSVRC/Data/CLS-LOC/train', val=kag / 'ILSVRC/Data/CLS-LOC/val',
                       devkit=off / 'ILSVRC2012_devkit_t12.tar.gz', val_boxes=off / 'ILSVRC2012_bbox_val_v3.tgz',
                       progress=False)
    for f in CUB_FILES: assert filecmp.cmp(a / f, c / f, shallow=False), f
    official(off, tmp_path / 'a')
    prepare_ilsvrc(tmp_path / 'a', kaggle=kag)
    assert 'already prepared' in capsys.readouterr().out


def test_ilsvrc_resumes_per_class(tmp_path, ilsvrc):
    off, _, _ = ilsvrc
    (tmp_path / 'a/images/train/n01440764').mkdir(parents=True)
    (tmp_path / 'a/images/train/n01440764/.done').touch()                    # as if an earlier run finished this class
    meta = read_cub_metadata(official(off, tmp_path / 'a'))
    assert not any(p.startswith('train/n01440764/') for p in meta.paths) and meta.is_train.sum() == 8


def test_ilsvrc_bad_inputs(tmp_path, ilsvrc, monkeypatch):
    off, kag, _ = ilsvrc
    with pytest.raises(
        ValueError, match="the official layout needs train, val, devkit and val_boxes; missing: devkit, val_boxes"
    ):
        prepare_ilsvrc(tmp_path / 'x', train=off / 'ILSVRC2012_img_train.tar', val=off / 'ILSVRC2012_img_val.tar')
    with pytest.raises(
        FileNotFoundError, match="not a Kaggle ImageNet localization folder: missing .*LOC_val_solution.csv"
    ):
        (kag / 'LOC_val_solution.csv').rename(kag / 'moved.csv')
        prepare_ilsvrc(tmp_path / 'y', kaggle=kag)
    (kag / 'moved.csv').rename(kag / 'LOC_val_solution.csv')
    (kag / 'LOC_val_solution.csv').write_text(
        (kag / 'LOC_val_solution.csv').read_text() + 'ILSVRC2012_val_00000009,n01440764 1 2 3\n'
    )
    with pytest.raises(ValueError, match=r"LOC_val_solution.csv:8: expected 'ImageId,wnid xmin ymin xmax ymax ...'"):
        prepare_ilsvrc(tmp_path / 'z', kaggle=kag)
    monkeypatch.setitem(
        tv_imagenet.ARCHIVE_META, 'devkit', ('ILSVRC2012_devkit_t12.tar.gz', 'fa75699e90414af021442c21a62c3abf')
    )
    with pytest.raises(RuntimeError, match="is not present in the root directory or is corrupted"):
        # torchvision's check of the official devkit
        official(off, tmp_path / 'w')


def test_data_scripts_end_to_end(tmp_path):
    "The command-line wrappers: toy set, CUB from a local server, a cache of its test split."
    import subprocess, sys
    run = lambda *args: (
        subprocess.run([sys.executable, *map(str, args)], capture_output=True, text=True, check=True).stdout
    )
    out = run('data_scripts/make_toy.py', tmp_path / 'toy', '--classes', 2, '--train-per-class', 3, '--test-per-class',
              2, '--samples', tmp_path / 's.png')
    assert 'toy dataset at' in out and (tmp_path / 's.png').exists()
    tgz = cub_tarball(tmp_path)
    with Server(tgz.parent) as server:
        out = run('data_scripts/prepare_cub.py', tmp_path / 'data', '--url', server.url(tgz.name), '--md5', md5(tgz))
    assert 'ready:' in out
    out = run('data_scripts/build_cache.py', tmp_path / 'data/CUB_200_2011', 'test', tmp_path / 'cache', '--workers', 0)
    assert (tmp_path / 'cache/meta.json').exists()
    err = subprocess.run([sys.executable, 'data_scripts/prepare_ilsvrc.py', tmp_path / 'i', '--train', 'x.tar'],
                         capture_output=True, text=True)
    assert err.returncode != 0 and 'missing: val, devkit, val_boxes' in err.stderr


def test_a_206_that_ignores_the_range_is_not_appended(tmp_path):
    "A server that answers `Range: bytes=1000-` with the whole file as a 206: the download starts over, no bytes twice."
    tgz = cub_tarball(tmp_path)
    data = tgz.read_bytes()
    (tmp_path / 'got.tgz.part').write_bytes(data[:1000])
    with Server(tgz.parent, lying='206-from-0') as server:
        download(server.url(tgz.name), tmp_path / 'got.tgz', md5=None, backoff=0, progress=False)
    assert (tmp_path / 'got.tgz').read_bytes() == data and server.requests == ['bytes=1000-', None]


def test_a_416_error_body_never_becomes_the_file(tmp_path):
    tgz = cub_tarball(tmp_path)
    data = tgz.read_bytes()
    (tmp_path / 'got.tgz.part').write_bytes(data[:1000])                     # not the whole file: 416 must not end it
    with Server(tgz.parent, lying='416') as server:
        download(server.url(tgz.name), tmp_path / 'got.tgz', md5=None, backoff=0, progress=False)
    assert (tmp_path / 'got.tgz').read_bytes() == data and server.requests == ['bytes=1000-', None]
    (tmp_path / 'again.tgz.part').write_bytes(data)                          # the whole file: 416 says it is complete
    with Server(tgz.parent, lying='416') as server:
        download(server.url(tgz.name), tmp_path / 'again.tgz', md5=None, backoff=0, progress=False)
    assert (tmp_path / 'again.tgz').read_bytes() == data and server.requests == [f'bytes={len(data)}-']


def test_download_to_a_folder_is_refused(tmp_path):
    (tmp_path / 'data').mkdir()
    with pytest.raises(IsADirectoryError, match=r"is a folder: give a file path to download to, e.g. .*data/x.tgz"):
        download('http://127.0.0.1:9/x.tgz', tmp_path / 'data')


def tar_of(path, members):
    "A tar at `path` of `{name: bytes}`."
    with tarfile.open(path, 'w') as tar:
        for name, data in members.items(): add_bytes(tar, name, data)
    return path


def test_empty_member_name_is_refused_and_leaves_nothing(tmp_path):
    tar = tar_of(tmp_path / 'e.tar', {'ok.txt': b'ok', '': b'x'})
    with pytest.raises(UnsafeArchiveError, match="a member has an empty name"):
        safe_extract(tar, tmp_path / 'out', progress=False)
    assert list((tmp_path / 'out').iterdir()) == []                          # no .extracting-e.tar left behind
    safe_extract(tar_of(tmp_path / 'f.tar', {'ok.txt': b'ok'}), tmp_path / 'out', progress=False)   # later ones work
    assert (tmp_path / 'out/ok.txt').read_bytes() == b'ok'


def test_colon_in_a_name_is_a_plain_name_on_posix(tmp_path):
    out = safe_extract(tar_of(tmp_path / 'c.tar', {'x:y.txt': b'1'}), tmp_path / 'out', progress=False)
    assert (out / 'x:y.txt').read_bytes() == b'1'
    with pytest.raises(UnsafeArchiveError, match=r"member 'C:/evil.txt' has an absolute path"):
        safe_extract(tar_of(tmp_path / 'd.tar', {'C:/evil.txt': b'!'}), tmp_path / 'out2', progress=False)


def test_extraction_is_capped(tmp_path):
    tar = tar_of(tmp_path / 'big.tar', {'a.bin': bytes(600), 'b.bin': bytes(600)})
    with pytest.raises(UnsafeArchiveError, match=r"expands to more than max_bytes=1,000 bytes: refused"):
        safe_extract(tar, tmp_path / 'out', progress=False, max_bytes=1000)
    assert list((tmp_path / 'out').iterdir()) == []


def test_truncated_archive_names_itself(tmp_path):
    tgz = cub_tarball(tmp_path)
    cut = tmp_path / 'cut.tgz'
    cut.write_bytes(tgz.read_bytes()[: tgz.stat().st_size // 2])
    with pytest.raises(ValueError, match=r"cut.tgz is damaged or truncated .*download it again"):
        safe_extract(cut, tmp_path / 'out', progress=False)
    assert list((tmp_path / 'out').iterdir()) == []


def test_prepare_cub_on_another_archive_leaves_nothing(tmp_path):
    other = tar_of(tmp_path / 'other.tgz', {'CUB_200_2011/readme.txt': b'not birds', 'notes.txt': b'x'})
    with pytest.raises(ValueError, match=r"other.tgz is not CUB-200-2011: .*images.txt"):
        prepare_cub(tmp_path / 'data', archive=other, md5=None, progress=False)
    assert list((tmp_path / 'data').iterdir()) == []                         # no CUB_200_2011/ behind
