"""Long-term economic plan: revenue (inntektssystem), costs, investments, debt and rules."""

from sim.budget.analysis import budget_indicators, decompose, project_paces
from sim.budget.config import (
    BudgetConfig,
    available_budget_defaults,
    budget_from_dict,
    default_budget_config,
    load_budget_config,
    national_budget_config,
)
from sim.budget.model import BudgetResult, project_budget
from sim.budget.output import write_budget

__all__ = [
    "BudgetConfig",
    "BudgetResult",
    "available_budget_defaults",
    "budget_from_dict",
    "budget_indicators",
    "decompose",
    "default_budget_config",
    "load_budget_config",
    "national_budget_config",
    "project_budget",
    "project_paces",
    "write_budget",
]
