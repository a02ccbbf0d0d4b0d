__version__ = "0.0.1"

# Methods of later lessons register themselves with `models.METHODS` (the few-shot baseline with
# `experiments.REFERENCE_ROWS`) when imported; importing them here makes
# the registries whole for every user of the package (lesson 12_models never imports them: imports point down the lessons).
from . import inception, has, acol, cutmix, spg, pretrain, tune, fewshot  # noqa: E402, F401
