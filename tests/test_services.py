"""Service catalogue, demand, demografikostnader, plots and the ``services check`` command."""

from __future__ import annotations

import tomllib
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
import tomli_w
from typer.testing import CliRunner

from sim.cli import app
from sim.errors import InputError
from sim.services import (
    catalogue_from_dict,
    check_districts,
    coverage_weights,
    default_catalogue,
    demografikostnader,
    demografikostnader_totals,
    load_catalogue,
    municipality_totals,
    service_demand,
    services_tables,
)
from sim.services.plots import plot_cost_per_inhabitant, plot_demand, plot_demografikostnader

FIXTURES = Path(__file__).parent / "fixtures" / "services"
SMALL = FIXTURES / "small.toml"
SSB = Path(__file__).parents[1] / "sim" / "data" / "ssb_07459_population_2005_2024.csv"
A = 106


@pytest.fixture
def small():
    return load_catalogue(SMALL)


def random_population(n_years=3, n_dist=2, seed=1):
    rng = np.random.default_rng(seed)
    return rng.integers(0, 50, size=(n_years, n_dist, 2, A)).astype(float)


# --- demand = Σ population × coverage, against explicit loops ------------------------------------

def test_demand_matches_explicit_loops(small):
    pop = random_population()
    years = np.array([2024, 2025, 2026])
    districts = ("Nord", "Sør")
    df = service_demand(pop, years, districts, small).set_index(["year", "district", "service"])
    # independent computation: plain loops over the raw TOML
    raw = tomllib.loads(SMALL.read_text(encoding="utf-8"))["services"]
    for y, year in enumerate(years):
        for d, dist in enumerate(districts):
            for key, svc in raw.items():
                users = cost = 0.0
                for sex in range(2):
                    for age in range(A):
                        for grp in svc["age_groups"]:
                            lo, hi = grp["ages"]
                            if lo <= age <= hi:
                                n = pop[y, d, sex, age] * grp["coverage"]
                                users += n
                                cost += n * grp.get("unit_cost_nok", svc["unit_cost_nok"])
                row = df.loc[(year, dist, key)]
                assert row["users"] == pytest.approx(users, rel=1e-12)
                assert row["cost_nok"] == pytest.approx(cost, rel=1e-12)
                assert row["staff"] == pytest.approx(users * svc["staff_per_user"], rel=1e-12)
                inhabitants = pop[y, d].sum()
                assert row["inhabitants"] == inhabitants
                assert row["cost_per_inhabitant_nok"] == pytest.approx(cost / inhabitants)


def test_hand_arithmetic_and_capacity_gap(small):
    pop = np.zeros((3, 2, 2, A))
    pop[:, 0, :, 3] = 5          # Nord: 10 three-year-olds every year
    pop[:, 1, 0, 1] = 20         # Sør: 20 one-year-old boys
    pop[:, 1, 1, 95] = 10        # Sør: 10 women aged 95
    df = service_demand(pop, [2024, 2025, 2026], ("Nord", "Sør"), small)
    df = df.set_index(["year", "district", "service"])
    nord = df.loc[(2024, "Nord", "barnehage")]
    assert nord["users"] == pytest.approx(9.0)            # 10 × 0.9
    assert nord["cost_nok"] == pytest.approx(1_800_000)   # 9 × 200 000
    assert nord["staff"] == pytest.approx(1.8)
    assert nord["capacity"] == 10 and nord["gap"] == pytest.approx(-1.0)
    sor = df.loc[(2025, "Sør", "barnehage")]
    assert sor["users"] == pytest.approx(10.0)            # 20 × 0.5
    assert sor["capacity"] == 4 and sor["gap"] == pytest.approx(6.0)
    assert df.loc[(2026, "Sør", "barnehage")]["capacity"] == 10   # Nye Sørlia opens 2026
    inst = df.loc[(2024, "Sør", "institusjon")]
    assert inst["users"] == pytest.approx(3.0)            # 10 × 0.3
    assert inst["cost_nok"] == pytest.approx(3_600_000)   # group unit cost 1.2 mill.
    assert np.isnan(inst["capacity"]) and np.isnan(inst["gap"])


