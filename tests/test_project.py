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
    commands = [l.split('#')[0].strip() for l in ci.splitlines() if l.split('#')[0].strip()]
    assert commands[-1] == 'make test', "CI's log must end with pytest's summary: run the tests last in .ci/run"


def test_readme_and_index_list_every_lesson():
    readme, index = (ROOT / 'README.md').read_text(), (ROOT / 'nbs' / 'index.ipynb').read_text()
    for nb in sorted((ROOT / 'nbs').glob('[0-9]*.ipynb')):
        assert f'(nbs/{nb.name})' in readme, f"README's lesson list misses {nb.name}"
        assert f'({nb.name})' in index, f"the lesson table of index.ipynb misses {nb.name}"


def test_colab_notebooks_open_with_a_badge_and_a_setup_cell():
    """The GPU notebooks and the explorer: a badge to their own path, then the install cell (tests/test_colab.py checks
    it in every notebook); the GPU notebooks look for a GPU in their next code cell."""
    import json
    from dfm_tutorial.core import INSTALL_CELL
    colab = [nb for nb in sorted((ROOT / 'nbs').glob('*.ipynb')) if 'SMOKE = use_smoke_run()' in nb.read_text()]
    assert {nb.name for nb in colab} == {'30_cub.ipynb', '31_ilsvrc.ipynb'}
    for nb in colab + [ROOT / 'nbs' / '40_explorer.ipynb']:
        raw = json.loads(nb.read_text())['cells']
        cells = [''.join(c['source']) for c in raw]
        code = [s for s, c in zip(cells, raw) if c['cell_type'] == 'code' and not s.startswith('#| default_exp')]
        assert (
            f'colab.research.google.com/github/dfm-tutorial/dfm-tutorial/blob/main/nbs/{nb.name}' in cells[0] + cells[1]
        ), nb.name
        assert code[0] == INSTALL_CELL, f"{nb.name}: the first code cell installs"
        if nb in colab: assert 'SMOKE = use_smoke_run()' in code[1], f"{nb.name}: the second code cell looks for a GPU"


def runtime_modules():
    """The top-level modules that `pip install dfm-tutorial` brings: those of the distributions in pyproject.toml's
    dependencies and of everything they require in turn (their installed metadata, extras left out)."""
    from importlib.metadata import PackageNotFoundError, distribution, packages_distributions
    from packaging.requirements import Requirement
    canon = lambda name: re.sub(r'[-_.]+', '-', name).lower()
    todo = [Requirement(d) for d in tomllib.loads((ROOT / 'pyproject.toml').read_text())['project']['dependencies']]
    roots = {r.name.replace('-', '_') for r in todo}                         # tomli too, though 3.11+ never needs it
    todo, seen = [r.name for r in todo if r.marker is None or r.marker.evaluate()], set()
    while todo:
        name = canon(todo.pop())
        if name in seen: continue
        seen.add(name)
        try: requires = distribution(name).requires or []
        except PackageNotFoundError: continue                                 # a marker for another Python
        todo += [r.name for r in map(Requirement, requires) if r.marker is None or r.marker.evaluate({'extra': ''})]
    return roots | {m for m, dists in packages_distributions().items() if any(canon(d) in seen for d in dists)}


# lesson 19 is the gradcam extra's: it imports pytorch_grad_cam only after `require_gradcam`, which names the install
EXTRA_IMPORTS = {'19_gradcam.ipynb': {'pytorch_grad_cam'}}


def test_every_notebook_needs_only_the_package():
    """Every notebook runs on Colab after its install cell: each import is the standard library, the package, what its
    runtime dependencies bring (fastcore's test_eq included), IPython (every kernel has it), OpenCV's cv2 (Colab has
    opencv-python; elsewhere the install cell adds the [opencv] extra) or Colab's own `google.colab`."""
    import ast, json, sys
    allowed = runtime_modules() | set(sys.stdlib_module_names) | {'IPython', 'dfm_tutorial', 'cv2', 'google'}
    assert {'fastcore', 'torch', 'PIL', 'ipywidgets', 'traitlets'} <= allowed
    assert 'cv2' not in runtime_modules(), "no OpenCV wheel among the dependencies: Colab has its own (the extra)"
    wrong = {}
    for nb in sorted((ROOT / 'nbs').glob('*.ipynb')):
        cells = json.loads(nb.read_text())['cells']
        code = '\n'.join(''.join(c['source']) for c in cells if c['cell_type'] == 'code')
        code = re.sub(r'(?m)^\s*[%!].*$', '', code)                          # magics and shell lines are not Python
        used = {(n.module or '') if isinstance(n, ast.ImportFrom) else a.name
                for n in ast.walk(ast.parse(code)) if isinstance(n, (ast.Import, ast.ImportFrom))
                for a in (n.names if isinstance(n, ast.Import) else [n])}
        extra = EXTRA_IMPORTS.get(nb.name, set())
        if bad := {u for u in used if u.split('.')[0] not in allowed | extra}: wrong[nb.name] = sorted(bad)
    assert not wrong, wrong


def lesson_of_each_module():
    "{module: the notebook that exports it}, from the notebooks' `default_exp`."
    import json
    lessons = {}
    for nb in sorted((ROOT / 'nbs').glob('*.ipynb')):
        for cell in json.loads(nb.read_text())['cells']:
            if m := re.match(r'#\|\s*default_exp\s+(\S+)', ''.join(cell['source'])): lessons[m[1]] = nb.stem
    return lessons


