"""Capacity by zone: place demand, facilities, whole new buildings, investments, the examples.

Known answers are worked out by hand in the comments; the example runs check identities (zone
users add up to the kommune's) and what the seeds say about 2024 (pressure in Strømmen and
Lillestrøm by, spare places at Skedsmokorset).
"""

from __future__ import annotations

import tomllib
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import tomli_w
from typer.testing import CliRunner

from sim.cli import app
from sim.cohort.kernel import REFUGEES
from sim.config import load_scenario, scenario_from_dict
from sim.data.population import embedded_population
from sim.errors import InputError
from sim.inputfiles import read_base_population
from sim.run import run
from sim.services import (
    Building,
    catalogue_from_dict,
    default_catalogue,
    investments_table,
    load_catalogue,
    municipality_totals,
    service_demand,
)
from sim.services.demand import INVESTMENT_COLUMNS, place_buildings
from tests.conftest import folder_is_empty_or_missing

ROOT = Path(__file__).parents[1]
EXAMPLES = ROOT / "experiments"
A = 106
YEARS = np.arange(2024, 2031)


def catalogue(**service) -> object:
    """A one-service catalogue (service 'hjem': everyone 80+ is a user) with overrides."""
    base = {"label": "Hjem", "sector": "pleie og omsorg", "unit_cost_nok": 1_000_000,
            "price_year": 2024, "staff_per_user": 1.0,
            "age_groups": [{"ages": [80, 105], "coverage": 1.0}]}
    return catalogue_from_dict({"municipality": "9999", "services": {"hjem": base | service}})


def population(demand: np.ndarray) -> np.ndarray:
    """[Y, D, 2, A] with ``demand[y, d]`` women aged 85 (so place demand = demand)."""
    pop = np.zeros((*demand.shape, 2, A))
    pop[:, :, 1, 85] = demand
    return pop


# --- place demand: a child under 3 takes two places --------------------------------------------

def test_place_demand_counts_under_threes_twice():
    cat = catalogue_from_dict({"municipality": "9999", "services": {"barnehage": {
        "label": "Barnehage", "sector": "barnehage", "unit_cost_nok": 200_000,
        "price_year": 2024, "staff_per_user": 0.2,
        "age_groups": [{"ages": [1, 2], "coverage": 0.5, "places_per_user": 2},
                       {"ages": [3, 5], "coverage": 0.9}]}}})
    pop = np.zeros((1, 1, 2, A))
    pop[0, 0, 0, 1] = 6          # 6 boys aged 1
    pop[0, 0, 1, 2] = 4          # 4 girls aged 2
    pop[0, 0, 0, 4] = 20         # 20 boys aged 4
    row = service_demand(pop, [2024], ("Sone",), cat).iloc[0]
    # users = 10 × 0.5 + 20 × 0.9 = 5 + 18 = 23; places = 5 × 2 + 18 × 1 = 28
    assert row["users"] == pytest.approx(23.0)
    assert row["place_demand"] == pytest.approx(28.0)
    assert row["cost_nok"] == pytest.approx(23 * 200_000)       # cost follows users, not places
    assert np.isnan(row["capacity"]) and np.isnan(row["gap"])   # no facilities: places unknown


# --- whole buildings placed by hand -----------------------------------------------------------

