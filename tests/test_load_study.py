"""d2lmini.load_study reads the committed study files the pages show."""

import json

import pytest

from d2lmini import load_study
from d2lmini.studies import studies_dir


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


@pytest.mark.parametrize("name", ["", "../etc/passwd", ".hidden", "a/b"])
def test_names_that_are_not_file_stems_are_rejected(name):
    with pytest.raises(ValueError, match="stem of studies"):
        load_study(name)


def test_inside_the_repository_the_committed_folder_is_found(monkeypatch):
    monkeypatch.delenv("D2LMINI_STUDIES_DIR", raising=False)
    monkeypatch.chdir(__import__("pathlib").Path(__file__).parent.parent / "book")
    found = studies_dir()
    assert found is not None and found.name == "studies" and (found.parent / "d2lmini").is_dir()


def test_outside_the_repository_an_editable_install_still_finds_it(tmp_path, monkeypatch):
    monkeypatch.delenv("D2LMINI_STUDIES_DIR", raising=False)
    monkeypatch.chdir(tmp_path)  # e.g. the benchmark runs copies of the pages in a temporary folder
    found = studies_dir()
    assert found is not None and (found / "seeds.json").is_file()
