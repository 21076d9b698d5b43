"""d2lmini.load_study reads the study results shipped inside the package (or $D2LMINI_STUDIES_DIR)."""

import json
import re
from pathlib import Path

import pytest

from d2lmini import load_study
from d2lmini.studies import studies_dir

ROOT = Path(__file__).resolve().parent.parent


def test_reads_a_study_from_the_folder_in_the_environment(tmp_path, monkeypatch):
    (tmp_path / "toy.json").write_text(json.dumps({"results": {"ppl": 4.2}}))
    monkeypatch.setenv("D2LMINI_STUDIES_DIR", str(tmp_path))
    assert studies_dir() == tmp_path
    assert load_study("toy") == {"results": {"ppl": 4.2}}


def test_a_missing_study_names_what_exists_and_how_to_make_it(tmp_path, monkeypatch):
    (tmp_path / "seeds.json").write_text("{}")
    monkeypatch.setenv("D2LMINI_STUDIES_DIR", str(tmp_path))
    with pytest.raises(FileNotFoundError, match=r"no study 'search'.*\['seeds'\].*make studies"):
        load_study("search")


@pytest.mark.parametrize("name", ["", "../etc/passwd", ".hidden", "a/b", "seeds.json"])
def test_names_that_are_not_file_stems_are_rejected(name):
    with pytest.raises(ValueError, match="stem of study_results"):
        load_study(name)


def test_a_name_that_is_not_a_string_is_a_type_error():
    with pytest.raises(TypeError, match="name must be a study's name as a str"):
        load_study(None)


def test_without_the_variable_the_package_data_is_read_from_anywhere(tmp_path, monkeypatch):
    monkeypatch.delenv("D2LMINI_STUDIES_DIR", raising=False)
    monkeypatch.chdir(tmp_path)  # no repository around: the files come with the package
    assert Path(str(studies_dir())) == ROOT / "d2lmini" / "study_results"
    assert load_study("seeds")["command"].startswith("python studies/run.py")


def test_every_study_a_page_loads_is_shipped(monkeypatch):
    monkeypatch.delenv("D2LMINI_STUDIES_DIR", raising=False)
    names = {name for page in (ROOT / "book").glob("*.ipynb")
             for name in re.findall(r'load_study\((?:\\"|")(\w+)', page.read_text(encoding="utf-8"))}
    assert names >= {"search", "seeds", "ngram"}, names
    for name in sorted(names):
        assert isinstance(load_study(name), dict)
