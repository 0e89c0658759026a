"""Tests for sim.data.ssb: SSB table 07459 (CSV and JSON-stat) -> package population format.

Generated inputs use a known formula (``persons``) so expectations never come from the
reader itself; static fixtures in tests/fixtures/ssb/ hold real Lørenskog numbers and are
checked against the embedded population file.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from sim.data.ssb import COLUMNS, read_ssb_07459, validate_population, write_population
from sim.errors import InputError

REPO = Path(__file__).resolve().parents[1]
FIXTURES = Path(__file__).parent / "fixtures" / "ssb"
EMBEDDED = "embedded SSB 07459"
TITLE = "07459: Befolkning, etter region, kjønn, alder, statistikkvariabel og år"
YEARS = (2023, 2024)
SEX_LABELS = {"no": {"male": "Menn", "female": "Kvinner"},
              "code": {"male": "1 Menn", "female": "2 Kvinner"},
              "en": {"male": "Males", "female": "Females"}}


def persons(year: int, sex: str, age: int) -> int:
    """Known head count for the generated data set (0..396, includes zeros)."""
    return (age * 37 + (5 if sex == "male" else 0) + (year - 2023) * 13) % 397


def age_label(age: int, style: str) -> str:
    if style == "code":
        return "105+" if age == 105 else f"{age:03d}"
    if style == "en":
        return "105 years or older" if age == 105 else f"{age} years"
    return "105 år eller eldre" if age == 105 else f"{age} år"


def expected(number: str = "3222", name: str = "Lørenskog", years=YEARS) -> pd.DataFrame:
    rows = [(y, number, name, s, a, persons(y, s, a))
            for y in years for s in ("female", "male") for a in range(106)]
    return pd.DataFrame(rows, columns=COLUMNS)


def cells(skip=()):
    """(sex, age, year) cells of the generated data set in SSB's order (men first)."""
    return [(s, a, y) for s in ("male", "female") for a in range(106) for y in YEARS
            if (s, a, y) not in skip]


def ssb_csv(path: Path, *, layout="long", encoding="utf-8-sig", region="3222 Lørenskog",
            style="no", override=None, skip=(), edit=None) -> Path:
    """Write the generated data set the way Statbank exports it (title, quotes, semicolons)."""
    override = override or {}
    sexes = SEX_LABELS[style]
    value = lambda s, a, y: override.get((s, a, y), persons(y, s, a))  # noqa: E731
    lines = [f'"{TITLE}"', ""]
    if layout == "long":
        head = ("region", "sex", "age", "contents", "year") if style == "en" else \
               ("region", "kjønn", "alder", "statistikkvariabel", "år")
        lines.append(";".join(f'"{h}"' for h in (*head, TITLE)))
        for s, a, y in cells(skip):
            lines.append(f'"{region}";"{sexes[s]}";"{age_label(a, style)}";"Personer";"{y}";'
                         f"{value(s, a, y)}")
    else:
        lines.append('"region";"kjønn";"alder";"Personer 2023";"2024 Personer"')
        for s, a, _ in cells(skip)[::2]:
            lines.append(f'"{region}";"{sexes[s]}";"{age_label(a, style)}";'
                         f"{value(s, a, 2023)};{value(s, a, 2024)}")
    text = "\r\n".join(lines) + "\r\n"
    path.write_bytes((edit(text) if edit else text).encode(encoding))
    return path


def jsonstat(*, region=("K-3222", "Lørenskog"), index="dict", sparse=False, wrap=False) -> dict:
    """The generated data set as a PxWebApi JSON-stat 2.0 dataset (row-major values)."""
    ages = [age_label(a, "code") for a in range(106)]
    cats = {"Region": [region], "Kjonn": [("1", "Menn"), ("2", "Kvinner")],
            "Alder": [(c, age_label(a, "no")) for a, c in enumerate(ages)],
            "ContentsCode": [("Personer1", "Personer")], "Tid": [(str(y), str(y)) for y in YEARS]}
    dims = {}
    for dim, pairs in cats.items():
        codes = [c for c, _ in pairs]
        idx = {c: i for i, c in enumerate(codes)} if index == "dict" else codes
        dims[dim] = {"label": dim.lower(), "category": {"index": idx, "label": dict(pairs)}}
    values = [persons(y, s, a) for s in ("male", "female") for a in range(106) for y in YEARS]
    doc = {"version": "2.0", "class": "dataset", "id": list(cats), "size": [1, 2, 106, 1, 2],
           "dimension": dims, "role": {"time": ["Tid"], "metric": ["ContentsCode"]},
           "value": {str(i): v for i, v in enumerate(values)} if sparse else values}
    return {"dataset": doc} if wrap else doc


