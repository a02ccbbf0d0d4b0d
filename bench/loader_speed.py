"""Input pipeline speed: PIL decoding per epoch versus the uint8 cache, on a generated CUB-like folder.

    python bench/loader_speed.py [--images 1024] [--workers 2] [--batch 64] [--epochs 3] [--gpu-decode]

Draws toy birds as ~500 x 375 JPEGs in the CUB format, then times one training epoch (resize 256, random
crop 224, flip, normalise) through
  1. torchvision ImageFolder-style loading: PIL decode + transforms + ToTensor + Normalize in the workers;
  2. dfm_tutorial's PIL path: WSOLDataset (boxes carried along), uint8 batches, normalised on the device;
     and the same through EpochLoader over PILSource: decoded in threads, cropped and flipped per sample;
  3. the cache: build_cache once (timed separately), then batches sliced from the memory map by the same
     number of workers (threads, EpochLoader), crop/flip/normalise batched on the device (channels_last),
     or crop/flip in the worker threads (what a CPU-only run uses).
With --gpu-decode and a CUDA device, also: file bytes read by the workers, torchvision.io.decode_jpeg on CUDA.
Prints one table of images/s delivered on the device. Without a GPU the "device" is this CPU, so the
last row also pays for float normalisation on the same two cores that decode; the row before it stops at
the uint8 batch, which is what the input pipeline must supply when a GPU does the normalising.
"""
import argparse, shutil, tempfile, time
from pathlib import Path
import numpy as np
import torch
from PIL import Image
from torch.utils.data import DataLoader, Dataset
from torchvision import transforms
from dfm_tutorial.data import IMAGENET_MEAN, IMAGENET_STD, WSOLDataset, collate_items, normalize_batch
from dfm_tutorial.loader import EpochLoader, PILSource, random_crop_flip
from dfm_tutorial.cache import ImageCache, build_cache
from dfm_tutorial.metadata import read_cub_metadata, split_indices
from dfm_tutorial.toy import make_toy_dataset


class FolderStyle(Dataset):
    "What a torchvision ImageFolder training set does per item: open, convert, transform in the worker."
    def __init__(self, root, indices, meta):
        self.files = [root / 'images' / meta.paths[i] for i in indices]
        self.labels = meta.labels[indices]
        self.tfm = transforms.Compose(
            [transforms.Resize((256, 256)), transforms.RandomCrop(224), transforms.RandomHorizontalFlip(),
             transforms.ToTensor(), transforms.Normalize(IMAGENET_MEAN, IMAGENET_STD)]
        )
    def __len__(self): return len(self.files)
    def __getitem__(self, i): return self.tfm(Image.open(self.files[i]).convert('RGB')), int(self.labels[i])


class JpegBytes(Dataset):
    "Raw JPEG bytes per item, for decoding on the GPU."
    def __init__(self, files): self.files = files
    def __len__(self): return len(self.files)
    def __getitem__(self, i):
        from torchvision.io import read_file
        return read_file(str(self.files[i]))


def timed(batches, device):
    """Images per second over an iterator of float batches on `device` (the first batch, worker start-up, is not
    counted)."""
    it, n = iter(batches), 0
    next(it)
    t0 = time.perf_counter()
    for x in it: n += x.shape[0]
    if device.type == 'cuda': torch.cuda.synchronize()
    return n / (time.perf_counter() - t0)


def folder_style(root, idx, meta, args, device):
    dl = DataLoader(
        FolderStyle(root, idx, meta), args.batch, shuffle=True, num_workers=args.workers, persistent_workers=True
    )
    return timed(
        (x.to(device).contiguous(memory_format=torch.channels_last) for _ in range(args.epochs) for x, _ in dl), device
    )


def pil_path(root, args, device):
    dl = DataLoader(WSOLDataset(root, 'train'), args.batch, shuffle=True, num_workers=args.workers,
                    collate_fn=collate_items, persistent_workers=True)
    return timed((normalize_batch(b[0], device) for _ in range(args.epochs) for b in dl), device)


def pil_loader(root, args, device):
    "The same EpochLoader over PILSource: decode and resize in threads, crop/flip per sample."
    dl = EpochLoader(PILSource(WSOLDataset(root, 'train', transform=None), 256), args.batch, shuffle=True,
                     num_workers=args.workers, crop=224)
    def batches():
        for epoch in range(args.epochs):
            dl.set_epoch(epoch)
            yield from (normalize_batch(x, device) for x, *_ in dl)
    return timed(batches(), device)


def cached(cache, args, device, normalise=True):
    dl = EpochLoader(cache, args.batch, shuffle=True, num_workers=args.workers)
    def batches():
        for epoch in range(args.epochs):
            dl.set_epoch(epoch)
            for images, labels, boxes, _ in dl:
                nhwc = images.to(device, non_blocking=True).permute(0, 2, 3, 1)         # the cache's layout, a view
                x, b = random_crop_flip(nhwc, boxes, 224, 0.5, 0, epoch, np.arange(len(images)))
                yield normalize_batch(x, device) if normalise else x
    return timed(batches(), device)


