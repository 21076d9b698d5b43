"""Getting The Time Machine onto disk and turning it into minibatches.

The book is fetched once, checked by SHA-1 and cached. Where no network is
available, point ``D2LMINI_DATA_DIR`` at a folder that already holds the file.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import torch

from d2lmini.checks import check_int
from d2lmini.text import preprocess, tokenize
from d2lmini.vocab import Vocab

TIME_MACHINE_URL = "http://d2l-data.s3-accelerate.amazonaws.com/timemachine.txt"
TIME_MACHINE_SHA1 = "090b5e7e70c295757f55df93cb0a180b9691891a"

DATA_DIR_ENV = "D2LMINI_DATA_DIR"


class DownloadError(RuntimeError):
    """A data file could not be found, fetched or verified."""


def sha1_of(path: str | os.PathLike) -> str:
    """Return the hex SHA-1 digest of the file at ``path``."""
    digest = hashlib.sha1()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def cache_dir() -> Path:
    """Return the per-user cache folder (``$XDG_CACHE_HOME/d2lmini`` or ``~/.cache/d2lmini``)."""
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "d2lmini"


def download(url: str, sha1: str, filename: str | None = None) -> Path:
    """Return a local path to the file at ``url`` whose SHA-1 is ``sha1``.

    Looks first in ``$D2LMINI_DATA_DIR`` (used as is, no network), then in the
    cache, and only then downloads. A download is written to a temporary file
    in the cache folder and renamed into place only once its SHA-1 matches, so
    a failed or corrupt download never leaves a file behind.

    Raises:
        DownloadError: the file in ``$D2LMINI_DATA_DIR`` has the wrong SHA-1,
            or the download failed, or the downloaded bytes have the wrong SHA-1.
    """
    filename = filename or url.rsplit("/", 1)[-1]
    data_dir = os.environ.get(DATA_DIR_ENV)
    if data_dir:
        candidate = Path(data_dir) / filename
        if candidate.is_file():
            found = sha1_of(candidate)
            if found != sha1:
                raise DownloadError(
                    f"{candidate} has SHA-1 {found}, expected {sha1}. "
                    f"Replace it with a fresh copy of {url}, or unset {DATA_DIR_ENV} "
                    "to download it into the cache."
                )
            return candidate

    target = cache_dir() / filename
    if target.is_file() and sha1_of(target) == sha1:
        return target

    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{filename}.", suffix=".part", dir=target.parent)
    try:
        try:
            with os.fdopen(fd, "wb") as out, urllib.request.urlopen(url, timeout=60) as response:
                for block in iter(lambda: response.read(1 << 16), b""):
                    out.write(block)
        except OSError as exc:  # URLError, timeouts and disk errors are all OSErrors
            looked = f"{DATA_DIR_ENV}={data_dir!r}" if data_dir else f"{DATA_DIR_ENV} (unset)"
            raise DownloadError(
                f"Could not download {filename} from {url}: {exc}. Looked in {looked} "
                f"and in the cache {target.parent}. Connect to the internet, or copy "
                f"{filename} into a folder and set {DATA_DIR_ENV} to that folder."
            ) from exc
        found = sha1_of(tmp_name)
        if found != sha1:
            raise DownloadError(
                f"The download of {filename} from {url} has SHA-1 {found}, expected {sha1}; "
                "it was discarded. Try again later, or place a verified copy in "
                f"${DATA_DIR_ENV}."
            )
        os.replace(tmp_name, target)
    finally:
        if os.path.exists(tmp_name):
            os.remove(tmp_name)
    return target


def read_time_machine() -> str:
    """Return the raw text of The Time Machine (downloaded or cached)."""
    path = download(TIME_MACHINE_URL, TIME_MACHINE_SHA1, "timemachine.txt")
    return path.read_text(encoding="utf-8")


class TimeMachine:
    """The Time Machine as a character-level language-modelling data set.

    The whole preprocessed book becomes a corpus of character indices. The first
    ``1 - val_fraction`` of it is for training and the rest, with no overlap,
    for validation.

    Training minibatches follow random partitioning: every epoch draws a fresh
    offset in ``[0, num_steps)``, cuts the training corpus from there into
    non-overlapping subsequences of ``num_steps`` characters, shuffles them and
    groups them into batches. Targets are the inputs shifted by one character.

    Validation reads the held-out text the way a language model is used: as
    continuous text. It is cut into ``val_streams`` long contiguous rows that a
    model reads in one pass, so only ``val_streams`` characters are predicted
    from an empty state (instead of one in every ``num_steps``), just as an
    n-gram model sees the preceding characters everywhere. Every validation
    character after the first is predicted exactly once.

    Attributes:
        text: the preprocessed book. vocab: the character ``Vocab`` (28 entries).
        corpus: list of indices of ``text``. train_corpus, val_corpus: LongTensors.
    """

    def __init__(self, batch_size: int, num_steps: int, val_fraction: float = 0.1, val_streams: int = 8) -> None:
        check_int("batch_size", batch_size)
        check_int("num_steps", num_steps)
        check_int("val_streams", val_streams)
        if not 0 < val_fraction < 1:
            raise ValueError(f"val_fraction must lie strictly between 0 and 1, got {val_fraction!r}")
        self.batch_size, self.num_steps, self.val_fraction = batch_size, num_steps, val_fraction
        self.val_streams = val_streams
        self.text = preprocess(read_time_machine())
        tokens = tokenize(self.text, "char")
        self.vocab = Vocab(tokens)
        self.corpus = self.vocab[tokens]
        num_train = int(len(self.corpus) * (1 - val_fraction))
        self.train_corpus = torch.tensor(self.corpus[:num_train])
        self.val_corpus = torch.tensor(self.corpus[num_train:])
        if len(self.val_corpus) <= max(num_steps, val_streams):
            raise ValueError(f"num_steps={num_steps} or val_streams={val_streams} is too large for the "
                             f"validation part ({len(self.val_corpus)} characters)")

    def train_dataloader(self, generator: torch.Generator | None = None) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        """Yield ``(X, Y)`` LongTensor batches of shape ``(batch, num_steps)`` for one epoch.

        A new random offset and a new order are drawn on every call, from
        ``generator`` or else from torch's global generator (see ``set_seed``).
        """
        offset = int(torch.randint(self.num_steps, (1,), generator=generator))
        starts = partition_starts(len(self.train_corpus), self.num_steps, offset)
        starts = starts[torch.randperm(len(starts), generator=generator)]
        return _batches(self.train_corpus, starts, self.num_steps, self.batch_size)

    def val_dataloader(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        """Yield the validation text as ``val_streams`` contiguous rows, then any short remainder.

        The first batch has shape ``(val_streams, L)`` with ``L = (len(val) - 1) // val_streams``;
        row ``i`` continues where row ``i - 1`` stops. A final ``(1, r)`` batch holds the
        ``r < val_streams`` characters left over, so every validation character except the
        first is a target exactly once.
        """
        corpus, rows = self.val_corpus, self.val_streams
        length = (len(corpus) - 1) // rows
        used = rows * length
        yield corpus[:used].reshape(rows, length), corpus[1:used + 1].reshape(rows, length)
        if used < len(corpus) - 1:
            yield corpus[used:-1].unsqueeze(0), corpus[used + 1:].unsqueeze(0)


def partition_starts(length: int, num_steps: int, offset: int) -> torch.Tensor:
    """Return the start indices of the non-overlapping subsequences of a corpus.

    Subsequence ``i`` covers ``[offset + i * num_steps, offset + (i + 1) * num_steps)``
    and needs one more character after it for its shifted targets.
    """
    count = max((length - offset - 1) // num_steps, 0)
    return offset + num_steps * torch.arange(count)


def _batches(corpus: torch.Tensor, starts: torch.Tensor, num_steps: int,
             batch_size: int) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    window = torch.arange(num_steps)
    for i in range(0, len(starts), batch_size):
        idx = starts[i:i + batch_size, None] + window  # (B, T)
        yield corpus[idx], corpus[idx + 1]
