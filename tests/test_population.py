"""Embedded histories of every kommune and bydel, the kommune registry and name lookup."""

from __future__ import annotations

import numpy as np
import pytest

from sim.data.kommuner import (
    fylke_name,
    kommuner,
    lookup_kommune,
    normalise,
    select_kommuner,
)
from sim.data.population import (
    NORWAY,
    embedded_population,
    embedded_zones,
    history_from_frame,
    population_table,
)
from sim.errors import InputError


def test_every_kommune_every_year():
    table = embedded_population()
    numbers = [k.number for k in kommuner()]
    assert len(numbers) == 357
    assert set(numbers) | {NORWAY} == set(table.codes)
    # 2005: 355 kommuner (two 2024 kommuner have no 2005 figures on 2024 borders, data README).
    assert table.present[:, table.years == 2005].sum() == 356   # + Norway
    assert table.present[:, table.years >= 2006].all()
    assert np.all(table.persons >= 0)


def test_kommuner_add_up_to_norway():
    """The kommuner add up to SSB's national figure: exactly in 2024 (5,550,203, as seed 003
    quotes), within 60 persons 2006-2023 (SSB's harmonisation on 2024 borders), and short by the
    two kommuner without 2005 figures in 2005."""
    table = embedded_population()
    rows = [table.row(k.number) for k in kommuner()]
    sums = table.persons[rows].sum(axis=(0, 2, 3))
    national = table.persons[table.row(NORWAY)].sum(axis=(1, 2))
    assert sums[-1] == national[-1] == 5_550_203
    assert np.all(np.abs(sums[1:] - national[1:]) <= 60)
    assert 0 < national[0] - sums[0] < 0.005 * national[0]


def test_known_kommune_totals():
    table = embedded_population()
    assert table.array("0301", 2024).sum() == 717_710      # Oslo, issue #12
    assert table.array("3222", 2024).sum() == 48_188       # seed 004
    assert table.array("3205", 2020).sum() == 85_983       # seed 003 l.618


def test_bydeler_and_remainder():
    zones = embedded_zones()
    assert len(zones.codes) == 36
    assert {zones.parents[c] for c in zones.codes} == {"0301", "1103", "4601", "5001"}
    assert len(zones.children("0301")) == 15
    assert "Bergenhus" in zones.names.values()
    oslo = embedded_population().array("0301", 2024)
    bydeler = sum(zones.array(c, 2024) for c in zones.children("0301"))
    rest = oslo - bydeler
    assert rest.min() >= 0 and rest.sum() == 4_643        # residents without a bydel


def test_frame_round_trip():
    table = embedded_population()
    df = table.frame()
    df = df[df.kommunenummer.isin(["3222", "3205"])]
    back = history_from_frame(df, "test")
    for knr in ("3222", "3205"):
        for year in (2005, 2015, 2024):
            np.testing.assert_array_equal(back.array(knr, year), table.array(knr, year))


def test_imported_table_is_cached_and_reread_when_changed(tmp_path):
    df = embedded_population().frame()
    df = df[(df.kommunenummer == "3222") & (df.year >= 2022)].copy()
    path = tmp_path / "pop.csv"
    df.to_csv(path, index=False)
    a = population_table(path)
    assert population_table(path) is a
    df.loc[df.index[0], "persons"] += 1
    df.to_csv(path, index=False)
    import os
    os.utime(path, ns=(1, 1))  # a different modification time
    b = population_table(path)
    assert b is not a and b.array("3222", 2022).sum() == a.array("3222", 2022).sum() + 1


@pytest.mark.parametrize(("text", "number"), [
    ("Lørenskog", "3222"), ("lorenskog", "3222"), ("LØRENSKOG", "3222"), ("Bærum", "3201"),
    ("baerum", "3201"), ("Nordre Follo", "3207"), ("nordre  follo", "3207"), ("oslo", "0301"),
    ("Oslo-Oslove", "0301"), ("Kautokeino", "5612"), ("Guovdageaidnu", "5612"),
    ("Aurskog-Høland", "3226"), ("3222", "3222"), ("Ås", "3218"), ("as", "3218"),
])
def test_lookup_by_number_or_name(text, number):
    assert lookup_kommune(text) == number


def test_unknown_name_gets_closest_matches():
    with pytest.raises(InputError) as exc:
        lookup_kommune("Lorenskg")
    assert "Lørenskog (3222)" in exc.value.line()
    with pytest.raises(InputError) as exc:
        lookup_kommune("Nord")  # "Nord-Odal", "Nord-Fron": not name forms of their own
    assert "unknown kommune 'Nord'" in exc.value.line()


def test_every_name_finds_itself():
    by_name: dict[str, list[str]] = {}
    for k in kommuner():
        by_name.setdefault(normalise(k.name), []).append(k.number)
    for k in kommuner():
        if len(by_name[normalise(k.name)]) == 1:
            assert lookup_kommune(k.name) == k.number
            assert lookup_kommune(normalise(k.name)) == k.number
        else:  # Herøy, Våler, ...: the fylke tells them apart
            with pytest.raises(InputError, match="matches several kommuner"):
                lookup_kommune(k.name)
            assert lookup_kommune(f"{k.name} ({k.fylke})") == k.number
            assert lookup_kommune(f"{k.name}, {fylke_name(k.fylke)}") == k.number


def test_selection():
    assert len(select_kommuner("all")) == 357
    akershus = select_kommuner(None, "Akershus")
    assert "3222" in akershus and "3205" in akershus and len(akershus) == 21
    assert select_kommuner("3222,Bærum, lillestrøm") == ["3222", "3201", "3205"]
    assert select_kommuner("all", "Oslo") == ["0301"]
    with pytest.raises(InputError, match="unknown fylke"):
        select_kommuner(None, "Atlantis")
