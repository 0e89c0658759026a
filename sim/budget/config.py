"""Budget configuration: frozen, validated economic-plan inputs read from TOML.

One file per municipality with its own accounts (``defaults_3205.toml``, ``defaults_3222.toml``
are commented examples); every other kommune gets ``national_budget_config(knr)``: national
defaults (``defaults_national.toml``) with the kommune's own figures where the embedded data
have them (kostnadsindeks, KOSTRA).

Conventions. Money year paths (``{2024 = 185.978e6}``) are **nominal** kroner of the years
given, linear between them; before the first and after the last year given they are carried by
an index: the deflator for prices and wages, times real growth of revenue (national revenue
amounts) or of unit costs (cost amounts). Savings, premiefond use and the opening stocks are
nominal and not carried. Money scalars per inhabitant or per place are in kroner of
``price_year`` and carried the same way. Percentages are in percent (3.79 means 3.79 %);
percentage paths are flat outside the years given.
"""

from __future__ import annotations

import tomllib
from functools import cache
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BeforeValidator, Field, ValidationError, field_validator, model_validator

from sim.data import data_path
from sim.schema import (
    MAX_YEAR,
    MIN_YEAR,
    Frozen,
    NominalNonNegPath,
    NominalPath,
    NonNegPath,
    dated,
    path_within,
    read_toml,
    validation_error,
)

MAX_GROWTH_PCT = 50.0
"""Largest price or real growth either way, % per year (the deflator peaked at ~5 % in 2023)."""
MAX_NOK_PER_INHABITANT = 10_000_000
"""Largest national amount per inhabitant (NOK; tax per inhabitant is ~40,000)."""
GrowthPctPath = path_within(-MAX_GROWTH_PCT, MAX_GROWTH_PCT, "growth (% per year)")
PerInhabitantPath = path_within(0, MAX_NOK_PER_INHABITANT, "NOK per inhabitant",
                                low_open=True)
TaxLevelPath = path_within(0, 1000, "tax level (% of the national average)", low_open=True)
SharePctPath = path_within(0, 100, "a share (%)")
NominalPerInhabitantPath = Annotated[PerInhabitantPath, BeforeValidator(dated)]
"""Kroner per inhabitant by year, nominal: the year of its prices must be given."""

BUDGET_DIR = Path(__file__).parent
NATIONAL_DEFAULTS = BUDGET_DIR / "defaults_national.toml"


class Prices(Frozen):
    """The kommunal deflator: growth of the prices and wages the kommune pays, % per year."""

    deflator_pct: GrowthPctPath = Field(description="annual growth of the kommunal deflator, %")


class Growth(Frozen):
    """Real growth beyond the deflator, % per year. Equal by default, so nothing drifts."""

    revenue_pct: GrowthPctPath = Field(
        default_factory=lambda: {2024: 0.0},
        description="real growth per inhabitant of the national revenue amounts (tax, "
        "innbyggertilskudd, expenditure need)")
    cost_pct: GrowthPctPath = Field(
        default_factory=lambda: {2024: 0.0},
        description="real growth of unit costs (catalogue services and other net costs)")
    national_demography: bool = Field(
        True, description="national revenue amounts per inhabitant also grow with Norway's "
        "demografikostnader per inhabitant (the cost key on the national age structure), as "
        "the state's frame is set to cover them")


class Tax(Frozen):
    """Skatt på inntekt og formue and inntektsutjevning (counted on 1 January)."""

    national_per_inhabitant_nok: NominalPerInhabitantPath = Field(
        description="national average tax per inhabitant, nominal")
    level_pct: TaxLevelPath = Field(
        description="the kommune's tax per inhabitant relative to the national average, %")
    equalisation_share_pct: SharePctPath = Field(
        description="symmetric equalisation: share of the difference to the average, %")
    extra_compensation_pct: float = Field(
        ge=0, le=100, description="tilleggskompensasjon below extra_threshold_pct, %")
    extra_threshold_pct: float = Field(gt=0, le=100)
    extra_financing_pct: float = Field(
        ge=0, le=10, description="equal deduction per inhabitant that finances the "
        "tilleggskompensasjon, % of the national average tax")


