"""Housing-led in-migration: dwellings completed by zone, year and type bring in-movers.

A scenario's ``[housing]`` programme lists projects (dwellings completed per year in a zone, by
type) and, optionally, the other completions of the kommune. Each completed dwelling is taken
up in its completion year by one household of in-movers drawn from its type's profile
(``DwellingProfile``: household templates with adults, children and their ages), who then age,
have children, die and move like everyone else (KOMPAS/PANDA and the GLA's housing-led model
work the same way). The existing stock keeps its estimated turnover: the trend in-migration
estimated from the kommune's history already contains the movers into the dwellings built in
those years (``baseline_completions_per_year``), so they are taken out of it, and the
programme's movers added instead. With the default "other completions = the baseline", a
project adds its movers on top of the trend; with fewer completions than the baseline, the
kommune grows more slowly than the trend.

Both engines use the same numbers: the cohort engine adds the expected movers
(``expected_movers``) to its in-migrants; the agent-based engine moves whole households drawn
from the same templates into the dwellings (its mean equals the expected movers).

Ages in the templates are cohort ages: the age on 1 January after moving in. Persons per
dwelling by type follow SSB's registers (Boforhold, registerbasert, 1 January 2020: persons in
private households / households by building type), see ``default_profiles``.
"""

from __future__ import annotations

from typing import Any, Literal

import numpy as np
from pydantic import Field, field_validator, model_validator

from sim.demography import N_AGES
from sim.schema import Frozen, path_within

DWELLING_TYPES = ("enebolig", "smahus", "blokk", "other", "omsorgsbolig", "student")
"""Dwelling types, in the order the agent-based engine indexes them."""
DwellingType = Literal["enebolig", "smahus", "blokk", "other", "omsorgsbolig", "student"]
_ALIASES = {"småhus": "smahus", "rekkehus": "smahus", "leilighet": "blokk",
            "boligblokk": "blokk", "annen": "other", "studentbolig": "student"}


class HouseholdTemplate(Frozen):
    """One kind of mover household: adults and children with ages uniform in ranges.

    With two adults, one is a man and one a woman; a single adult is a man or a woman with
    equal probability; each child is a boy or a girl with equal probability.
    """

    share: float = Field(gt=0.0, le=1.0)
    adults: int = Field(ge=0, le=2)
    adult_age: tuple[int, int] = (25, 39)
    children: int = Field(0, ge=0, le=6)
    child_age: tuple[int, int] = (0, 5)
    source: str = "ASSUMPTION"

    @model_validator(mode="after")
    def _check(self) -> HouseholdTemplate:
        for name in ("adult_age", "child_age"):
            lo, hi = getattr(self, name)
            if not 0 <= lo <= hi <= N_AGES - 1:
                raise ValueError(f"{name} ({lo}, {hi}) must satisfy 0 <= lo <= hi <= 105")
        if self.adults + self.children == 0:
            raise ValueError("a household needs at least one member")
        return self

    @property
    def size(self) -> int:
        """Persons in the household."""
        return self.adults + self.children


class DwellingProfile(Frozen):
    """Household templates of movers into one dwelling type; shares sum to 1."""

    templates: tuple[HouseholdTemplate, ...]
    source: str = "ASSUMPTION"

    @model_validator(mode="after")
    def _check(self) -> DwellingProfile:
        total = sum(t.share for t in self.templates)
        if abs(total - 1.0) > 1e-6:
            raise ValueError(f"template shares must sum to 1, got {total:g}")
        return self

    @property
    def persons_per_dwelling(self) -> float:
        """Expected movers per completed dwelling."""
        return sum(t.share * t.size for t in self.templates)


def expected_movers(profile: DwellingProfile) -> np.ndarray:
    """Expected movers into one dwelling by sex and cohort age, [2, A] (sums to persons/dwelling).

    Each template contributes ``share x (adults / 2)`` persons of each sex spread uniformly
    over its adult ages, and ``share x (children / 2)`` of each sex over its child ages.
    """
    out = np.zeros((2, N_AGES))
    for t in profile.templates:
        for n, (lo, hi) in ((t.adults, t.adult_age), (t.children, t.child_age)):
            if n:
                out[:, lo : hi + 1] += t.share * n / 2.0 / (hi - lo + 1)
    return out


def _t(share, adults, adult_age, children=0, child_age=(0, 5)):
    return HouseholdTemplate(share=share, adults=adults, adult_age=adult_age, children=children,
                             child_age=child_age)


