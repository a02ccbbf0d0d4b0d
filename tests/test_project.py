"The project's shape: nbdev settings in pyproject.toml, one notebook per module, README commands."
import re
try: import tomllib
except ImportError: import tomli as tomllib   # Python 3.10
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_nbdev_settings_live_in_pyproject():
    cfg = tomllib.loads((ROOT / 'pyproject.toml').read_text())
    assert cfg['tool']['nbdev']['lib_path'] == 'dfm_tutorial'
    assert not (ROOT / 'settings.ini').exists(), "nbdev 3 refuses settings.ini; settings belong in [tool.nbdev]"
    deps = ' '.join(cfg['project']['dependencies'])
    assert re.search(r'torch>=', deps) and '==' not in deps, "keep loose ranges so Colab keeps its own torch"


def test_every_module_comes_from_one_notebook():
    exported = {}
    for nb in sorted((ROOT / 'nbs').glob('*.ipynb')):
        m = re.search(r'#\|\s*default_exp\s+(\w+)', nb.read_text())
        if m:
            assert m[1] not in exported, f"{nb.name} and {exported[m[1]]} both export {m[1]}"
            exported[m[1]] = nb.name
    modules = {p.stem for p in (ROOT / 'dfm_tutorial').glob('*.py') if not p.stem.startswith('_')}
    assert modules == set(exported), f"modules without a notebook: {modules - set(exported)}"


def test_readme_leads_with_the_two_commands():
    readme = (ROOT / 'README.md').read_text()
    first_block = readme[readme.index('```'):][:400]
    assert 'make demo' in first_block and 'make test' in first_block
    ci = (ROOT / '.ci' / 'run').read_text()
    assert 'make test' in ci
