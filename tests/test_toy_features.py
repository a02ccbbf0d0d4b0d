"""The trained toy feature maps lessons 02, 04 and 05 load (dfm_tutorial/assets/toy_features.pt): shipped with the
package, shaped as documented, and drawn from the toy as it draws birds today (a change to the toy's drawing makes
the file stale: run data_scripts/make_toy_features.py)."""
import importlib.util
from pathlib import Path

import pytest
import torch

from dfm_tutorial.masks import region_means, toy_feature_maps
from dfm_tutorial.toy import fresh_birds, make_toy_dataset

ROOT = Path(__file__).resolve().parents[1]


def script():
    spec = importlib.util.spec_from_file_location('make_toy_features', ROOT / 'data_scripts/make_toy_features.py')
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_maps_are_what_the_lessons_say():
    maps = toy_feature_maps()
    n = len(maps['labels'])
    assert set(maps['features']) == {'block3', 'block4'}
    for f in maps['features'].values():
        assert f.dtype == torch.float32 and f.shape == (n, 64, 24, 24) and torch.isfinite(f).all() and (f >= 0).all()
    assert maps['images'].shape == (n, 96, 96, 3) and maps['images'].dtype == torch.uint8
    head, body = maps['head'], maps['body']
    assert head.shape == body.shape == (n, 96, 96) and not (head & body).any()
    assert all(head[i].any() and body[i].any() for i in range(n))          # every bird has both regions
    assert 'toy_scratch.toml' in maps['about']


def test_the_birds_are_the_toy_birds_of_today(tmp_path):
    "The images and masks are drawn again from the toy's parameters: equal, or the file is stale."
    toy = make_toy_dataset(tmp_path / 'toy', train_per_class=1, test_per_class=1, progress=False)
    images, labels, head, body = fresh_birds(toy, script().BIRDS, script().BIRD_SEED)
    maps = toy_feature_maps()
    assert torch.equal(maps['images'], torch.from_numpy(images))
    assert torch.equal(maps['labels'], torch.from_numpy(labels))
    assert torch.equal(maps['head'], torch.from_numpy(head)) and torch.equal(maps['body'], torch.from_numpy(body))


def test_the_package_data_ships_the_file():
    try:
        import tomllib
    except ModuleNotFoundError:                                          # Python 3.10
        import tomli as tomllib
    settings = tomllib.loads((ROOT / 'pyproject.toml').read_text())['tool']['setuptools']
    assert 'dfm_tutorial.assets' in settings['packages']
    assert settings['package-data']['dfm_tutorial.assets'] == ['*.pt']


def test_region_means_weigh_each_cell_by_the_pixels_it_covers():
    "A map that is 1 on one cell and 0 elsewhere averages, over a region, to the share of the region it covers."
    x = torch.zeros(4, 1, 24, 24)
    x[:, :, 0, 0] = 1.0                                                  # the top-left cell: 4 x 4 pixels of 96 x 96
    corner = torch.zeros(4, 96, 96, dtype=torch.bool)
    corner[:, :8, :8] = True                                             # that cell and three of its neighbours
    means = region_means(x, {'corner': corner, 'all': torch.ones_like(corner)})
    assert means['corner'] == 0.25 and means['all'] == pytest.approx(16 / 9216, rel=1e-6)