def write_json(path: Path, doc) -> Path:
    path.write_text(json.dumps(doc, ensure_ascii=False), encoding="utf-8")
    return path


def embedded() -> pd.DataFrame:
    """The embedded history of Norway, Lillestrøm and Lørenskog in the package format."""
    from sim.data.population import embedded_population

    df = embedded_population().frame()
    return df[df.kommunenummer.isin(["0000", "3205", "3222"])].reset_index(drop=True)


# --------------------------------------------------------------------------- good inputs


@pytest.mark.parametrize("layout", ["long", "wide"])
@pytest.mark.parametrize("encoding", ["utf-8-sig", "utf-8", "cp1252"])
def test_csv_layouts_and_encodings(tmp_path, layout, encoding):
    got = read_ssb_07459(ssb_csv(tmp_path / "p.csv", layout=layout, encoding=encoding))
    pd.testing.assert_frame_equal(got, expected())


@pytest.mark.parametrize("style", ["no", "code", "en"])
def test_csv_label_styles(tmp_path, style):
    got = read_ssb_07459(ssb_csv(tmp_path / "p.csv", style=style))
    pd.testing.assert_frame_equal(got, expected())


@pytest.mark.parametrize(("region", "number", "name"), [
    ("K-3222 Lørenskog", "3222", "Lørenskog"),
    ("3222", "3222", ""),
    ("0301 Oslo", "0301", "Oslo"),
    ("0 Hele landet", "0000", "Norge"),
])
def test_csv_region_forms(tmp_path, region, number, name):
    got = read_ssb_07459(ssb_csv(tmp_path / "p.csv", region=region))
    pd.testing.assert_frame_equal(got, expected(number, name))


@pytest.mark.parametrize(("index", "sparse", "wrap"), [
    ("dict", False, False), ("list", False, False), ("dict", True, False), ("dict", False, True),
])
def test_jsonstat_variants(tmp_path, index, sparse, wrap):
    doc = jsonstat(index=index, sparse=sparse, wrap=wrap)
    got = read_ssb_07459(write_json(tmp_path / "p.json", doc))
    pd.testing.assert_frame_equal(got, expected())


def test_csv_and_jsonstat_agree_and_totals_match(tmp_path):
    frames = [read_ssb_07459(ssb_csv(tmp_path / "long.csv")),
              read_ssb_07459(ssb_csv(tmp_path / "wide.csv", layout="wide", encoding="cp1252")),
              read_ssb_07459(write_json(tmp_path / "p.json", jsonstat()))]
    for df in frames[1:]:
        pd.testing.assert_frame_equal(df, frames[0])
    for year in YEARS:
        want = sum(persons(year, s, a) for s in ("male", "female") for a in range(106))
        assert frames[0].loc[frames[0].year == year, "persons"].sum() == want
    assert len(frames[0]) == len(YEARS) * 2 * 106


def test_dash_means_nil(tmp_path):
    got = read_ssb_07459(ssb_csv(tmp_path / "p.csv", override={("male", 104, 2024): "-"}))
    assert got.query("sex == 'male' and age == 104 and year == 2024").persons.item() == 0


def test_jsonstat_norway_label(tmp_path):
    got = read_ssb_07459(write_json(tmp_path / "p.json", jsonstat(region=("0", "Hele landet"))))
    pd.testing.assert_frame_equal(got, expected("0000", "Norge"))


# --------------------------------------------------------------------------- static fixtures


def lorenskog_2023_2024() -> pd.DataFrame:
    df = embedded()
    df = df[(df.kommunenummer == "3222") & df.year.isin(YEARS)]
    return df.sort_values(["kommunenummer", "year", "sex", "age"]).reset_index(drop=True)


@pytest.mark.parametrize("name", ["07459_lorenskog_wide_cp1252.csv",
                                  "07459_lorenskog_long_utf8bom.csv"])
def test_static_csv_fixtures_match_embedded_file(name):
    raw = (FIXTURES / name).read_bytes()
    assert ("ø".encode("cp1252") in raw) == name.endswith("cp1252.csv")  # really cp1252
    got = read_ssb_07459(FIXTURES / name)
    pd.testing.assert_frame_equal(got, lorenskog_2023_2024())
    assert got.loc[got.year == 2024, "persons"].sum() == 48_188


def test_static_jsonstat_fixture_matches_embedded_file():
    got = read_ssb_07459(str(FIXTURES / "07459_lorenskog_2024.json"))
    want = lorenskog_2023_2024().query("year == 2024").reset_index(drop=True)
    pd.testing.assert_frame_equal(got, want)
    assert got.persons.sum() == 48_188
    assert set(got.kommune) == {"Lørenskog"}