class Kostnadsindeks(Frozen):
    """The expenditure-need index: recomputed from the population every year.

    Age criteria and the basistillegg are counted from the population (1 July of the year
    before); the other criteria of each sector key are held at their level in
    ``calibration_year`` (the published sector index minus the recomputed age part). ``fixed``
    replaces all this by one constant index.
    """

    calibration_year: int = Field(2026, ge=MIN_YEAR, le=MAX_YEAR)
    fixed: float | None = Field(None, gt=0, lt=3, description="a constant index instead")


class Rammetilskudd(Frozen):
    """Innbyggertilskudd with utgiftsutjevning (counted on 1 July of the previous year)."""

    innbyggertilskudd_per_inhabitant_nok: NominalPerInhabitantPath = Field(
        description="national innbyggertilskudd per inhabitant, nominal")
    expenditure_need_per_inhabitant_nok: NominalPerInhabitantPath = Field(
        description="national average expenditure need per inhabitant (the cost key's "
        "sectors), nominal")
    kostnadsindeks: Kostnadsindeks = Field(default_factory=Kostnadsindeks)
    other_nok: NominalPath = Field(
        default_factory=lambda: {2024: 0.0},
        description="skjønnstilskudd and other parts of the kommune's rammetilskudd, nominal")
    calibrate_frie_inntekter: dict[int, float] | None = Field(
        None, description="{year = NOK per inhabitant}: adds a constant real amount per "
        "inhabitant to other_nok so that frie inntekter per inhabitant (31 December) hit this "
        "value in that year (KOSTRA 'frie inntekter per innbygger')")
    population_history: dict[int, float] = Field(
        default_factory=dict,
        description="total population on 1 January before the base year; default: from the "
        "population table the scenario uses; given years win")

    @field_validator("population_history")
    @classmethod
    def _history(cls, value: dict[int, float]) -> dict[int, float]:
        if any(v <= 0 for v in value.values()):
            raise ValueError("population_history needs positive totals by year, "
                             "e.g. {2021 = 42740, 2022 = 44693, 2023 = 46797}")
        return dict(sorted(value.items()))

    @field_validator("calibrate_frie_inntekter")
    @classmethod
    def _one_year(cls, value: dict[int, float] | None) -> dict[int, float] | None:
        if value is not None and (len(value) != 1 or any(v <= 0 for v in value.values())):
            raise ValueError("give one year and a positive amount, e.g. {2024 = 63135}")
        return value


class Veksttilskudd(Frozen):
    """Growth grant: rate × (3-year average growth − threshold) × population 1 Jan t−1."""

    threshold_pct: float = Field(ge=0, description="average annual growth threshold, %")
    tax_ceiling_pct: float = Field(gt=0, description="no grant at or above this tax level, %")
    rate_nok: NonNegPath = Field(description="NOK per inhabitant above the threshold, nominal "
                                 "(flat after the last year given)")


class Integreringstilskudd(Frozen):
    """Integration grant per settled refugee by year since settlement (1 = settlement year)."""

    rate_nok: tuple[float, float, float, float, float] = Field(
        description="five rates, years 1..5 after settlement, price_year kroner")
    settled_history: dict[int, float] = Field(
        default_factory=dict, description="refugees settled in years before the base year; "
        "default: the history the run used (estimated_parameters.refugees_settled_history)")

    @field_validator("rate_nok")
    @classmethod
    def _rates(cls, value: tuple[float, ...]) -> tuple[float, ...]:
        if any(v < 0 for v in value):
            raise ValueError("rates must be >= 0")
        return value


class OtherRevenue(Frozen):
    """Other revenue."""

    eiendomsskatt_nok: NominalNonNegPath = Field(default_factory=lambda: {2024: 0.0},
                                                 description="property tax, nominal")
    interest_income_nok: NominalNonNegPath = Field(
        default_factory=lambda: {2024: 0.0}, description="renteinntekter and utbytte, nominal")
    sector_revenue_per_inhabitant_nok: float = Field(
        0, ge=0, description="fees, refunds and earmarked grants per inhabitant, price_year "
        "kroner: counted in brutto driftsinntekter and equally in driftsutgifter (the services "
        "are net)")