_SSB = ("persons per dwelling = SSB Boforhold, registerbasert, 1 January 2020: persons / "
        "households in {kind} ({persons} / {households}); template shares and ages ASSUMPTION")


def default_profiles() -> dict[str, DwellingProfile]:
    """Default mover profiles by dwelling type.

    Persons per dwelling match SSB's persons per private household by building type on
    1 January 2020 (ASSUMPTION: new dwellings are occupied like the stock of their type):
    enebolig 2.45, rekkehus/kjedehus/andre småhus 2.11, boligblokk 1.68, annen boligbygning
    1.39. The household mix and ages are ASSUMPTIONS shaped by Lørenskog's perspektivmelding
    2022 (seed 002: new blocks draw mainly young people establishing themselves, with small
    children, and fewer older people moving from eneboliger than before 2015). Omsorgsboliger
    (1.10, 67+) and student housing (1.00, 19-29) are ASSUMPTIONS.
    """
    return {
        "enebolig": DwellingProfile(source=_SSB.format(kind="eneboliger", persons="2,926,023",
                                                       households="1,192,639 = 2.45"),
                                    templates=(
            _t(0.31, 2, (30, 60)),
            _t(0.17, 2, (30, 45), 1, (0, 12)),
            _t(0.22, 2, (30, 45), 2, (0, 12)),
            _t(0.15, 1, (30, 70)),
            _t(0.15, 2, (60, 80)),
        )),
        "smahus": DwellingProfile(source=_SSB.format(kind="rekkehus, kjedehus, andre småhus",
                                                     persons="632,938",
                                                     households="300,214 = 2.11"),
                                  templates=(
            _t(0.28, 1, (25, 50)),
            _t(0.28, 2, (25, 40)),
            _t(0.20, 2, (28, 42), 1, (0, 8)),
            _t(0.10, 2, (30, 44), 2, (0, 10)),
            _t(0.09, 2, (60, 80)),
            _t(0.05, 1, (25, 45), 1, (0, 12)),
        )),
        "blokk": DwellingProfile(source=_SSB.format(kind="boligblokker", persons="1,055,748",
                                                    households="628,269 = 1.68"),
                                 templates=(
            _t(0.37, 1, (20, 34)),
            _t(0.24, 2, (24, 36)),
            _t(0.10, 2, (26, 38), 1, (0, 3)),
            _t(0.04, 2, (28, 40), 2, (0, 7)),
            _t(0.04, 1, (25, 45), 1, (0, 10)),
            _t(0.14, 1, (60, 85)),
            _t(0.07, 2, (60, 80)),
        )),
        "other": DwellingProfile(source=_SSB.format(kind="annen boligbygning",
                                                    persons="160,240",
                                                    households="115,684 = 1.39"),
                                 templates=(
            _t(0.66, 1, (20, 70)),
            _t(0.30, 2, (20, 60)),
            _t(0.04, 2, (25, 45), 1, (0, 10)),
        )),
        "omsorgsbolig": DwellingProfile(templates=(
            _t(0.90, 1, (67, 95)),
            _t(0.10, 2, (67, 90)),
        )),
        "student": DwellingProfile(templates=(_t(1.0, 1, (19, 29)),)),
    }


MAX_DWELLINGS_PER_YEAR = 100_000
"""Most dwellings a year in one project or in the other completions (Norway builds ~30,000)."""
DwellingsPath = path_within(0, MAX_DWELLINGS_PER_YEAR, "dwellings completed per year")

DEFAULT_BASELINE_MIX = {"blokk": 0.6, "smahus": 0.25, "enebolig": 0.15}
"""ASSUMPTION: dwelling types of the completions in the estimation window, where not given."""


def _dwelling_type(value: Any) -> Any:
    if isinstance(value, str):
        key = value.strip().lower()
        return _ALIASES.get(key, key)
    return value


class HousingProject(Frozen):
    """Dwellings of one type completed in one zone, by year (only the listed years)."""

    name: str = Field("project", min_length=1, max_length=200)
    district: str | None = Field(
        None, description="zone (district) name; default: the first zone")
    dwelling_type: DwellingType = "blokk"
    completions: DwellingsPath = Field(description="dwellings completed per year, e.g. "
                                                   "{2028 = 200, 2029 = 200}")

    @field_validator("dwelling_type", mode="before")
    @classmethod
    def _alias(cls, value: Any) -> Any:
        return _dwelling_type(value)


