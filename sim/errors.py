"""One error type for bad input, rendered as a single line by the CLI (exit code 2)."""

from __future__ import annotations

import functools
from pathlib import Path


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
        """The one-line message printed to the user."""
        where = []
        if self.source:
            where.append(self.source)
        if self.field:
            where.append(f"field '{self.field}'")
        prefix = ": ".join(where)
        return f"{prefix}: {self.message}" if prefix else self.message


def clean_errors(fn):
    """Decorate a CLI command: ``InputError`` becomes one red line on stderr and exit code 2."""
    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except InputError as exc:
            import typer
            from rich.console import Console

            Console(stderr=True).print(f"[red]error:[/red] {exc.line()}", highlight=False,
                                       soft_wrap=True)
            raise typer.Exit(2) from None
    return wrapper


def console(stderr: bool = False):
    """A rich console for command output: the terminal's width, or 160 columns when piped."""
    from rich.console import Console

    plain = Console(stderr=stderr)
    return plain if plain.is_terminal else Console(width=160, stderr=stderr)


class LazyConsole:
    """``console()`` created on first use, so importing the CLI does not import rich."""

    def __getattr__(self, name: str):
        return getattr(console(), name)
