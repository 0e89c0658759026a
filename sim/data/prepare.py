"""How the embedded population files were made from the project's data folder (run once).

``python -m sim.data.prepare ../shared/data`` rewrites, from the files described in
``../shared/data/README.md``:

* ``population_2005_2024.parquet``: SSB 07459 on 2024 borders, all 357 kommuner, plus Norway
  (``0000``, SSB's national figure from ``ssb_07459_population_2005_2024.csv``), 2005-2024;
  one row per kommune, year and sex with the persons by age in columns ``age_0 .. age_105``
  (wide by age: a tenth of the rows of the tidy table, read into an array in milliseconds).
* ``bydeler_2005_2024.parquet``: SSB 10826, the bydeler of Oslo, Bergen, Stavanger and
  Trondheim; columns ``kommunenummer, zone, zone_name, year, sex, age_0 .. age_105``. The source's
  label ``bergen_norhus`` is written as ``Bergenhus``.
* ``kommuner_2024.csv``: number, name and fylke of the 2024 kommuner (SSB KLASS 131).

The runtime never reads the data folder; it reads only these files (see SOURCES.md).
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

HERE = Path(__file__).parent
POPULATION = "population_2005_2024.parquet"
BYDELER = "bydeler_2005_2024.parquet"
KOMMUNER = "kommuner_2024.csv"
ZONE_NAME_FIXES = {"bergen_norhus": "Bergenhus"}


def _write(df: pd.DataFrame, path: Path, dictionary: list[str]) -> None:
    keys = [c for c in df.columns if c not in ("age", "persons")]
    wide = df.pivot(index=keys, columns="age", values="persons").reset_index()
    wide.columns = [c if isinstance(c, str) else f"age_{c}" for c in wide.columns]
    table = pa.Table.from_pandas(wide, preserve_index=False)
    pq.write_table(table, path, compression="zstd", compression_level=9,
                   use_dictionary=dictionary)


def prepare(data_dir: Path, out_dir: Path = HERE) -> None:
    """Write the embedded files from ``data_dir`` (the project's shared data folder)."""
    codes = {"kommunenummer": str, "bydel_code": str}
    kom = pd.read_csv(data_dir / "ssb_07459_kommuner_2005_2024.csv.gz", dtype=codes)
    nat = pd.read_csv(data_dir / "ssb_07459_population_2005_2024.csv", dtype=codes)
    nat = nat[nat.kommunenummer == "0000"]
    pop = pd.concat([nat, kom])[["kommunenummer", "year", "sex", "age", "persons"]]
    pop = pop.astype({"year": "int16", "age": "int16", "persons": "int32"})
    pop = pop.sort_values(["kommunenummer", "year", "sex", "age"]).reset_index(drop=True)
    _write(pop, out_dir / POPULATION, ["kommunenummer", "sex"])

    byd = pd.read_csv(data_dir / "ssb_10826_bydeler_2005_2024.csv.gz", dtype=codes)
    byd = byd.rename(columns={"bydel_code": "zone", "bydel": "zone_name"})
    byd["zone_name"] = byd["zone_name"].replace(ZONE_NAME_FIXES)
    byd = byd[["kommunenummer", "zone", "zone_name", "year", "sex", "age", "persons"]]
    byd = byd.astype({"year": "int16", "age": "int16", "persons": "int32"})
    byd = byd.sort_values(["zone", "year", "sex", "age"]).reset_index(drop=True)
    _write(byd, out_dir / BYDELER, ["kommunenummer", "zone", "zone_name", "sex"])

    shutil.copyfile(data_dir / "kommuner_2024.csv", out_dir / KOMMUNER)


if __name__ == "__main__":  # pragma: no cover - maintenance script
    prepare(Path(sys.argv[1]) if len(sys.argv) > 1 else HERE.parents[2] / "shared" / "data")
