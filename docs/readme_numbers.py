"""The README picture's models in numbers: a markdown table of their `final.json` scores beside the picture.

    python docs/readme_numbers.py out/readme nbs/images/cam_vs_dfm.md     (make readme-figure runs it)

The README's caption quotes this table (tests/prose_numbers.py checks it against the file).
"""
import json
import sys
from pathlib import Path

MODELS = {'CAM': 'cam_seed0', 'DFM': 'dfm_seed0', 'DFM, β = 0.5': 'dfm_beta05_seed0'}   # make readme-figure's runs
COLUMNS = {'Top-1 Clas': 'top1_cls', 'Top-1 Loc': 'top1_loc', 'MaxBoxAccV2': 'max_box_acc_v2'}


def table(runs):
    "The markdown table of the models under `runs`, one row each, on the toy's test split."
    lines = ['| model (test split, seed 0) | ' + ' | '.join(COLUMNS) + ' |', '|---|' + '---:|' * len(COLUMNS)]
    for label, run in MODELS.items():
        result = json.loads((Path(runs) / run / 'final.json').read_text())['result']
        lines.append(f"| {label} | " + ' | '.join(f"{result[k]:.1f}" for k in COLUMNS.values()) + ' |')
    return '\n'.join(lines) + '\n'


if __name__ == '__main__':
    runs, out = sys.argv[1:3]
    Path(out).write_text(f"Made by `make readme-figure` beside `cam_vs_dfm.png`:\n\n{table(runs)}")
    print(Path(out).read_text())