def test_place_buildings_by_hand():
    b = Building(name="Hus", places=50, cost_nok=1e8, threshold=5, first_year=2025,
                 look_ahead_years=0)
    # Nord: capacity 100 + 10 (closes 2029) + 20 (opens 2026); Sør: no places
    demand = np.array([[115, 0], [118, 5], [140, 5], [190, 120], [185, 100], [230, 100],
                       [231, 250]], dtype=float)
    capacity = np.array([[110, 0], [110, 0], [130, 0], [130, 0], [130, 0], [120, 0], [120, 0]],
                        dtype=float)
    built = place_buildings(demand, capacity, YEARS, b)
    # Nord: 2024 gap 5 but before first_year; 2025 gap 8 > 5 -> 1; 2026 -40; 2027 gap
    # 190-130-50 = 10 -> 1; 2028 -45; 2029 gap 230-120-100 = 10 -> 1; 2030 -39.
    np.testing.assert_array_equal(built[:, 0], [0, 50, 50, 100, 100, 150, 150])
    # Sør: gap 5 = threshold is not above it (2025, 2026); 2027 gap 120 -> ceil(2.4) = 3;
    # 2030 gap 250-150 = 100, exactly two buildings (not three).
    np.testing.assert_array_equal(built[:, 1], [0, 0, 0, 150, 150, 150, 250])
    # Looking three years ahead, Nord's 2025 gap of 8 is left open: the 20 places opening in
    # 2026 close it (118 - 130 < 0). 2026: 140 - 130 = 10 -> 1; 2027: 190 - 130 - 50 = 10
    # -> 1; 2029: 230 - 120 - 100 = 10 -> 1 (the 2029 closing is not anticipated in 2026-28).
    ahead = place_buildings(demand, capacity, YEARS, b.model_copy(update={"look_ahead_years": 3}))
    np.testing.assert_array_equal(ahead[:, 0], [0, 0, 50, 100, 100, 150, 150])
    np.testing.assert_array_equal(ahead[:, 1], built[:, 1])   # no planned places in Sør


def test_gap_and_investments_through_service_demand():
    cat = catalogue(
        facilities=[{"name": "Gamle", "district": "Nord", "places": 100},
                    {"name": "Brakka", "district": "Nord", "places": 10, "closes": 2029},
                    {"name": "Nye", "district": "Nord", "places": 20, "opens": 2026},
                    {"name": "Tomt", "district": "Sør", "places": 0}],
        building={"name": "Hus", "places": 50, "cost_nok": 1e8, "threshold": 5,
                  "first_year": 2025, "look_ahead_years": 0})
    demand = np.array([[115, 0], [118, 5], [140, 5], [190, 120], [185, 100], [230, 100],
                       [231, 250]], dtype=float)
    df = service_demand(population(demand), YEARS, ("Nord", "Sør"), cat)
    nord = df[df.district == "Nord"]
    np.testing.assert_allclose(nord["place_demand"], demand[:, 0])
    np.testing.assert_array_equal(nord["capacity"], [110, 110, 130, 130, 130, 120, 120])
    np.testing.assert_array_equal(nord["new_places"], [0, 50, 50, 100, 100, 150, 150])
    np.testing.assert_array_equal(nord["places"], [110, 160, 180, 230, 230, 270, 270])
    np.testing.assert_allclose(nord["gap"], [5, -42, -40, -40, -45, -40, -39])
    np.testing.assert_allclose(nord["shortage"], [5, 0, 0, 0, 0, 0, 0])
    inv = investments_table(df, cat)
    assert list(inv.columns) == list(INVESTMENT_COLUMNS)
    expected = [(2025, "Nord", "Hus, Nord 2025"), (2027, "Nord", "Hus, Nord 2027"),
                (2027, "Sør", "Hus, Sør 2027 nr. 1"), (2027, "Sør", "Hus, Sør 2027 nr. 2"),
                (2027, "Sør", "Hus, Sør 2027 nr. 3"), (2029, "Nord", "Hus, Nord 2029"),
                (2030, "Sør", "Hus, Sør 2030 nr. 1"), (2030, "Sør", "Hus, Sør 2030 nr. 2")]
    assert list(zip(inv.year, inv.district, inv.facility, strict=True)) == expected
    assert (inv.places == 50).all() and (inv.cost_nok == 1e8).all()
    assert (inv.service == "hjem").all()
    # the kommune: gap = Σ zone gaps, shortage = Σ zone shortages (Sør 2024: 0 - 0)
    tot = municipality_totals(df)
    np.testing.assert_allclose(tot["gap"], nord["gap"].to_numpy()
                               + df[df.district == "Sør"]["gap"].to_numpy())
    assert tot["shortage"].iloc[0] == pytest.approx(5.0)


