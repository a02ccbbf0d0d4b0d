"""The package as a user gets it: `python -m build` makes an sdist and a wheel, and the wheel installs into a fresh
virtual environment (not editable, no repository on the path) where the import, the command, every shipped config and
one toy epoch work; the `gradcam` extra installs pytorch-grad-cam from PyPI. The CI workflows validate against GitHub's
workflow schema."""
import json, os, subprocess, sys, sysconfig, tarfile, zipfile
from pathlib import Path
import pytest
try: import tomllib
except ImportError: import tomli as tomllib   # Python 3.10

ROOT = Path(__file__).resolve().parents[1]
WORKFLOWS = ROOT / '.github' / 'workflows'


def run(*args, cwd=None, env=None):
    "Run a command; fail the test with its output when it fails."
    done = subprocess.run([str(a) for a in args], cwd=cwd, env=env, capture_output=True, text=True)
    said = f"{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    assert done.returncode == 0, f"{' '.join(map(str, args))} exited {done.returncode}:\n{said}"
    return done.stdout


GRADCAM_ONLY = ('pytorch_grad_cam', 'grad_cam', 'ttach')     # installed for the gradcam extra and nothing else


def fresh_venv(path, leave_out=GRADCAM_ONLY):
    """A new venv at `path` that sees the dependencies of this environment but not `dfm_tutorial` itself, nor the
    distributions named in `leave_out`.

    Installing torch again would cost gigabytes and minutes, so a `.pth` file puts a folder of links to this
    environment's installed distributions (all but dfm-tutorial and its editable hook) on the new venv's path;
    pip then sees them as installed, and `--no-index` makes a missing dependency an error rather than a download.
    The venv has no pip or setuptools of its own (an old bundled setuptools would shadow the one torch needs): this
    environment's pip installs into it with `--python`."""
    run(sys.executable, '-m', 'venv', '--without-pip', path)
    deps = path / 'deps'
    deps.mkdir()
    for entry in Path(sysconfig.get_paths()['purelib']).iterdir():
        name = entry.name.lower()
        own = name.startswith(('dfm_tutorial', '__editable__', '_dfm_tutorial'))
        if not own and not name.startswith(leave_out) and entry.suffix != '.pth':
            (deps / entry.name).symlink_to(entry)
    python = path / 'bin' / 'python'
    site = run(python, '-c', 'import sysconfig; print(sysconfig.get_paths()["purelib"])').strip()
    (Path(site) / 'deps.pth').write_text(f"{deps}\n")
    return python


def outside_env():
    "This process's environment without what would point Python at this checkout or its venv."
    return {k: v for k, v in os.environ.items() if k not in ('PYTHONPATH', 'VIRTUAL_ENV')}


@pytest.fixture(scope='module')
def dist(tmp_path_factory):
    "The sdist and the wheel `python -m build` makes of this checkout."
    out = tmp_path_factory.mktemp('dist')
    run(sys.executable, '-m', 'build', '--outdir', out, ROOT)
    return out


def test_sdist_and_wheel_carry_the_configs_and_the_version(dist):
    version = tomllib.loads((ROOT / 'pyproject.toml').read_text())['tool']['setuptools']['dynamic']['version']['attr']
    assert version == 'dfm_tutorial.__version__', "the version lives in __init__.py (nbdev-bump-version edits it)"
    init = (ROOT / 'dfm_tutorial' / '__init__.py').read_text()
    ver = init.split('__version__ = ')[1].split()[0].strip('"\'')
    wheel, = dist.glob('*.whl')
    sdist, = dist.glob('*.tar.gz')
    assert wheel.name == f'dfm_tutorial-{ver}-py3-none-any.whl' and sdist.name == f'dfm_tutorial-{ver}.tar.gz'
    top = ROOT / 'dfm_tutorial' / 'configs'                          # train configs, and recipes/ (pretraining, tuned)
    configs = {str(p.relative_to(top)) for p in top.rglob('*.toml')}
    in_wheel = {n.split('dfm_tutorial/configs/')[1] for n in zipfile.ZipFile(wheel).namelist()
                if n.startswith('dfm_tutorial/configs/') and n.endswith('.toml')}
    in_sdist = {n.split('/dfm_tutorial/configs/')[1] for n in tarfile.open(sdist).getnames()
                if '/dfm_tutorial/configs/' in n and n.endswith('.toml')}
    assert 'recipes/toy_pretrain.toml' in configs and in_wheel == configs and in_sdist == configs
    assets = {'dfm_tutorial/assets/toy_features.pt'}                   # lessons 02, 04, 05 load it on Colab too
    assert assets <= set(zipfile.ZipFile(wheel).namelist())
    assert {n.split('/', 1)[1] for n in tarfile.open(sdist).getnames() if n.endswith('.pt')} >= assets


