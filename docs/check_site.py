"""Open every page of a built site in headless Chromium, as a reader would, and report what is broken.

    python docs/check_site.py _build/html                               # every page; exit 1 if anything is broken
    python docs/check_site.py _build/html --shots out/screenshots index 40_explorer   # and full-page screenshots of
    these
    python docs/check_site.py build/site --mathjax _static/mathjax/tex-mml-chtml.js    # a copy, MathJax served from it

For each page: requests to the site itself that failed (a missing page, image, script or
style), images of the site that did not load, MathJax errors (red "Math input error" boxes, when MathJax
could load: the site loads it from a CDN, so offline checks point the pages of a copy at a local
MathJax with `--mathjax`, see `make check-site`), and errors in the browser console. Requests to other hosts are
counted, not
failed: this machine has no internet, a reader does.
"""
import argparse
import functools
import re
import sys
import threading
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from playwright.sync_api import sync_playwright

CHROMIUM_ARGS = ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
                 '--disable-component-update', '--disable-sync']
SKIP = {'genindex', 'search', 'py-modindex'}             # Sphinx's generated index pages
CDN_MATHJAX = re.compile(r'src="https://cdn\.jsdelivr\.net/npm/mathjax@[^"]*"')   # Sphinx's default mathjax_path


class Quiet(SimpleHTTPRequestHandler):
    def log_message(self, *args): pass


def serve(folder):
    "An HTTP server for `folder` on 127.0.0.1 in a background thread; returns (server, base URL)."
    server = ThreadingHTTPServer(('127.0.0.1', 0), functools.partial(Quiet, directory=str(folder)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f'http://127.0.0.1:{server.server_port}/'


def launch(playwright, executable='/usr/bin/chromium'):
    "Debian's Chromium, headless, with the flags this machine's closed network needs."
    return playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)


def use_local_mathjax(site, script):
    "Point every page of `site` that loads MathJax from the CDN at `script` (a path inside the site); returns how many."
    changed = 0
    for page in Path(site).glob('*.html'):
        html, n = CDN_MATHJAX.subn(f'src="{script}"', page.read_text())
        if n:
            page.write_text(html)
            changed += 1
    if not changed: raise SystemExit(f"no page of {site} loads MathJax from the CDN: nothing to point at {script}")
    if not (Path(site) / script).is_file():
        raise SystemExit(f"{Path(site) / script} does not exist: copy MathJax there first")
    return changed


def check_page(page, url):
    """Load `url`; return (local failures, other-host failures, broken images, MathJax errors, console errors, MathJax
    formulas)."""
    local, remote, console, root = [], [], [], url.rsplit('/', 1)[0]
    page.on('requestfailed', lambda r: (local if r.url.startswith(root) else remote).append(r.url))
    page.on('response',
            lambda r: local.append(f'{r.status} {r.url}') if r.status >= 400 and r.url.startswith(root) else None)
    page.on('console', lambda m: console.append(m.text) if m.type == 'error' else None)
    page.goto(url, wait_until='load')
    page.wait_for_load_state('networkidle')
    page.evaluate("() => window.MathJax && MathJax.startup ? MathJax.startup.promise : null")   # typeset done
    broken = page.eval_on_selector_all(
        'img',
        "imgs => imgs.filter(i => i.src.startsWith(location.origin) "
        "&& (!i.complete || i.naturalWidth === 0)).map(i => i.src)",
    )
    math_errors = page.eval_on_selector_all(
        'mjx-merror', "els => els.map(e => e.getAttribute('data-mjx-error') || e.textContent)"
    )
    formulas = page.eval_on_selector_all('mjx-container', 'els => els.length')
    return local, remote, broken, math_errors, console, formulas


def check_site(site, shots=None, shot_pages=(), width=1366):
    """Check every page of `site`; write full-page screenshots of `shot_pages` to `shots`. Returns the number of broken
    things."""
    site = Path(site)
    pages = sorted(p.stem for p in site.glob('*.html') if p.stem not in SKIP)
    if not pages: raise SystemExit(f"no HTML pages in {site}: build the site first (make docs)")
    if missing := [p for p in shot_pages if p not in pages]: raise SystemExit(f"no such pages to screenshot: {missing}")
    server, base = serve(site)
    problems = 0
    print(
        """| page | title | images | formulas | MathJax errors | broken local | other hosts unreachable | console errors
        |"""
    )
    print('|---|---|---:|---:|---:|---:|---:|---:|')
    try:
        with sync_playwright() as p:
            browser = launch(p)
            for name in pages:
                page = browser.new_page(viewport={'width': width, 'height': 900})
                local, remote, broken, math_errors, console, formulas = check_page(page, f'{base}{name}.html')
                images = page.eval_on_selector_all('img', 'els => els.length')
                bad = len(local) + len(broken) + len(math_errors)
                problems += bad
                print(
                    f'| {name} | {page.title()} | {images} | {formulas} | {len(math_errors)} '
                    f'| {len(local) + len(broken)} | {len(remote)} | {len(console)} |'
                )
                for what, items in (('failed', local), ('broken image', broken), ('MathJax error', math_errors)):
                    for item in items: print(f'  {name}: {what}: {item}', file=sys.stderr)
                if shots and name in shot_pages:
                    Path(shots).mkdir(parents=True, exist_ok=True)
                    page.screenshot(path=str(Path(shots) / f'{name}.png'), full_page=True)
                page.close()
            browser.close()
    finally:
        server.shutdown()
    return problems


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('site', help='the built site, e.g. _build/html')
    ap.add_argument('pages', nargs='*', help='pages to screenshot (names without .html)')
    ap.add_argument('--shots', help='folder for the screenshots')
    ap.add_argument('--mathjax', help="load MathJax from this path inside the site (rewrites the pages: use a copy)")
    args = ap.parse_intermixed_args()                # pages may come after --shots
    if args.mathjax: print(f"{use_local_mathjax(args.site, args.mathjax)} pages load MathJax from {args.mathjax}")
    problems = check_site(args.site, args.shots, args.pages)
    print(f'\n{problems} broken' + (f'; screenshots in {args.shots}' if args.shots else ''))
    sys.exit(1 if problems else 0)


if __name__ == '__main__':
    main()
