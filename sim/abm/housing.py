"""Housing-led in-migration: a programme of dwellings completed per year by type and district.

Each completed dwelling is occupied in its completion year by one household of in-migrants
drawn from the dwelling type's household profile (templates of adults, children and ages).
The movers come on top of the trend in-migration of the resolved inputs, which can be scaled
down with ``trend_in_migration_scale`` where the programme replaces part of the trend (GLA's
housing-led model: dwellings x household size set the extra in-flow). Movers count as
``in_migrants`` and are exposed for half a year like other arrivals.

Profiles: Lørenskog's perspektivmelding 2022 (seed 002, "blokk") says new blocks were taken up
by older people moving from detached houses until about 2014, and that growth now is mainly
"unge i etableringsfasen med små barn" (young people establishing themselves, with small
children). The template shares below follow that statement; the numbers themselves are
ASSUMPTIONS until a survey of movers into new dwellings is available.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from sim.schema import Frozen, NonNegPath

DwellingType = Literal["enebolig", "smahus", "blokk", "other"]


class HouseholdTemplate(Frozen):
    """One kind of mover household: adults and children with uniform ages in ranges."""

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
            if not 0 <= lo <= hi <= 105:
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


def _t(share, adults, adult_age, children=0, child_age=(0, 5), source="ASSUMPTION"):
    return HouseholdTemplate(share=share, adults=adults, adult_age=adult_age, children=children,
                             child_age=child_age, source=source)


_BLOKK_SOURCE = ("ASSUMPTION shaped by seed 002 (Lørenskog perspektivmelding 2022: new blocks "
                 "drawn mainly by young people establishing themselves, with small children)")


def default_profiles() -> dict[str, DwellingProfile]:
    """Default mover profiles by dwelling type (all shares ASSUMPTION, see module doc)."""
    return {
        "blokk": DwellingProfile(templates=(
            _t(0.30, 1, (20, 34), source=_BLOKK_SOURCE),
            _t(0.25, 2, (24, 36), source=_BLOKK_SOURCE),
            _t(0.22, 2, (26, 38), 1, (0, 3), source=_BLOKK_SOURCE),
            _t(0.13, 2, (28, 40), 2, (0, 7), source=_BLOKK_SOURCE),
            _t(0.10, 1, (60, 85), source="ASSUMPTION (seed 002: older movers from eneboliger, "
                                        "the pre-2015 pattern, now a minority)"),
        )),
        "smahus": DwellingProfile(templates=(
            _t(0.15, 1, (25, 50)),
            _t(0.25, 2, (25, 40)),
            _t(0.35, 2, (28, 42), 1, (0, 8)),
            _t(0.25, 2, (30, 44), 2, (0, 10)),
        )),
        "enebolig": DwellingProfile(templates=(
            _t(0.25, 2, (30, 60)),
            _t(0.20, 2, (30, 45), 1, (0, 12)),
            _t(0.45, 2, (30, 45), 2, (0, 12)),
            _t(0.10, 2, (35, 50), 3, (0, 15)),
        )),
        "other": DwellingProfile(templates=(
            _t(0.6, 1, (20, 40)),
            _t(0.4, 2, (20, 40)),
        )),
    }


class HousingProject(Frozen):
    """Dwellings of one type completed in one district, by year."""

    name: str = "project"
    district: str | None = None
    """District name (None: the first district, e.g. the whole municipality)."""
    dwelling_type: DwellingType = "blokk"
    completions: NonNegPath
    """Dwellings completed per year; only the listed years (no interpolation)."""


class HousingProgramme(Frozen):
    """Projects completing dwellings and the profiles of the households moving in."""

    projects: tuple[HousingProject, ...] = ()
    profiles: dict[DwellingType, DwellingProfile] = Field(default_factory=default_profiles)
    trend_in_migration_scale: float = Field(1.0, ge=0.0)
    """Multiplier on the trend in-migrants of the resolved inputs (1 = movers are extra)."""

    @model_validator(mode="after")
    def _check(self) -> HousingProgramme:
        for p in self.projects:
            if p.dwelling_type not in self.profiles:
                raise ValueError(f"project {p.name!r}: no profile for {p.dwelling_type!r}")
        return self