def test_base_year_demand_capacity_and_later_facilities():
    # today's places = 2024 demand per zone (40, 10); +30 in Nord from 2027, a unit of 5 in Sør
    # that exists today closes in 2026: Sør capacity 10 until 2025, then 5.
    cat = catalogue(existing_capacity="base_year_demand",
                    facilities=[{"name": "Ny", "district": "Nord", "places": 30, "opens": 2027},
                                {"name": "Gammel", "district": "Sør", "places": 5,
                                 "closes": 2026}],
                    building={"name": "Hus", "places": 12, "cost_nok": 5e7, "threshold": 2,
                              "look_ahead_years": 0})
    demand = np.array([[40, 10], [45, 10], [50, 10], [55, 11], [60, 11], [72, 19], [73, 30]],
                      dtype=float)
    df = service_demand(population(demand), YEARS, ("Nord", "Sør"), cat)
    nord, sor = df[df.district == "Nord"], df[df.district == "Sør"]
    np.testing.assert_array_equal(nord["capacity"], [40, 40, 40, 70, 70, 70, 70])
    np.testing.assert_array_equal(sor["capacity"], [10, 10, 5, 5, 5, 5, 5])
    # Nord: 2025 gap 5 > 2 -> 1 (12); 2026 50-52 = -2; 2027.. covered by +30 until 2029:
    # 72-70-12 = -10; 2030 -9.  Sør: 2026 gap 5 -> 1 (12); 2027 -6; 2028 -6; 2029 19-17 = 2
    # (not above 2); 2030 30-17 = 13 -> ceil(13/12) = 2 (24).
    np.testing.assert_array_equal(nord["new_places"], [0, 12, 12, 12, 12, 12, 12])
    np.testing.assert_array_equal(sor["new_places"], [0, 0, 12, 12, 12, 12, 36])
    assert len(investments_table(df, cat)) == 1 + 3


def test_kommune_wide_capacity_builds_on_the_total_gap():
    # a sykehjem serves the whole kommune: Nord's spare places cover Sør's users
    cat = catalogue(capacity_scope="kommune",
                    facilities=[{"name": "Sykehjemmet", "district": "Nord", "places": 100}],
                    building={"name": "Sykehjem", "places": 40, "cost_nok": 2e8,
                              "threshold": 0})
    demand = np.array([[60, 40], [60, 45], [60, 50], [70, 70], [70, 70], [70, 70], [90, 95]],
                      dtype=float)
    df = service_demand(population(demand), YEARS, ("Nord", "Sør"), cat)
    # total gap: 0, 5 -> 1 (40), 10-40 < 0, 140-140 = 0, 0, 0, 185-140 = 45 -> 2 (80)
    # each building goes to the zone with the most demand that year: Nord 2025, Sør 2030
    new = df.pivot(index="year", columns="district", values="new_places")
    np.testing.assert_array_equal(new["Nord"], [0, 40, 40, 40, 40, 40, 40])
    np.testing.assert_array_equal(new["Sør"], [0, 0, 0, 0, 0, 0, 80])
    tot = municipality_totals(df)
    gap = demand.sum(axis=1) - [100, 140, 140, 140, 140, 140, 220]
    np.testing.assert_allclose(tot["gap"], gap)
    # no zone of a kommune-wide service is "short": only the kommune is (here never)
    assert df["shortage"].isna().all()
    np.testing.assert_allclose(tot["shortage"], np.clip(gap, 0, None))
    # an explicit zone takes every building
    cat2 = catalogue(capacity_scope="kommune",
                     facilities=[{"name": "Sykehjemmet", "district": "Nord", "places": 100}],
                     building={"name": "Sykehjem", "places": 40, "cost_nok": 2e8,
                               "zone": "Sør"})
    df2 = service_demand(population(demand), YEARS, ("Nord", "Sør"), cat2)
    assert (df2[df2.district == "Nord"]["new_places"] == 0).all()
    assert df2[df2.district == "Sør"]["new_places"].iloc[-1] == 120


# --- bad facility and building input: one line, exit code 2 ------------------------------------

SMALL = ROOT / "tests" / "fixtures" / "services" / "small.toml"


def _bad(data: dict, what: str) -> dict:
    bh = data["services"]["barnehage"]
    building = {"name": "Hus", "places": 108, "cost_nok": 7e7}
    if what == "negative places":
        bh["facilities"][0]["places"] = -10
    elif what == "building without cost":
        bh["building"] = {"name": "Hus", "places": 108}
    elif what == "fractional building":
        bh["building"] = building | {"places": 5.47}
    elif what == "building of no places":
        bh["building"] = building | {"places": 0}
    elif what == "building without capacity":
        data["services"]["institusjon"]["building"] = building
    elif what == "closes before opens":
        bh["facilities"][2]["closes"] = 2025
    elif what == "facility twice":
        bh["facilities"][1]["name"] = "Nye Sørlia"
    elif what == "negative places per user":
        bh["age_groups"][0]["places_per_user"] = -2
    elif what == "zone for zone capacity":
        bh["building"] = building | {"zone": "Nord"}
    elif what == "unknown capacity":
        bh["existing_capacity"] = "guess"
    elif what == "unknown building key":
        bh["building"] = building | {"size": 3}
    return data