def test_coverage_weights_give_users(small):
    pop = random_population()
    w = coverage_weights(small)
    assert w.shape == (2, A, 2)
    assert w[0, 3, 0] == 0.9 and w[1, 95, 1] == 0.3 and w[0, 0, 0] == 0 and w[0, 79, 1] == 0
    df = service_demand(pop, [2024, 2025, 2026], ("Nord", "Sør"), small)
    users = np.einsum("ydsa,sak->ydk", pop, w)
    np.testing.assert_allclose(df["users"].to_numpy(), users.ravel())


def test_doubling_population_doubles_demand_and_cost(small):
    pop = random_population()
    args = ([2024, 2025, 2026], ("Nord", "Sør"), small)
    one, two = service_demand(pop, *args), service_demand(2 * pop, *args)
    for col in ("users", "staff", "cost_nok"):
        np.testing.assert_allclose(two[col], 2 * one[col])
    np.testing.assert_allclose(two["cost_per_inhabitant_nok"], one["cost_per_inhabitant_nok"])
    dk1 = demografikostnader(pop, [2024, 2025, 2026], small)
    dk2 = demografikostnader(2 * pop, [2024, 2025, 2026], small)
    np.testing.assert_allclose(dk2["cost_change_nok"], 2 * dk1["cost_change_nok"])


def test_what_if_coverage_path_and_unit_cost_growth(small):
    pop = random_population()
    years = [2024, 2025, 2026]
    base = service_demand(pop, years, ("Nord", "Sør"), small)
    path = {"institusjon": {2024: 1.0, 2026: 0.5}, "barnehage/1-2": {2024: 2.0}}
    alt = service_demand(pop, years, ("Nord", "Sør"), small, coverage_path=path,
                         unit_cost_growth=0.01)
    inst_b = base[base.service == "institusjon"].set_index(["year", "district"])
    inst_a = alt[alt.service == "institusjon"].set_index(["year", "district"])
    np.testing.assert_allclose(inst_a.loc[2025, "users"], 0.75 * inst_b.loc[2025, "users"])
    np.testing.assert_allclose(inst_a.loc[2026, "cost_nok"],
                               0.5 * inst_b.loc[2026, "cost_nok"] * 1.01 ** 2)
    np.testing.assert_allclose(inst_a.loc[2024, "staff"], inst_b.loc[2024, "staff"])
    # barnehage 1-2: coverage 0.5 × 2 = 1.0 (allowed); 3-5 unchanged
    bh = alt[(alt.service == "barnehage") & (alt.year == 2024) & (alt.district == "Nord")]
    expected = pop[0, 0, :, 1:3].sum() * 1.0 + pop[0, 0, :, 3:6].sum() * 0.9
    assert bh["users"].item() == pytest.approx(expected)


@pytest.mark.parametrize("path, field, text", [
    ({"skole": {2030: 1.0}}, "skole", "unknown service or age group"),
    ({"barnehage": {2030: 1.5}}, "barnehage/3-5", "coverage must be <= 1"),
    ({"institusjon": {2030: -1.0}}, "institusjon.2030", ">= 0"),
])
def test_bad_coverage_path(small, path, field, text):
    with pytest.raises(InputError) as exc:
        service_demand(random_population(), [2024, 2025, 2026], ("Nord", "Sør"), small,
                       coverage_path=path)
    assert exc.value.field == f"services.coverage_path.{field}" and text in exc.value.message


# --- demografikostnader (TBU) -----------------------------------------------------------------

