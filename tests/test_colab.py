"""Every lesson opens on Colab ("Open in Colab" on each page of the site): its first code cell installs the package
when it is missing, silently and at once where it is installed; the package asks for no OpenCV wheel and says which
to install where `cv2` is missing. The last tests do what a reader does on Colab, in a Colab-like virtual environment
(ipywidgets 7.7.1 and opencv-python as Colab ships them, torch already there): the built wheel installed by a lesson's
own first cell, then `COLAB_LESSONS` each run alone in an empty folder with `DFM_SMOKE=1`."""
import json, shutil, sys, time
from pathlib import Path
from unittest import mock
import pytest
from dfm_tutorial.core import INSTALL_CELL
from test_package import GRADCAM_ONLY, dist, fresh_venv, run  # noqa: F401, F811  (dist: the wheel, a fixture)

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / 'nbs').glob('*.ipynb'))
# The lessons the Colab-like test runs (about a minute and a half on CI's two cores, next to the other tests): the
# lesson the issue saw fail (04), OpenCV from opencv-python (07), the bars on ipywidgets 7 (00_core) and the
# explorer on ipywidgets 7 (40, which trains its three toy models in the empty folder).
COLAB_LESSONS = ('00_core', '04_dfm', '07_boxes', '40_explorer')


def first_code_cell(nb):
    "The source of the first code cell of the notebook `nb` that is not its `#| default_exp`."
    cells = json.loads(nb.read_text())['cells']
    return next(s for s in (''.join(c['source']) for c in cells if c['cell_type'] == 'code')
                if not s.lstrip().startswith('#| default_exp'))


@pytest.mark.parametrize('nb', NOTEBOOKS, ids=[nb.stem for nb in NOTEBOOKS])
def test_every_notebook_opens_with_the_install_cell(nb):
    "The first code cell of every notebook is `core.INSTALL_CELL`, character for character."
    assert first_code_cell(nb) == INSTALL_CELL, (
        f"{nb.name}: the first code cell is not core.INSTALL_CELL (python /tmp/colab_cell.py {nb.relative_to(ROOT)})")


def test_the_install_cell_does_nothing_in_the_repository(capsys):
    "Here the distribution is installed (editable): no pip, no output, and about a millisecond."
    def pip(*args, **kwargs): raise AssertionError(f"the install cell ran {args}")
    t0 = time.perf_counter()
    with mock.patch('subprocess.run', pip): exec(INSTALL_CELL, {})
    took = time.perf_counter() - t0
    assert capsys.readouterr() == ('', '') and took < 0.5, took


def test_without_opencv_the_package_imports_and_says_which_wheel_to_install():
    "No `cv2` at all: every module imports; the first OpenCV call names both wheels and the extra, in one line."
    code = ("import sys; sys.modules['cv2'] = None\n"                        # an import of cv2 now fails
            "import numpy as np, dfm_tutorial, dfm_tutorial.own_cams, dfm_tutorial.metrics, dfm_tutorial.explore\n"
            "from dfm_tutorial.boxes import opencv_boxes\n"
            "try: opencv_boxes(np.zeros((4, 4), np.uint8), 0)\n"
            "except ImportError as e: print(e)\n")
    said = run(sys.executable, '-c', code, cwd=ROOT).strip()
    assert said == ("OpenCV is not installed: pip install opencv-python-headless (or opencv-python, the one Colab "
                    "has), or pip install 'dfm-tutorial[opencv]'"), said


# --- the Colab-like environment --------------------------------------------------------------------------------------
# Left out of the links to this environment: what Colab has in other versions (ipywidgets 7.7.1 and its
# widgetsnbextension 3; opencv-python, not the headless wheel) and fastcore, so that the wheel's own dependency is what
# brings it.
COLAB_LEAVE_OUT = GRADCAM_ONLY + ('ipywidgets', 'widgetsnbextension', 'cv2', 'opencv', 'fastcore')
COLAB_PACKAGES = ('ipywidgets==7.7.1', 'widgetsnbextension==3.6.10', 'ipython_genutils', 'opencv-python')


def kernel_spec(folder, python, **env):
    "A kernel spec `colab` in `folder`/colab that starts `python` with `env` added to the environment."
    spec = folder / 'colab'
    spec.mkdir(parents=True)
    (spec / 'kernel.json').write_text(json.dumps({
        'argv': [str(python), '-m', 'ipykernel_launcher', '-f', '{connection_file}'], 'display_name': 'colab',
        'language': 'python', 'env': env}))
    return folder


def execute(nb, cwd, kernels, timeout=600):
    "Run every cell of the notebook `nb` (nbformat) in the `colab` kernel of `kernels`, in folder `cwd`."
    from jupyter_client.kernelspec import KernelSpecManager
    from jupyter_client.manager import KernelManager
    from nbclient import NotebookClient
    km = KernelManager(kernel_name='colab', kernel_spec_manager=KernelSpecManager(kernel_dirs=[str(kernels)]))
    NotebookClient(nb, km=km, timeout=timeout, resources={'metadata': {'path': str(cwd)}}).execute()
    return nb


def text_of(cell):
    "What a cell printed (stdout and stderr streams)."
    return ''.join(o.get('text', '') for o in cell.outputs if o.output_type == 'stream')


