"""A digest of everything the docs site is built from (the notebooks, docs/, the package's modules). `make docs`
writes it beside the site, and tests/test_docs.py reuses that site only while the digest still matches.

    python docs/site_digest.py        # prints the digest of this checkout
"""
import hashlib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SOURCES = ('nbs', 'docs', 'dfm_tutorial')
SKIP = ('__pycache__', '.ipynb_checkpoints')


def sources_digest(root=ROOT):
    "SHA-256 over the path and bytes of every file under `SOURCES` (caches left out), in sorted order."
    h = hashlib.sha256()
    for folder in SOURCES:
        for p in sorted((Path(root) / folder).rglob('*')):
            if p.is_file() and not any(s in p.parts for s in SKIP):
                h.update(str(p.relative_to(root)).encode() + b'\0' + p.read_bytes() + b'\0')
    return h.hexdigest()


if __name__ == '__main__':
    print(sources_digest())