def test_demografikostnader_zero_for_unchanged_population(small):
    pop = np.repeat(random_population(n_years=1), 4, axis=0)
    dk = demografikostnader(pop, [2024, 2025, 2026, 2027], small)
    assert len(dk) == 3 * 4                                      # 3 years × 4 (service, group)
    assert (dk["change_persons"] == 0).all() and (dk["cost_change_nok"] == 0).all()
    assert (demografikostnader_totals(dk)["cost_change_nok"] == 0).all()


def test_demografikostnader_hand_example():
    cat = catalogue_from_dict({"municipality": "9999", "services": {"s": {
        "label": "S", "sector": "test", "unit_cost_nok": 100, "price_year": 2024,
        "staff_per_user": 0, "age_groups": [
            {"ages": [1, 5], "coverage": 0.5},
            {"ages": [80, 105], "coverage": 0.2, "unit_cost_nok": 1000}]}}})
    pop = np.zeros((3, 1, 2, A))
    pop[:, 0, 0, 3] = [10, 14, 14]      # children: +4, then 0
    pop[:, 0, 1, 85] = [5, 4, 7]        # old: -1, then +3
    dk = demografikostnader(pop, [2024, 2025, 2026], cat).set_index(["year", "age_group"])
    # 2025: +4 × 0.5 × 100 = +200;  -1 × 0.2 × 1000 = -200
    assert dk.loc[(2025, "1-5"), "change_persons"] == 4
    assert dk.loc[(2025, "1-5"), "cost_change_nok"] == pytest.approx(200)
    assert dk.loc[(2025, "80+"), "cost_change_nok"] == pytest.approx(-200)
    # 2026: 0 and +3 × 0.2 × 1000 = +600
    assert dk.loc[(2026, "80+"), "cost_change_nok"] == pytest.approx(600)
    tot = demografikostnader_totals(dk.reset_index()).set_index("year")
    assert tot.loc[2025, "cost_change_nok"] == pytest.approx(0)
    assert tot.loc[2026, "cost_change_nok"] == pytest.approx(600)
    assert tot.loc[2026, "cumulative_cost_change_nok"] == pytest.approx(600)
    by = demografikostnader_totals(dk.reset_index(), by="sector")
    assert list(by.columns) == ["year", "sector", "cost_change_nok", "cumulative_cost_change_nok"]


# --- calibration against the seed figures (Lillestrøm årsmelding 2023, seed 003) -------------

def ssb_population(kommunenummer: str, year: int) -> np.ndarray:
    df = pd.read_csv(SSB, dtype={"kommunenummer": str})
    df = df[(df.kommunenummer == kommunenummer) & (df.year == year)]
    pop = np.zeros((1, 1, 2, A))
    for sex, s in (("male", 0), ("female", 1)):
        part = df[df.sex == sex]
        pop[0, 0, s, part.age.to_numpy()] = part.persons.to_numpy()
    return pop


@pytest.fixture(scope="module")
def lillestrom():
    # SSB 07459 for 1 January 2024 = the stock on 31 December 2023, the reference date of the
    # årsmelding 2023 counts (check: 4 445 / 4 963 children 1-5 = 89.6 %, as the seed says).
    pop = ssb_population("3205", 2024)
    assert pop.sum() == 94_201
    cat = default_catalogue("3205")
    df = service_demand(pop, [2024], ("Lillestrøm",), cat).set_index("service")
    return pop, cat, df


def users_in(pop, cat, service, lo, hi):
    w = coverage_weights(cat)[:, :, cat.keys.index(service)]
    return float((pop[0, 0, :, lo : hi + 1] * w[:, lo : hi + 1]).sum())


