"""Sphinx settings for the dfm-tutorial site: the notebooks in nbs/ as they are, the API from the docstrings.

    make docs        # sphinx-build -W --keep-going -b html -c docs nbs _build/html  ->  _build/html/index.html

The notebooks are rendered with myst-nb and never executed here: the tests run them, and the
site shows what they printed and drew when they were last run. Every warning fails the build
(-W), so a notebook that cannot be read, a cell that raised when it was last run, a link to a
page or anchor that does not exist and a lesson named in prose that does not exist all stop it.
"""
import fnmatch
import importlib
import inspect
import re
from pathlib import Path

import nbformat
from fastcore.docments import docments
from sphinx.errors import ExtensionError
from sphinx.util import logging

REPO = 'https://github.com/dfm-tutorial/dfm-tutorial'
logger = logging.getLogger('dfm_tutorial.docs')

project = 'dfm-tutorial'
author = 'dfm-tutorial developers'
copyright = '2026, dfm-tutorial developers'
extensions = ['myst_nb', 'sphinx.ext.autodoc']
exclude_patterns = ['**.ipynb_checkpoints', 'images/**']   # images/: pictures and the tables made beside them
nb_execution_mode = 'off'                        # outputs as committed
nb_mime_priority_overrides = [('html', 'image/png', 5)]   # the explorers' static figure before their widget view
myst_enable_extensions = ['dollarmath', 'amsmath']
myst_heading_anchors = 3                         # `page.ipynb#a-heading` links resolve, and are checked
default_role = 'literal'                         # docstrings write code in single backticks, as nbdev does
autodoc_member_order = 'bysource'
add_module_names = False

html_theme = 'sphinx_book_theme'
html_title = 'dfm-tutorial'
html_static_path = ['_static']
html_css_files = ['custom.css']
html_theme_options = {'repository_url': REPO, 'repository_branch': 'main', 'path_to_docs': 'nbs',
                      'use_repository_button': True, 'home_page_in_toc': True,
                      'launch_buttons': {'colab_url': 'https://colab.research.google.com'}}

# The navigation: the README's two tracks, each lesson by its number pattern ('17*' takes 17a_, 17b_ after 17_, in
# name order). A lesson matched by no pattern fails the build ("document isn't included in any toctree").
STORY = ('01_*', '02_*', '03_*', '04_*', '06_*', '09*', '08*', '05_*', '1[56]*', '2[0-9]_*', '4[0-9]*')
ENGINEERING = ('00_*', '07*', '1[0-4]*', '17*', '1[89]*', '3[0-9]_*')
SECTIONS = (('The WSOL story', STORY), ('The engineering track', ENGINEERING), ('Reference', ('results', 'api')))


def _navigation(docnames):
    "The index's hidden toctrees, one per section of `SECTIONS` that has pages."
    toc = ''
    for caption, patterns in SECTIONS:
        if matched := [p for p in patterns if fnmatch.filter(docnames, p)]:     # a pattern matching nothing warns
            toc += f"```{{toctree}}\n:caption: {caption}\n:hidden:\n:glob:\n\n" + '\n'.join(matched) + "\n```\n"
    return toc


def _lesson(path):
    "The module a notebook exports (`#| default_exp`), or None."
    m = re.search(r'#\|\s*default_exp\s+(\w+)', path.read_text())
    return m[1] if m else None


DIRECTIVE_TAGS = {'hide': 'remove-cell', 'default_exp': 'remove-cell', 'echo: false': 'remove-input',
                  'output: false': 'remove-output'}  # as myst-nb's cell tags


def _as_nbdev_shows(nb):
    "Cells as nbdev's docs show them: `#|` directives dropped, hidden cells removed; lesson names in prose linked."
    for cell in nb.cells:
        if cell.cell_type == 'markdown':
            cell.source = re.sub(r'(?<!\[)`(\d\d[a-z]?_[a-z0-9_]+)`(?!\])', r'[`\1`](\1.ipynb)', cell.source)
            continue
        lines = cell.source.splitlines()
        directives = [l[2:].strip() for l in lines if l.startswith('#|')]
        tags = {tag for d in directives for key, tag in DIRECTIVE_TAGS.items() if d.startswith(key)}
        if tags: cell.metadata['tags'] = sorted(set(cell.metadata.get('tags', [])) | tags)
        cell.source = '\n'.join(l for l in lines if not l.startswith('#|'))