class Operating(Frozen):
    """Operating costs outside the service catalogue, and one-off measures."""

    other_net_costs_per_inhabitant_nok: float | None = Field(
        None, ge=0, description="net costs outside the catalogue per inhabitant, price_year "
        "kroner; give this or calibrate_year with calibrate_ndr_nok or calibrate_ndr_pct")
    calibrate_year: int | None = Field(None, ge=MIN_YEAR, le=MAX_YEAR)
    calibrate_ndr_nok: float | None = Field(
        None, description="netto driftsresultat before savings and premiefond in "
        "calibrate_year, nominal")
    calibrate_ndr_pct: float | None = Field(
        None, ge=-50, le=50, description="the same as % of driftsinntekter")
    premiefond_use_nok: NonNegPath = Field(
        default_factory=lambda: {2024: 0.0},
        description="pension premiums paid from the premiefond, nominal (flat after the last "
        "year given)")

    @model_validator(mode="after")
    def _one_way(self) -> Operating:
        targets = (self.calibrate_ndr_nok is not None) + (self.calibrate_ndr_pct is not None)
        if targets > 1:
            raise ValueError("give calibrate_ndr_nok or calibrate_ndr_pct, not both")
        if (self.calibrate_year is not None) != (targets == 1):
            raise ValueError("calibrate_year goes with calibrate_ndr_nok or calibrate_ndr_pct")
        if (self.other_net_costs_per_inhabitant_nok is None) == (self.calibrate_year is None):
            raise ValueError("give other_net_costs_per_inhabitant_nok or calibrate_year with "
                             "a target (exactly one of the two)")
        return self


class Savings(Frozen):
    """Savings measures: cumulative reduction of net costs per year (nominal, flat after)."""

    pace: str | None = Field(None, description="name of one of the paces below")
    amount_nok: NonNegPath | None = Field(None, description="explicit savings path")
    paces: dict[str, NonNegPath] = Field(default_factory=dict)
    target_years: dict[str, int] = Field(
        default_factory=dict, description="the year each pace aims to meet the netto "
        "driftsresultat rule (for the savings-needed tables)")

    @model_validator(mode="after")
    def _choice(self) -> Savings:
        unknown = set(self.target_years) - set(self.paces)
        if unknown:
            raise ValueError(f"target_years for undefined paces: {', '.join(sorted(unknown))}")
        if self.pace is not None and self.amount_nok is not None:
            raise ValueError("give pace or amount_nok, not both")
        if self.pace is not None and self.pace not in self.paces:
            raise ValueError(f"pace '{self.pace}' not defined; defined paces: "
                             f"{', '.join(self.paces) or '(none)'}")
        return self


def _exactly_one(model: Frozen, a: str, b: str) -> None:
    if (getattr(model, a) is None) == (getattr(model, b) is None):
        raise ValueError(f"give {a} or {b} (exactly one of the two)")


class Debt(Frozen):
    """Loan debt for own investments (startlån excluded)."""

    opening_nok: float | None = Field(None, ge=0, description="debt on 1 January of the first "
                                      "budget year")
    opening_pct: float | None = Field(None, ge=0, description="the same as % of the first "
                                      "year's driftsinntekter")
    interest_rate_pct: NonNegPath = Field(description="average interest rate on the debt, %")
    repayment_years: float = Field(gt=0, description="avdrag = opening debt / repayment_years")

    @model_validator(mode="after")
    def _opening(self) -> Debt:
        _exactly_one(self, "opening_nok", "opening_pct")
        return self


class Investments(Frozen):
    """Investment programme plus places to close capacity gaps (or the zones' buildings)."""

    programme_nok: NominalNonNegPath | None = Field(
        None, description="gross investments incl. mva, nominal (carried by the deflator "
        "outside the years given; give two equal years for a fixed nominal ceiling)")
    programme_pct: float | None = Field(
        None, ge=0, description="the same as % of each year's driftsinntekter")
    mva_share: float = Field(ge=0, lt=1, description="share of gross investment refunded as "
                             "momskompensasjon")
    loan_share: float = Field(ge=0, le=1, description="share of investment net of mva financed "
                              "by borrowing; the rest by grants, sales and investment funds")
    place_cost_nok: dict[str, float] = Field(
        default_factory=dict, description="cost per new place by service key, price_year kroner")

    @field_validator("place_cost_nok")
    @classmethod
    def _costs(cls, value: dict[str, float]) -> dict[str, float]:
        for key, v in value.items():
            if v < 0:
                raise ValueError(f"{key} = {v}: must be >= 0")
        return value

    @model_validator(mode="after")
    def _programme(self) -> Investments:
        _exactly_one(self, "programme_nok", "programme_pct")
        return self