BAD = [
    ("negative places", "services.barnehage.facilities.0.places", "greater than or equal to 0"),
    ("building without cost", "services.barnehage.building.cost_nok", "required key is missing"),
    ("fractional building", "services.barnehage.building.places", "integer"),
    ("building of no places", "services.barnehage.building.places", "greater than 0"),
    ("building without capacity", "services.institusjon", "a building needs today's capacity"),
    ("closes before opens", "services.barnehage.facilities.2",
     "closes (2025) must be after opens (2026)"),
    ("facility twice", "services.barnehage", "facility Nye Sørlia (Sør) is listed twice"),
    ("negative places per user", "services.barnehage.age_groups.0.places_per_user",
     "greater than or equal to 0"),
    ("zone for zone capacity", "services.barnehage",
     'building.zone only applies to capacity_scope = "kommune"'),
    ("unknown capacity", "services.barnehage.existing_capacity", "'base_year_demand'"),
    ("unknown building key", "services.barnehage.building.size", "unknown key"),
]


def write_bad(tmp_path: Path, what: str) -> Path:
    data = _bad(tomllib.loads(SMALL.read_text(encoding="utf-8")), what)
    path = tmp_path / "bad.toml"
    path.write_text(tomli_w.dumps(data), encoding="utf-8")
    return path


@pytest.mark.parametrize("what, field, text", BAD, ids=[b[0] for b in BAD])
def test_bad_facility_or_building_is_one_line_exit_2(tmp_path, what, field, text):
    path = write_bad(tmp_path, what)
    with pytest.raises(InputError) as exc:
        load_catalogue(path)
    assert exc.value.field == field and text in exc.value.message
    result = CliRunner().invoke(app, ["services", str(path)])
    assert result.exit_code == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and str(path) in lines[0] and f"field '{field}'" in lines[0]
    assert "Traceback" not in result.output and result.stdout == ""


def test_extends_errors(tmp_path):
    missing = tmp_path / "child.toml"
    missing.write_text('extends = "nowhere.toml"\n', encoding="utf-8")
    with pytest.raises(InputError, match="file not found"):
        load_catalogue(missing)
    a, b = tmp_path / "a.toml", tmp_path / "b.toml"
    a.write_text('extends = "b.toml"\n', encoding="utf-8")
    b.write_text('extends = "a.toml"\n', encoding="utf-8")
    with pytest.raises(InputError, match="circular"):
        load_catalogue(a)
    bad = tmp_path / "bad.toml"
    bad.write_text('extends = "default:Oslo"\n', encoding="utf-8")
    with pytest.raises(InputError, match="not a kommunenummer"):
        load_catalogue(bad)


def test_extends_merges_over_the_builtin_catalogue(tmp_path):
    child = tmp_path / "mine.toml"
    child.write_text('extends = ["default:0000", "default:3222"]\nname = "Mitt"\n'
                     '[services.barnehage]\nexisting_capacity = "facilities"\n'
                     'building = { threshold = 3 }\n[[services.barnehage.facilities]]\n'
                     'name = "A"\ndistrict = "Nord"\nplaces = 90\n', encoding="utf-8")
    cat, base = load_catalogue(child), default_catalogue("3222")
    bh = cat.services["barnehage"]
    assert cat.municipality == "3222" and cat.name == "Mitt" and cat.keys == base.keys
    assert bh.age_groups == base.services["barnehage"].age_groups       # 3222's, not 0000's
    assert bh.unit_cost_nok == base.services["barnehage"].unit_cost_nok
    # building: name, size and cost from the national catalogue, threshold mine
    assert (bh.building.name, bh.building.places, bh.building.cost_nok,
            bh.building.threshold) == ("6-avdelings barnehage", 108, 78_750_000, 3)
    assert [f.name for f in bh.facilities] == ["A"]
    # the built-in catalogues themselves compute no places (capacity unknown)
    assert base.services["barnehage"].building is None
    assert not base.services["barnehage"].has_capacity


