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

from d2lmini.checks import check_choice, check_int, check_real
from d2lmini.text import preprocess, tokenize
from d2lmini.vocab import Vocab

TIME_MACHINE_URL = "http://d2l-data.s3-accelerate.amazonaws.com/timemachine.txt"
TIME_MACHINE_SHA1 = "090b5e7e70c295757f55df93cb0a180b9691891a"

DATA_DIR_ENV = "D2LMINI_DATA_DIR"
PARTITIONS = ("random", "sequential")


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


def _check_sha1(sha1: object, filename: object) -> str:
    """Return ``sha1`` in lower case if it is 40 hexadecimal digits.

    Raises:
        ValueError: it is not; the message explains d2l's other argument order,
            the usual way a folder ends up here.
    """
    if isinstance(sha1, str) and len(sha1) == 40 and all(c in "0123456789abcdef" for c in sha1.lower()):
        return sha1.lower()
    swapped = " (and the third argument looks like one)" if isinstance(filename, str) and len(filename) == 40 else ""
    raise ValueError(
        f"sha1 must be the file's SHA-1, 40 hexadecimal digits, got {sha1!r}{swapped}. "
        "d2l's download(url, folder, sha1_hash) takes a folder second; d2lmini's download(url, sha1, filename) "
        "takes the SHA-1 second and keeps files in $D2LMINI_DATA_DIR or the cache. "
        "Write download(url, sha1_hash), or download(url, sha1_hash=..., folder=...) to keep it in a folder."
    )


