"""Persons, households and dwellings as structs of arrays that grow without Python objects.

Row ``i`` of every person array describes one person present on 1 January (rows of persons
who died or left are dropped at the end of each year, so the arrays stay as large as the
population). A person's identity for random draws is ``key`` (uint64), set once at creation
from scenario-independent facts (base cell and rank, arrival cell and rank, mother and birth
order), so two scenarios with the same seed give the same person the same draws.

dtypes (bytes per person): age int8 (1), sex int8 (1), status int8 (1), origin int8 (1),
role int8 (1), district int16 (2), arrival year int16 (2), household int32 (4), key uint64 (8)
= 21 bytes; households (dwelling int32, district int16, size int16, kind int8, year int16,
key uint64 = 19 bytes) and dwellings (type int8, district int16, year int16, household int32 =
9 bytes) add about 12 bytes per person at 2.3 persons per household. ``State.nbytes_per_person``
reports the live figure including spare capacity.
"""

from __future__ import annotations

import numpy as np

PERSON_FIELDS = {
    "age": np.int8, "sex": np.int8, "status": np.int8, "origin": np.int8, "role": np.int8,
    "district": np.int16, "arr_year": np.int16, "household": np.int32, "key": np.uint64,
}
HOUSEHOLD_FIELDS = {
    "hh_dwelling": np.int32, "hh_district": np.int16, "hh_size": np.int16, "hh_kind": np.int8,
    "hh_year": np.int16, "hh_key": np.uint64,
}
DWELLING_FIELDS = {
    "dw_type": np.int8, "dw_district": np.int16, "dw_year": np.int16, "dw_household": np.int32,
}


class Table:
    """A group of equally long arrays with ``n`` used rows and spare capacity."""

    def __init__(self, fields: dict[str, type], capacity: int):
        self.fields = fields
        self.n = 0
        self.arrays = {name: np.zeros(max(capacity, 16), dtype=dt) for name, dt in fields.items()}

    @property
    def capacity(self) -> int:
        """Rows allocated."""
        return len(next(iter(self.arrays.values())))

    def reserve(self, extra: int) -> None:
        """Make room for ``extra`` more rows (amortised doubling; arrays are replaced)."""
        need = self.n + int(extra)
        if need <= self.capacity:
            return
        cap = max(need, int(self.capacity * 1.25))
        for name, arr in self.arrays.items():
            new = np.zeros(cap, dtype=arr.dtype)
            new[: self.n] = arr[: self.n]
            self.arrays[name] = new

    def __getitem__(self, name: str) -> np.ndarray:
        return self.arrays[name]

    def view(self, name: str) -> np.ndarray:
        """The used rows of one field."""
        return self.arrays[name][: self.n]

    @property
    def nbytes(self) -> int:
        """Bytes allocated."""
        return sum(a.nbytes for a in self.arrays.values())

    @property
    def row_bytes(self) -> int:
        """Bytes per row."""
        return sum(np.dtype(dt).itemsize for dt in self.fields.values())


class State:
    """All agents of one run: persons, households, dwellings."""

    def __init__(self, n_persons: int):
        self.persons = Table(PERSON_FIELDS, int(n_persons * 1.15) + 64)
        self.households = Table(HOUSEHOLD_FIELDS, int(n_persons * 0.6) + 64)
        self.dwellings = Table(DWELLING_FIELDS, int(n_persons * 0.6) + 64)

    def nbytes_per_person(self) -> float:
        """Allocated bytes of all three tables per person present."""
        total = self.persons.nbytes + self.households.nbytes + self.dwellings.nbytes
        return total / max(self.persons.n, 1)

    def used_bytes_per_person(self) -> float:
        """Bytes of the used rows of all three tables per person present."""
        total = sum(t.n * t.row_bytes for t in (self.persons, self.households, self.dwellings))
        return total / max(self.persons.n, 1)

    def frame(self):
        """The persons present as a pandas DataFrame (for inspection and tests)."""
        import pandas as pd

        return pd.DataFrame({k: self.persons.view(k) for k in PERSON_FIELDS})
