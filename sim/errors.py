"""One error type for bad input, rendered as a single line by the CLI (exit code 2).

The promise to the user: bad input and a failing output folder give one line on stderr,
``error: <file>: field '<key>': <what is wrong and what is allowed>``, exit code 2, no
traceback, and nothing half-written (``clean_errors`` renders the line, ``writes_to`` guards
the output folder).
"""

from __future__ import annotations

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
            from sim.io import disk_error, is_disk_error

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


def writes_to(param: str = "out"):
    """Decorate a CLI command that writes into the folder its argument ``param`` names.

    Before the command works, the folder is checked (a folder, writable) and locked; a second
    command writing there meanwhile is refused with one line. If the command fails, folders
    it created are removed again (see ``sim.io.output_folder``).
    """
    def decorate(fn):
        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            from sim.io import output_folder

            with output_folder(kwargs[param]):
                return fn(*args, **kwargs)
        return wrapper
    return decorate


def console():
    """A rich console for command output: the terminal's width, or 160 columns when piped."""
    from rich.console import Console

    plain = Console()
    return plain if plain.is_terminal else Console(width=160)
