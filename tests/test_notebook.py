"""The notebook model: clear errors for bad files, line-split stable output, ids kept, checksums."""

import json

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output

from rtxcourse.course import notebook


def _nb():
    code = new_code_cell("x = 1\nprint(x)", execution_count=3, outputs=[new_output("stream", text="1\n")])
    code.metadata.update({"tags": ["t"], "collapsed": True, "execution": {"iopub": "x"}})
    return new_notebook(cells=[new_markdown_cell("# Title\nwords"), code], metadata={"kernelspec": {"name": "other", "display_name": "Other"}})


def test_write_is_clean_line_split_and_keeps_ids(tmp_path):
    nb = _nb()
    ids = [c.id for c in nb.cells]
    p = notebook.write(nb, tmp_path / "a.ipynb")
    raw = json.loads(p.read_text())
    code = raw["cells"][1]
    assert code["source"] == ["x = 1\n", "print(x)"], "stored one list entry per line"
    assert code["outputs"] == [] and code["execution_count"] is None
    assert code["metadata"] == {"tags": ["t"]}
    assert [c["id"] for c in raw["cells"]] == ids
    assert raw["metadata"]["kernelspec"]["name"] == notebook.KERNELSPEC["name"]
    again = notebook.write(notebook.read(p), tmp_path / "b.ipynb")
    assert again.read_text() == p.read_text(), "a round trip changes nothing"


def test_cells_without_ids_get_positional_ids():
    nb = _nb()
    for c in nb.cells:
        del c["id"]
    assert [c.id for c in notebook.clean(nb).cells] == ["cell-000", "cell-001"]


@pytest.mark.parametrize(
    "text, message",
    [
        ("", "empty"),
        ("{ not json", "not valid JSON"),
        ('{"a": 1}', "not a Jupyter notebook"),
        ("[1, 2]", "not a Jupyter notebook"),
        ('{"nbformat": 4, "nbformat_minor": 5, "metadata": {}, "cells": [{"cell_type": "code"}]}', "not a valid notebook"),
    ],
)
def test_bad_files_are_clear_errors(text, message):
    with pytest.raises(notebook.NotebookError, match=message):
        notebook.reads(text, "sub/x.ipynb")


def test_nbformat3_is_upgraded_and_its_version_reported(tmp_path):
    v3 = nbformat.v3.new_notebook(worksheets=[nbformat.v3.new_worksheet(cells=[nbformat.v3.new_code_cell("y = 2")])])
    p = tmp_path / "old.ipynb"
    p.write_text(nbformat.writes(v3, version=3))
    assert notebook.format_version(p) == 3
    nb = notebook.read(p)
    assert nb.nbformat == 4 and notebook.source(nb.cells[0]) == "y = 2"


def test_checksum_ignores_line_endings_and_trailing_space_only():
    a = new_code_cell("with q('q1'):\n    assert f(1) == 2")
    b = new_code_cell("with q('q1'):  \r\n    assert f(1) == 2\n")
    c = new_code_cell("with q('q1'):\n    assert f(1) == 2 or True")
    assert notebook.checksum(a) == notebook.checksum(b) != notebook.checksum(c)