def cached_in_workers(cache, args, device, normalise=True):
    dl = EpochLoader(cache, args.batch, shuffle=True, num_workers=args.workers, crop=224)
    def batches():
        for epoch in range(args.epochs):
            dl.set_epoch(epoch)
            yield from (normalize_batch(x, device) if normalise else x.to(device) for x, *_ in dl)
    return timed(batches(), device)


def gpu_decode(root, idx, meta, args, device):
    from torchvision.io import decode_jpeg
    from torchvision.transforms.v2.functional import resize
    files = [root / 'images' / meta.paths[i] for i in idx]
    dl = DataLoader(
        JpegBytes(files), args.batch, shuffle=True, num_workers=args.workers, collate_fn=list, persistent_workers=True
    )
    def batches():
        for _ in range(args.epochs):
            for raw in dl:
                images = torch.stack([resize(im, [256, 256]) for im in decode_jpeg(raw, device=device)])
                x, _ = random_crop_flip(images.permute(0, 2, 3, 1), torch.zeros(len(images), 1, 4, device=device), 224,
                                        0.5, 0, 0, np.arange(len(images)))
                yield normalize_batch(x, device)
    return timed(batches(), device)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--images', type=int, default=1024, help='training images to generate (8 classes)')
    ap.add_argument('--workers', type=int, default=2)
    ap.add_argument('--batch', type=int, default=64)
    ap.add_argument('--epochs', type=int, default=3)
    ap.add_argument('--gpu-decode', action='store_true', help='also time torchvision.io.decode_jpeg on CUDA')
    ap.add_argument('--keep', type=Path, help='generate the folder and cache here and keep them')
    args = ap.parse_args()
    device = torch.device('cuda' if torch.cuda.is_available() else 'cpu')
    work = args.keep or Path(tempfile.mkdtemp())
    try:
        t0 = time.perf_counter()
        root = make_toy_dataset(work / 'cub_like', num_classes=8, train_per_class=args.images // 8, test_per_class=1,
                                image_size=(500, 375), progress=False)
        print(
            f"generated {args.images} training JPEGs of 500 x 375 in "
            f"{time.perf_counter() - t0:.1f} s; device: {device}, "
            f"workers: {args.workers}, batch: {args.batch}, epochs timed: {args.epochs}, torch {torch.__version__}"
        )
        meta = read_cub_metadata(root)
        idx = split_indices(meta, 'train')
        t0 = time.perf_counter()
        path = build_cache(root, 'train', work / 'cache', num_workers=args.workers, progress=False)
        build_s = time.perf_counter() - t0
        size_mb = (path / 'images.npy').stat().st_size / 2 ** 20
        rows = [
            ('torchvision ImageFolder-style (PIL, normalise in workers)', folder_style(root, idx, meta, args, device)),
            ('WSOLDataset (PIL, boxes, normalise on device)', pil_path(root, args, device)),
            ('EpochLoader over PILSource (decode in threads, crop/flip per sample)', pil_loader(root, args, device)),
            ('uint8 cache: slice, crop/flip on device -> uint8 channels_last batch',
             cached(ImageCache(path), args, device, False)),
            ('uint8 cache: slice, crop/flip and normalise on device -> float batch',
             cached(ImageCache(path), args, device)),
            ('uint8 cache: slice + crop/flip in worker threads -> uint8 channels_last batch',
             cached_in_workers(ImageCache(path), args, device, False)),
            ('uint8 cache: slice + crop/flip in worker threads, normalise on device -> float batch',
             cached_in_workers(ImageCache(path), args, device)),
        ]
        if args.gpu_decode:
            rows.append(
                ('file bytes + decode_jpeg on CUDA',
                 gpu_decode(root, idx, meta, args, device) if device.type == 'cuda' else float('nan'))
            )
        base = rows[0][1]
        print("\n| pipeline | images/s | vs ImageFolder-style |\n|---|---:|---:|")
        for name, ips in rows: print(f"| {name} | {ips:,.0f} | {ips / base:.1f}x |")
        print(
            f"\ncache build (once): {build_s:.1f} s for {len(idx)} images = "
            f"{len(idx) / build_s:,.0f} images/s, {size_mb:,.0f} MiB on disk "
            f"({size_mb / len(idx) * 5994:,.0f} MiB for CUB's 5,994 training images)"
        )
        if args.gpu_decode and device.type != 'cuda': print("decode_jpeg on CUDA: not run (no CUDA device)")
    finally:
        if not args.keep: shutil.rmtree(work, ignore_errors=True)


if __name__ == '__main__':
    main()
