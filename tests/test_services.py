"""Service catalogue, demand, demografikostnader, plots and the ``services check`` command."""

from __future__ import annotations

import tomllib
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import tomli_w
from typer.testing import CliRunner

from sim.cli import app
from sim.demography.refugees import default_profile
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


# --- recent-refugee driver (introduksjonsprogram) ----------------------------------------------

def refugee_catalogue(municipality="9999"):
    """Barnehage (population) and two services counting recently settled refugees."""
    return catalogue_from_dict({"municipality": municipality, "services": {
        "barnehage": {"label": "B", "sector": "barnehage", "unit_cost_nok": 1000,
                      "price_year": 2024, "staff_per_user": 0.1,
                      "age_groups": [{"ages": [1, 5], "coverage": 1.0}]},
        "intro": {"label": "I", "sector": "sosialhjelp", "unit_cost_nok": 100,
                  "price_year": 2024, "staff_per_user": 0.5, "driver": "recent_refugees",
                  "driver_years": 2, "age_groups": [
                      {"ages": [18, 29], "coverage": 0.5},
                      {"ages": [30, 55], "coverage": 0.25, "unit_cost_nok": 40}]},
        "norsk": {"label": "N", "sector": "sosialhjelp", "unit_cost_nok": 10,
                  "price_year": 2024, "staff_per_user": 0, "driver": "recent_refugees",
                  "driver_years": 3, "age_groups": [{"ages": [18, 66], "coverage": 1.0}]},
    }}, "refugees.toml")


def test_recent_refugees_hand_computed():
    cat = refugee_catalogue()  # municipality 9999: no recorded settlement before 2024
    years = [2024, 2025, 2026, 2027]
    pop = np.zeros((4, 2, 2, A))
    pop[:, 0, 0, 3] = 7                      # population: 7 three-year-olds in Nord every year
    pop[:, :, 1, 40] = 1000                  # many adults: not counted by the refugee services
    ref = np.zeros((3, 2, 2, A))             # settled during 2024, 2025, 2026
    ref[0, 0, 0, 20] = 10                    # 2024 Nord: 10 men aged 20
    ref[0, 1, 1, 40] = 8                     # 2024 Sør: 8 women aged 40
    ref[0, 0, 0, 60] = 100                   # 2024 Nord: aged 60, outside intro, 67+ norsk
    ref[0, 1, 0, 10] = 50                    # 2024 Sør: children, outside all groups
    ref[1, 0, 1, 29] = 4                     # 2025 Nord: 4 women aged 29
    ref[1, 1, 0, 30] = 6                     # 2025 Sør: 6 men aged 30
    ref[2, 1, 0, 18] = 20                    # 2026 Sør: 20 men aged 18
    df = service_demand(pop, years, ("Nord", "Sør"), cat, refugees=ref)
    df = df.set_index(["year", "district", "service"])
    # intro on 1 January t: settled in t-2 and t-1; 18-29 × 0.5 (cost 100), 30-55 × 0.25 (40)
    intro = {  # (year, district): (users, cost)
        (2024, "Nord"): (0, 0), (2024, "Sør"): (0, 0),
        (2025, "Nord"): (10 * 0.5, 10 * 0.5 * 100),                           # 2024
        (2025, "Sør"): (8 * 0.25, 8 * 0.25 * 40),
        (2026, "Nord"): (10 * 0.5 + 4 * 0.5, (10 + 4) * 0.5 * 100),           # 2024 + 2025
        (2026, "Sør"): (8 * 0.25 + 6 * 0.25, (8 + 6) * 0.25 * 40),
        (2027, "Nord"): (4 * 0.5, 4 * 0.5 * 100),                             # 2025 + 2026
        (2027, "Sør"): (6 * 0.25 + 20 * 0.5, 6 * 0.25 * 40 + 20 * 0.5 * 100),
    }
    for (year, dist), (users, cost) in intro.items():
        row = df.loc[(year, dist, "intro")]
        assert row["users"] == pytest.approx(users, abs=1e-12), (year, dist)
        assert row["cost_nok"] == pytest.approx(cost, abs=1e-12), (year, dist)
        assert row["staff"] == pytest.approx(0.5 * users, abs=1e-12)
    # norsk: three settlement years, 18-66, coverage 1
    norsk = {(2024, "Nord"): 0, (2024, "Sør"): 0, (2025, "Nord"): 10 + 100, (2025, "Sør"): 8,
             (2026, "Nord"): 110 + 4, (2026, "Sør"): 8 + 6, (2027, "Nord"): 114,
             (2027, "Sør"): 14 + 20}
    for (year, dist), users in norsk.items():
        assert df.loc[(year, dist, "norsk"), "users"] == pytest.approx(users, abs=1e-12)
    # the population service is untouched
    assert df.loc[(2026, "Nord", "barnehage"), "users"] == 7
    # demografikostnader leave the refugee services out (TBU: age-group counts only)
    dk = demografikostnader(pop, years, cat)
    assert set(dk["service"]) == {"barnehage"} and len(dk) == 3