def test_the_wheel_installs_and_trains_a_toy_epoch(dist, tmp_path):
    python = fresh_venv(tmp_path / 'venv')
    wheel, = dist.glob('*.whl')
    run(sys.executable, '-m', 'pip', '--python', python, 'install', '--no-index', '--quiet', wheel)
    work = tmp_path / 'work'                                      # not the repository: nothing of it on sys.path
    work.mkdir()
    env = outside_env()
    code = ("import json, dfm_tutorial\n"
            "from dfm_tutorial.cli import CONFIGS, make_config\n"
            "from dfm_tutorial.gradcam import require_gradcam\n"
            "try: require_gradcam(); said = None\n"
            "except ImportError as e: said = str(e)\n"
            "names = sorted(p.stem for p in CONFIGS.glob('*.toml'))\n"
            "print(json.dumps(dict(file=dfm_tutorial.__file__, version=dfm_tutorial.__version__, configs=names,\n"
            "    archs=[make_config(n).arch for n in names], gradcam=said)))\n")
    info = json.loads(run(python, '-c', code, cwd=work, env=env).splitlines()[-1])
    assert Path(info['file']).is_relative_to(tmp_path / 'venv'), f"imported {info['file']}, not the installed wheel"
    assert info['version'] == wheel.name.split('-')[1]
    assert info['configs'] == sorted(p.stem for p in (ROOT / 'dfm_tutorial' / 'configs').glob('*.toml'))
    assert 'toy' in info['archs'] and 'resnet50' in info['archs']
    assert "pytorch-grad-cam is not installed: pip install 'dfm-tutorial[gradcam]'" in info['gradcam']   # no extra here
    assert 'train' in run(tmp_path / 'venv' / 'bin' / 'dfm-tutorial', '--help', cwd=work, env=env)
    run(python, '-c', "from dfm_tutorial.toy import make_toy_dataset; make_toy_dataset('toy', num_classes=2, "
        "train_per_class=8, test_per_class=4, progress=False)", cwd=work, env=env)
    args = ['data=toy', 'num_classes=2', 'epochs=1', 'batch_size=8', 'val_per_class=1', 'workers=0', 'progress=false']
    cli = tmp_path / 'venv' / 'bin' / 'dfm-tutorial'
    out = run(cli, 'train', '--config', 'toy', *args, 'out=run', cwd=work, env={**env, 'DFM_SMOKE': '1'})
    assert '"top1_cls"' in out and (work / 'run' / 'final.json').is_file()
    # weights = "toy-pretrained": the installed recipe's (smoke) backbone, pretrained beside the data on first use
    assert list((work / 'toy_pretrain').glob('*/runs/*/backbone.pth'))


def test_the_gradcam_extra_installs_from_pypi(dist, tmp_path):
    "pip fetches grad-cam (and ttach) from the package index for `dfm-tutorial[gradcam]`; Grad-CAM maps then work."
    python = fresh_venv(tmp_path / 'venv')
    wheel, = dist.glob('*.whl')
    log = run(sys.executable, '-m', 'pip', '--python', python, 'install', f'{wheel}[gradcam]')
    installed = log.rsplit('Successfully installed', 1)[-1].lower() if 'Successfully installed' in log else ''
    assert 'grad-cam' in installed or 'grad_cam' in installed, log[-2000:]        # fetched, not found already there
    env = outside_env()
    code = ("import torch, pytorch_grad_cam\n"
            "from dfm_tutorial.gradcam import gradcam_maps\n"
            "from dfm_tutorial.models import create_wsol_model\n"
            "maps = gradcam_maps(create_wsol_model('toy', 'cam', num_classes=3), torch.randn(2, 3, 32, 32), [0, 2])\n"
            "print(pytorch_grad_cam.__file__, tuple(maps.shape), float(maps.min()) >= 0, float(maps.max()) <= 1)\n")
    where, *rest = run(python, '-c', code, cwd=tmp_path, env=env).split()
    assert Path(where).is_relative_to(tmp_path / 'venv'), f"pytorch_grad_cam imported from {where}, not the new venv"
    assert rest == ['(2,', '32,', '32)', 'True', 'True']


def schema_errors(path):
    "What check-jsonschema says of `path` against GitHub's workflow schema (vendored in the package: no download)."
    done = subprocess.run([sys.executable, '-m', 'check_jsonschema', '--builtin-schema', 'vendor.github-workflows',
                           str(path)], capture_output=True, text=True)
    return done.returncode, done.stdout + done.stderr


@pytest.mark.parametrize('name', ['test.yaml', 'deploy.yaml'])
def test_workflows_validate(name):
    rc, said = schema_errors(WORKFLOWS / name)
    assert rc == 0, said


def test_workflow_schema_catches_a_broken_workflow(tmp_path):
    broken = (WORKFLOWS / 'test.yaml').read_text().replace('runs-on:', 'run-on:')
    (tmp_path / 'broken.yaml').write_text(broken)
    rc, said = schema_errors(tmp_path / 'broken.yaml')
    assert rc != 0 and 'run-on' in said


def test_test_workflow_runs_the_readme_test_command_on_the_supported_pythons():
    text = (WORKFLOWS / 'test.yaml').read_text()
    assert 'make test' in text and '"3.10", "3.13"' in text
    classifiers = tomllib.loads((ROOT / 'pyproject.toml').read_text())['project']['classifiers']
    assert {'Programming Language :: Python :: 3.10', 'Programming Language :: Python :: 3.13'} <= set(classifiers)
    deploy = (WORKFLOWS / 'deploy.yaml').read_text()
    assert '_build/html' in deploy and 'make docs' in deploy