class HousingProgramme(Frozen):
    """A boligbyggeprogram: named projects, other completions and the profiles of movers."""

    projects: tuple[HousingProject, ...] = Field((), max_length=1000)
    other_completions_per_year: DwellingsPath | None = Field(
        None, description="dwellings completed per year outside the named projects (a year "
        "path, spread over the zones by their trend in-migration, with the baseline's type mix); "
        "default: the baseline, i.e. building continues at its historical pace")
    baseline_completions_per_year: float | None = Field(
        None, ge=0, le=100_000, description="dwellings completed per year in the estimation "
        "window, whose movers the trend in-migration already contains; default: the kommune's "
        "figure in municipalities.toml (required where it has none)")
    baseline_mix: dict[DwellingType, float] = Field(
        default_factory=lambda: dict(DEFAULT_BASELINE_MIX),
        description="dwelling-type shares of the baseline and other completions")
    profiles: dict[DwellingType, DwellingProfile] = Field(
        default_factory=default_profiles,
        description="mover profiles by dwelling type (types not given keep their defaults)")

    @field_validator("profiles", mode="before")
    @classmethod
    def _merge_profiles(cls, value: Any) -> Any:
        if isinstance(value, dict):
            merged: dict[str, Any] = dict(default_profiles())
            merged.update({_dwelling_type(k): v for k, v in value.items()})
            return merged
        return value

    @field_validator("baseline_mix", mode="before")
    @classmethod
    def _mix_aliases(cls, value: Any) -> Any:
        if isinstance(value, dict):
            return {_dwelling_type(k): v for k, v in value.items()}
        return value

    @model_validator(mode="after")
    def _check(self) -> HousingProgramme:
        total = sum(self.baseline_mix.values())
        if any(v < 0 for v in self.baseline_mix.values()) or abs(total - 1.0) > 1e-6:
            raise ValueError(f"baseline_mix shares must be >= 0 and sum to 1, got {total:g}")
        by_year: dict[int, float] = {}
        for p in self.projects:
            for year, n in p.completions.items():
                by_year[year] = by_year.get(year, 0.0) + n
        year, most = max(by_year.items(), key=lambda kv: kv[1], default=(0, 0.0))
        if most > MAX_DWELLINGS_PER_YEAR:
            raise ValueError(f"the projects complete {most:,.0f} dwellings in {year}; at most "
                             f"{MAX_DWELLINGS_PER_YEAR:,} a year in all projects together")
        return self



def completions_array(programme: HousingProgramme, zones: tuple[str, ...], years: np.ndarray,
                      zone_weights: np.ndarray, baseline: float) -> np.ndarray:
    """Dwellings completed [Y, D, T] by year, zone and type (``DWELLING_TYPES`` order).

    Named projects go to their zone in their listed years; the other completions (a year path,
    default ``baseline``) are spread over zones by ``zone_weights`` with the baseline mix.
    """
    out = np.zeros((len(years), len(zones), len(DWELLING_TYPES)))
    year_index = {int(y): i for i, y in enumerate(years)}
    for p in programme.projects:
        d = zones.index(p.district) if p.district is not None else 0
        k = DWELLING_TYPES.index(p.dwelling_type)
        for year, n in p.completions.items():
            if int(year) in year_index:
                out[year_index[int(year)], d, k] += n
    from sim.schema import interpolate_path

    other = (interpolate_path(programme.other_completions_per_year, years)
             if programme.other_completions_per_year is not None
             else np.full(len(years), baseline))
    mix = np.array([programme.baseline_mix.get(t, 0.0) for t in DWELLING_TYPES])
    out += other[:, None, None] * zone_weights[None, :, None] * mix[None, None, :]
    return out


def movers_per_dwelling(programme: HousingProgramme) -> np.ndarray:
    """Expected movers per completed dwelling [T, 2, A] by dwelling type."""
    return np.stack([expected_movers(programme.profiles[t]) for t in DWELLING_TYPES])


def baseline_movers(programme: HousingProgramme, baseline: float) -> np.ndarray:
    """Expected movers [2, A] per year into the baseline completions (the baseline mix)."""
    per = movers_per_dwelling(programme)
    mix = np.array([programme.baseline_mix.get(t, 0.0) for t in DWELLING_TYPES])
    return baseline * np.tensordot(mix, per, axes=1)