def test_run_with_unknown_zone_exits_2_writing_nothing(tmp_path):
    cat = tmp_path / "cat.toml"
    cat.write_text('extends = "default:3222"\n[[services.barnehage.facilities]]\n'
                   'name = "A"\ndistrict = "Øst"\nplaces = 90\n', encoding="utf-8")
    sc = tmp_path / "sc.toml"
    sc.write_text('municipality = "3222"\nhorizon = 2026\n[[districts]]\nname = "Nord"\n'
                  'share = 0.5\n[[districts]]\nname = "Sør"\nshare = 0.5\n'
                  '[services]\ncatalogue = "cat.toml"\n', encoding="utf-8")
    out = tmp_path / "out"
    result = CliRunner().invoke(app, ["run", str(sc), "--out", str(out), "--no-plots"])
    assert result.exit_code == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "unknown zone 'Øst'" in lines[0] and "Nord, Sør" in lines[0]
    assert "services.barnehage.facilities.0.district" in lines[0]
    assert folder_is_empty_or_missing(out)


def test_cli_check_shows_facilities_and_buildings():
    path = EXAMPLES / "catalogues" / "lillestrom_facilities.toml"
    names, _base = read_base_population(EXAMPLES / "zones" / "lillestrom_zones.csv")
    args = ["services", str(path)] + [a for z in names for a in ("--districts", z)]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert "1-2: 0.821 (2 places/user)" in out
    assert "zone Strømmen: Sagelva barnehage 231 (kommunal)" in out
    assert "Ny barnehage Strømmen 234 (kommunal, opens 2031)" in out
    assert "Bingsfoss ungdomsskole (før utvidelse) 450 (ungdomsskole, closes 2026)" in out
    assert ("new building: 6-avdelings barnehage, 108 places, 78,750,000 NOK (2024), when a "
            "zone's gap exceeds 18 places after the openings planned within 3 years, "
            "from 2027") in out
    assert "places serve the whole kommune" in out


# --- the example zones and catalogues ----------------------------------------------------------

@pytest.mark.parametrize("knr, file", [("3205", "lillestrom_zones.csv"),
                                       ("3222", "lorenskog_zones.csv")])
def test_example_zones_add_up_to_ssb_exactly(knr, file):
    names, base = read_base_population(EXAMPLES / "zones" / file)
    kommune = embedded_population().array(knr, 2024)
    np.testing.assert_array_equal(base.sum(axis=0), kommune)     # every sex × age cell
    assert (base >= 0).all() and (base == np.round(base)).all()
    assert len(names) == {"3205": 7, "3222": 4}[knr]


@pytest.fixture(scope="module")
def lillestrom_zones():
    sc = load_scenario(EXAMPLES / "scenarios" / "lillestrom_zones.toml")
    return run(sc.model_copy(update={"horizon": 2036}))


def test_zone_users_add_up_to_the_kommune(lillestrom_zones):
    res = lillestrom_zones
    proj = res.projection
    assert len(proj.districts) == 7
    # the same catalogue's coverage on the kommune as one district (facilities are by zone,
    # so the built-in catalogue, whose coverage the example inherits, is used)
    whole = service_demand(proj.population.sum(axis=1, keepdims=True), proj.years,
                           ("Lillestrøm",), default_catalogue("3205"),
                           refugees=res.inputs.refugees.sum(axis=1, keepdims=True),
                           municipality="3205")
    tot = municipality_totals(res.services)
    for col in ("users", "place_demand", "staff", "cost_nok"):
        np.testing.assert_allclose(tot[col].to_numpy(), whole[col].to_numpy(), rtol=1e-12,
                                   atol=1e-9)


def test_example_reproduces_the_seeds_2024_pressure(lillestrom_zones):
    s = lillestrom_zones.services
    bh = s[(s.service == "barnehage") & (s.year == 2024)].set_index("district")
    assert bh.loc["Strømmen", "gap"] > 0 and bh.loc["Lillestrøm by", "gap"] > 0
    assert bh.loc["Skedsmokorset", "gap"] < 0          # Fjellboveien: too few children
    # Bingsfoss: 450 places close and 540 open in 2026 (+90), Vesterskaun opens in 2028
    gs = s[(s.service == "grunnskole") & (s.district == "Sørum")].set_index("year")
    assert gs.loc[2026, "capacity"] - gs.loc[2025, "capacity"] == 90
    assert gs.loc[2028, "capacity"] - gs.loc[2027, "capacity"] == 294