def _check_outputs(nb, docname):
    "Warn (an error under -W) about every cell that raised when the notebook was last run."
    for i, cell in enumerate(nb.cells):
        for out in cell.get('outputs', []):
            if out.output_type == 'error':
                logger.warning(
                    f"cell {i} raised {out.ename}: {out.evalue} when the notebook was last run; "
                    "run it again and commit",
                    location=docname,
                )


def _constants(name):
    """reST for the public constants of module `name` (inside its automodule), the comment beside each as its text:
    autodoc wants `#:` above."""
    module = importlib.import_module(f'dfm_tutorial.{name}')
    source, out = inspect.getsource(module), []
    for const in module.__all__:
        value = getattr(module, const)
        if callable(value): continue
        comment = re.search(rf'^[\w, ]*\b{const}\b[\w, ]*=[^\n]*?#\s*(.+)$', source, re.M)
        # no paths, arrays, long tables
        plain = isinstance(value, (str, int, float, tuple, list, dict)) and len(repr(value)) <= 300
        out.append(f".. py:data:: {const}\n" + (f"   :value: {value!r}\n" if plain else '') +
                   (f"\n   {comment[1]}\n" if comment else '') + '\n')
    return ''.join(out)


def _api_sections(srcdir):
    "MyST for the API page: each module in lesson order, its lesson linked, its public names from the docstrings."
    lessons = sorted((nb.stem, mod) for nb in Path(srcdir).glob('*.ipynb') if (mod := _lesson(nb)))
    return '\n'.join(
        f"\n## `dfm_tutorial.{mod}`\n\nBuilt in lesson [`{stem}`]({stem}.ipynb).\n\n"
        f"```{{eval-rst}}\n.. automodule:: dfm_tutorial.{mod}\n   :members:\n\n{_constants(mod)}```\n"
        for stem, mod in lessons
    )


def read_source(app, docname, source):
    """Notebooks: validated, checked for errors, shown as nbdev shows them; the index gets the navigation, the API page
    its modules."""
    path = Path(app.env.doc2path(docname))
    if path.suffix == '.md':
        if docname == 'api': source[0] += _api_sections(app.srcdir)
        return
    try:
        nb = nbformat.reads(source[0], as_version=4)
        nbformat.validate(nb)
    except Exception as e:                       # nbformat raises several kinds (JSON, schema, version)
        raise ExtensionError(f"{path} is not a valid notebook: {e}") from e
    _check_outputs(nb, docname)
    _as_nbdev_shows(nb)
    if docname == 'index': nb.cells.append(nbformat.v4.new_markdown_cell(_navigation(app.env.found_docs)))
    source[0] = nbformat.writes(nb)


def parameter_notes(app, what, name, obj, options, lines):
    "nbdev documents parameters with a comment beside each one (docments); list them under the docstring."
    # nbdev's `Docs:` line points at the lesson, linked on this page already
    if what == 'module':
        lines[:] = [l for l in lines if not l.startswith('Docs: ')]
        return
    if not (inspect.isfunction(obj) or inspect.isclass(obj) or inspect.ismethod(obj)): return
    try: notes = {k: v for k, v in docments(obj, returns=False).items() if v and k != 'self'}
    # fastcore compares an unannotated default with !=, which an array refuses
    except ValueError as e:
        raise ExtensionError(
            f"{name}: fastcore's docments cannot read its parameters "
            f"({e}); annotate parameters whose default is an array"
        ) from e
    if notes: lines += [''] + [f":param {k}: {v}" for k, v in notes.items()]


def nbdev_markdown_pages(app, exception):
    """The `<name>.html.md` page of each lesson that nbdev's `Docs:` lines in the module docstrings point to: prose and
    code."""
    if exception or app.builder.name != 'html': return
    for path in Path(app.srcdir).glob('*.ipynb'):
        nb = nbformat.read(path, as_version=4)
        _as_nbdev_shows(nb)
        parts = [c.source if c.cell_type == 'markdown' else f"```python\n{c.source}\n```" for c in nb.cells
                 if c.source.strip() and 'remove-cell' not in c.metadata.get('tags', [])]
        name = re.sub(r'^\d+[a-zA-Z0-9]*_', '', path.stem.lower())   # nbdev's page name: the number dropped
        text = re.sub(r'\]\((\w+)\.ipynb(#[^)]*)?\)', r'](\1.html\2)', '\n\n'.join(parts))   # links to the site's pages
        Path(app.outdir, f'{name}.html.md').write_text(text + '\n')


def setup(app):
    app.connect('source-read', read_source)
    app.connect('autodoc-process-docstring', parameter_notes)
    app.connect('build-finished', nbdev_markdown_pages)
