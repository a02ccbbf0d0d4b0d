"""Every number the prose quotes, checked against the output it cites.

The README, `nbs/results.md` and every lesson's markdown mark where their numbers come from with a comment after the
text they cover, which a reader of the rendered page does not see:

    CAM boxes 14.1 ± 1.2 % of the test birds at IoU 0.7 ... <!-- numbers: cell 1f2e3d4c -->

A marker covers the text from the previous marker, heading or the start of the cell up to itself. Its sources,
separated by `;`:

- `cell ID [ID ...]`: cells of this notebook (their code and their outputs);
- `NAME.ipynb [cell ID ...]`: another lesson under `nbs/`, whole or some of its cells;
- a file of the repository, such as `dfm_tutorial/configs/toy.toml` or `dfm_tutorial/reproduce.py`;
- `command: python bench/NAME.py ...`: a table pasted from a command's output that no committed file keeps (the
  script must exist; its numbers are not checked, the command says how to make them again).

A number is a decimal (`51.5`, `0.078`) or an integer before `%` (`56 %`); one in inline code, math, a fenced block,
a link target or a marker is not prose. A quoted number must appear in one of its sources as a number (its sign
aside: `+3.0` and `−3.0` both read as `3.0`). Numbers after the last marker of a block, or in a block with none, are
uncovered. `python tests/prose_numbers.py [FILE ...]` prints what fails.
"""
import functools
import json
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
NBS = ROOT / 'nbs'
DOCUMENTS = ('README.md', 'nbs/results.md')       # and every notebook under nbs/
MARKER = re.compile(r'<!--\s*numbers:\s*(.*?)\s*-->', re.S)
NUMBER = re.compile(r'(?<![\w.])[-+−]?(\d+\.\d+|\d+(?=\s?%))(?![\w]|\.\d)')
NOT_PROSE = [re.compile(p, re.S) for p in (r'```.*?```', r'`[^`\n]*`', r'\$\$.*?\$\$', r'\$[^$\n]*\$',
                                             r'\]\([^)]*\)', r'<img[^>]*>', r'https?://\S+')]
HEADING = re.compile(r'^#{1,6} ', re.M)


def prose(text):
    "`text` with everything that is not prose (code, math, link targets) blanked, markers kept."
    for pattern in NOT_PROSE: text = pattern.sub(lambda m: ' ' * len(m.group()), text)
    return text


def numbers(text):
    "The numbers quoted in `text`, as written without their sign."
    return [m.group(1) for m in NUMBER.finditer(text)]


def cell_text(cell):
    "A cell's source and its outputs' text, where the numbers it shows live."
    parts = [''.join(cell.get('source', ''))]
    for out in cell.get('outputs', []):
        if 'text' in out: parts.append(''.join(out['text']))
        for kind, value in out.get('data', {}).items():
            if kind.startswith('text/'): parts.append(''.join(value))
    return '\n'.join(parts)


def notebook_cells(path):
    "{cell id: cell} of the notebook at `path` (read once per version of the file)."
    path = Path(path).resolve()
    return _cells(path, path.stat().st_mtime_ns)


@functools.lru_cache(maxsize=None)
def _cells(path, mtime_ns):
    return {c.get('id'): c for c in json.loads(path.read_text())['cells']}


def source_text(source, here):
    "The text one marker source names; `here` is the notebook the marker is in (`None` for a markdown file)."
    words = source.split()
    if words[0] == 'command:':
        script = next((w for w in words[1:] if w.endswith('.py')), None)
        if script is None or not (ROOT / script).is_file(): raise ValueError(f"no script in {source!r}")
        return None                                           # pasted output: named, not checked
    if words[0] == 'cell':
        if here is None: raise ValueError(f"{source!r}: 'cell' needs a notebook; name one (NAME.ipynb cell ID)")
        path, ids = here, words[1:]
    elif words[0].endswith('.ipynb'):
        path, ids = NBS / words[0], words[2:] if words[1:2] == ['cell'] else []
        if len(words) > 1 and words[1] != 'cell': raise ValueError(f"{source!r}: after the notebook, 'cell ID ...'")
    else:
        if len(words) > 1 or not (ROOT / words[0]).is_file(): raise ValueError(f"no file {source!r}")
        return (ROOT / words[0]).read_text()
    if not Path(path).is_file(): raise ValueError(f"no notebook {words[0]!r}")
    cells = notebook_cells(path)
    missing = [i for i in ids if i not in cells]
    if missing: raise ValueError(f"{Path(path).name} has no cell {', '.join(missing)}")
    return '\n'.join(cell_text(cells[i]) for i in (ids or cells))


def appears(number, text):
    "Whether `number` is written in `text` as a number of its own (not inside a longer one)."
    return re.search(rf'(?<![\d.]){re.escape(number)}(?!\d)', text) is not None


def check_block(text, where, here=None):
    "Problems with the numbers of one markdown block (a cell or a file): one line each."
    text, problems, start = prose(text), [], 0
    for m in MARKER.finditer(text):
        covered = text[start:m.start()]
        heading = list(HEADING.finditer(covered))
        problems += uncovered(covered[:heading[-1].start()], where) if heading else []
        covered = covered[heading[-1].start():] if heading else covered
        try:
            texts = [source_text(s.strip(), here) for s in m.group(1).split(';') if s.strip()]
        except ValueError as e:
            problems.append(f"{where}: marker <!-- numbers: {m.group(1)} -->: {e}")
        else:
            if None not in texts:
                both = '\n'.join(texts)
                problems += [f"{where}: {n} is not in {m.group(1)}" for n in numbers(covered) if not appears(n, both)]
        start = m.end()
    return problems + uncovered(text[start:], where)


def uncovered(text, where):
    "Numbers in `text` with no marker after them."
    found = numbers(MARKER.sub(' ', text))
    return [f"{where}: {', '.join(found)} quoted with no <!-- numbers: ... --> marker after them"] if found else []


def check_notebook(path):
    "Problems with the numbers in the markdown cells of the notebook at `path`."
    cells = json.loads(Path(path).read_text())['cells']
    return [p for c in cells if c['cell_type'] == 'markdown'
            for p in check_block(''.join(c['source']), f"{Path(path).name} cell {c.get('id')}", Path(path))]


def check(path):
    "Problems with the numbers quoted in one document (README.md, results.md or a notebook)."
    path = Path(path)
    if path.suffix == '.ipynb': return check_notebook(path)
    return check_block(path.read_text(), str(path.relative_to(ROOT) if path.is_absolute() else path))


def documents():
    "Every document whose numbers are checked."
    return [ROOT / d for d in DOCUMENTS] + sorted(NBS.glob('*.ipynb'))


if __name__ == '__main__':
    paths = [Path(p).resolve() for p in sys.argv[1:]] or documents()
    found = [p for path in paths for p in check(path)]
    print('\n'.join(found) or f"{len(paths)} documents: every quoted number is in the output it cites")
    sys.exit(1 if found else 0)