def download(url: str, sha1: str | None = None, filename: str | None = None, *,
             sha1_hash: str | None = None, folder: str | os.PathLike | None = None) -> Path:
    """Return a local path to the file at ``url`` whose SHA-1 is ``sha1``.

    Looks first in ``$D2LMINI_DATA_DIR`` (used as is, no network), then in the
    cache (or in ``folder``, if given), and only then downloads into that
    place. A download is written to a temporary file beside its target and
    renamed into place only once its SHA-1 matches, so a failed or corrupt
    download never leaves a file behind.

    d2l's keywords work too: ``download(url, folder="../data", sha1_hash=h)``.
    Its positional order ``download(url, folder, sha1_hash)`` does not (the
    second argument here is the SHA-1) and raises a ``ValueError`` saying so.

    Raises:
        TypeError: no SHA-1 was given (d2lmini always verifies), or it was given twice.
        ValueError: ``url`` is not a URL (d2l's ``DATA_HUB`` names are not known here)
            or ``sha1`` is not 40 hexadecimal digits (often a folder in d2l's order).
        DownloadError: the file in ``$D2LMINI_DATA_DIR`` has the wrong SHA-1,
            or the download failed, or the downloaded bytes have the wrong SHA-1.
    """
    if not isinstance(url, str) or "://" not in url:
        raise ValueError(
            f"url must be a full URL such as {TIME_MACHINE_URL!r}, got {url!r}. d2l's download('time_machine') "
            "looks the name up in its DATA_HUB; d2lmini has none: use read_time_machine(), or "
            "download(TIME_MACHINE_URL, TIME_MACHINE_SHA1)."
        )
    if sha1 is not None and sha1_hash is not None:
        raise TypeError("download() got the SHA-1 twice (sha1 and sha1_hash): pass one of them")
    sha1 = sha1 if sha1 is not None else sha1_hash
    if sha1 is None:
        raise TypeError(
            "download() needs the file's SHA-1 (d2lmini verifies every file): download(url, sha1) "
            "or, as in d2l, download(url, sha1_hash=...)"
        )
    sha1 = _check_sha1(sha1, filename)
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

    target = (Path(folder) if folder is not None else cache_dir()) / filename
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
                f"and in {target.parent}. Connect to the internet, or copy "
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

    The whole preprocessed book becomes a corpus of ``n`` character indices, cut
    in book order into three parts that do not overlap and together cover it:
    training ``corpus[:a]``, validation ``corpus[a:b]`` and test ``corpus[b:]``, with
    ``a = int(n * (1 - val_fraction - test_fraction))`` and ``b = int(n * (1 - test_fraction))``.
    The defaults give 80/10/10: 138,742 / 17,343 / 17,343 characters. Tune on
    validation, report once on test. ``test_fraction=0`` gives the two-way split
    ``corpus[:int(n * (1 - val_fraction))]`` / rest, with no test part.

    Training minibatches follow ``partition``. ``"random"`` (the default): every
    epoch draws a fresh offset in ``[0, num_steps)``, cuts the training corpus
    from there into non-overlapping subsequences of ``num_steps`` characters,
    shuffles them and groups them into batches. ``"sequential"``: every epoch
    draws a fresh offset, cuts the training corpus from there into
    ``batch_size`` contiguous streams (one per row) and walks along them
    ``num_steps`` at a time, so row ``i`` of a batch continues row ``i`` of the
    batch before it and a model may carry its state across batches. The last
    ``< num_steps`` characters of each stream are left for a later epoch's offset.
    Targets are the inputs shifted by one character.

    Validation and test read their text the way a language model is used: as
    continuous text. Each is cut into ``val_streams`` long contiguous rows that a
    model reads in one pass, so only ``val_streams`` characters are predicted
    from an empty state (instead of one in every ``num_steps``), just as an
    n-gram model sees the preceding characters everywhere. Every character of
    the part after its first is predicted exactly once.

    Args:
        batch_size: rows per training batch (streams, for sequential partitioning).
        num_steps: characters per training row.
        val_fraction: share of the book for validation, ``0 < val_fraction < 1``.
        test_fraction: share of the book for test, ``0 <= test_fraction < 1`` (0: no test part).
        val_streams: rows of the validation and test batches.
        partition: ``"random"`` or ``"sequential"``.

    Attributes:
        text: the preprocessed book. vocab: the character ``Vocab`` (28 entries).
        corpus: list of indices of ``text``. train_corpus, val_corpus, test_corpus:
        LongTensors (``test_corpus`` is empty when ``test_fraction=0``).

    Raises:
        ValueError: an argument has the wrong type or range, the fractions add up
            to 1 or more, or a part is too short for ``num_steps``, ``batch_size``
            or ``val_streams``.
    """

    def __init__(self, batch_size: int, num_steps: int, val_fraction: float = 0.1, test_fraction: float = 0.1,
                 val_streams: int = 8, partition: str = "random") -> None:
        check_int("batch_size", batch_size)
        check_int("num_steps", num_steps)
        check_int("val_streams", val_streams)
        check_real("val_fraction", val_fraction, minimum=0, maximum=1, exclusive_minimum=True, exclusive_maximum=True)
        check_real("test_fraction", test_fraction, minimum=0, maximum=1, exclusive_maximum=True)
        if not val_fraction + test_fraction < 1:
            raise ValueError(f"val_fraction + test_fraction must be below 1 to leave text for training, "
                             f"got {val_fraction!r} + {test_fraction!r}")
        check_choice("partition", partition, PARTITIONS)
        self.batch_size, self.num_steps, self.val_fraction = batch_size, num_steps, val_fraction
        self.test_fraction, self.val_streams, self.partition = test_fraction, val_streams, partition
        self.text = preprocess(read_time_machine())
        tokens = tokenize(self.text, "char")
        self.vocab = Vocab(tokens)
        self.corpus = self.vocab[tokens]
        n = len(self.corpus)
        train_end, val_end = int(n * (1 - val_fraction - test_fraction)), int(n * (1 - test_fraction))
        self.train_corpus = torch.tensor(self.corpus[:train_end], dtype=torch.long)
        self.val_corpus = torch.tensor(self.corpus[train_end:val_end], dtype=torch.long)
        self.test_corpus = torch.tensor(self.corpus[val_end:], dtype=torch.long)
        # Every offset in [0, num_steps) must leave at least one training batch.
        needed = 2 * num_steps if partition == "random" else (batch_size + 1) * num_steps
        if len(self.train_corpus) < needed:
            rows = "num_steps" if partition == "random" else "batch_size or num_steps"
            raise ValueError(f"the training part ({len(self.train_corpus)} characters) is too short for "
                             f"{partition} partitioning with batch_size={batch_size}, num_steps={num_steps}: it "
                             f"needs at least {needed}; lower {rows} or val_fraction + test_fraction")
        parts = [("validation", self.val_corpus)] + ([("test", self.test_corpus)] if test_fraction > 0 else [])
        for name, part in parts:
            if len(part) <= max(num_steps, val_streams):
                raise ValueError(f"num_steps={num_steps} or val_streams={val_streams} is too large for the "
                                 f"{name} part ({len(part)} characters); lower them or raise its fraction")

    def train_dataloader(self, generator: torch.Generator | None = None) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        """Yield ``(X, Y)`` LongTensor batches of shape ``(batch, num_steps)`` for one epoch.

        A new random offset (and, for random partitioning, a new order) is drawn
        on every call, from ``generator`` or else from torch's global generator
        (see ``set_seed``). With random partitioning the last batch may have
        fewer rows; with sequential partitioning every batch has ``batch_size`` rows.
        """
        offset = int(torch.randint(self.num_steps, (1,), generator=generator))
        if self.partition == "sequential":
            return _sequential_batches(self.train_corpus, self.batch_size, self.num_steps, offset)
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
        return _stream_batches(self.val_corpus, self.val_streams)

    def test_dataloader(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        """Yield the test text exactly as ``val_dataloader`` yields the validation text.

        Raises:
            ValueError: this data set has no test part (``test_fraction=0``).
        """
        if len(self.test_corpus) == 0:
            raise ValueError("this TimeMachine has no test part (test_fraction=0); "
                             "create it with test_fraction > 0, e.g. 0.1")
        return _stream_batches(self.test_corpus, self.val_streams)


def partition_starts(length: int, num_steps: int, offset: int) -> torch.Tensor:
    """Return the start indices of the non-overlapping subsequences of a corpus.

    Subsequence ``i`` covers ``[offset + i * num_steps, offset + (i + 1) * num_steps)``
    and needs one more character after it for its shifted targets.

    Raises:
        ValueError: ``length`` or ``offset`` is not an integer >= 0, or ``num_steps`` not a positive integer.
    """
    check_int("length", length, minimum=0)
    check_int("num_steps", num_steps)
    check_int("offset", offset, minimum=0)
    count = max((length - offset - 1) // num_steps, 0)
    return offset + num_steps * torch.arange(count)


def _batches(corpus: torch.Tensor, starts: torch.Tensor, num_steps: int,
             batch_size: int) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    window = torch.arange(num_steps)
    for i in range(0, len(starts), batch_size):
        idx = starts[i:i + batch_size, None] + window  # (B, T)
        yield corpus[idx], corpus[idx + 1]


def _sequential_batches(corpus: torch.Tensor, batch_size: int, num_steps: int,
                        offset: int) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """Cut ``corpus[offset:]`` into ``batch_size`` contiguous streams and walk along them ``num_steps`` at a time."""
    length = (len(corpus) - offset - 1) // batch_size  # characters per stream
    used = batch_size * length
    X = corpus[offset:offset + used].reshape(batch_size, length)          # (B, L)
    Y = corpus[offset + 1:offset + used + 1].reshape(batch_size, length)  # (B, L)
    for t in range(0, length - num_steps + 1, num_steps):
        yield X[:, t:t + num_steps], Y[:, t:t + num_steps]                # (B, T) each


def _stream_batches(corpus: torch.Tensor, streams: int) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """Yield ``corpus`` as ``streams`` back-to-back rows, then a ``(1, r)`` batch of the remainder."""
    length = (len(corpus) - 1) // streams
    used = streams * length
    yield corpus[:used].reshape(streams, length), corpus[1:used + 1].reshape(streams, length)  # (S, L) each
    if used < len(corpus) - 1:
        yield corpus[used:-1].unsqueeze(0), corpus[used + 1:].unsqueeze(0)                      # (1, r) each

