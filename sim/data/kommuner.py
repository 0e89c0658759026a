"""The 357 kommuner of 2024: numbers, names, fylker, and lookup by number or name.

Names are SSB's official ones (KLASS 131), some with their Sámi or Kven form
("Oslo-Oslove", "Guovdageaidnu-Kautokeino"). Lookup is case- and diacritic-insensitive and
accepts the full name, any one of its hyphenated forms ("Oslo", "Kautokeino") or the
kommunenummer; "baerum", "lorenskog" and "Nordre Follo" all work. ``search_kommuner`` is the
search-as-you-type form of the same matching (the web app's kommune picker).
"""

from __future__ import annotations

import csv
import difflib
import unicodedata
from dataclasses import dataclass
from functools import cache

from sim.data import data_path
from sim.errors import InputError

KOMMUNER_FILE = "kommuner_2024.csv"
_LETTERS = str.maketrans({"æ": "ae", "ø": "o", "å": "a", "ŋ": "n", "đ": "d", "ŧ": "t"})


@dataclass(frozen=True)
class Kommune:
    """A 2024 kommune."""

    number: str
    name: str
    fylke: str

    @property
    def short_name(self) -> str:
        """The first form of a multi-form name ("Oslo" for "Oslo-Oslove")."""
        return _forms(self.name)[0] if self.name not in _HYPHENATED else self.name


# Norwegian names that contain a hyphen but are one name (not a Sámi/Kven second form).
_HYPHENATED = {"Aurskog-Høland", "Nord-Odal", "Sør-Odal", "Stor-Elvdal", "Nord-Fron",
               "Sør-Fron", "Sør-Aurdal", "Nord-Aurdal", "Midt-Telemark", "Sør-Varanger"}


def _forms(name: str) -> list[str]:
    return [p.strip() for p in name.split("-") if p.strip()]


def normalise(text: str) -> str:
    """Lower case without diacritics, æ -> ae, ø -> o, å -> a; spaces collapsed."""
    text = text.strip().lower().translate(_LETTERS)
    text = "".join(c for c in unicodedata.normalize("NFKD", text)
                   if not unicodedata.combining(c))
    return " ".join(text.replace("_", " ").split())


@cache
def kommuner() -> tuple[Kommune, ...]:
    """All 2024 kommuner in number order."""
    with data_path(KOMMUNER_FILE).open(encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    return tuple(sorted((Kommune(r["kommunenummer"], r["kommune"], r["fylke"]) for r in rows),
                        key=lambda k: k.number))


@cache
def kommune_names() -> dict[str, str]:
    """Kommunenummer -> official name."""
    return {k.number: k.name for k in kommuner()}


def fylke_name(fylke: str) -> str:
    """The Norwegian form of a fylke name ("Innlandet" for "Innlandet-Sisdajven")."""
    return _forms(fylke)[0]


@cache
def _name_index() -> dict[str, set[str]]:
    """Normalised name or name form -> kommunenummer(s)."""
    index: dict[str, set[str]] = {}
    for k in kommuner():
        keys = {normalise(k.name)}
        if k.name not in _HYPHENATED:
            keys |= {normalise(f) for f in _forms(k.name)}
        for key in keys:
            index.setdefault(key, set()).add(k.number)
    return index


def lookup_kommune(text: str, source: str = "command line",
                   field: str = "--municipality") -> str:
    """The kommunenummer for a number or name; one-line ``InputError`` with the closest matches.

    A four-digit number is returned as it is (it may be an imported kommune not in the
    registry); names must match a 2024 kommune.
    """
    raw = str(text).strip()
    if raw.isdigit() and len(raw) == 4:
        return raw
    name, fylke = _split_fylke(raw)
    found = {n for n in _name_index().get(normalise(name), set()) if _in_fylke(n, fylke)}
    if len(found) == 1:
        return next(iter(found))
    names = kommune_names()
    if len(found) > 1:
        shown = ", ".join(f"{n} {names[n]} ({fylke_name(_by_number()[n].fylke)})"
                          for n in sorted(found))
        raise InputError(source, field, f"'{raw}' matches several kommuner: {shown}; "
                         "give the kommunenummer or the fylke, e.g. 'Herøy (Nordland)'")
    key = normalise(name)
    close = difflib.get_close_matches(key, list(_name_index()), n=4, cutoff=0.6)
    numbers = list(dict.fromkeys(n for c in close for n in sorted(_name_index()[c])))
    hint = (f"; closest: {', '.join(f'{names[n]} ({n})' for n in numbers)}" if numbers
            else "; 'kommunesim kommuner' lists them")
    raise InputError(source, field, f"unknown kommune '{raw}'{hint}")


def search_kommuner(text: str | None) -> list[str]:
    """Kommunenummer whose name or number contains ``text``, in number order (search as you type).

    Names are compared as ``lookup_kommune`` compares them (``normalise``d: case, diacritics,
    æ/ø/å), so "baerum", "BÆRUM", "nordre follo", "3201" and "Herøy (Nordland)" all find their
    kommune; an empty text finds every kommune.
    """
    name, fylke = _split_fylke(str(text or "").strip())
    key = normalise(name)
    return [k.number for k in kommuner()
            if (key in normalise(k.name) or k.number.startswith(key)) and _in_fylke(k.number,
                                                                                    fylke)]


def _in_fylke(number: str, fylke: str | None) -> bool:
    """Whether the kommune is in the fylke (a ``normalise``d fylke name; None: any fylke)."""
    if fylke is None:
        return True
    own = _by_number()[number].fylke
    return fylke in (normalise(own), normalise(fylke_name(own)))


def _split_fylke(text: str) -> tuple[str, str | None]:
    """'Herøy (Nordland)' or 'Herøy, Nordland' -> ('Herøy', 'nordland')."""
    if text.endswith(")") and "(" in text:
        name, _, rest = text[:-1].rpartition("(")
        return name.strip(), normalise(rest)
    if "," in text:
        name, _, rest = text.partition(",")
        return name.strip(), normalise(rest)
    return text, None


@cache
def _by_number() -> dict[str, Kommune]:  # noqa: N802 - a cached constant
    return {k.number: k for k in kommuner()}


def select_kommuner(spec: str | None, fylke: str | None = None,
                    source: str = "command line") -> list[str]:
    """Kommunenummer selected by ``all``, a comma list of numbers/names, and/or a fylke."""
    chosen: list[str] = []
    if spec is not None:
        if normalise(spec) == "all":
            chosen = [k.number for k in kommuner()]
        else:
            chosen = [lookup_kommune(part, source) for part in spec.split(",") if part.strip()]
    if fylke is not None:
        wanted = normalise(fylke)
        by_fylke = [k.number for k in kommuner()
                    if wanted in (normalise(k.fylke), normalise(fylke_name(k.fylke)))]
        if not by_fylke:
            fylker = sorted({fylke_name(k.fylke) for k in kommuner()})
            raise InputError(source, "--fylke", f"unknown fylke '{fylke}'; allowed: "
                             f"{', '.join(fylker)}")
        listed = spec is not None and normalise(spec) != "all"
        outside = [n for n in chosen if n not in set(by_fylke)] if listed else []
        if outside:
            raise InputError(source, "--fylke", f"{', '.join(outside)} not in {fylke}: give "
                             "either kommuner or a fylke (with -m all: every kommune in it)")
        chosen = chosen if listed else by_fylke
    return list(dict.fromkeys(chosen))
