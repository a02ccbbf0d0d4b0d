"""wsolevaluation's released per-method settings (`configs/wsolevaluation/`): each a config that trains as its name
says, with where its values come from and how sure they are."""
import re

import pytest

from dfm_tutorial.cli import CONFIGS, make_config
from dfm_tutorial.models import METHODS

RELEASED = sorted((CONFIGS / 'wsolevaluation').glob('*.toml'))
STATUSES = ('corroborated', 'unverified', 'conflict')


def test_every_method_has_a_released_cub_recipe_on_each_backbone_of_wsolevaluation():
    names = {p.stem for p in RELEASED}
    wanted = {f'cub_{arch}_{m}' for arch in ('resnet50', 'vgg16', 'inceptionv3') for m in METHODS if m != 'dfm'}
    assert wanted <= names, sorted(wanted - names)


@pytest.mark.parametrize('path', RELEASED, ids=lambda p: p.stem)
def test_a_released_recipe_is_the_config_its_name_says(path):
    dataset, arch, method = path.stem.split('_')
    cfg = make_config(f'wsolevaluation/{path.stem}').check_values()
    assert (cfg.arch, cfg.method) == (arch, method)
    assert cfg.data == make_config(f'{dataset}_{arch}').data                   # the dataset's own base config
    text = path.read_text()
    status = re.search(r'^# status: (\w+)', text, re.M)
    assert status and status[1] in STATUSES, f"{path.name}: no '# status: {'|'.join(STATUSES)}' line"
    assert re.search(r'^# source: \S+/\S+ ', text, re.M), f"{path.name}: no '# source: owner/repo path' line"
