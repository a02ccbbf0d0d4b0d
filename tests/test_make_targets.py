"""Every `make` target the README, results.md or a lesson names exists, and what its recipe runs can start: each
`python -m dfm_tutorial CMD` is a command of the CLI, each name a `python -c` or a script imports from the package
exists, each script and tool it calls is there. (`make readme-figure` once imported a function from the wrong module
and failed unseen.)"""
import ast
import json
import re
import shlex
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
NAMED = re.compile(r'`make ([a-z][a-z-]*)')


def makefile():
    "{target: [recipe command, ...]} of the Makefile, continuation lines joined and `$(VAR)`s expanded."
    text = (ROOT / 'Makefile').read_text().replace('\\\n', ' ')
    variables = dict(re.findall(r'^([A-Z_]+)\s*[:?]?=\s*(.*)$', text, re.M))
    expand = lambda s: re.sub(r'\$\(([A-Z_]+)\)', lambda m: expand(variables.get(m.group(1), m.group(0))), s)
    targets, current = {}, None
    for line in text.splitlines():
        if m := re.match(r'^([a-z][a-z-]*):', line): current = targets.setdefault(m.group(1), [])
        elif line.startswith('\t') and current is not None: current.append(expand(line.strip().lstrip('@')))
        elif line.strip() and not line.startswith('#'): current = None
    return targets


def named_targets():
    "The targets the README, results.md and the lessons' markdown tell a reader to run."
    texts = [(ROOT / 'README.md').read_text(), (ROOT / 'nbs/results.md').read_text()]
    for path in sorted((ROOT / 'nbs').glob('*.ipynb')):
        texts += [''.join(c['source']) for c in json.loads(path.read_text())['cells'] if c['cell_type'] == 'markdown']
    return sorted({name for t in texts for name in NAMED.findall(t)})


TARGETS = makefile()


def test_every_target_the_docs_name_exists():
    assert named_targets(), "no `make ...` found: the pattern no longer matches the docs"
    missing = [t for t in named_targets() if t not in TARGETS]
    assert not missing, f"the docs name make targets the Makefile lacks: {missing}"


def package_imports(code):
    "(module, name) pairs that `code` imports from dfm_tutorial."
    pairs = []
    for node in ast.walk(ast.parse(code)):
        if isinstance(node, ast.ImportFrom) and (node.module or '').startswith('dfm_tutorial'):
            pairs += [(node.module, a.name) for a in node.names]
        elif isinstance(node, ast.Import):
            pairs += [(a.name, None) for a in node.names if a.name.startswith('dfm_tutorial')]
    return pairs


def check_imports(pairs, where):
    import importlib
    for module, name in pairs:
        mod = importlib.import_module(module)
        assert name is None or hasattr(mod, name), f"{where}: {module} has no {name}"


def python_steps(command):
    "What one recipe line asks the project's Python to do: ('module', argv), ('code', text) or ('script', path)."
    words = shlex.split(command.split(' > ')[0])
    if not words or not words[0].endswith('/python'): return []
    if words[1:3] == ['-m', 'dfm_tutorial']: return [('cli', words[3])]
    if words[1] == '-c': return [('code', words[2])]
    if words[1] == '-m': return [('module', words[2])]
    return [('script', words[1])]


@pytest.mark.parametrize('target', sorted(TARGETS))
def test_what_a_target_runs_can_start(target, capsys):
    from dfm_tutorial.cli import main
    for command in TARGETS[target]:
        tool = shlex.split(command)[0] if command and not command.startswith(('test ', 'rm ', 'cp ', 'touch ')) else ''
        if tool.startswith('.venv/bin/'):
            assert (ROOT / tool).exists(), f"make {target}: {tool} is not installed"
        for kind, what in python_steps(command):
            if kind == 'cli':
                with pytest.raises(SystemExit) as done: main([what, '--help'])
                assert done.value.code == 0, f"make {target}: `python -m dfm_tutorial {what}` is no command"
            elif kind == 'code':
                check_imports(package_imports(what), f"make {target}")
            elif kind == 'module':
                import importlib.util
                assert importlib.util.find_spec(what) is not None, f"make {target}: no module {what}"
            else:
                script = ROOT / what
                assert script.is_file(), f"make {target}: no script {what}"
                check_imports(package_imports(script.read_text()), f"make {target}: {what}")


def test_a_wrong_import_is_caught():
    "The check fails the way `make readme-figure` would have: a name imported from a module that lacks it."
    with pytest.raises(AssertionError, match="dfm_tutorial.cli has no save_cam_gallery"):
        check_imports(package_imports("from dfm_tutorial.cli import save_cam_gallery"), 'make readme-figure')