# (id with seed file:line, function of (pop, cat, df), target)
SEED = "003_107a323575072c43.txt"
TARGETS = [
    (f"barnehage children 4445 ({SEED}:5075)",
     lambda p, c, d: d.loc["barnehage", "users"], 4445),
    (f"barnehage coverage 1-5 89.6% ({SEED}:5191)",
     lambda p, c, d: d.loc["barnehage", "users"] / p[0, 0, :, 1:6].sum(), 0.896),
    (f"grunnskole pupils 'omlag 11 000', rounded ({SEED}:5317)",
     lambda p, c, d: d.loc["grunnskole", "users"], 11_000),
    (f"barnevern 240 placed + 629 hjelpetiltak ({SEED}:5689, :5691)",
     lambda p, c, d: d.loc["barnevern", "users"], 869),
    (f"sosialhjelp recipients 2737 ({SEED}:6879)",
     lambda p, c, d: d.loc["sosialhjelp", "users"], 2737),
    (f"sosialhjelp recipients 18-24 448 ({SEED}:6883)",
     lambda p, c, d: users_in(p, c, "sosialhjelp", 18, 24), 448),
    (f"introduksjonsprogram participants 327 ({SEED}:6871)",
     lambda p, c, d: d.loc["introduksjonsprogram", "users"], 327),
    (f"home nursing users 1161 ({SEED}:6330)",
     lambda p, c, d: d.loc["hjemmetjenester", "users"], 1161),
    ("institusjon 80+ share 7.8% (KOSTRA 2024 Lillestrøm, Andel innb. 80+ med institusjonsopphold)",
     lambda p, c, d: (users_in(p, c, "institusjon", 80, 105) / p[0, 0, :, 80:].sum()), 0.078),
    ("barnehage net cost per inhabitant 1-5 208510 (KOSTRA 2024 Lillestrøm)",
     lambda p, c, d: d.loc["barnehage", "cost_nok"] / p[0, 0, :, 1:6].sum(), 208_510),
    ("grunnskole net cost per inhabitant 6-15 145144 (KOSTRA 2024 Lillestrøm)",
     lambda p, c, d: d.loc["grunnskole", "cost_nok"] / p[0, 0, :, 6:16].sum(), 145_144),
    (f"barnevern net cost 274635 kNOK × 1.045 ({SEED}:4961)",
     lambda p, c, d: d.loc["barnevern", "cost_nok"], 274_635e3 * 1.045),
    (f"NAV net cost 367281 kNOK × 1.045 ({SEED}:5886)",
     lambda p, c, d: d.loc["sosialhjelp", "cost_nok"], 367_281e3 * 1.045),
    (f"Helsetjenester til voksne 654048 kNOK × 1.045 ({SEED}:5883)",
     lambda p, c, d: d.loc["hjemmetjenester", "cost_nok"], 654_048e3 * 1.045),
    (f"Helsetjenester barn/unge 138791 kNOK × 1.045 ({SEED}:4960)",
     lambda p, c, d: d.loc["helsestasjon", "cost_nok"], 138_791e3 * 1.045),
]


@pytest.mark.parametrize("get, target", [(g, t) for _i, g, t in TARGETS],
                         ids=[i for i, _g, _t in TARGETS])
def test_lillestrom_default_reproduces_seed_figures(lillestrom, get, target):
    assert get(*lillestrom) == pytest.approx(target, rel=0.02)


def test_lorenskog_default_reproduces_kostra():
    pop = ssb_population("3222", 2024)
    cat = default_catalogue("3222")
    df = service_demand(pop, [2024], ("Lørenskog",), cat).set_index("service")
    # KOSTRA 2024 Lørenskog: Andel barn 1-5 år i barnehage 94.3 %; Sosialhjelpstilfeller 1 636;
    # netto driftsutgifter barnehage per innb. 1-5 år 192 981; 80+ med institusjonsopphold 8.0 %
    assert df.loc["barnehage", "users"] / pop[0, 0, :, 1:6].sum() == pytest.approx(0.943, rel=0.02)
    assert df.loc["sosialhjelp", "users"] == pytest.approx(1636, rel=0.02)
    assert df.loc["barnehage", "cost_nok"] / pop[0, 0, :, 1:6].sum() == pytest.approx(
        192_981, rel=0.02)
    assert users_in(pop, cat, "institusjon", 80, 105) / pop[0, 0, :, 80:].sum() == pytest.approx(
        0.080, rel=0.02)