class Fund(Frozen):
    """Disposisjonsfond, and the cover of merforbruk it cannot absorb (kommuneloven § 14-11)."""

    opening_nok: float | None = Field(None, ge=0, description="disposisjonsfond on 1 January "
                                      "of the first year")
    opening_pct: float | None = Field(None, ge=0, description="the same as % of the first "
                                      "year's driftsinntekter")
    cover_years: int = Field(2, ge=1, le=2, description="a merforbruk is covered by the "
                             "budgets of the next 1-2 years (kommuneloven § 14-11)")
    robek_accumulated_pct: float = Field(
        3.0, ge=0, description="accumulated merforbruk above this % of driftsinntekter puts the "
        "kommune in ROBEK (kommuneloven § 28-1)")

    @model_validator(mode="after")
    def _opening(self) -> Fund:
        _exactly_one(self, "opening_nok", "opening_pct")
        return self


class BaseAccounts(Frozen):
    """The last closed accounts (regnskap), shown as the base-year column of the tables."""

    year: int = Field(ge=MIN_YEAR, le=MAX_YEAR)
    lines_nok: dict[str, float] = Field(description="budget lines as in the accounts, e.g. "
                                        "skatt, rammetilskudd, driftsinntekter, "
                                        "netto_driftsresultat, disposisjonsfond_utgaende")
    source: str | None = None


class Rule(Frozen):
    """A handlingsregel: metric op threshold, checked every year.

    ``target_year`` is when it must hold (the savings needed are counted from then);
    ``average_years`` > 1 checks the mean of that many years from each year (a plan period);
    ``op = "falling"`` means the metric must fall from the year before.
    """

    name: str = Field(min_length=1)
    metric: Literal["netto_driftsresultat_pct", "disposisjonsfond_pct", "netto_lanegjeld_pct"]
    op: Literal[">=", "<=", "falling"]
    threshold_pct: float | None = None
    target_year: int | None = Field(None, ge=MIN_YEAR, le=MAX_YEAR)
    average_years: int = Field(1, ge=1, le=10)
    source: str | None = Field(None, description="where the rule is documented")

    @model_validator(mode="after")
    def _threshold(self) -> Rule:
        if (self.op == "falling") != (self.threshold_pct is None):
            raise ValueError("'>=' and '<=' need threshold_pct; 'falling' takes none")
        return self


class Kob(Frozen):
    """KØB model (Riksrevisjonen) thresholds, % of revenue."""

    driftsresultat_pct: float = 2.0
    disposisjonsfond_pct: float = 8.0
    lanegjeld_ideal_pct: float = 75.0
    lanegjeld_max_pct: float = 100.0


class BudgetConfig(Frozen):
    """A municipality's economic-plan inputs."""

    municipality: str = Field(pattern=r"^\d{4}$", description="kommunenummer")
    name: str | None = None
    price_year: int = Field(ge=MIN_YEAR, le=MAX_YEAR, description="kroner of the money scalars")
    prices: Prices
    growth: Growth = Field(default_factory=Growth)
    tax: Tax
    rammetilskudd: Rammetilskudd
    veksttilskudd: Veksttilskudd
    integreringstilskudd: Integreringstilskudd
    other_revenue: OtherRevenue = Field(default_factory=OtherRevenue)
    operating: Operating
    savings: Savings = Field(default_factory=Savings)
    debt: Debt
    investments: Investments
    fund: Fund
    base_accounts: BaseAccounts | None = None
    rules: tuple[Rule, ...] = ()
    kob: Kob = Field(default_factory=Kob)
    assumptions: tuple[str, ...] = Field(
        (), description="figures that are national defaults or assumptions (set by "
        "national_budget_config; shown in the «Les meg» sheet)")
    source: str | None = Field(None, description="file the config was read from (set on load)")


def budget_from_dict(data: dict[str, Any], source: str | Path) -> BudgetConfig:
    """Validate a parsed TOML document; ``InputError`` names the file and field."""
    try:
        return BudgetConfig.model_validate({**data, "source": str(source)})
    except ValidationError as exc:
        raise validation_error(exc, source, BudgetConfig) from None


