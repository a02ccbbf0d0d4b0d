"Fixtures every test module may use: a small toy set drawn once a module, and torch's deterministic mode restored."
import pytest
import torch

from dfm_tutorial.toy import make_toy_dataset


@pytest.fixture(scope='module')
def toy(tmp_path_factory):
    "Three classes of toy birds, 32 training and 8 test birds a class (a module may define its own `toy`)."
    return make_toy_dataset(
        tmp_path_factory.mktemp('toy') / 'toy', num_classes=3, train_per_class=32, test_per_class=8, progress=False
    )


@pytest.fixture(autouse=True)
def keep_torch_determinism():
    "Training turns on torch's deterministic mode for the process: leave it as it was for the tests that follow."
    before = torch.are_deterministic_algorithms_enabled(), torch.is_deterministic_algorithms_warn_only_enabled()
    yield
    torch.use_deterministic_algorithms(before[0], warn_only=before[1])
