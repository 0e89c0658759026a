"""Output folders: checked, locked, staged and committed atomically (standard library only).

Every command that writes results checks its ``--out`` folder before any work (a folder, or a
new one below a writable folder), locks it for the whole command (``.kommunesim.lock`` inside
it; a second command writing there meanwhile is refused), clears staging folders that killed
runs left, and removes folders it created if it fails (``output_folder``, ``writes_to``).
Files are written into a staging folder inside ``out_dir`` (``.kommunesim-stage-*``) and moved
in on commit (``write_atomically``), so a failed run leaves no partial output. A failing disk
(full, read-only, file-size limit) becomes one ``InputError`` line.

Nothing here imports numpy or pandas, so the CLI can decorate its commands at import time.
"""

from __future__ import annotations

import contextlib
import functools
import glob
import json
import os
import shutil
import stat
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from sim.errors import InputError, disk_error, is_disk_error

MAX_MANIFEST_BYTES = 100_000_000
"""Largest manifest.json read back (a 100,000-scenario sweep's is about 30 MB)."""
STAGE_PREFIX = ".kommunesim-stage-"
LOCK_NAME = ".kommunesim.lock"
def check_output_folder(out_dir: str | Path) -> None:
    """``InputError`` unless ``out_dir`` is a folder, or can be made one, that can be written.

    Refused before any work: an existing file, a path below a file, a read-only file system or
    a folder without write permission.
    """
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise InputError(out, None, "is a file, not a folder; give a folder for --out")
    probe = out.absolute()
    while not probe.exists():
        if probe.is_symlink():
            raise InputError(out, None, f"{probe} is a broken link; give a folder for --out")
        probe = probe.parent
    if not probe.is_dir():
        raise InputError(out, None, f"lies below the file {probe}; give a folder for --out")
    if hasattr(os, "statvfs") and os.statvfs(probe).f_flag & os.ST_RDONLY:
        raise InputError(out, None, f"{probe} is on a read-only file system; choose another "
                         "--out")
    if not os.access(probe, os.W_OK | os.X_OK):
        raise InputError(out, None, f"no permission to write into {probe}; choose another "
                         "--out")


_HELD: dict[Path, int] = {}
"""Output folders this process has locked, with their nesting count (locks are re-entrant)."""


@contextlib.contextmanager
def output_folder(out_dir: str | Path) -> Iterator[Path]:
    """Check, create and lock ``out_dir`` for one command (re-entrant within a process).

    Inside: no other kommunesim command writes to the folder, and staging folders of killed
    runs are gone. On exit the lock is released; if the body failed, folders created here are
    removed again when empty.
    """
    out = Path(out_dir)
    key = out.absolute()
    if key in _HELD:
        _HELD[key] += 1
        try:
            yield out
        finally:
            _HELD[key] -= 1
        return
    check_output_folder(out)
    created = _make_folders(key)
    try:
        fd = _lock(out)
    except BaseException:
        _remove_empty(created)
        raise
    _HELD[key] = 1
    ok = False
    try:
        _clean_stale_stages(key)
        yield out
        ok = True
    finally:
        del _HELD[key]
        _unlock(out, fd)
        if not ok:
            _remove_empty(created)


def _make_folders(path: Path) -> list[Path]:
    """Create ``path`` and missing parents; the folders created, outermost first."""
    missing = []
    probe = path
    while not probe.exists():
        missing.append(probe)
        probe = probe.parent
    created = []
    try:
        for folder in reversed(missing):
            folder.mkdir()
            created.append(folder)
    except OSError as exc:
        _remove_empty(created)
        raise disk_error(path, exc) from None
    return created


def _remove_empty(created: list[Path]) -> None:
    """Remove the folders ``_make_folders`` created, innermost first, where they are empty."""
    for folder in reversed(created):
        with contextlib.suppress(OSError):
            folder.rmdir()


def _lock(out: Path) -> int:
    """Take the folder's lock file (``InputError`` if another process holds it); the fd."""
    try:
        import fcntl
    except ImportError:  # pragma: no cover - not POSIX: no lock
        return -1
    path = out / LOCK_NAME
    for _attempt in range(5):
        try:
            fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as exc:
            raise disk_error(out, exc) from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.read(fd, 32).decode(errors="replace").strip() or "?"
            os.close(fd)
            raise InputError(out, None, f"another kommunesim command (pid {holder}) is writing "
                             "to this folder; wait for it or choose another --out") from None
        try:
            same = os.stat(path).st_ino == os.fstat(fd).st_ino
        except FileNotFoundError:
            same = False
        if same:  # not a lock file its last holder removed while we opened it
            with contextlib.suppress(OSError):  # the pid only informs; a full disk may refuse it
                os.ftruncate(fd, 0)
                os.write(fd, str(os.getpid()).encode())
            return fd
        os.close(fd)
    raise InputError(out, None, "cannot lock the folder (it keeps changing); try again")


