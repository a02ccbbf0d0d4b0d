"""Training and evaluation throughput of a WSOL model, and the wall time of a full CUB / ILSVRC run from it.

Synthetic uint8 batches live on the device, so this measures the model step alone: the images/s an
input pipeline has to deliver (compare with `bench/loader_speed.py`). One training step is what
`train()` does: normalise on the device, forward with the labels, the method's loss, backward, SGD.
Evaluation is `model.cams` on the same batch size, in float32 as `evaluate` runs it. The estimate multiplies
out the shipped configs (CUB: 50 epochs of the 4,994 training images left beside 'val', 1,000 'val' images
scored every epoch, the 5,794 test images once; ILSVRC: 10 epochs of 1,276,167, 5,000 'val' every epoch,
the 50,000 test images once).

    python bench/train_speed.py                                  # CUDA if present: ResNet50, 224², batch 64, amp auto
    python bench/train_speed.py --methods cam adl dfm has acol --arch vgg16
    python bench/train_speed.py --device cpu --size 64 --batch 8 --steps 3 --warmup 1 --amp none   # a quick check on a
    CPU
"""
import argparse
import platform
import time

import torch

from dfm_tutorial.backbones import BACKBONES
from dfm_tutorial.models import METHODS, create_wsol_model
from dfm_tutorial.config import autocast, resolve_amp
from dfm_tutorial.train import model_inputs

RUNS = {'CUB': dict(train=5994 - 1000, val=1000, test=5794, epochs=50),
        'ILSVRC': dict(train=1281167 - 5000, val=5000, test=50000, epochs=10)}


def sync(device):
    if device.type == 'cuda': torch.cuda.synchronize()


def images_per_second(step, batch, steps, warmup, device):
    "Images/s of `step()` over `steps` calls after `warmup` untimed ones."
    for _ in range(warmup): step()
    sync(device)
    t0 = time.perf_counter()
    for _ in range(steps): step()
    sync(device)
    return batch * steps / (time.perf_counter() - t0)


def measure(arch, method, a, device):
    "(train images/s, eval images/s) of `arch` with `method`."
    torch.manual_seed(0)
    model = create_wsol_model(arch, method, num_classes=200).to(device)
    if a.channels_last: model = model.to(memory_format=torch.channels_last)
    step_fn = torch.compile(model) if a.compile else model
    opt = torch.optim.SGD(model.parameters(), lr=1e-3, momentum=0.9)
    images = torch.randint(0, 256, (a.batch, 3, a.size, a.size), dtype=torch.uint8, device=device)
    if a.channels_last: images = images.contiguous(memory_format=torch.channels_last)
    labels = torch.randint(0, 200, (a.batch,), device=device)

    scaler = torch.amp.GradScaler(enabled=a.amp == 'fp16')

    def train_step():
        x = model_inputs(model, images, device)
        with autocast(device, a.amp):
            _, loss = model.criterion(step_fn(x, labels), labels)
        opt.zero_grad(set_to_none=True)
        scaler.scale(loss).backward()
        scaler.step(opt)
        scaler.update()

    def eval_step(): model.cams(model_inputs(model, images, device), labels)          # float32, as evaluate()

    model.train()
    train = images_per_second(train_step, a.batch, a.steps, a.warmup, device)
    model.eval()
    evaluate = images_per_second(eval_step, a.batch, a.steps, a.warmup, device)
    return train, evaluate


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--arch', default='resnet50', choices=list(BACKBONES))
    ap.add_argument('--methods', nargs='+', default=['cam', 'adl', 'dfm'], choices=METHODS)
    ap.add_argument('--device', default='cuda' if torch.cuda.is_available() else 'cpu')
    ap.add_argument('--size', type=int, default=224)
    ap.add_argument('--batch', type=int, default=64)
    ap.add_argument('--steps', type=int, default=30)
    ap.add_argument('--warmup', type=int, default=5)
    ap.add_argument('--amp', default='auto', choices=['auto', 'none', 'bf16', 'fp16'], help="as train's amp")
    ap.add_argument('--no-channels-last', dest='channels_last', action='store_false')
    ap.add_argument('--compile', action='store_true')
    a = ap.parse_args()
    device = torch.device(a.device)
    a.amp = resolve_amp(a.amp, str(device))[0]
    name = (
        torch.cuda.get_device_name(device)
        if device.type == 'cuda'
        else f'{platform.machine()} CPU, {torch.get_num_threads()} threads'
    )
    print(f"# {name}; torch {torch.__version__}; {a.arch} {a.size}x{a.size}, batch {a.batch}, amp {a.amp}, "
          f"channels_last {a.channels_last}, compile {a.compile}; {a.steps} timed steps after {a.warmup}")
    print('| method | train images/s | eval images/s | ' + ' | '.join(f'full {r} run (est.)' for r in RUNS) + ' |')
    print('|---|---:|---:|' + '---:|' * len(RUNS))
    for method in a.methods:
        train, evaluate = measure(a.arch, method, a, device)
        est = [r['epochs'] * (r['train'] / train + r['val'] / evaluate) + r['test'] / evaluate for r in RUNS.values()]
        print(f"| {method} | {train:,.0f} | {evaluate:,.0f} | " + ' | '.join(f'{s / 60:,.1f} min' for s in est) + ' |',
              flush=True)


if __name__ == '__main__':
    main()