def test_embedded_file_is_valid_and_lorenskog_2024_total():
    df = embedded()
    validate_population(df, EMBEDDED)
    assert df.query("kommunenummer == '3222' and year == 2024").persons.sum() == 48_188


# --------------------------------------------------------------------------- writing


def test_write_population_round_trip_atomic(tmp_path):
    df = expected().sample(frac=1, random_state=1)  # shuffled: writer sorts
    out = tmp_path / "pop.csv"
    out.write_text("old content\n")
    write_population(df, out)
    back = pd.read_csv(out, dtype={"kommunenummer": str})
    pd.testing.assert_frame_equal(back, expected())
    assert out.read_text(encoding="utf-8").splitlines()[0] == ",".join(COLUMNS)
    assert [p.name for p in tmp_path.iterdir()] == ["pop.csv"]  # no temp file left


def test_write_population_rejects_invalid_table_and_keeps_old_file(tmp_path):
    out = tmp_path / "pop.csv"
    out.write_text("old content\n")
    with pytest.raises(InputError, match="field 'persons'"):
        write_population(expected().assign(persons=-1), out)
    assert out.read_text() == "old content\n"


# --------------------------------------------------------------------------- bad inputs


def check(exc: pytest.ExceptionInfo, path: Path, field: str | None, *words: str) -> None:
    """The error is one InputError line naming file and field (and saying what is allowed)."""
    err = exc.value
    assert type(err) is InputError
    text = err.line()
    assert str(path) in text
    if field is not None:
        assert err.field == field and f"field '{field}'" in text
    for word in words:
        assert word in text, text


BAD_CSV = [  # (case, ssb_csv kwargs, field, words in message)
    ("gap in ages", dict(skip={("female", 17, 2024), ("female", 18, 2024)}), "age",
     ["3222 2024 female: ages 0..105 required, missing 17, 18"]),
    ("unknown sex", dict(edit=lambda t: t.replace('"Kvinner"', '"Begge kjønn"')), "kjønn",
     ["'Begge kjønn'", "allowed: Menn, Kvinner"]),
    ("missing value ..", dict(override={("male", 40, 2024): ".."}), TITLE, ["'..'", "line "]),
    ("missing value :", dict(override={("male", 40, 2024): ":"}), TITLE, ["':'"]),
    ("negative", dict(override={("female", 3, 2023): -5}), TITLE, ["-5", ">= 0"]),
    ("non-integer", dict(override={("female", 3, 2023): "12.5"}), TITLE, ["12.5", "whole"]),
    ("bad age", dict(edit=lambda t: t.replace('"7 år"', '"sju år"')), "alder", ["'sju år'"]),
    ("age above 105", dict(edit=lambda t: t.replace('"104 år"', '"106 år"')), "alder", ["0..104"]),
    ("bad year", dict(edit=lambda t: t.replace('"2023"', '"2023K1"')), "år", ["'2023K1'"]),
    ("county not kommune", dict(region="32 Akershus"), "region", ["'32 Akershus'"]),
    ("duplicate row", dict(edit=lambda t: t + t.splitlines()[5] + "\r\n"), "region/sex/age/year",
     ["repeats line 6", "3222 2023 male age 1"]),
    ("truncated", dict(edit=lambda t: t[: t.index('"50 år";"Personer";"2024"') + 8]), "år",
     ["4 fields, header has 6", "truncated"]),
    ("missing column", dict(edit=lambda t: t.replace('"kjønn";', '"kjønnn";')), "kjønn",
     ["missing column(s) kjønn", "required"]),
    ("two variables", dict(edit=lambda t: t.replace('"Personer";"2024";1', '"Endring";"2024";1')),
     "statistikkvariabel", ["several variables"]),
]


@pytest.mark.parametrize(("case", "kwargs", "field", "words"), BAD_CSV, ids=[c[0] for c in BAD_CSV])
def test_bad_csv_raises_one_input_error(tmp_path, case, kwargs, field, words):
    path = ssb_csv(tmp_path / "bad.csv", **kwargs)
    with pytest.raises(InputError) as exc:
        read_ssb_07459(path)
    check(exc, path, field, *words)


def test_bad_wide_csv_names_value_column(tmp_path):
    path = ssb_csv(tmp_path / "bad.csv", layout="wide", override={("male", 9, 2024): "."})
    with pytest.raises(InputError) as exc:
        read_ssb_07459(path)
    check(exc, path, "2024 Personer", "missing value '.'", "line 13")


