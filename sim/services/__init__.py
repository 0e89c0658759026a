"""Services, cost and demographic cost change (see DESIGN.md "Services, cost and budget").

Public API: ``load_catalogue``, ``default_catalogue``, ``check_districts``,
``coverage_weights``, ``service_demand``, ``demografikostnader``, ``services_tables``.
"""

from sim.services.catalogue import (
    AgeGroup,
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
    municipality_totals,
    service_demand,
    services_tables,
)

__all__ = [
    "AgeGroup", "Catalogue", "Facility", "Service", "catalogue_from_dict", "check_districts",
    "coverage_weights", "default_catalogue", "demografikostnader", "demografikostnader_totals",
    "load_catalogue", "municipality_totals", "service_demand", "services_tables",
]