def test_default_catalogue_unknown_municipality():
    with pytest.raises(InputError, match="no default service catalogue for '0301'.*3205, 3222"):
        default_catalogue("0301")


# --- bad catalogues ---------------------------------------------------------------------------

def _edit(data, what):
    svc = data["services"]
    if what == "coverage>1":
        svc["barnehage"]["age_groups"][1]["coverage"] = 1.2
    elif what == "coverage<0":
        svc["barnehage"]["age_groups"][0]["coverage"] = -0.1
    elif what == "negative cost":
        svc["barnehage"]["unit_cost_nok"] = -5
    elif what == "negative staff":
        svc["institusjon"]["staff_per_user"] = -1
    elif what == "overlap":
        svc["barnehage"]["age_groups"][1]["ages"] = [2, 5]
    elif what == "age>105":
        svc["institusjon"]["age_groups"][1]["ages"] = [90, 110]
    elif what == "missing age_groups":
        del svc["institusjon"]["age_groups"]
    elif what == "unknown service key":
        svc["barnehage"]["colour"] = "red"
    elif what == "unknown group key":
        svc["barnehage"]["age_groups"][0]["coverge"] = 0.4
    elif what == "unknown top key":
        data["servises"] = {}
    elif what == "no services":
        data["services"] = {}
    return data


BAD = [
    ("coverage>1", "services.barnehage.age_groups.1.coverage", "less than or equal to 1"),
    ("coverage<0", "services.barnehage.age_groups.0.coverage", "greater than or equal to 0"),
    ("negative cost", "services.barnehage.unit_cost_nok", "greater than or equal to 0"),
    ("negative staff", "services.institusjon.staff_per_user", "greater than or equal to 0"),
    ("overlap", "services.barnehage.age_groups", "1-2 and 2-5 overlap"),
    ("age>105", "services.institusjon.age_groups.1.ages", "0 <= first <= last <= 105"),
    ("missing age_groups", "services.institusjon.age_groups", "required key is missing"),
    ("unknown service key", "services.barnehage.colour",
     "unknown key; allowed keys: age_groups, facilities, label, note, price_year, sector"),
    ("unknown group key", "services.barnehage.age_groups.0.coverge",
     "allowed keys: ages, coverage, note, unit_cost_nok"),
    ("unknown top key", "servises", "allowed keys: municipality, name, services"),
    ("no services", "services", "at least one service"),
]


def write_bad(tmp_path, what):
    data = _edit(tomllib.loads(SMALL.read_text(encoding="utf-8")), what)
    path = tmp_path / "bad.toml"
    path.write_text(tomli_w.dumps(data), encoding="utf-8")
    return path


@pytest.mark.parametrize("what, field, text", BAD, ids=[b[0] for b in BAD])
def test_bad_catalogue_names_file_and_field(tmp_path, what, field, text):
    path = write_bad(tmp_path, what)
    with pytest.raises(InputError) as exc:
        load_catalogue(path)
    err = exc.value
    assert err.field == field
    assert text in err.message
    line = str(err)
    assert "\n" not in line and str(path) in line and f"field '{field}'" in line


def test_capacity_for_unknown_district(small):
    with pytest.raises(InputError) as exc:
        check_districts(small, ("Nord", "Øst"), "my.toml")
    assert exc.value.field == "services.barnehage.facilities.1.district"
    assert "unknown district 'Sør'" in exc.value.message and "Nord, Øst" in exc.value.message
    assert str(exc.value).startswith("my.toml: field ")
    with pytest.raises(InputError, match=str(SMALL)):
        service_demand(random_population(), [2024, 2025, 2026], ("Nord", "Øst"), small)