def test_wide_csv_same_year_twice(tmp_path):
    path = ssb_csv(tmp_path / "bad.csv", layout="wide",
                   edit=lambda t: t.replace('"2024 Personer"', '"Personer 2023 (ny)"'))
    with pytest.raises(InputError) as exc:
        read_ssb_07459(path)
    check(exc, path, "Personer 2023 (ny)", "year 2023")


def drop_tid(doc):
    i = doc["id"].index("Tid")
    del doc["id"][i], doc["size"][i], doc["dimension"]["Tid"]


def set_value(pos, value):
    def edit(doc):
        doc["value"][pos] = value
    return edit


def two_contents(doc):
    doc["size"][3] = 2
    doc["dimension"]["ContentsCode"]["category"]["index"]["Endring"] = 1


BAD_JSON = [  # (case, edit of the dataset dict, field, words)
    ("size mismatch", lambda d: d["size"].__setitem__(2, 105), "size", ["'Alder'", "106"]),
    ("value too short", lambda d: d["value"].pop(), "value", ["423 values", "needs 424"]),
    ("missing Tid", drop_tid, "Tid", ["dimension missing", "Region, Kjonn, Alder and Tid"]),
    ("null value", set_value(7, None), "value", ["value[7]", "Alder=003", "Tid=2024", "null"]),
    ("negative value", set_value(0, -1), "value", ["-1", ">= 0"]),
    ("unknown sex", lambda d: d["dimension"]["Kjonn"]["category"]["label"].update({"2": "Alle"}),
     "Kjonn", ["'2 Alle'", "allowed"]),
    ("bad age code", lambda d: d["dimension"]["Alder"]["category"]["index"].update(
        {"999": d["dimension"]["Alder"]["category"]["index"].pop("105+")}), "Alder", ["'999'"]),
    ("two contents", two_contents, "ContentsCode", ["2 categories", "select one"]),
    ("not a dataset", lambda d: d.pop("dimension"), "dimension", ["not a JSON-stat dataset"]),
]


@pytest.mark.parametrize(("case", "edit", "field", "words"), BAD_JSON, ids=[c[0] for c in BAD_JSON])
def test_bad_jsonstat_raises_one_input_error(tmp_path, case, edit, field, words):
    doc = jsonstat()
    edit(doc)
    path = write_json(tmp_path / "bad.json", doc)
    with pytest.raises(InputError) as exc:
        read_ssb_07459(path)
    check(exc, path, field, *words)


def test_corrupt_json(tmp_path):
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(jsonstat())[:500], encoding="utf-8")
    with pytest.raises(InputError) as exc:
        read_ssb_07459(path)
    check(exc, path, None, "not valid JSON", "JSON-stat")


@pytest.mark.parametrize(("content", "words"), [
    (b"", ["empty"]),
    (b"PK\x03\x04\x14\x00\x00\x00binary", ["binary"]),
    ("just some text\nwith æøå\n".encode("cp1252"), ["no header row"]),
])
def test_not_an_export(tmp_path, content, words):
    path = tmp_path / "x.csv"
    path.write_bytes(content)
    with pytest.raises(InputError) as exc:
        read_ssb_07459(path)
    check(exc, path, None, *words)


def test_missing_file(tmp_path):
    with pytest.raises(InputError) as exc:
        read_ssb_07459(tmp_path / "nope.csv")
    check(exc, tmp_path / "nope.csv", None, "cannot read file")


# --------------------------------------------------------------------------- validate_population


@pytest.mark.parametrize(("change", "field", "words"), [
    (lambda d: d.drop(columns="kommune"), "kommune", ["missing column(s) kommune"]),
    (lambda d: d.assign(extra=1), "extra", ["unexpected column"]),
    (lambda d: d.assign(kommunenummer=3222), "kommunenummer", ["dtype={'kommunenummer': str}"]),
    (lambda d: d.assign(kommunenummer="322"), "kommunenummer", ["'322'", "4 digits"]),
    (lambda d: d.assign(persons=d.persons.astype(float)), "persons", ["integers"]),
    (lambda d: d.assign(sex=d.sex.str.upper()), "sex", ["'FEMALE'", "'female', 'male'"]),
    (lambda d: pd.concat([d, d.tail(1)]), "kommunenummer,year,sex,age", ["duplicate", "age 105"]),
    (lambda d: d[d.sex == "female"], "sex", ["no rows for male"]),
    (lambda d: d[d.age != 0], "age", ["missing 0"]),
])
def test_validate_population_rejects(change, field, words):
    with pytest.raises(InputError) as exc:
        validate_population(change(expected()), "base.csv")
    check(exc, Path("base.csv"), field, *words)
