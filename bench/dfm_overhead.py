"""What DFM costs: forward+backward time of a ResNet50 training step, plain, with ADL, with DFM.

The modules sit at the paper's two positions (after layer3[0] = conv4_1 and layer4[2] = conv5_3).
The three networks share their weights and input; their steps are interleaved, round after round,
so drift on the machine hits all of them alike, and each is summarised by its median. The table
gives ms per step and the ratio to the plain network measured in the same run (goal: DFM <= 1.02x).

    python bench/dfm_overhead.py                      # CPU, batch 8, 224x224, float32
    python bench/dfm_overhead.py --device cuda        # GPU: AMP (bf16) and channels_last
"""
import argparse
import platform
import statistics
import time

import torch
import torch.nn.functional as F
from torchvision.models import resnet50

from dfm_tutorial.adl import ADL
from dfm_tutorial.dfm import DFM, insert_after
from dfm_tutorial.config import resolve_amp

POSITIONS = ('layer3.0', 'layer4.2')
METHODS = {'plain': None, 'ADL': ADL, 'DFM': DFM}


def build(make_module, device, channels_last):
    "A random-init ResNet50 (seed 0) with `make_module()` after each of POSITIONS."
    torch.manual_seed(0)
    net = resnet50()
    for pos in POSITIONS if make_module else (): insert_after(net, pos, make_module())
    net = net.to(device).train()
    return net.to(memory_format=torch.channels_last) if channels_last else net


def sync(device):
    if device.type == 'cuda': torch.cuda.synchronize(device)


def timed_step(net, x, y, amp_dtype):
    "Seconds for one forward+backward pass."
    sync(x.device)
    start = time.perf_counter()
    with torch.autocast(device_type=x.device.type, dtype=amp_dtype or torch.float32, enabled=amp_dtype is not None):
        loss = F.cross_entropy(net(x), y)
    loss.backward()
    sync(x.device)
    elapsed = time.perf_counter() - start
    net.zero_grad(set_to_none=True)
    return elapsed


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('--device', default='cpu')
    ap.add_argument('--batch', type=int, default=8)
    ap.add_argument('--size', type=int, default=224)
    ap.add_argument('--rounds', type=int, default=15, help='timed steps per network')
    ap.add_argument('--warmup', type=int, default=2)
    ap.add_argument('--amp', choices=['bf16', 'fp16', 'off'], default=None,
                    help="default: train's amp='auto' (bf16 from compute capability 8, fp16 below; off on cpu)")
    ap.add_argument('--channels-last', action=argparse.BooleanOptionalAction, default=None, help='default: on for cuda')
    args = ap.parse_args()
    device = torch.device(args.device)
    gpu = device.type == 'cuda'
    auto = resolve_amp('auto', args.device)[0]                       # the choice a training run would make here
    amp = args.amp or ('off' if auto == 'none' else auto)
    amp_dtype = {'bf16': torch.bfloat16, 'fp16': torch.float16, 'off': None}[amp]
    channels_last = gpu if args.channels_last is None else args.channels_last

    torch.manual_seed(0)
    x = torch.rand(args.batch, 3, args.size, args.size, device=device)
    if channels_last: x = x.to(memory_format=torch.channels_last)
    y = torch.randint(0, 1000, (args.batch,), device=device)
    nets = {name: build(make, device, channels_last) for name, make in METHODS.items()}
    times = {name: [] for name in nets}
    for _ in range(args.warmup):
        for net in nets.values(): timed_step(net, x, y, amp_dtype)
    names = list(nets)
    for r in range(args.rounds):
        k = r % len(names)
        for name in names[k:] + names[:k]:                   # rotate the order each round
            times[name].append(timed_step(nets[name], x, y, amp_dtype))

    where = (
        torch.cuda.get_device_name(device)
        if gpu
        else f"{platform.processor() or platform.machine()}, {torch.get_num_threads()} threads"
    )
    print(f"ResNet50 forward+backward, batch {args.batch}, {args.size}x{args.size}, {device.type} ({where}), "
          f"AMP {amp}, channels_last {channels_last}, torch {torch.__version__}, {args.rounds} rounds")
    print(f"modules after {', '.join(POSITIONS)}")
    plain = statistics.median(times['plain'])
    print("| network | median ms/step | min ms/step | ratio to plain (median) |")
    print("|---|---:|---:|---:|")
    for name, ts in times.items():
        med = statistics.median(ts)
        print(f"| {name} | {1000 * med:.1f} | {1000 * min(ts):.1f} | {med / plain:.3f}x |")


if __name__ == '__main__':
    main()
