"`torch.compile` of a small network containing DFM or ADL gives eager's output for the same seed."
import pytest
import torch
from torch import nn
from dfm_tutorial.adl import ADL
from dfm_tutorial.dfm import DFM


def _compile_available():
    try: torch.compile(lambda t: t + 1)(torch.zeros(2))
    except Exception as e: return str(e)
    return None


def _small_net(module):
    return nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(), module, nn.Conv2d(8, 4, 3, padding=1), nn.ReLU(),
                         nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(4, 2))


@pytest.fixture(scope='module')
def compile_ok():
    why = _compile_available()
    if why: pytest.skip(f"torch.compile is unavailable on this platform: {why}")


@pytest.fixture
def same_rng():
    # Inductor has its own RNG; fallback_random makes compiled code draw from torch's generator,
    # so the same seed gives the same draw and compiled and eager outputs can be compared.
    import torch._inductor.config as inductor_config
    with inductor_config.patch(fallback_random=True): yield


@pytest.mark.parametrize('module', [DFM(), DFM(draw='sample'), DFM.from_ablation('position'), ADL()], ids=repr)
def test_compiled_equals_eager(module, compile_ok, same_rng):
    torch.manual_seed(0)
    net = _small_net(module).train()
    compiled = torch.compile(net)
    x = torch.rand(4, 3, 16, 16)
    outputs = set()
    for seed in range(6):   # θ = 0.7 / drop_rate 0.75: six seeds see both outcomes of the draw
        torch.manual_seed(seed)
        eager = net(x)
        torch.manual_seed(seed)
        got = compiled(x)
        torch.testing.assert_close(got, eager)
        outputs.add(round(eager.sum().item(), 4))
    assert len(outputs) > 1, "every seed gave the same output: the random choice was never exercised"
    net.eval()
    torch.testing.assert_close(compiled(x), net(x))


def test_compiled_backward_equals_eager(compile_ok, same_rng):
    torch.manual_seed(0)
    net = _small_net(DFM()).train()
    x = torch.rand(4, 3, 16, 16)
    torch.manual_seed(3)
    net(x).square().sum().backward()
    eager = [p.grad.clone() for p in net.parameters()]
    net.zero_grad()
    torch.manual_seed(3)
    torch.compile(net)(x).square().sum().backward()
    for g, e in zip((p.grad for p in net.parameters()), eager): torch.testing.assert_close(g, e)
