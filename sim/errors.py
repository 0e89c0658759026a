"""One error type for bad input, rendered as a single line by the CLI (exit code 2).

The promise to the user: bad input and a failing output folder give one line on stderr,
``error: <file>: field '<key>': <what is wrong and what is allowed>``, exit code 2, no
traceback, and nothing half-written (``clean_errors`` renders the line, ``writes_to`` guards
the output folder).
"""

from __future__ import annotations

import errno
import functools
from pathlib import Path

MAX_LINE = 2_000
"""Longest error line (a message quoting a huge input is cut)."""


class InputError(Exception):
    """Bad input: names the file, the field and what is allowed.

    Args:
        source: the file (or "scenario", "command line") the bad value came from.
        field: the key, column or option at fault ("fertility.tfr.2030", "age").
        message: what is wrong and what is allowed.
    """

    def __init__(self, source: str | Path | None, field: str | None, message: str):
        self.source = str(source) if source is not None else None
        self.field = field
        self.message = message
        super().__init__(self.line())

    def line(self) -> str:
        """The one-line message printed to the user (line breaks folded, at most 2,000 chars)."""
        where = []
        if self.source:
            where.append(self.source)
        if self.field:
            where.append(f"field '{self.field}'")
        prefix = ": ".join(where)
        text = f"{prefix}: {self.message}" if prefix else self.message
        text = " ".join(text.split())
        return text if len(text) <= MAX_LINE else text[:MAX_LINE - 3] + "..."


_DISK_ERRORS = {
    errno.ENOSPC: "the disk is full; free space or choose another --out",
    errno.EDQUOT: "the disk quota is used up; free space or choose another --out",
    errno.EFBIG: "a file exceeds the file-size limit (ulimit -f) or the file system's",
    errno.EROFS: "the file system is read-only; choose another --out",
    errno.EACCES: "permission denied; choose another --out",
    errno.EPERM: "permission denied; choose another --out",
    errno.ENOTDIR: "a part of the path is a file, not a folder",
    errno.EISDIR: "a folder stands where a file is written",
    errno.ENAMETOOLONG: "the path is too long",
}
"""errno -> what to tell the user when writing results fails."""


def is_disk_error(exc: BaseException) -> bool:
    """True for an ``OSError`` a failing or unsuitable output folder raises."""
    return isinstance(exc, OSError) and exc.errno in _DISK_ERRORS


def disk_error(out_dir: str | Path, exc: OSError,
               outcome: str = "nothing was written") -> InputError:
    """The one-line error for a write into ``out_dir`` that failed with ``exc``."""
    why = _DISK_ERRORS.get(exc.errno, "the file system refused")
    return InputError(out_dir, None, f"cannot write: {why} ({exc.strerror or exc}); {outcome}")


def clean_errors(fn):
    """Decorate a CLI command: ``InputError`` becomes one red line on stderr and exit code 2.

    So does an ``OSError`` of a failing disk (full, read-only, file-size limit) that no inner
    code turned into an ``InputError``.
    """
    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except InputError as exc:
            _fail(exc.line())
        except OSError as exc:
            if not is_disk_error(exc):
                raise
            _fail(disk_error(exc.filename or "output", exc, "the command stopped").line())
    return wrapper


def _fail(line: str):
    """Print ``error: line`` on stderr (one line, however wide) and exit with code 2."""
    import typer
    from rich.console import Console
    from rich.markup import escape

    Console(stderr=True).print(f"[red]error:[/red] {escape(line)}", highlight=False,
                               soft_wrap=True)
    raise typer.Exit(2) from None


def console(stderr: bool = False):
    """A rich console for command output: the terminal's width, or 160 columns when piped."""
    from rich.console import Console

    plain = Console(stderr=stderr)
    return plain if plain.is_terminal else Console(width=160, stderr=stderr)


class LazyConsole:
    """``console()`` created on first use, so importing the CLI does not import rich."""

    def __getattr__(self, name: str):
        return getattr(console(), name)
