"""The docs site (docs/conf.py, `make docs`): every notebook becomes a page as it is, the API page lists every
public name, nbdev's `Docs:` links resolve; a broken notebook, a cell that raised, a dead link or anchor and a
lesson named in prose that does not exist each fail the build with a message that says where."""
import importlib
import re
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
try: import tomllib
except ImportError: import tomli as tomllib   # Python 3.10

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / 'docs'))
from site_digest import sources_digest   # noqa: E402  (docs/ is not a package)
BUILT, BUILT_FROM = ROOT / '_build' / 'html', ROOT / '_build' / 'html.digest'    # make docs writes both
LESSONS = sorted(p.stem for p in (ROOT / 'nbs').glob('*.ipynb'))


def sphinx(src, out):
    "The site build as `make docs` runs it (every warning an error); the finished process."
    cmd = [sys.executable, '-m', 'sphinx', '-W', '--keep-going', '-q', '-E', '-b', 'html', '-c', str(ROOT / 'docs'),
           '-d', str(Path(out).parent / 'doctrees'), str(src), str(out)]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=600)


@pytest.fixture(scope='module')
def site(tmp_path_factory):
    "`make docs`'s site where it was built from these very sources (CI builds it before the tests), else a new build."
    if BUILT_FROM.is_file() and BUILT_FROM.read_text().strip() == sources_digest(): return BUILT
    out = tmp_path_factory.mktemp('site') / 'html'
    done = sphinx(ROOT / 'nbs', out)
    assert done.returncode == 0, done.stderr
    return out


def test_the_digest_changes_with_any_source(tmp_path):
    "The reuse above is safe only if editing a notebook, a docs file or a module changes the digest."
    for folder, name in (('nbs', 'x.ipynb'), ('docs', 'conf.py'), ('dfm_tutorial', 'cam.py')):
        (tmp_path / folder).mkdir(exist_ok=True)
        (tmp_path / folder / name).write_text('one')
    before = sources_digest(tmp_path)
    for folder, name in (('nbs', 'x.ipynb'), ('docs', 'conf.py'), ('dfm_tutorial', 'cam.py')):
        (tmp_path / folder / name).write_text('two')
        after = sources_digest(tmp_path)
        assert after != before, f"{folder}/{name} changed but the digest did not"
        before = after
    (tmp_path / 'dfm_tutorial' / '__pycache__').mkdir()
    (tmp_path / 'dfm_tutorial' / '__pycache__' / 'cam.pyc').write_text('cache')
    assert sources_digest(tmp_path) == before, "caches are not sources"


def test_every_notebook_is_a_page_in_the_navigation(site):
    index = (site / 'index.html').read_text()
    for name in LESSONS + ['results', 'api']:
        assert (site / f'{name}.html').is_file(), name
        assert f'href="{name}.html"' in index or name == 'index', f"{name} is not in the navigation"


def test_pages_show_what_nbdev_shows(site):
    page = (site / '04_dfm.html').read_text()
    assert 'default_exp' not in page and '#| export' not in page, "nbdev directives are not shown"
    assert 'insert_after' in page and page.count('<img') >= 3, "code and figures are"
    assert 'href="05_adl.html"' in page, "links between notebooks point at pages"


def test_api_page_documents_every_public_name(site):
    api = (site / 'api.html').read_text()
    for path in (ROOT / 'dfm_tutorial').glob('[!_]*.py'):
        module = importlib.import_module(f'dfm_tutorial.{path.stem}')
        for name in module.__all__:
            assert f'id="dfm_tutorial.{path.stem}.{name}"' in api, (
                f"dfm_tutorial.{path.stem}.{name} is not on the API page"
            )
    assert 'the mask in the fusion' in api, "parameters are documented from the comments beside them (DFM's mu)"


def test_module_docstring_links_resolve(site):
    "nbdev writes `Docs: <Documentation URL>/<page>.html.md` into every module; the site has each of those pages."
    base = tomllib.loads((ROOT / 'pyproject.toml').read_text())['project']['urls']['Documentation']
    for path in (ROOT / 'dfm_tutorial').glob('[!_]*.py'):
        doc = importlib.import_module(f'dfm_tutorial.{path.stem}').__doc__
        url = re.search(r'Docs: (\S+)', doc)[1]
        assert url.startswith(base), url
        page = site / url[len(base):]
        assert page.is_file(), f"{path.name} links to {url}, which the site does not have"
        assert page.read_text().startswith('# '), "the page is the lesson's Markdown, title first"


def mini_site(tmp_path, extra_markdown=None):
    "A two-page site: an index linking to a copy of lesson 00, plus `extra_markdown` on the index."
    src = tmp_path / 'nbs'
    src.mkdir()
    shutil.copy(ROOT / 'nbs' / '00_plots.ipynb', src)
    cells = [nbformat.v4.new_markdown_cell('# A small site\n\nThe [plots lesson](00_plots.ipynb).')]
    if extra_markdown: cells.append(nbformat.v4.new_markdown_cell(extra_markdown))
    nbformat.write(nbformat.v4.new_notebook(cells=cells), src / 'index.ipynb')
    return src


def test_a_small_site_builds(tmp_path):
    "The failures below come from what each test breaks, not from the small site itself."
    done = sphinx(mini_site(tmp_path), tmp_path / 'html')
    assert done.returncode == 0, done.stderr


@pytest.mark.parametrize('markdown, says', [
    ('See [a lesson](99_missing.ipynb).', "cross-reference target not found: '99_missing.ipynb'"),
    ('See [a section](00_plots.ipynb#no-such-heading).', "local id not found in doc '00_plots': 'no-such-heading'"),
    ('As lesson `09_nowhere` shows.', "cross-reference target not found: '09_nowhere.ipynb'"),
])
def test_a_dead_link_fails_the_build(tmp_path, markdown, says):
    done = sphinx(mini_site(tmp_path, markdown), tmp_path / 'html')
    assert done.returncode != 0
    assert says in done.stderr and 'index.ipynb' in done.stderr, done.stderr


def test_a_notebook_that_cannot_be_read_fails_the_build(tmp_path):
    src = mini_site(tmp_path)
    text = (src / '00_plots.ipynb').read_text()
    (src / '00_plots.ipynb').write_text(text[:len(text) // 2])          # cut off, as a bad merge or copy leaves it
    done = sphinx(src, tmp_path / 'html')
    assert done.returncode != 0
    assert f"{src / '00_plots.ipynb'} is not a valid notebook" in done.stderr, done.stderr


def test_a_cell_that_raised_fails_the_build(tmp_path):
    src = mini_site(tmp_path)
    nb = nbformat.read(src / '00_plots.ipynb', as_version=4)
    code = next(i for i, c in enumerate(nb.cells) if c.cell_type == 'code' and 'to_image' in c.source)
    nb.cells[code].outputs.append(nbformat.v4.new_output('error', ename='ValueError', evalue='boom', traceback=[]))
    nbformat.write(nb, src / '00_plots.ipynb')
    done = sphinx(src, tmp_path / 'html')
    assert done.returncode != 0
    assert f"cell {code} raised ValueError: boom when the notebook was last run" in done.stderr, done.stderr