def test_recent_refugees_history_before_base_year():
    # Lillestrøm's record: 2022 364, 2023 389 (sim/data/municipalities.toml)
    cat = refugee_catalogue("3205")
    share = default_profile()
    pop = np.zeros((2, 2, 2, A))
    pop[:, 0] = 1.0
    pop[:, 1] = 3.0                              # district shares 0.25 / 0.75
    ref = np.zeros((1, 2, 2, A))
    ref[0, 0, 0, 25] = 12                        # settled 2024 in Nord
    df = service_demand(pop, [2024, 2025], ("Nord", "Sør"), cat, refugees=ref)
    df = df.set_index(["year", "district", "service"])
    per_person = 0.5 * share[:, 18:30].sum() + 0.25 * share[:, 30:56].sum()
    for dist, w in (("Nord", 0.25), ("Sør", 0.75)):
        assert df.loc[(2024, dist, "intro"), "users"] == pytest.approx((364 + 389) * per_person
                                                                      * w, rel=1e-12)
        assert df.loc[(2024, dist, "norsk"), "users"] == pytest.approx(
            (52 + 364 + 389) * share[:, 18:67].sum() * w, rel=1e-12)
    assert df.loc[(2025, "Nord", "intro"), "users"] == pytest.approx(
        389 * per_person * 0.25 + 12 * 0.5, rel=1e-12)
    # the kommunenummer of the history can differ from the catalogue's; unknown: no history
    other = service_demand(pop[:1], [2024], ("Nord", "Sør"), cat, municipality="9999")
    assert (other[other.service != "barnehage"]["users"] == 0).all()


def test_recent_refugees_need_the_settlement():
    cat = refugee_catalogue()
    pop = np.zeros((3, 1, 2, A))
    with pytest.raises(ValueError, match="recent-refugee services"):
        service_demand(pop, [2024, 2025, 2026], ("Nord",), cat)
    with pytest.raises(ValueError, match=r"refugees must be \[2, 1, 2, 106\]"):
        service_demand(pop, [2024, 2025, 2026], ("Nord",), cat, refugees=np.zeros((3, 1, 2, A)))
    # services_tables takes the settlement from the projection's refugees component
    comp = np.zeros((2, 1, 5, 2, A))
    comp[0, 0, 4, 1, 30] = 8                                 # 8 women aged 30 settled in 2024
    proj = SimpleNamespace(years=np.array([2024, 2025, 2026]), districts=("Nord",),
                           population=pop, component=lambda name: comp[:, :, 4])
    demand, dk = services_tables(proj, cat)
    intro = demand[demand.service == "intro"].set_index("year")["users"]
    assert intro.tolist() == [0.0, 2.0, 2.0]
    assert set(dk["service"]) == {"barnehage"}