def test_missing_and_malformed_file(tmp_path):
    with pytest.raises(InputError, match="file not found"):
        load_catalogue(tmp_path / "nope.toml")
    bad = tmp_path / "broken.toml"
    bad.write_text("municipality = \n", encoding="utf-8")
    with pytest.raises(InputError, match="not valid TOML"):
        load_catalogue(bad)


# --- CLI ----------------------------------------------------------------------------------------

def test_cli_check_ok():
    result = CliRunner().invoke(app, ["services", str(SMALL), "--districts", "Nord",
                                               "--districts", "Sør"])
    assert result.exit_code == 0, result.output
    assert "OK, 2 services for Testby (9999)" in result.output
    assert "barnehage" in result.output and "20 places in 3 facilities" in result.output


def test_cli_check_defaults():
    for kn in ("3205", "3222"):
        path = Path(__file__).parents[1] / "sim" / "services" / f"catalogue_{kn}.toml"
        result = CliRunner().invoke(app, ["services", str(path)])
        assert result.exit_code == 0, result.output


@pytest.mark.parametrize("what", ["coverage>1", "overlap", "unknown service key"])
def test_cli_check_bad_exits_2_with_one_line(tmp_path, what):
    path = write_bad(tmp_path, what)
    result = CliRunner().invoke(app, ["services", str(path)])
    assert result.exit_code == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and str(path) in lines[0] and "field 'services." in lines[0]
    assert result.stdout == ""


def test_cli_check_unknown_district_exits_2():
    result = CliRunner().invoke(app, ["services", str(SMALL), "--districts", "Nord"])
    assert result.exit_code == 2
    assert len(result.stderr.strip().splitlines()) == 1 and "unknown district" in result.stderr


# --- tables, parquet, plots --------------------------------------------------------------------

def fake_projection():
    pop = random_population(n_years=4)
    years = np.arange(2024, 2028)
    # only years, districts and population are used (duck-typed sim.cohort.engine.Projection)
    return SimpleNamespace(years=years, districts=("Nord", "Sør"), population=pop)


def test_services_tables_and_write(tmp_path, small):
    proj = fake_projection()
    demand, dk = services_tables(proj, small)
    assert list(demand.columns[:8]) == ["year", "district", "service", "sector", "users",
                                        "staff", "cost_nok", "price_year"]
    assert {"capacity", "gap", "cost_per_inhabitant_nok"} <= set(demand.columns)
    assert len(demand) == 4 * 2 * 2 and len(dk) == 3 * 4
    assert list(dk.columns[:6]) == ["year", "service", "sector", "age_group", "change_persons",
                                    "cost_change_nok"]
    tot = municipality_totals(demand)
    bh = tot[(tot.service == "barnehage") & (tot.year == 2024)]
    assert bh["capacity"].item() == 14 and np.isnan(
        tot[tot.service == "institusjon"]["capacity"]).all()
    # dk over years sums to the change in base-coverage cost between the first and last year
    first = demand[demand.year == 2024]["cost_nok"].sum()
    last = demand[demand.year == 2027]["cost_nok"].sum()
    assert dk["cost_change_nok"].sum() == pytest.approx(last - first)


def test_plots_write_png(tmp_path, small):
    demand, dk = services_tables(fake_projection(), small)
    for fn, table, name in ((plot_demand, demand, "demand.png"),
                            (plot_cost_per_inhabitant, demand, "cost.png"),
                            (plot_demografikostnader, dk, "dk.png")):
        path = fn(table, tmp_path / name)
        assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_bad_population_shape(small):
    with pytest.raises(ValueError, match="population must be"):
        service_demand(np.zeros((2, 1, 2, 100)), [2024, 2025], ("Nord",), small)
    with pytest.raises(ValueError, match="years for"):
        service_demand(np.zeros((2, 1, 2, A)), [2024], ("Nord",), small)
