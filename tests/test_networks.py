"DFM and ADL inside a real backbone: training steps work, and evaluation is the plain network."
import copy

import pytest
import torch
from torchvision.models import resnet50
from dfm_tutorial.adl import ADL
from dfm_tutorial.dfm import ABLATIONS, DFM, insert_after

PAPER_POSITIONS = ('layer3.0', 'layer4.2')   # after conv4_1 and conv5_3


def _resnet50_with(make_module):
    torch.manual_seed(0)
    plain = resnet50(num_classes=10)
    net = copy.deepcopy(plain)
    for pos in PAPER_POSITIONS: insert_after(net, pos, make_module())
    return plain, net


@pytest.mark.parametrize('make_module', [ADL, *[lambda row=row: DFM.from_ablation(row) for row in ABLATIONS]],
                         ids=['adl', *ABLATIONS])
def test_train_step_and_eval_identity(make_module):
    plain, net = _resnet50_with(make_module)
    x, y = torch.rand(2, 3, 64, 64), torch.tensor([1, 7])
    # In eval the module is the identity, so the network is the plain backbone with the same weights.
    plain.eval()
    net.eval()
    with torch.no_grad(): torch.testing.assert_close(net(x), plain(x))
    loss = torch.nn.functional.cross_entropy(net.train()(x), y)
    loss.backward()
    assert torch.isfinite(loss)
    assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in net.parameters() if p.requires_grad)


def test_state_dict_keys_only_gain_a_level():
    plain, net = _resnet50_with(DFM)
    renamed = {k.replace('layer3.0.', 'layer3.0.0.').replace('layer4.2.', 'layer4.2.0.') for k in plain.state_dict()}
    assert renamed == set(net.state_dict())


def test_training_changes_features_and_is_seeded():
    _, net = _resnet50_with(lambda: DFM(draw='sample'))
    x = torch.rand(4, 3, 64, 64)
    net.train()
    torch.manual_seed(5)
    a = net(x)
    torch.manual_seed(5)
    b = net(x)
    torch.manual_seed(6)
    c = net(x)
    torch.testing.assert_close(a, b)
    assert not torch.allclose(a, c)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
@pytest.mark.parametrize('dtype', [torch.float32, torch.float16, torch.bfloat16])
def test_cuda_matches_cpu(dtype):
    x = torch.rand(4, 64, 14, 14)
    for row in ABLATIONS:
        for theta in (0.0, 1.0):
            dfm = DFM.from_ablation(row, theta=theta).train()
            cpu = dfm(x.to(dtype)).float()
            gpu = dfm(x.to('cuda', dtype).to(memory_format=torch.channels_last))
            assert gpu.is_contiguous(memory_format=torch.channels_last)
            torch.testing.assert_close(gpu.float().cpu(), cpu, atol=2e-2 if dtype != torch.float32 else 1e-5, rtol=2e-2)
