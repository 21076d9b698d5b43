"""The download rules: offline folder first, then cache, atomic verified downloads, clear errors."""

import hashlib
import urllib.request

import pytest

from d2lmini import data

CONTENT = b"It was the Time Traveller who spoke.\n"
SHA1 = hashlib.sha1(CONTENT).hexdigest()


@pytest.fixture
def cache(tmp_path, monkeypatch):
    """An empty per-user cache and no offline folder."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.delenv(data.DATA_DIR_ENV, raising=False)
    return tmp_path / "cache" / "d2lmini"


@pytest.fixture
def source(tmp_path):
    """A file:// URL that serves CONTENT, standing in for the web server."""
    path = tmp_path / "served" / "book.txt"
    path.parent.mkdir()
    path.write_bytes(CONTENT)
    return path


def forbid_network(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("the network must not be used here")
    monkeypatch.setattr(urllib.request, "urlopen", refuse)


def test_offline_folder_is_used_without_network(tmp_path, cache, monkeypatch):
    offline = tmp_path / "offline"
    offline.mkdir()
    (offline / "book.txt").write_bytes(CONTENT)
    monkeypatch.setenv(data.DATA_DIR_ENV, str(offline))
    forbid_network(monkeypatch)
    assert data.download("http://example.invalid/book.txt", SHA1) == offline / "book.txt"
    assert not cache.exists()


def test_offline_file_with_wrong_checksum_is_an_error(tmp_path, cache, monkeypatch):
    offline = tmp_path / "offline"
    offline.mkdir()
    (offline / "book.txt").write_bytes(CONTENT + b"tampered")
    monkeypatch.setenv(data.DATA_DIR_ENV, str(offline))
    forbid_network(monkeypatch)
    with pytest.raises(data.DownloadError, match=r"book\.txt has SHA-1 .* expected " + SHA1):
        data.download("http://example.invalid/book.txt", SHA1)


def test_download_goes_to_cache_and_is_reused(cache, source, monkeypatch):
    path = data.download(source.as_uri(), SHA1)
    assert path == cache / "book.txt" and path.read_bytes() == CONTENT
    source.unlink()  # a second call must not need the source any more
    forbid_network(monkeypatch)
    assert data.download(source.as_uri(), SHA1) == path


def test_checksum_failure_leaves_nothing_behind(cache, source):
    with pytest.raises(data.DownloadError, match="discarded"):
        data.download(source.as_uri(), "0" * 40)
    assert list(cache.iterdir()) == []


def test_failed_download_says_where_it_looked_and_leaves_nothing(cache, tmp_path):
    missing = (tmp_path / "nowhere" / "book.txt").as_uri()
    with pytest.raises(data.DownloadError) as err:
        data.download(missing, SHA1)
    message = str(err.value)
    assert "book.txt" in message and data.DATA_DIR_ENV in message and str(cache) in message
    assert not cache.exists() or list(cache.iterdir()) == []


def test_corrupt_cached_file_is_replaced(cache, source):
    cache.mkdir(parents=True)
    (cache / "book.txt").write_bytes(b"half a fi")
    assert data.download(source.as_uri(), SHA1).read_bytes() == CONTENT


def test_offline_folder_without_the_file_falls_back_to_cache(tmp_path, cache, source, monkeypatch):
    (tmp_path / "empty").mkdir()
    monkeypatch.setenv(data.DATA_DIR_ENV, str(tmp_path / "empty"))
    assert data.download(source.as_uri(), SHA1) == cache / "book.txt"


def test_real_book_checksum(time_machine_available):
    text = data.read_time_machine()
    assert len(text.encode()) == 178_979
    assert hashlib.sha1(text.encode()).hexdigest() == data.TIME_MACHINE_SHA1
