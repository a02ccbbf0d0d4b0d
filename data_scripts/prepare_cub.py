"""Download (or take an archive you have), verify, safely extract and check CUB-200-2011; idempotent.

    python data_scripts/prepare_cub.py data/                       # downloads CUB_200_2011.tgz (1.1 GB) from
    CaltechDATA
    python data_scripts/prepare_cub.py data/ --archive ~/CUB_200_2011.tgz
"""
import argparse
from dfm_tutorial.prepare import CUB_MD5, CUB_URL, prepare_cub

ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
ap.add_argument('root', help='folder that receives CUB_200_2011/ (and the downloaded archive)')
ap.add_argument('--archive', help='a CUB_200_2011.tgz you already have (left untouched)')
ap.add_argument('--url', default=CUB_URL)
ap.add_argument('--md5', default=CUB_MD5)
ap.add_argument('--no-verify', action='store_true', help='skip the MD5 check (only for an archive you trust)')
a = ap.parse_args()
print('ready:', prepare_cub(a.root, a.archive, a.url, None if a.no_verify else a.md5))
