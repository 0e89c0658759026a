"""Budget configuration: frozen, validated economic-plan inputs read from TOML.

One file per municipality (``defaults_3205.toml``, ``defaults_3222.toml`` are commented
examples). Money flows are in kroner of ``price_year`` unless a field says "nominal"; the
deflator (wage and price growth) turns them into current kroner. Stocks (debt, fund) are
nominal amounts on 1 January of the first budget year. Percentages are in percent (3.79 means
3.79 %). Year paths (``{2024 = 3.79, 2028 = 3.1}``) are linear between the years given and flat
outside them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import Field, ValidationError, field_validator, model_validator

from sim.errors import InputError
from sim.schema import (
    MAX_YEAR,
    MIN_YEAR,
    Frozen,
    NonNegPath,
    PositivePath,
    YearPath,
    read_toml,
    validation_error,
)

BUDGET_DIR = Path(__file__).parent

AGE_GROUPS: dict[str, tuple[int, int]] = {
    "0-1": (0, 1), "2-5": (2, 5), "6-15": (6, 15), "16-22": (16, 22), "23-66": (23, 66),
    "67-79": (67, 79), "80-89": (80, 89), "90+": (90, 105),
}
"""The inntektssystem's age criteria (inclusive ages; 105 is the open group 105+)."""

METRICS = ("netto_driftsresultat_pct", "disposisjonsfond_pct", "netto_lanegjeld_pct")


def _age_keys(value: dict[str, Any], what: str) -> dict[str, Any]:
    missing = [g for g in AGE_GROUPS if g not in value]
    unknown = [g for g in value if g not in AGE_GROUPS]
    if unknown or missing:
        raise ValueError(f"{what} must have exactly the age groups {', '.join(AGE_GROUPS)}"
                         + (f"; unknown: {', '.join(unknown)}" if unknown else "")
                         + (f"; missing: {', '.join(missing)}" if missing else ""))
    return {g: value[g] for g in AGE_GROUPS}


class Prices(Frozen):
    """Deflator: wage and price growth weighted by the wage share (kommunal deflator)."""

    wage_growth_pct: YearPath = Field(description="annual wage growth, %")
    price_growth_pct: YearPath = Field(description="annual growth of other prices, %")
    wage_share: float = Field(ge=0, le=1, description="weight of wages in the deflator")


class Tax(Frozen):
    """Skatt på inntekt og formue, and inntektsutjevning (counted on 1 January)."""

    national_per_inhabitant_nok: float = Field(
        gt=0, description="national average tax per inhabitant, price_year kroner")
    real_growth_pct: YearPath = Field(
        description="real growth per inhabitant of the national tax and rammetilskudd amounts, %")
    level_pct: PositivePath = Field(
        description="tax per inhabitant relative to the national average, %")
    equalisation_share_pct: NonNegPath = Field(
        description="share of the difference to the national average that is equalised, %")
    extra_compensation_pct: float = Field(
        0, ge=0, le=100, description="extra compensation below extra_threshold_pct, %")
    extra_threshold_pct: float = Field(90, gt=0, le=100)


class Rammetilskudd(Frozen):
    """Innbyggertilskudd with utgiftsutjevning (counted on 1 July of the previous year)."""

    innbyggertilskudd_per_inhabitant_nok: float = Field(
        ge=0, description="equal amount per inhabitant, price_year kroner")
    expenditure_need_per_inhabitant_nok: float = Field(
        gt=0, description="national average expenditure need per inhabitant, price_year kroner")
    kostnadsindeks: float = Field(gt=0, lt=3, description="the municipality's expenditure-need "
                                  "index (1 = national average) in kostnadsindeks_year")
    kostnadsindeks_year: int = Field(ge=MIN_YEAR, le=MAX_YEAR)
    age_weights: dict[str, float] = Field(
        description="cost-key weights of the age criteria; the other criteria keep the weight "
        "1 - sum and are held at their calibration-year level")
    national_age_shares: dict[str, PositivePath] = Field(
        description="share of Norway's population in each age group (0..1), year paths")
    other_nok: YearPath = Field(
        default_factory=lambda: {2024: 0.0},
        description="skjønnstilskudd and other parts, price_year kroner")
    population_history: dict[int, float] = Field(
        default_factory=dict,
        description="total population on 1 January before the base year; default: from the "
        "population table the scenario uses (SSB 07459 or an imported one); given years win")

    @field_validator("age_weights")
    @classmethod
    def _weights(cls, value: dict[str, float]) -> dict[str, float]:
        value = _age_keys(value, "age_weights")
        if any(w < 0 for w in value.values()) or sum(value.values()) > 1:
            raise ValueError("age weights must be >= 0 and sum to at most 1")
        return value

    @field_validator("national_age_shares")
    @classmethod
    def _shares(cls, value: dict[str, dict[int, float]]) -> dict[str, dict[int, float]]:
        value = _age_keys(value, "national_age_shares")
        for g, path in value.items():
            if any(v > 1 for v in path.values()):
                raise ValueError(f"national_age_shares.{g}: shares are fractions (0..1)")
        return value

    @field_validator("population_history")
    @classmethod
    def _history(cls, value: dict[int, float]) -> dict[int, float]:
        if any(v <= 0 for v in value.values()):
            raise ValueError("population_history needs positive totals by year, "
                             "e.g. {2021 = 42740, 2022 = 44693, 2023 = 46797}")
        return dict(sorted(value.items()))


