"""Generated stand-ins for what cannot be downloaded here: a local HTTP server with Range support
(and a mode that drops the connection half-way), CUB-format tarballs, and a miniature ILSVRC-2012
in both the official and the Kaggle layout, drawn from the toy birds."""
import functools, hashlib, io, tarfile, threading
from http.server import ThreadingHTTPServer, SimpleHTTPRequestHandler
from pathlib import Path
import numpy as np
from PIL import Image
from dfm_tutorial.toy import draw_toy_birds, make_toy_dataset


class RangeHandler(SimpleHTTPRequestHandler):
    """Serves files with single-range `Range` support (206 with Content-Range, as RFC 9110 asks); `drop`: the first
    transfer of each file stops half-way; `ranges=False` ignores Range (200, whole file); `lying`: '206-from-0'
    answers a range with the whole file as a 206, '416' refuses every range with a short error body; `failures`:
    what the first requests get instead of the file, in turn (an HTTP status such as 503, or 'reset': the
    connection is cut unanswered)."""
    drop, ranges, lying, dropped, requests, agents, failures = False, True, None, None, None, None, None
    def log_message(self, *args): pass
    def do_GET(self):
        self.requests.append(self.headers['Range'])
        self.agents.append(self.headers['User-Agent'])
        if self.failures:
            failure = self.failures.pop(0)
            if failure == 'reset':
                self.close_connection = True
                return self.connection.shutdown(2)
            return self.send_error(failure)
        path = Path(self.translate_path(self.path))
        if not path.is_file(): return self.send_error(404)
        data = path.read_bytes()
        asked = int(self.headers['Range'].split('=')[1].split('-')[0]) if self.headers['Range'] else 0
        if asked and self.lying == '416':
            body = b'{"error": "requested range not satisfiable", "detail": "try again later"}\n'
            self.send_response(416)
            self.send_header('Content-Range', f'bytes */{len(data)}')
            self.send_header('Content-Length', str(len(body)))
            self.end_headers()
            return self.wfile.write(body)
        start = asked if self.ranges and self.lying != '206-from-0' else 0
        self.send_response(206 if asked and self.ranges else 200)
        if asked and self.ranges: self.send_header('Content-Range', f'bytes {start}-{len(data) - 1}/{len(data)}')
        self.send_header('Content-Length', str(len(data) - start))
        self.end_headers()
        body = data[start:]
        if self.drop and path not in self.dropped:
            self.dropped.add(path)
            body = body[:len(body) // 2]
        self.wfile.write(body)


class Server:
    "A `RangeHandler` server for `folder` on 127.0.0.1 in a background thread (use as a context manager)."
    def __init__(self, folder, drop=False, ranges=True, lying=None, failures=()):
        self.requests, self.agents = [], []
        handler = type('Handler', (RangeHandler,), dict(drop=drop, ranges=ranges, lying=lying, dropped=set(),
                                                        requests=self.requests, agents=self.agents,
                                                        failures=list(failures)))
        self.httpd = ThreadingHTTPServer(('127.0.0.1', 0), functools.partial(handler, directory=str(folder)))
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()
    def url(self, name): return f"http://127.0.0.1:{self.httpd.server_port}/{name}"
    def __enter__(self): return self
    def __exit__(self, *exc):
        self.httpd.shutdown()
        self.httpd.server_close()


def md5(path): return hashlib.md5(Path(path).read_bytes()).hexdigest()


def add_bytes(tar, name, data, kind=tarfile.REGTYPE, link=''):
    info = tarfile.TarInfo(name)
    info.type, info.linkname = kind, link
    if kind == tarfile.REGTYPE: info.size = len(data)
    tar.addfile(info, io.BytesIO(data) if kind == tarfile.REGTYPE else None)


def cub_tarball(folder, n_per_class=(12, 4), extra=None):
    "A CUB-format `CUB_200_2011.tgz` of toy birds (3 classes) under `folder`, plus `extra` members name → bytes."
    src = make_toy_dataset(Path(folder) / 'src/CUB_200_2011', num_classes=3, train_per_class=n_per_class[0],
                           test_per_class=n_per_class[1], progress=False)
    out = Path(folder) / 'www/CUB_200_2011.tgz'
    out.parent.mkdir(parents=True, exist_ok=True)
    with tarfile.open(out, 'w:gz') as tar:
        tar.add(src, 'CUB_200_2011')
        add_bytes(tar, 'attributes.txt', b'1 has_bill_shape::curved\n')
        for name, data in (extra or {}).items(): add_bytes(tar, name, data)
    return out


WNIDS = {'n01440764': 'tench, Tinca tinca', 'n01443537': 'goldfish, Carassius auratus',
         'n01484850': 'great white shark, white shark'}
ILSVRC_IDS = {'n01484850': 1, 'n01440764': 2, 'n01443537': 3}           # devkit ids deliberately not in wnid order


def _jpeg(image):
    buf = io.BytesIO()
    Image.fromarray(image).save(buf, format='JPEG', quality=90)
    return buf.getvalue()


def _voc_xml(name, w, h, wnid, boxes):
    objs = ''.join(
        f"<object><name>{wnid}</name><bndbox><xmin>{b[0]}</xmin><ymin>{b[1]}</ymin>"
        f"<xmax>{b[2]}</xmax><ymax>{b[3]}</ymax></bndbox></object>"
        for b in boxes
    )
    size = f"<size><width>{w}</width><height>{h}</height></size>"
    return f"<annotation><filename>{name}</filename>{size}{objs}</annotation>".encode()


def mini_ilsvrc(folder, train_per_class=4, n_val=6):
    """Write a miniature ILSVRC-2012 in the official layout (`folder/official`) and Kaggle's (`folder/kaggle`); returns
    both paths and the truth."""
    import scipy.io as sio
    folder, wnids = Path(folder), sorted(WNIDS)
    rng = np.random.default_rng(0)
    labels = np.concatenate([np.repeat(np.arange(3), train_per_class), np.arange(n_val) % 3])
    images, boxes, _ = draw_toy_birds(labels, size=(80, 60), num_classes=3, rng=rng)
    xyxy = np.concatenate([boxes[:, :2], boxes[:, :2] + boxes[:, 2:]], 1)
    train = [
        (f"{wnids[k]}_{j}.JPEG", wnids[k], _jpeg(images[i]))
        for i, (k, j) in enumerate(zip(labels[: 3 * train_per_class], list(range(train_per_class)) * 3))
    ]
    val = [
        (f"ILSVRC2012_val_{j + 1:08d}.JPEG", wnids[labels[3 * train_per_class + j]],
         _jpeg(images[3 * train_per_class + j]))
        for j in range(n_val)
    ]
    # image 1: two boxes
    val_boxes = [[xyxy[3 * train_per_class + j].tolist()] + ([[1, 2, 10, 12]] if j == 0 else []) for j in range(n_val)]
    off = folder / 'official'
    off.mkdir(parents=True)
    with tarfile.open(off / 'ILSVRC2012_img_train.tar', 'w') as outer:
        for w in wnids:
            buf = io.BytesIO()
            with tarfile.open(fileobj=buf, mode='w') as inner:
                for name, wn, data in train:
                    if wn == w: add_bytes(inner, name, data)
            add_bytes(outer, f"{w}.tar", buf.getvalue())
    with tarfile.open(off / 'ILSVRC2012_img_val.tar', 'w') as tar:
        for name, _, data in val: add_bytes(tar, name, data)
    dt = [
        (f, 'O')
        for f in ('ILSVRC2012_ID', 'WNID', 'words', 'gloss', 'num_children', 'children', 'wordnet_height',
                  'num_train_images')
    ]
    synsets = np.zeros((4, 1), dtype=dt)
    for r, w in enumerate(sorted(WNIDS, key=ILSVRC_IDS.get)):
        synsets[r, 0] = (ILSVRC_IDS[w], w, WNIDS[w], 'a fish', 0, np.zeros(0), 0, train_per_class)
    synsets[3, 0] = (1001, 'n02512053', 'fish', 'a parent synset, not a class', 3, np.array([1, 2, 3]), 1, 0)
    meta = io.BytesIO()
    sio.savemat(meta, {'synsets': synsets})
    gt = ''.join(f"{ILSVRC_IDS[wn]}\n" for _, wn, _ in val).encode()
    with tarfile.open(off / 'ILSVRC2012_devkit_t12.tar.gz', 'w:gz') as tar:
        add_bytes(tar, 'ILSVRC2012_devkit_t12/data/meta.mat', meta.getvalue())
        add_bytes(tar, 'ILSVRC2012_devkit_t12/data/ILSVRC2012_validation_ground_truth.txt', gt)
    with tarfile.open(off / 'ILSVRC2012_bbox_val_v3.tgz', 'w:gz') as tar:
        for (name, wn, _), b in zip(val, val_boxes):
            add_bytes(tar, f"val/{name[:-5]}.xml", _voc_xml(name, 80, 60, wn, b))
    kag = folder / 'kaggle'
    for name, wn, data in train:
        (kag / 'ILSVRC/Data/CLS-LOC/train' / wn).mkdir(parents=True, exist_ok=True)
        (kag / 'ILSVRC/Data/CLS-LOC/train' / wn / name).write_bytes(data)
    (kag / 'ILSVRC/Data/CLS-LOC/val').mkdir(parents=True)
    for name, _, data in val: (kag / 'ILSVRC/Data/CLS-LOC/val' / name).write_bytes(data)
    (kag / 'LOC_synset_mapping.txt').write_text(''.join(f"{w} {WNIDS[w]}\n" for w in wnids))
    rows = [
        f"{name[:-5]},{' '.join(f'{wn} {b[0]} {b[1]} {b[2]} {b[3]}' for b in bs)} "
        for (name, wn, _), bs in zip(val, val_boxes)
    ]
    # any row order
    (kag / 'LOC_val_solution.csv').write_text('ImageId,PredictionString\n' + '\n'.join(rows[::-1]) + '\n')
    return off, kag, dict(val_labels=[wnids.index(wn) for _, wn, _ in val], val_boxes=val_boxes)


def in_process(*args):
    "Run the command line in this process (no interpreter start, no imports again): its exit message, None if it ran."
    from dfm_tutorial.cli import main
    try: main([str(a) for a in args])
    except SystemExit as stop: return stop.code
    return None