def _unlock(out: Path, fd: int) -> None:
    if fd < 0:  # pragma: no cover - not POSIX
        return
    with contextlib.suppress(OSError):
        (out / LOCK_NAME).unlink()
    os.close(fd)


def _clean_stale_stages(out: Path) -> None:
    """Remove staging folders killed runs left (inside ``out``, or beside it: older versions)."""
    stale = [*out.glob(f"{STAGE_PREFIX}*"),
             *out.parent.glob(glob.escape(f".{out.name}.tmp-") + "*")]
    for stage in stale:
        if stage.is_dir() and not stage.is_symlink():
            shutil.rmtree(stage, ignore_errors=True)


class ResultWriter:
    """Collects files in a staging folder inside ``out_dir`` and moves them in on ``commit``.

    ``prune``: on commit, remove files an earlier kommunesim manifest in ``out_dir`` listed and
    this writer does not write (a results folder never mixes two runs).
    """

    def __init__(self, out_dir: str | Path, prune: bool = True):
        self.out_dir = Path(out_dir)
        self.prune = prune
        self.created = _make_folders(self.out_dir.absolute())
        try:
            self.stage = Path(tempfile.mkdtemp(prefix=STAGE_PREFIX, dir=self.out_dir))
        except OSError as exc:
            _remove_empty(self.created)
            raise disk_error(self.out_dir, exc) from None
        self.files: list[str] = []

    def path(self, name: str) -> Path:
        """Staging path for a file that will end up as ``out_dir/name``."""
        self.files.append(name)
        return self.stage / name

    def parquet(self, name: str, df) -> None:
        """Stage a DataFrame as Parquet."""
        import pyarrow as pa
        import pyarrow.parquet as pq

        pq.write_table(pa.Table.from_pandas(df, preserve_index=False), self.path(name))

    def json(self, name: str, data: dict[str, Any]) -> None:
        """Stage a JSON document."""
        self.path(name).write_text(json.dumps(data, indent=2, ensure_ascii=False, default=str))

    def commit(self) -> list[Path]:
        """Move staged files into ``out_dir`` (each by atomic rename) and drop the stage.

        With ``prune``, files that an earlier run's ``manifest.json`` in ``out_dir`` listed and
        this run does not write are removed, so the folder never mixes two runs; other files
        are left alone.
        """
        listed = _listed_files(self.out_dir / "manifest.json") if self.prune else []
        for name in set(listed) - set(self.files):
            stale = self.out_dir / name
            if stale.parent == self.out_dir and stale.is_file():
                stale.unlink()
        moved = []
        for name in self.files:
            os.replace(self.stage / name, self.out_dir / name)
            moved.append(self.out_dir / name)
        shutil.rmtree(self.stage, ignore_errors=True)
        return moved

    def abort(self) -> None:
        """Drop the staging folder (and ``out_dir`` if it was created here); nothing is left."""
        shutil.rmtree(self.stage, ignore_errors=True)
        _remove_empty(self.created)


def _listed_files(manifest: Path) -> list[str]:
    """Files an earlier kommunesim manifest in the folder lists; [] for anything else.

    Only a manifest kommunesim wrote (a JSON object with ``kommunesim_version`` and a list of
    plain file names under ``files``; a regular file of at most ``MAX_MANIFEST_BYTES``) is
    trusted, so no other tool's file is ever removed and no FIFO is ever read.
    """
    try:
        info = manifest.stat()
        if not stat.S_ISREG(info.st_mode) or info.st_size > MAX_MANIFEST_BYTES:
            return []
        doc = json.loads(manifest.read_text())
    except (OSError, ValueError, RecursionError):
        return []
    if not isinstance(doc, dict) or "kommunesim_version" not in doc:
        return []
    files = doc.get("files")
    if not isinstance(files, list):
        return []
    return [f for f in files if isinstance(f, str) and f not in ("", ".", "..")
            and Path(f).name == f]


def write_atomically(out_dir: str | Path, fill: Callable[[ResultWriter], None],
                     prune: bool = True) -> list[Path]:
    """Run ``fill(writer)`` and commit while holding the folder's lock.

    On any error nothing reaches ``out_dir`` (a failing disk is an ``InputError``). ``prune``:
    see ``ResultWriter``.
    """
    with output_folder(out_dir):
        writer = ResultWriter(out_dir, prune)
        try:
            fill(writer)
            return writer.commit()
        except BaseException as exc:
            writer.abort()
            if is_disk_error(exc):
                raise disk_error(out_dir, exc) from None
            raise


def writes_to(param: str = "out"):
    """Decorate a CLI command that writes into the folder its argument ``param`` names.

    Before the command works, the folder is checked (a folder, writable) and locked; a second
    command writing there meanwhile is refused with one line. If the command fails, folders
    it created are removed again (``output_folder``).
    """
    def decorate(fn):
        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            with output_folder(kwargs[param]):
                return fn(*args, **kwargs)
        return wrapper
    return decorate
