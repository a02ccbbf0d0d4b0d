"""The prose-number check (tests/prose_numbers.py): the README, results.md and every lesson quote only numbers their
cited outputs show."""
import json

import pytest

from prose_numbers import check, check_block, documents


def test_every_quoted_number_is_in_the_output_it_cites():
    found = [p for path in documents() for p in check(path)]
    assert not found, '\n'.join(found[:40]) + (f"\n... and {len(found) - 40} more" if len(found) > 40 else '')


def lesson(tmp_path, markdown, output='CAM 51.5 ± 1.3, DFM -3.0'):
    "A notebook of one code cell (id `run`) that printed `output` and one markdown cell."
    cells = [{'cell_type': 'code', 'id': 'run', 'metadata': {}, 'source': ['print(1)'], 'execution_count': 1,
              'outputs': [{'output_type': 'stream', 'name': 'stdout', 'text': [output]}]},
             {'cell_type': 'markdown', 'id': 'prose', 'metadata': {}, 'source': [markdown]}]
    path = tmp_path / 'x.ipynb'
    path.write_text(json.dumps({'cells': cells, 'metadata': {}, 'nbformat': 4, 'nbformat_minor': 5}))
    return check(path)


def test_a_number_its_output_shows_passes(tmp_path):
    assert lesson(tmp_path, "CAM scores 51.5 ± 1.3 and DFM gains +3.0 (`lr = 0.05` is code). <!-- numbers: cell run -->"
                  ) == []


def test_a_number_its_output_does_not_show_fails(tmp_path):
    assert lesson(tmp_path, "CAM scores 51.6 ± 1.3. <!-- numbers: cell run -->") == [
        "x.ipynb cell prose: 51.6 is not in cell run"]


def test_a_number_inside_a_longer_one_is_not_found(tmp_path):
    said = lesson(tmp_path, "CAM scores 1.5. <!-- numbers: cell run -->")
    assert said == ["x.ipynb cell prose: 1.5 is not in cell run"]


def test_numbers_with_no_marker_after_them_fail(tmp_path):
    assert lesson(tmp_path, "CAM scores 51.5 <!-- numbers: cell run -->, about 56 % of DFM's.") == [
        "x.ipynb cell prose: 56 quoted with no <!-- numbers: ... --> marker after them"]


def test_a_heading_ends_what_a_marker_covers(tmp_path):
    said = lesson(tmp_path, "CAM scores 0.25.\n\n## Next\n\nIt scores 51.5. <!-- numbers: cell run -->")
    assert said == ["x.ipynb cell prose: 0.25 quoted with no <!-- numbers: ... --> marker after them"]


@pytest.mark.parametrize('marker, says', [
    ('cell nope', "x.ipynb has no cell nope"),
    ('nope.ipynb', "no notebook 'nope.ipynb'"),
    ('no/such/file.toml', "no file 'no/such/file.toml'"),
    ('command: python bench/nope.py', "no script in 'command: python bench/nope.py'"),
])
def test_a_marker_that_names_nothing_says_so(tmp_path, marker, says):
    assert lesson(tmp_path, f"CAM scores 51.5. <!-- numbers: {marker} -->") == [
        f"x.ipynb cell prose: marker <!-- numbers: {marker} -->: {says}"]


def test_a_pasted_command_output_names_an_existing_script():
    assert check_block("| CAM | 51.5 |\n\n<!-- numbers: command: python bench/toy_finetune.py --seeds 0 1 -->",
                       'results.md') == []


def test_a_file_is_a_source(tmp_path):
    assert check_block("The toy trains at lr 0.01 and 0.77. <!-- numbers: dfm_tutorial/configs/toy.toml -->",
                       'README.md') == ["README.md: 0.77 is not in dfm_tutorial/configs/toy.toml"]
