"""Build ILSVRC-2012 in the CUB format from the official archives/folders or Kaggle's localization layout; idempotent.

    python data_scripts/prepare_ilsvrc.py data/ILSVRC --train ILSVRC2012_img_train.tar --val ILSVRC2012_img_val.tar \
        --devkit ILSVRC2012_devkit_t12.tar.gz --val-boxes ILSVRC2012_bbox_val_v3.tgz
    python data_scripts/prepare_ilsvrc.py data/ILSVRC --kaggle imagenet-object-localization-challenge/
"""
import argparse
from dfm_tutorial.prepare import prepare_ilsvrc

ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
ap.add_argument('dest', help='folder to build (images/ and the CUB-format metadata)')
for name, what in [('train', 'ILSVRC2012_img_train.tar or a folder of class folders'),
                   ('val', 'ILSVRC2012_img_val.tar or a folder'), ('devkit', 'ILSVRC2012_devkit_t12.tar.gz'),
                   ('val-boxes', 'ILSVRC2012_bbox_val_v3.tgz or a folder of XMLs'),
                   ('train-boxes', 'optional: training boxes (tar or folder of XMLs, or LOC_train_solution.csv)'),
                   ('kaggle', "the Kaggle 'ImageNet Object Localization Challenge' folder")]:
    ap.add_argument(f'--{name}', help=what)
a = ap.parse_args()
print('ready:', prepare_ilsvrc(a.dest, a.train, a.val, a.devkit, a.val_boxes, a.train_boxes, a.kaggle))