class Veksttilskudd(Frozen):
    """Growth grant: rate × (3-year average growth − threshold) × population 1 Jan t−1."""

    threshold_pct: float = Field(ge=0, description="average annual growth threshold, %")
    tax_ceiling_pct: float = Field(gt=0, description="no grant at or above this tax level, %")
    rate_nok: NonNegPath = Field(description="NOK per inhabitant above the threshold, nominal")


class Integreringstilskudd(Frozen):
    """Integration grant per settled refugee by year since settlement (1 = settlement year)."""

    rate_nok: tuple[float, float, float, float, float] = Field(
        description="five rates, years 1..5 after settlement, price_year kroner")
    settled_history: dict[int, float] = Field(
        default_factory=dict, description="refugees settled in years before the base year")

    @field_validator("rate_nok")
    @classmethod
    def _rates(cls, value: tuple[float, ...]) -> tuple[float, ...]:
        if any(v < 0 for v in value):
            raise ValueError("rates must be >= 0")
        return value


class OtherRevenue(Frozen):
    """Other revenue (price_year kroner)."""

    eiendomsskatt_nok: NonNegPath = Field(default_factory=lambda: {2024: 0.0})
    interest_income_nok: NonNegPath = Field(
        default_factory=lambda: {2024: 0.0}, description="renteinntekter and utbytte")
    sector_revenue_per_inhabitant_nok: float = Field(
        0, ge=0, description="fees, refunds and earmarked grants per inhabitant: counted in "
        "brutto driftsinntekter and, equally, in driftsutgifter (the services are net)")


class Operating(Frozen):
    """Operating costs not in the service catalogue, and one-off measures."""

    other_net_costs_per_inhabitant_nok: float | None = Field(
        None, ge=0, description="net costs outside the catalogue per inhabitant, price_year "
        "kroner; give this or calibrate_year + calibrate_ndr_nok")
    calibrate_year: int | None = Field(None, ge=MIN_YEAR, le=MAX_YEAR)
    calibrate_ndr_nok: float | None = Field(
        None, description="netto driftsresultat before savings and premiefond in "
        "calibrate_year, nominal; sets other_net_costs_per_inhabitant_nok")
    premiefond_use_nok: NonNegPath = Field(
        default_factory=lambda: {2024: 0.0},
        description="pension premiums paid from the premiefond, nominal")

    @model_validator(mode="after")
    def _one_way(self) -> Operating:
        cal = (self.calibrate_year is not None, self.calibrate_ndr_nok is not None)
        if cal[0] != cal[1]:
            raise ValueError("calibrate_year and calibrate_ndr_nok go together")
        if (self.other_net_costs_per_inhabitant_nok is None) == (not cal[0]):
            raise ValueError("give other_net_costs_per_inhabitant_nok or calibrate_year with "
                             "calibrate_ndr_nok (exactly one of the two)")
        return self


class Savings(Frozen):
    """Savings measures: cumulative reduction of net costs per year (nominal)."""

    pace: str | None = Field(None, description="name of one of the paces below")
    amount_nok: NonNegPath | None = Field(None, description="explicit savings path")
    paces: dict[str, NonNegPath] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _choice(self) -> Savings:
        if self.pace is not None and self.amount_nok is not None:
            raise ValueError("give pace or amount_nok, not both")
        if self.pace is not None and self.pace not in self.paces:
            raise ValueError(f"pace '{self.pace}' not defined; defined paces: "
                             f"{', '.join(self.paces) or '(none)'}")
        return self


class Debt(Frozen):
    """Loan debt for own investments (startlån excluded)."""

    opening_nok: float = Field(ge=0, description="debt on 1 January of the first budget year")
    interest_rate_pct: NonNegPath = Field(description="average interest rate on the debt, %")
    repayment_years: float = Field(gt=0, description="avdrag = opening debt / repayment_years")


class Investments(Frozen):
    """Investment programme plus places needed to close capacity gaps."""

    programme_nok: NonNegPath = Field(description="gross investments incl. mva, price_year kroner")
    programme_is_nominal: bool = Field(False, description="programme_nok in current kroner "
                                       "(a fixed nominal ceiling) instead of price_year kroner")
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


class Fund(Frozen):
    """Disposisjonsfond: netto driftsresultat is allocated to it (deficits are covered by it)."""

    opening_nok: float = Field(description="disposisjonsfond on 1 January of the first year")


class Rule(Frozen):
    """A handlingsregel: metric op threshold, every year from from_year."""

    name: str = Field(min_length=1)
    metric: Literal["netto_driftsresultat_pct", "disposisjonsfond_pct", "netto_lanegjeld_pct"]
    op: Literal[">=", "<="]
    threshold_pct: float
    from_year: int | None = Field(None, ge=MIN_YEAR, le=MAX_YEAR)
    source: str | None = Field(None, description="where the rule is documented")


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
    price_year: int = Field(ge=MIN_YEAR, le=MAX_YEAR, description="kroner of the money inputs")
    prices: Prices
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
    rules: tuple[Rule, ...] = ()
    kob: Kob = Field(default_factory=Kob)
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
    """Kommunenummer with built-in budget defaults."""
    return tuple(sorted(p.stem.removeprefix("defaults_")
                        for p in BUDGET_DIR.glob("defaults_*.toml")))


def default_budget_config(kommunenummer: str) -> BudgetConfig:
    """The built-in budget defaults (``3205`` Lillestrøm, ``3222`` Lørenskog)."""
    path = BUDGET_DIR / f"defaults_{kommunenummer}.toml"
    if not path.exists():
        raise InputError("municipality", None, f"no default budget for '{kommunenummer}'; "
                         f"available: {', '.join(available_budget_defaults())}")
    return load_budget_config(path)