def test_example_investments_are_whole_buildings(lillestrom_zones):
    res = lillestrom_zones
    inv, s, cat = res.investments, res.services, res.catalogue
    assert isinstance(inv, pd.DataFrame) and list(inv.columns) == list(INVESTMENT_COLUMNS)
    assert len(inv) > 0
    for row in inv.itertuples():
        b = cat.services[row.service].building
        assert row.places == b.places and row.cost_nok == b.cost_nok
        assert row.year >= b.first_year
    built = inv.groupby(["district", "service"])["places"].sum()
    last = s[s.year == s.year.max()].set_index(["district", "service"])["new_places"]
    for key, places in built.items():
        assert last[key] == places
    assert last.fillna(0).sum() == inv["places"].sum()
    # after the buildings no zone of a zone-capacity service is short by more than the
    # threshold in a year buildings may open, counting the places planned within the
    # building's look-ahead as there (a shortage they close is left open until then)
    for key in ("barnehage", "grunnskole"):
        b = cat.services[key].building
        part = s[s.service == key].sort_values(["district", "year"])
        window = b.look_ahead_years + 1
        planned = part.groupby("district")["capacity"].transform(
            lambda c, w=window: c[::-1].rolling(w, min_periods=1).max()[::-1])
        short = part["gap"] - (planned - part["capacity"])
        assert (short[part.year >= b.first_year] <= b.threshold + 1e-9).all()


def test_national_catalogue_for_a_kommune_without_its_own():
    res = run(scenario_from_dict({"municipality": "3201", "horizon": 2026}))   # Bærum
    assert res.catalogue.municipality == "0000" and res.services is not None
    pop = embedded_population().array("3201", 2024)
    assert pop[:, 6:16].sum() == 17_306 and pop[:, 1:3].sum() == 2_781
    assert pop[:, 3:6].sum() == 4_582
    s = res.services[res.services.year == 2024].set_index("service")
    # 17 306 inhabitants 6-15 × 0.9635 (national share in municipal schools)
    assert s.loc["grunnskole", "users"] == pytest.approx(17_306 * 0.9635, rel=1e-12)
    # barnehage: 2 781 × 0.894 × 2 places + 4 582 × 0.974 = 9 435.296 places
    assert s.loc["barnehage", "place_demand"] == pytest.approx(9_435.296, rel=1e-12)
    assert s.loc["barnehage", "capacity"] == s.loc["barnehage", "place_demand"]  # base year
    assert isinstance(res.investments, pd.DataFrame)


def test_abm_investments_come_from_the_mean_projection():
    from sim.run import run_abm_scenario

    sc = load_scenario(EXAMPLES / "scenarios" / "lorenskog_zones.toml")
    res = run_abm_scenario(sc.model_copy(update={"horizon": 2028}), runs=2)
    assert list(res.investments.columns) == list(INVESTMENT_COLUMNS)
    pd.testing.assert_frame_equal(res.investments, investments_table(res.services,
                                                                     res.catalogue))
    # the services are those of the mean over runs, zone by zone
    mean = res.abm.mean_projection()
    again = service_demand(mean.population, mean.years, mean.districts, res.catalogue,
                           refugees=res.abm.components[:, :, :, REFUGEES].mean(axis=0),
                           municipality="3222")
    np.testing.assert_allclose(res.services["new_places"].fillna(-1),
                               again["new_places"].fillna(-1))


def test_zone_gap_plot_writes_png(lillestrom_zones, tmp_path):
    from sim.services.plots import plot_demand, plot_zone_gaps

    for fn, name in ((plot_zone_gaps, "gap.png"), (plot_demand, "demand.png")):
        path = fn(lillestrom_zones.services, tmp_path / name)
        assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    # a catalogue without places still gives a (labelled, empty) figure
    df = service_demand(population(np.ones((2, 1))), [2024, 2025], ("Sone",), catalogue())
    assert plot_zone_gaps(df, tmp_path / "none.png").exists()