REPORT = """\
import importlib.metadata as md, json, sys, cv2, dfm_tutorial, fastcore, ipywidgets
from tqdm.notebook import tqdm as notebook_tqdm
from dfm_tutorial.core import progress_bar
bar = progress_bar(range(3))
list(bar)
names = sorted(d.metadata['Name'].lower() for d in md.distributions())
print(json.dumps(dict(python=sys.executable, ipywidgets=ipywidgets.__version__, cv2=cv2.__file__,
                      opencv=[n for n in names if n.startswith('opencv')], package=dfm_tutorial.__file__,
                      fastcore=fastcore.__file__, bar=isinstance(bar, notebook_tqdm),
                      bar_widget=getattr(bar, 'container', None).__class__.__mro__[1].__name__)))"""


def report_cell():
    import nbformat
    return nbformat.v4.new_code_cell(REPORT)


def report(nb):
    "The JSON the report cell (the notebook's last) printed."
    return json.loads(text_of(nb.cells[-1]).strip().splitlines()[-1])


@pytest.fixture(scope='module')
def colab(dist, tmp_path_factory):  # noqa: F811
    """A Colab-like venv, its kernel spec, and the first run of the install cell there: a new notebook with only
    `INSTALL_CELL` and a report, run in an empty folder, which installs the wheel (`DFM_TUTORIAL_SOURCE`) over a
    `dfm_tutorial/__pycache__` left behind by an uninstall."""
    import nbformat
    tmp = tmp_path_factory.mktemp('colab')
    python = fresh_venv(tmp / 'venv', leave_out=COLAB_LEAVE_OUT)
    run(sys.executable, '-m', 'pip', '--python', python, 'install', '--quiet', '--no-deps', *COLAB_PACKAGES)
    site = Path(run(python, '-c', 'import sysconfig; print(sysconfig.get_paths()["purelib"])').strip())
    (site / 'dfm_tutorial' / '__pycache__').mkdir(parents=True)                 # what an uninstall may leave behind
    (site / 'dfm_tutorial' / '__pycache__' / 'core.cpython-3.pyc').write_bytes(b'stale')
    wheel, = dist.glob('*.whl')
    kernels = kernel_spec(tmp / 'kernels', python, DFM_SMOKE='1', DFM_TUTORIAL_SOURCE=wheel.resolve().as_uri(),
                          PYTHONPATH='', MPLBACKEND='module://matplotlib_inline.backend_inline', OMP_NUM_THREADS='1')
    (tmp / 'first').mkdir()
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(INSTALL_CELL), nbformat.v4.new_code_cell(
        INSTALL_CELL), report_cell()])
    first = execute(nb, tmp / 'first', kernels)
    return dict(tmp=tmp, python=python, kernels=kernels, first=first, site=site, wheel=wheel)


def test_the_install_cell_installs_the_wheel_once_and_keeps_colabs_packages(colab):
    first, wheel = colab['first'], colab['wheel']
    assert text_of(first.cells[0]) == f"installing dfm-tutorial from {wheel.resolve().as_uri()} ...\n"   # one line
    assert text_of(first.cells[1]) == ''                                     # installed now: the cell does nothing
    got = report(first)
    assert Path(got['python']).parent == colab['tmp'] / 'venv' / 'bin', got
    assert Path(got['package']).is_relative_to(colab['site']), got             # the wheel, not this checkout
    assert got['ipywidgets'] == '7.7.1', got                                    # kept, not upgraded to 8
    assert got['opencv'] == ['opencv-python'], got                              # no second OpenCV beside Colab's
    assert Path(got['fastcore']).is_relative_to(colab['site']), got             # the wheel's dependency brought it
    assert got['bar'] and got['bar_widget'] == 'HBox', got                    # a widget bar on ipywidgets 7


@pytest.mark.parametrize('lesson', COLAB_LESSONS)
def test_a_lesson_runs_alone_in_an_empty_folder(colab, lesson):
    "The lesson, copied alone into an empty folder, runs top to bottom in the Colab-like kernel; it writes only there."
    import nbformat
    folder = colab['tmp'] / lesson
    folder.mkdir()
    shutil.copy(ROOT / 'nbs' / f'{lesson}.ipynb', folder)
    nb = nbformat.read(folder / f'{lesson}.ipynb', as_version=4)
    nb.cells.append(report_cell())
    outside = sorted(p.name for p in colab['tmp'].iterdir())
    execute(nb, folder, colab['kernels'])
    install, = [c for c in nb.cells if c.source == INSTALL_CELL]
    assert text_of(install) == '', "the wheel is installed already: the install cell should say nothing"
    got = report(nb)
    assert got['ipywidgets'] == '7.7.1' and got['opencv'] == ['opencv-python'], got
    assert sorted(p.name for p in colab['tmp'].iterdir()) == outside, "the lesson wrote beside its folder"
    if lesson == '40_explorer':                                         # the explorers showed as live widgets on 7.7.1
        views = [o for c in nb.cells if c.cell_type == 'code' for o in c.outputs
                 if 'application/vnd.jupyter.widget-view+json' in o.get('data', {})]
        figures = [o for o in views if {'image/png', 'text/plain'} <= set(o['data'])]   # LiveFigure: view and PNG
        assert len(figures) >= 2, f"{len(views)} widget views, {len(figures)} of them explorer figures"
