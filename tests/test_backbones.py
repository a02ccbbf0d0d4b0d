"""Every registered backbone with every registered method, as timm tests every model: a forward and a backward pass
in training mode, the CAM's shape, nothing NaN; and the registries refuse an entry that leaves a gap."""
import pytest
import torch

import dfm_tutorial  # noqa: F401  (registers every method and backbone their later lessons add)
from dfm_tutorial.backbones import BACKBONES, register_backbone
from dfm_tutorial.models import METHODS, create_wsol_model, inserted, register_method

PAIRS = [(a, m) for a in BACKBONES for m in METHODS]


def quick_model(arch, method):
    """The model `create_wsol_model` builds, its weights drawn quickly: built on the meta device, then filled (the
    layers' own initialisation of ResNet101 takes about 20 s on a CPU; the test needs finite weights, not those)."""
    with torch.device('meta'): model = create_wsol_model(arch, method, num_classes=3)
    model.to_empty(device='cpu')
    torch.manual_seed(0)
    for m in model.modules():
        if isinstance(m, torch.nn.modules.batchnorm._BatchNorm): m.reset_parameters()   # weight 1, bias 0, stats
        else:
            for p in m.parameters(recurse=False): torch.nn.init.normal_(p, std=0.05)
    return model


@pytest.mark.parametrize('arch, method', PAIRS, ids=[f'{a}-{m}' for a, m in PAIRS])
def test_forward_backward_and_cams(arch, method):
    model = quick_model(arch, method)
    x, y = torch.randn(2, 3, 32, 32), torch.tensor([0, 2])           # a 2 × 2 map on the big backbones
    logits, loss = model.train().criterion(model(x), y)            # every method's own training loss
    loss.backward()
    assert logits.shape == (2, 3)
    assert torch.isfinite(loss)
    grads = [p.grad for p in model.parameters() if p.requires_grad]
    assert grads and all(g is not None and torch.isfinite(g).all() for g in grads)
    logits, cams = model.eval().cams(x, y)
    assert logits.shape == (2, 3) and cams.shape == (2, 32, 32) and torch.isfinite(cams).all()
    if METHODS[method].module is not None:
        assert set(inserted(model)) == set(BACKBONES[arch].positions[method])


def test_a_backbone_without_positions_for_an_inserting_method_is_refused():
    with pytest.raises(ValueError, match=r"backbone 'tiny': give the default positions of \['adl', 'dfm'\]"):
        register_backbone('tiny', lambda weights, large_feature_map: (torch.nn.Identity(), 3), new=('fc',),
                          positions={})
    assert 'tiny' not in BACKBONES


def test_a_method_with_a_module_needs_positions_on_every_backbone():
    with pytest.raises(ValueError, match=r"method 'half' inserts a module: give its positions for \['resnet50'"):
        register_method('half', module=torch.nn.Identity, positions={'toy': ('block3',)})
    assert 'half' not in METHODS and all('half' not in b.positions for b in BACKBONES.values())
