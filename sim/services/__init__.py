"""Services, cost and demographic cost change (see DESIGN.md "Services, cost and budget").

Public API: ``load_catalogue``, ``default_catalogue``, ``check_districts``,
``coverage_weights``, ``service_demand``, ``demografikostnader``, ``services_tables``,
``investments_table`` (whole new buildings where zones run short of places).
"""

from sim.services.catalogue import (
    AgeGroup,
    Building,
    Catalogue,
    Facility,
    Service,
    catalogue_from_dict,
    check_districts,
    coverage_weights,
    default_catalogue,
    load_catalogue,
)
from sim.services.demand import (
    demografikostnader,
    demografikostnader_totals,
    investments_table,
    municipality_totals,
    service_demand,
    services_tables,
)

__all__ = [
    "AgeGroup", "Building", "Catalogue", "Facility", "Service", "catalogue_from_dict",
    "check_districts", "coverage_weights", "default_catalogue", "demografikostnader",
    "demografikostnader_totals", "investments_table", "load_catalogue", "municipality_totals",
    "service_demand", "services_tables",
]