def load_budget_config(path: str | Path) -> BudgetConfig:
    """Load and validate a budget TOML file."""
    return budget_from_dict(read_toml(path), path)


def available_budget_defaults() -> tuple[str, ...]:
    """Kommunenummer with their own built-in budget file (every other kommune: national)."""
    return tuple(sorted(p.stem.removeprefix("defaults_")
                        for p in BUDGET_DIR.glob("defaults_[0-9]*.toml")))


def default_budget_config(kommunenummer: str, name: str | None = None) -> BudgetConfig:
    """The built-in budget: the kommune's own file, else ``national_budget_config``."""
    path = BUDGET_DIR / f"defaults_{kommunenummer}.toml"
    if path.exists():
        return load_budget_config(path)
    return national_budget_config(kommunenummer, name)


@cache
def _kostra_economy() -> dict[tuple[str, str], float]:
    """KOSTRA 2024 economy figures: (region, indicator) -> value."""
    import csv

    with data_path("kostra_key_figures_2020_2024.csv").open(encoding="utf-8") as fh:
        return {(r["region"], r["indicator"]): float(r["value"]) for r in csv.DictReader(fh)
                if r["sector"] == "Økonomi" and r["year"] == "2024"}


KOSTRA_INDICATORS = {
    "ndr": "Netto driftsresultat i % av brutto driftsinntekter (%)",
    "debt": "Langsiktig gjeld (ekskl. pensjonsforpl.) i % av br. driftsinnt. (%)",
    "fund": "Fri egenkapital drift i % av br. driftsinnt. (%)",
    "frie": "Frie inntekter per innbygger (kr)",
    "invest": "Brutto investeringsutgifter i % av br. driftsinnt. (%)",
    "own": "Egenfinansiering av investeringene i % av tot. br. invest. (%)",
}
"""KOSTRA indicators the national defaults read (sim/data/kostra_key_figures_2020_2024.csv)."""

NATIONAL_REGION = "Landet u/Oslo"


def kostra_2024(region: str) -> dict[str, float]:
    """The KOSTRA 2024 economy figures the defaults use, for a region name ('' if absent)."""
    table = _kostra_economy()
    return {k: table[(region, ind)] for k, ind in KOSTRA_INDICATORS.items()
            if (region, ind) in table}


def national_budget_config(kommunenummer: str, name: str | None = None) -> BudgetConfig:
    """National defaults for a kommune without its own budget file.

    The 2024 result, the opening debt and fund and the investment level are shares of
    driftsinntekter from KOSTRA 2024: the kommune's own figures where
    ``sim/data/kostra_key_figures_2020_2024.csv`` has the kommune (by name), else the national
    figures without Oslo. ``assumptions`` says which.
    """
    with NATIONAL_DEFAULTS.open("rb") as fh:
        data = tomllib.load(fh)
    own = kostra_2024(name) if name else {}
    figures = {**kostra_2024(NATIONAL_REGION), **own}
    where = name if own else NATIONAL_REGION
    mva = data["investments"]["mva_share"]
    data.update(municipality=kommunenummer, name=name)
    data["operating"]["calibrate_ndr_pct"] = figures["ndr"]
    data["debt"]["opening_pct"] = figures["debt"]
    data["fund"]["opening_pct"] = figures["fund"]
    data["investments"]["programme_pct"] = figures["invest"]
    data["investments"]["loan_share"] = (1 - figures["own"] / 100) / (1 - mva)
    notes = [f"KOSTRA 2024, {where}: netto driftsresultat {figures['ndr']} %, langsiktig gjeld "
             f"{figures['debt']} %, fri egenkapital drift {figures['fund']} %, investeringer "
             f"{figures['invest']} % av driftsinntektene, egenfinansiering {figures['own']} %"]
    if "frie" in own:
        data["rammetilskudd"]["calibrate_frie_inntekter"] = {2024: own["frie"]}
    else:
        notes.append("ANTAKELSE: frie inntekter fra de nasjonale beløpene, kommunens "
                     "kostnadsindeks og et skattenivå på 100 % (uten kommunens eget skjønn eller "
                     "regionale tilskudd)")
    data["assumptions"] = (*notes, *data.get("assumptions", ()))
    return budget_from_dict(data, f"national defaults ({NATIONAL_DEFAULTS.name}) for "
                            f"{kommunenummer}")