def test_every_import_points_to_an_earlier_lesson():
    "A module imports only modules of earlier lessons (later methods register themselves; the package imports them)."
    import ast
    lessons = lesson_of_each_module()
    later = []
    for mod, lesson in lessons.items():
        tree = ast.parse((ROOT / 'dfm_tutorial' / f'{mod.replace(".", "/")}.py').read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and (node.level or (node.module or '').startswith('dfm_tutorial')):
                base = (node.module or '').removeprefix('dfm_tutorial').lstrip('.')
                targets = [base.split('.')[0]] if base else [a.name for a in node.names]
            elif isinstance(node, ast.Import):
                targets = [a.name.split('.')[1] for a in node.names if a.name.startswith('dfm_tutorial.')]
            else: continue
            later += [f"{mod} ({lesson}) imports {t} ({lessons[t]}), line {node.lineno}"
                      for t in targets if t in lessons and t != mod and lessons[t] >= lesson]
    assert not later, later
    assert lessons['models'] < lessons['has'] < lessons['acol']             # the case the registry exists for


LINTED = ('nbs', 'dfm_tutorial', 'tests', 'bench', 'data_scripts', 'docs', 'conftest.py')


def ruff(*args, cwd=ROOT):
    import subprocess, sys
    return subprocess.run([sys.executable, '-m', 'ruff', 'check', '--output-format', 'concise', *args], cwd=cwd,
                          capture_output=True, text=True)


def test_the_linter_passes():
    """ruff over the notebooks (every code cell), the exported modules, the tests and the scripts: pyflakes' rules, the
    120-column limit, no semicolon chains (settings in pyproject.toml)."""
    p = ruff(*LINTED)
    assert p.returncode == 0, p.stdout + p.stderr


def test_the_linter_flags_long_lines_and_semicolons_in_a_notebook(tmp_path):
    "The settings catch what they promise: a notebook cell with a 121-column line and a semicolon chain fails."
    import json
    cell = {'cell_type': 'code', 'execution_count': None, 'id': 'c0', 'metadata': {}, 'outputs': [],
            'source': ['x = 1; y = 2\n', 'z = "' + 'a' * 115 + '"']}
    assert len(cell['source'][1]) == 121
    nb = {'cells': [cell], 'metadata': {}, 'nbformat': 4, 'nbformat_minor': 5}
    (tmp_path / 'lesson.ipynb').write_text(json.dumps(nb))
    p = ruff('--config', str(ROOT / 'pyproject.toml'), 'lesson.ipynb', cwd=tmp_path)
    assert p.returncode == 1
    assert 'E702 Multiple statements on one line (semicolon)' in p.stdout, p.stdout
    assert 'E501 Line too long (121 > 120)' in p.stdout, p.stdout


MAX_CELL_LINES = 40   # a teaching cell: long classes and functions grow over several cells (@patch, private steps)


def long_code_cells(path):
    "(cell id, lines) of the code cells of the notebook at `path` longer than MAX_CELL_LINES."
    import json
    cells = json.loads(Path(path).read_text())['cells']
    return [(c.get('id'), n) for c in cells if c['cell_type'] == 'code'
            and (n := len(''.join(c['source']).splitlines())) > MAX_CELL_LINES]


MAX_MODULE_LINES = 300      # one concept a module: a lesson whose module outgrows this is split (issue 30)


def test_no_module_is_longer_than_300_lines():
    "Every exported module stays short enough to read in one sitting; nbdev's index and the package init aside."
    long = {p.name: n for p in sorted((ROOT / 'dfm_tutorial').glob('*.py'))
            if not p.stem.startswith('_') and (n := len(p.read_text().splitlines())) > MAX_MODULE_LINES}
    assert not long, f"modules over {MAX_MODULE_LINES} lines (split their lessons): {long}"


def private_imports(source):
    "`module: name` for each private name a module's source imports from another module of the package."
    import ast
    return [f"{node.module}: {a.name}" for node in ast.walk(ast.parse(source))
            if isinstance(node, ast.ImportFrom) and node.level == 1
            for a in node.names if a.name.startswith('_') and not a.name.startswith('__')]


def test_no_module_imports_another_modules_private_names():
    "What two modules share is public where it is defined, with a docstring (issue 30: helpers stay private)."
    found = {p.name: names for p in sorted((ROOT / 'dfm_tutorial').glob('*.py'))
             if (names := private_imports(p.read_text()))}
    assert not found, f"private names imported across modules (make them public where defined): {found}"
    assert private_imports("from .toy import (check_scale,\n    _write)") == ['toy: _write']   # the check finds one


def test_no_teaching_cell_is_longer_than_40_lines():
    found = {p.name: cells for p in sorted((ROOT / 'nbs').glob('*.ipynb')) if (cells := long_code_cells(p))}
    assert not found, f"code cells over {MAX_CELL_LINES} lines (cell id, lines): {found}"


def test_a_long_cell_is_found(tmp_path):
    import json
    cell = {'cell_type': 'code', 'execution_count': None, 'id': 'long', 'metadata': {}, 'outputs': [],
            'source': [f'x{i} = {i}\n' for i in range(MAX_CELL_LINES + 1)]}
    (tmp_path / 'l.ipynb').write_text(json.dumps({'cells': [cell], 'metadata': {}, 'nbformat': 4, 'nbformat_minor': 5}))
    assert long_code_cells(tmp_path / 'l.ipynb') == [('long', MAX_CELL_LINES + 1)]