def test_refugee_settlement_moves_introduksjonsprogram():
    """Twice the settlement: twice the participants once the history has left the window."""
    from sim.config import read_scenario_dict, scenario_from_dict
    from sim.run import run

    main = Path(__file__).parents[1] / "experiments" / "scenarios" / "lorenskog_main.toml"
    users = {}
    for factor in (1, 2):
        data = read_scenario_dict(main)
        data["horizon"] = 2028
        data["refugees"]["settled_per_year"] = {2024: 190 * factor, 2025: 155 * factor,
                                                2026: 100 * factor, 2028: 50 * factor}
        res = run(scenario_from_dict(data, "by hand"))
        svc = res.services[res.services.service == "introduksjonsprogram"]
        users[factor] = svc.groupby("year")["users"].sum()
    assert users[2][2024] == users[1][2024]                   # history 2022-2023 only
    assert 1.3 < users[2][2025] / users[1][2025] < 2          # history 2023 + plan 2024
    for year in (2026, 2027, 2028):                           # plan years only: exactly twice
        assert users[2][year] == pytest.approx(2 * users[1][year], rel=1e-12)
    # and with 2024 + 2025 settled: 0.7398 × (190 + 155) × share 18-55
    assert users[1][2026] == pytest.approx(0.7398 * 345 * default_profile()[:, 18:56].sum(),
                                           rel=1e-12)


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
    from sim.data.population import embedded_population

    return embedded_population().array(kommunenummer, year)[None, None]


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
    # recent-refugee driver: participation share × refugees aged 18-55 settled in 2022 (364,
    # ASSUMPTION in municipalities.toml) and 2023 (389, seed 003:6918) = 327 on 1 January 2024
    (f"introduksjonsprogram participants 327 ({SEED}:6871) from 2022-2023 settlement "
     f"({SEED}:6918)",
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


def test_default_catalogue_falls_back_to_national():
    own = default_catalogue("3205")
    national = default_catalogue("0301")
    assert own.municipality == "3205" and national.municipality == "0000"
    assert national.source.endswith("catalogue_0000.toml")
    assert national.keys == own.keys
    with pytest.raises(InputError, match="'Oslo' is not a kommunenummer"):
        default_catalogue("Oslo")


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
    elif what == "unknown driver":
        svc["institusjon"]["driver"] = "refugees"
    elif what == "driver_years 0":
        svc["institusjon"].update(driver="recent_refugees", driver_years=0)
    elif what == "driver_years 11":
        svc["institusjon"].update(driver="recent_refugees", driver_years=11)
    elif what == "driver_years without driver":
        svc["institusjon"]["driver_years"] = 3
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
     "unknown key; allowed keys: age_groups, building, capacity_scope, driver, driver_years, "
     "existing_capacity, facilities, label, note, price_year, sector"),
    ("unknown group key", "services.barnehage.age_groups.0.coverge",
     "allowed keys: ages, coverage, note, places_per_user, unit_cost_nok"),
    ("unknown top key", "servises", "allowed keys: municipality, name, services"),
    ("no services", "services", "at least one service"),
    ("unknown driver", "services.institusjon.driver",
     "'population' or 'recent_refugees' (got 'refugees')"),
    ("driver_years 0", "services.institusjon.driver_years", "greater than or equal to 1"),
    ("driver_years 11", "services.institusjon.driver_years", "less than or equal to 10"),
    ("driver_years without driver", "services.institusjon",
     'driver_years only applies to driver = "recent_refugees"'),
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
    assert "unknown zone 'Sør'" in exc.value.message and "Nord, Øst" in exc.value.message
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
    for kn in ("0000", "3205", "3222"):
        path = Path(__file__).parents[1] / "sim" / "services" / f"catalogue_{kn}.toml"
        result = CliRunner().invoke(app, ["services", str(path)])
        assert result.exit_code == 0, result.output


@pytest.mark.parametrize("what", ["coverage>1", "overlap", "unknown service key",
                                  "unknown driver"])
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
    assert len(result.stderr.strip().splitlines()) == 1 and "unknown zone" in result.stderr


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
