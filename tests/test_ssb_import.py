"""Tests for sim.data.ssb: SSB table 07459 (CSV and JSON-stat) -> package population format.

Generated inputs use a known formula (``persons``) so expectations never come from the
reader itself; static fixtures in tests/fixtures/ssb/ hold real Lørenskog numbers and are
checked against the embedded population file.
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import pandas as pd
import pytest
from conftest import folder_is_empty_or_missing

import sim.data.ssb as ssb
from sim.cli import app
from sim.data.ssb import (
    COLUMNS,
    import_exports,
    read_export,
    read_ssb_07459,
    validate_population,
    write_population,
)
from sim.errors import InputError

REPO = Path(__file__).resolve().parents[1]
FIXTURES = Path(__file__).parent / "fixtures" / "ssb"
EMBEDDED = "embedded SSB 07459"
TITLE = "07459: Befolkning, etter region, kjønn, alder, statistikkvariabel og år"
TITLE_EN = "07459: Population, by region, sex, age, contents and year"
YEARS = (2023, 2024)
SEX_LABELS = {"no": {"male": "Menn", "female": "Kvinner"},
              "code": {"male": "1 Menn", "female": "2 Kvinner"},
              "en": {"male": "Males", "female": "Females"}}
LAYOUTS = ("long", "wide", "sex_cols", "sex_year_cols")


def persons(year: int, sex: str, age: int, offset: int = 0) -> int:
    """Known head count for the generated data set (0..396 + offset, includes zeros)."""
    return (age * 37 + (5 if sex == "male" else 0) + (year - 2023) * 13) % 397 + offset


def age_label(age: int, style: str) -> str:
    if style == "code":
        return "105+" if age == 105 else f"{age:03d}"
    if style == "en":
        return "105 years or older" if age == 105 else "1 year" if age == 1 else f"{age} years"
    return "105 år eller eldre" if age == 105 else f"{age} år"


def expected(number: str = "3222", name: str = "Lørenskog", years=YEARS,
             offset: int = 0) -> pd.DataFrame:
    rows = [(y, number, name, s, a, persons(y, s, a, offset))
            for y in years for s in ("female", "male") for a in range(106)]
    return pd.DataFrame(rows, columns=COLUMNS)


def ssb_csv(path: Path, *, layout="long", encoding="utf-8-sig", region="3222 Lørenskog",
            style="no", delimiter=";", title=True, newline="\r\n", years=YEARS, offset=0,
            override=None, skip=(), edit=None) -> Path:
    """Write the generated data set the way Statbank exports it, in one of ``LAYOUTS``.

    ``long``: sex and year in rows; ``wide``: years as columns; ``sex_cols``: sexes as columns;
    ``sex_year_cols``: sex x year as columns ("Persons 2023 Males"). ``region`` may be a tuple
    (one block per region, the i-th with ``offset * i`` more persons per cell). ``override``
    replaces cells: keys (sex, age, year), or (region index, sex, age, year).
    """
    override = override or {}
    en = style == "en"
    sexes, word = SEX_LABELS[style], ("Persons" if en else "Personer")
    names = ("region", "sex", "age", "contents", "year") if en else \
            ("region", "kjønn", "alder", "statistikkvariabel", "år")
    in_rows = {"long": ("sex", "year"), "wide": ("sex",), "sex_cols": ("year",),
               "sex_year_cols": ()}[layout]
    cols = {"long": [(None, None)], "wide": [(None, y) for y in years],
            "sex_cols": [(s, None) for s in ("male", "female")],
            "sex_year_cols": [(s, y) for y in years for s in ("male", "female")]}[layout]

    def col_name(i: int, s: str | None, y: int | None) -> str:
        if layout == "long":
            return TITLE_EN if en else TITLE
        if layout == "wide":
            return f"{word} {y}" if i % 2 == 0 else f"{y} {word}"
        return " ".join(str(p) for p in (word, y, sexes[s] if s else None) if p)

    head = ["region"] + (["sex"] if "sex" in in_rows else []) + ["age"] + \
           (["contents", "year"] if "year" in in_rows else [])
    lines = [f'"{TITLE_EN if en else TITLE}"', ""] if title else []
    lines.append(delimiter.join(
        [f'"{names[("region", "sex", "age", "contents", "year").index(h)]}"' for h in head]
        + [f'"{col_name(i, s, y)}"' for i, (s, y) in enumerate(cols)]))
    regions = (region,) if isinstance(region, str) else region
    for r, reg in enumerate(regions):
        for s in (("male", "female") if "sex" in in_rows else (None,)):
            for a in range(106):
                for y in (years if "year" in in_rows else (None,)):
                    cells = [(s or cs, a, y or cy) for cs, cy in cols]
                    if any(c in skip for c in cells):
                        continue
                    fields = [f'"{reg}"'] + ([f'"{sexes[s]}"'] if s else []) + \
                             [f'"{age_label(a, style)}"'] + \
                             ([f'"{word}"', f'"{y}"'] if y else [])
                    fields += [str(override.get((r, *c), override.get(
                        c, persons(c[2], c[0], a, offset * r)))) for c in cells]
                    lines.append(delimiter.join(fields))
    text = newline.join(lines) + newline
    path.write_bytes((edit(text) if edit else text).encode(encoding))
    return path


def jsonstat(*, region=("K-3222", "Lørenskog"), index="dict", sparse=False, wrap=False,
             years=YEARS) -> dict:
    """The generated data set as a PxWebApi JSON-stat 2.0 dataset (row-major values).

    ``index="shuffled"`` gives each category a position different from its place among the
    index object's keys (and the labels in a third order): a reader must use the positions.
    """
    ages = [age_label(a, "code") for a in range(106)]
    cats = {"Region": [region], "Kjonn": [("1", "Menn"), ("2", "Kvinner")],
            "Alder": [(c, age_label(a, "no")) for a, c in enumerate(ages)],
            "ContentsCode": [("Personer1", "Personer")], "Tid": [(str(y), str(y)) for y in years]}
    order = {dim: list(range(len(pairs))) for dim, pairs in cats.items()}
    if index == "shuffled":  # positions: sexes swapped, ages and years reversed
        order = {dim: ok[::-1] if dim in ("Kjonn", "Alder", "Tid") else ok
                 for dim, ok in order.items()}
    dims = {}
    for dim, pairs in cats.items():
        positioned = [pairs[i] for i in order[dim]]          # category at position 0, 1, ...
        codes = [c for c, _ in positioned]
        if index == "list":
            idx: dict | list = codes
        else:
            idx = {c: codes.index(c) for c, _ in pairs}       # keys in natural order
        labels = dict(sorted(pairs, key=lambda p: p[0][::-1]))  # a third order
        dims[dim] = {"label": dim.lower(), "category": {"index": idx, "label": labels}}
    sex_of = {"1": "male", "2": "female"}
    pos = {dim: [pairs[i][0] for i in order[dim]] for dim, pairs in cats.items()}
    values = [persons(int(y), sex_of[s], ages.index(a)) for s in pos["Kjonn"]
              for a in pos["Alder"] for y in pos["Tid"]]
    doc = {"version": "2.0", "class": "dataset", "id": list(cats),
           "size": [1, 2, 106, 1, len(years)],
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


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("style", ["no", "code", "en"])
def test_every_layout_and_label_style(tmp_path, layout, style):
    got = read_ssb_07459(ssb_csv(tmp_path / "p.csv", layout=layout, style=style))
    pd.testing.assert_frame_equal(got, expected())


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("encoding", ["utf-8-sig", "utf-8", "cp1252", "latin-1"])
@pytest.mark.parametrize("delimiter", [";", ","])
@pytest.mark.parametrize("title", [True, False])
def test_layouts_encodings_delimiters_title(tmp_path, layout, encoding, delimiter, title):
    path = ssb_csv(tmp_path / "p.csv", layout=layout, encoding=encoding, delimiter=delimiter,
                   title=title)
    raw = path.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf") == (encoding == "utf-8-sig")
    assert "ø".encode(encoding.removesuffix("-sig")) in raw and b"\r\n" in raw
    pd.testing.assert_frame_equal(read_ssb_07459(path), expected())


def test_sex_year_columns_as_statbank_writes_them(tmp_path):
    """The layout of issue 16: English, sex x year columns, Latin-1, CRLF, 'K-3201 Bærum'."""
    path = ssb_csv(tmp_path / "p.csv", layout="sex_year_cols", style="en", encoding="latin-1",
                   region="K-3201 Bærum")
    lines = path.read_bytes().decode("latin-1").split("\r\n")
    assert lines[2] == ('"region";"age";"Persons 2023 Males";"Persons 2023 Females";'
                        '"Persons 2024 Males";"Persons 2024 Females"')
    assert lines[-2].startswith('"K-3201 Bærum";"105 years or older";')
    pd.testing.assert_frame_equal(read_ssb_07459(path), expected("3201", "Bærum"))


def test_lf_line_ends(tmp_path):
    got = read_ssb_07459(ssb_csv(tmp_path / "p.csv", layout="wide", newline="\n"))
    pd.testing.assert_frame_equal(got, expected())


@pytest.mark.parametrize(("region", "number", "name"), [
    ("K-3222 Lørenskog", "3222", "Lørenskog"),
    ("3222", "3222", ""),
    ("0301 Oslo", "0301", "Oslo"),
    ("0 Hele landet", "0000", "Norge"),
    ("K-3033 Ullensaker (2020-2023)", "3033", "Ullensaker"),
    ("0230 Lørenskog (-2019)", "0230", "Lørenskog"),
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


def test_jsonstat_index_positions_not_key_order(tmp_path):
    """Categories are placed by their ``index`` positions, whatever order the keys come in."""
    doc = jsonstat(index="shuffled")
    cat = doc["dimension"]["Kjonn"]["category"]
    assert list(cat["index"]) == ["1", "2"] and cat["index"] == {"1": 1, "2": 0}
    assert list(doc["dimension"]["Alder"]["category"]["index"].values())[:2] == [105, 104]
    got = read_ssb_07459(write_json(tmp_path / "p.json", doc))
    pd.testing.assert_frame_equal(got, expected())


def test_jsonstat_key_order_bug_fails_the_shuffled_file(tmp_path, monkeypatch):
    """The shuffled file catches a reader that takes categories in key order (the old tests'
    files had keys in position order, so such a bug passed them)."""
    path = write_json(tmp_path / "p.json", jsonstat(index="shuffled"))
    right = ssb._categories

    def key_order(source, dim_id, dim, size):
        keys = list(dim["category"]["index"])
        return keys, [dim["category"]["label"][k] for k in keys]

    monkeypatch.setattr(ssb, "_categories", key_order)
    got = read_ssb_07459(path)
    assert not got.equals(expected())
    monkeypatch.setattr(ssb, "_categories", right)
    pd.testing.assert_frame_equal(read_ssb_07459(path), expected())


def test_static_jsonstat_fixture_has_shuffled_index():
    """The committed Ullensaker JSON-stat lists categories out of position order."""
    doc = json.loads((FIXTURES / "ullensaker_2023_jsonstat.json").read_text(encoding="utf-8"))
    sex = doc["dimension"]["Kjonn"]["category"]["index"]
    ages = doc["dimension"]["Alder"]["category"]["index"]
    assert list(sex) == ["1", "2"] and sex == {"1": 1, "2": 0}
    assert list(ages)[0] == "000" and ages["000"] == 105


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
    ("negative", dict(override={("female", 3, 2023): -5}), TITLE, ["-5", "0..100000000"]),
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
    ("negative value", set_value(0, -1), "value", ["-1", "0..100000000"]),
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


# --------------------------------------------------------------------------- absurd counts (#15)


@pytest.mark.parametrize("value", ["1e30", "99999999999999999999", "100000001", "1e308", "inf",
                                   "-inf", "nan", "NaN", "1_000", "-1"])
def test_absurd_csv_counts_are_one_line_errors(tmp_path, value):
    path = ssb_csv(tmp_path / "bad.csv", layout="wide", override={("male", 9, 2024): value})
    with pytest.raises(InputError) as exc:
        read_ssb_07459(path)
    check(exc, path, "2024 Personer", "line 13", repr(value), "0..100000000 (10^8) per cell")


@pytest.mark.parametrize("value", [1e30, 10**20, 10**400, 100_000_001, float("inf"),
                                   float("nan"), -3, True, "x"])
def test_absurd_jsonstat_counts_are_one_line_errors(tmp_path, value):
    doc = jsonstat()
    doc["value"][5] = value
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(doc), encoding="utf-8")  # inf/nan as JSON's Infinity/NaN
    with pytest.raises(InputError) as exc:
        read_ssb_07459(path)
    check(exc, path, "value", "value[5]", "0..100000000 (10^8) per cell")


def test_largest_allowed_count_is_read(tmp_path):
    path = ssb_csv(tmp_path / "p.csv", override={("male", 9, 2024): 100_000_000})
    got = read_ssb_07459(path)
    assert got.query("sex == 'male' and age == 9 and year == 2024").persons.item() == 10**8


def test_deeply_nested_json_is_one_line_error(tmp_path):
    path = tmp_path / "deep.json"
    path.write_text('{"a":' + "[" * 100_000 + "]" * 100_000 + "}", encoding="utf-8")
    with pytest.raises(InputError) as exc:
        read_ssb_07459(path)
    check(exc, path, None, "nested too deeply")


def test_huge_jsonstat_cube_refused_before_work(tmp_path):
    doc = jsonstat()
    doc["size"] = [10**4, 2, 106, 1, 10**3]
    path = write_json(tmp_path / "big.json", doc)
    with pytest.raises(InputError) as exc:
        read_ssb_07459(path)
    check(exc, path, "size", "2120000000 cells", "at most 50000000")


# --------------------------------------------------------------------------- blocks without counts


@pytest.mark.parametrize("missing", ["..", ".", ":", "0", "-", ""])
def test_region_year_without_counts_is_left_out(tmp_path, missing):
    """Statbank writes '..' (or 0) for a code not in use that year: left out and reported."""
    blank = {(1, s, a, 2023): missing for s in ("male", "female") for a in range(106)}
    path = ssb_csv(tmp_path / "p.csv", region=("K-3033 Ullensaker (2020-2023)",
                                               "K-3209 Ullensaker"), years=(2023, 2024),
                   override=blank)
    export = read_export(path)
    assert export.empty == [("3209", "Ullensaker", 2023)]
    want = pd.concat([expected("3033", "Ullensaker"), expected("3209", "Ullensaker", (2024,))])
    pd.testing.assert_frame_equal(export.table, want.reset_index(drop=True))


def test_partly_missing_block_is_an_error(tmp_path):
    path = ssb_csv(tmp_path / "p.csv", override={("female", 50, 2024): ".."})
    with pytest.raises(InputError) as exc:
        read_ssb_07459(path)
    check(exc, path, TITLE, "missing value '..'", "3222 2024 female age 50", "'-' = 0")


def test_file_without_any_counts(tmp_path):
    zero = {(s, a, y): ".." for s in ("male", "female") for a in range(106) for y in YEARS}
    path = ssb_csv(tmp_path / "p.csv", override=zero)
    with pytest.raises(InputError) as exc:
        read_ssb_07459(path)
    check(exc, path, None, "no counts")


# --------------------------------------------------------------------------- import into a folder


def read_out(path: Path) -> pd.DataFrame:
    return pd.read_csv(path, dtype={"kommunenummer": str})


def test_import_merges_files_and_maps_old_codes(tmp_path):
    """Lørenskog as 0230 (2019), 3029 (2020-2023) and 3222 (2024) in three layouts -> one file."""
    files = [
        ssb_csv(tmp_path / "a.csv", region="0230 Lørenskog (-2019)", years=(2019,),
                layout="sex_year_cols", style="en", encoding="latin-1"),
        ssb_csv(tmp_path / "b.csv", region="K-3029 Lørenskog (2020-2023)",
                years=(2020, 2021, 2022, 2023), layout="wide", delimiter=",", title=False),
        write_json(tmp_path / "c.json", jsonstat(index="shuffled", years=(2024,))),
    ]
    res = import_exports(files, tmp_path / "out")
    assert res.written == {"3222": tmp_path / "out" / "population_3222.csv"}
    got = read_out(res.written["3222"])
    pd.testing.assert_frame_equal(got, expected(years=range(2019, 2025)))
    assert [line for line in res.lines if line.startswith("mapped")] == [
        "mapped 0230 Lørenskog to 3222 Lørenskog: 2019",
        "mapped 3029 Lørenskog to 3222 Lørenskog: 2020..2023"]
    assert res.lines[-1].startswith("3222 Lørenskog: 2019..2024, ")


def test_merged_kommune_is_the_sum_of_its_parts(tmp_path):
    """Lillestrøm 3205 in 2019 = 0226 Sørum + 0227 Fet + 0231 Skedsmo (whole mappings)."""
    path = ssb_csv(tmp_path / "p.csv", region=("0226 Sørum", "0227 Fet", "0231 Skedsmo"),
                   years=(2019,), offset=1000)
    got = read_out(import_exports([path], tmp_path / "out").written["3205"])
    want = expected("3205", "Lillestrøm", (2019,))
    want["persons"] = 3 * want["persons"] + 3000  # offsets 0, 1000, 2000
    pd.testing.assert_frame_equal(got, want)


def test_one_file_a_year_into_the_same_folder_gives_the_union(tmp_path, runner):
    out = tmp_path / "out"
    for year in (2022, 2024, 2023, 2021):
        code = "K-3222 Lørenskog" if year == 2024 else "K-3029 Lørenskog (2020-2023)"
        path = ssb_csv(tmp_path / f"{year}.csv", region=code, years=(year,), layout="long")
        result = runner.invoke(app, ["data", "import", str(path), "--out", str(out)])
        assert result.exit_code == 0, result.output
    pd.testing.assert_frame_equal(read_out(out / "population_3222.csv"),
                                  expected(years=range(2021, 2025)))
    assert "3222 Lørenskog: 2021..2024 (added 2021 to population_3222.csv)" in result.output
    # The same file again: identical counts, nothing changes.
    before = (out / "population_3222.csv").read_bytes()
    again = runner.invoke(app, ["data", "import", str(path), "--out", str(out)])
    assert again.exit_code == 0 and (out / "population_3222.csv").read_bytes() == before
    assert "(nothing new for population_3222.csv)" in again.output


def test_identical_duplicates_are_accepted(tmp_path):
    """The same year in two files, and 2023 under both 3029 and its 2024 code 3222."""
    a = ssb_csv(tmp_path / "a.csv", region="3029 Lørenskog", years=(2023,))
    b = ssb_csv(tmp_path / "b.csv", region="3029 Lørenskog", years=(2023,), layout="sex_cols")
    c = ssb_csv(tmp_path / "c.csv", region="3222 Lørenskog", years=(2023, 2024))
    res = import_exports([a, b, c], tmp_path / "out")
    pd.testing.assert_frame_equal(read_out(res.written["3222"]), expected())


def test_norway_is_kept_as_0000(tmp_path):
    res = import_exports([ssb_csv(tmp_path / "n.csv", region="0 Hele landet")], tmp_path / "o")
    pd.testing.assert_frame_equal(read_out(res.written["0000"]), expected("0000", "Norge"))


def import_error(runner, tmp_path, files, out=None, *words):
    """Run the CLI import; assert exit 2, one 'error:' line with ``words``, nothing written."""
    out = out or tmp_path / "out"
    before = {p.name: p.read_bytes() for p in out.iterdir()} if out.is_dir() else None
    result = runner.invoke(app, ["data", "import", *map(str, files), "--out", str(out)])
    assert result.exit_code == 2, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.output
    assert "Traceback" not in result.output
    for word in words:
        assert word in lines[0], lines[0]
    if before is None:
        assert folder_is_empty_or_missing(out)
    else:
        assert {p.name: p.read_bytes() for p in out.iterdir()} == before
    return lines[0]


def test_conflicting_year_in_two_files(runner, tmp_path):
    a = ssb_csv(tmp_path / "a.csv", region="3029 Lørenskog", years=(2022,))
    b = ssb_csv(tmp_path / "b.csv", region="3029 Lørenskog", years=(2022,),
                override={("female", 40, 2022): 7})
    import_error(runner, tmp_path, [a, b], None, f"{b}: field 'persons'", str(a),
                 "3029 Lørenskog 2022", "female age 40 is 7 here but", "identical counts")


def test_conflicting_old_and_new_code_same_year(runner, tmp_path):
    a = ssb_csv(tmp_path / "a.csv", region=("3029 Lørenskog", "3222 Lørenskog"),
                years=(2023,), override={(1, "male", 3, 2023): 1})
    import_error(runner, tmp_path, [a], None, "3222 Lørenskog 2023 (code 3222 against 3029)",
                 "male age 3 is 1 here", "elsewhere in the file")


def test_conflict_with_the_folder(runner, tmp_path):
    out = tmp_path / "out"
    first = ssb_csv(tmp_path / "a.csv", region="3222 Lørenskog", years=(2024,))
    assert runner.invoke(app, ["data", "import", str(first), "--out", str(out)]).exit_code == 0
    second = ssb_csv(tmp_path / "b.csv", region="3222 Lørenskog", years=(2023, 2024),
                     override={("male", 0, 2024): 1})
    import_error(runner, tmp_path, [second], out, str(second), str(out / "population_3222.csv"),
                 "3222 Lørenskog 2024: male age 0 is 1 here")


def test_split_kommune_is_refused(runner, tmp_path):
    path = ssb_csv(tmp_path / "a.csv", region="K-1507 Ålesund (2020-2023)", years=(2021,))
    import_error(runner, tmp_path, [path], None, "field 'region'", "1507 Ålesund in 2021",
                 "1508 Ålesund (0.5), 1580 Haram (0.5)", "cannot be divided")


def test_kommune_with_a_split_part_is_refused(runner, tmp_path):
    """Heim 5055 in 2019 = 1571 Halsa + 5011 Hemne + part of 5012 Snillfjord: not composable."""
    path = ssb_csv(tmp_path / "a.csv", region=("1571 Halsa", "5011 Hemne"), years=(2019,))
    import_error(runner, tmp_path, [path], None, "5055 Heim in 2019 includes part of 5012")


def test_incomplete_merger_is_refused(runner, tmp_path):
    path = ssb_csv(tmp_path / "a.csv", region=("0231 Skedsmo", "0227 Fet"), years=(2019,))
    import_error(runner, tmp_path, [path], None, "3205 Lillestrøm in 2019 is the sum of "
                 "0226, 0227, 0231", "missing 0226")


@pytest.mark.parametrize(("region", "years", "words"), [
    ("9999 Nowhere", (2021,), ["9999 Nowhere in 2021", "the kommunenummer in use in 2021"]),
    ("3222 Lørenskog", (2015,), ["3222 Lørenskog in 2015"]),
    ("0301 Oslo", (1995,), ["0301 Oslo in 1995", "years 2000..2034"]),
])
def test_code_not_in_the_key(runner, tmp_path, region, years, words):
    path = ssb_csv(tmp_path / "a.csv", region=region, years=years)
    import_error(runner, tmp_path, [path], None, "field 'region'", *words)


def test_bad_file_among_good_ones_writes_nothing(runner, tmp_path):
    good = ssb_csv(tmp_path / "a.csv", region="3222 Lørenskog", years=(2024,))
    bad = ssb_csv(tmp_path / "b.csv", region="3205 Lillestrøm", years=(2024,),
                  override={("male", 1, 2024): "1e30"})
    import_error(runner, tmp_path, [good, bad], None, str(bad), "0..100000000")


def test_out_is_a_file(runner, tmp_path):
    good = ssb_csv(tmp_path / "a.csv", region="3222 Lørenskog", years=(2024,))
    out = tmp_path / "taken"
    out.write_text("x")
    result = runner.invoke(app, ["data", "import", str(good), "--out", str(out)])
    assert result.exit_code == 2 and result.output.startswith("error: ")
    assert "is a file, not a folder" in result.output and out.read_text() == "x"


def test_cli_reports_left_out_and_mapped(runner, tmp_path):
    blank = {(1, s, a, 2023): ".." for s in ("male", "female") for a in range(106)}
    path = ssb_csv(tmp_path / "p.csv", region=("K-3033 Ullensaker (2020-2023)",
                                               "K-3209 Ullensaker"), years=(2023, 2024),
                   override={**blank, **{(0, s, a, 2024): ".." for s in ("male", "female")
                                         for a in range(106)}})
    result = runner.invoke(app, ["data", "import", str(path), "--out", str(tmp_path / "o")])
    assert result.exit_code == 0, result.output
    assert f"{path}: 3033 Ullensaker: no counts in 2024" in result.output
    assert f"{path}: 3209 Ullensaker: no counts in 2023" in result.output
    assert "mapped 3033 Ullensaker to 3209 Ullensaker: 2023" in result.output
    assert "run it: kommunesim run --municipality 3209 --population" in result.output


# --------------------------------------------------------------------------- validate and Done-when

ULLENSAKER_FILES = ["ullensaker_2020_sex_year_cols_en.csv", "ullensaker_2021_long_no.csv",
                    "ullensaker_2022_sex_year_cols_en.csv", "ullensaker_2023_jsonstat.json",
                    "ullensaker_2024_sex_year_cols_en.csv"]
# SSB 07459, Ullensaker on 1 January (3033 in 2020-2023, 3209 from 2024; borders unchanged).
ULLENSAKER_TOTALS = {2020: 39_625, 2021: 40_459, 2022: 41_565, 2023: 42_866, 2024: 43_814}


def validate_app():
    import typer

    from calibration.cli import validate_cmd

    cli = typer.Typer()
    cli.command()(validate_cmd)
    return cli


def test_validate_too_short_history_is_one_line_without_warnings(runner, tmp_path):
    """2023-2024 is too short for any back-test (the shortest, from 2023, is estimated on
    2022-2023): exit 2, one line."""
    res = import_exports([FIXTURES / f for f in ULLENSAKER_FILES[3:]], tmp_path / "data")
    out = tmp_path / "validation"
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = runner.invoke(validate_app(), ["3209", "--population", str(res.written["3209"]),
                                                "--out", str(out), "--abm-runs", "0"])
    assert result.exit_code == 2, result.output
    assert result.output.strip() == (
        f"error: {res.written['3209']}: field 'year': validate needs the populations of every "
        "year 2022..2024 at least (a back-test from 2023 estimated on 2022..2023; 2005..2024 "
        "for all back-tests); 3209 has 2023..2024")
    assert not [w for w in caught if issubclass(w.category, RuntimeWarning)]
    assert not out.exists()


@pytest.mark.slow
def test_done_when_yearly_exports_of_renumbered_kommune_import_and_validate(runner, tmp_path):
    """Issue 16: the four yearly exports 2021-2024 of Ullensaker (3033 -> 3209 in 2024), in
    three layouts (English sex x year columns Latin-1, Norwegian long UTF-8 BOM, JSON-stat
    with a shuffled index), imported one file at a time into one folder, make one 2021-2024
    history that ``validate`` accepts (its short back-tests estimated from 2021); all five
    files at once give the 2020-2024 history."""
    data = tmp_path / "data"
    for name in ULLENSAKER_FILES[1:]:
        result = runner.invoke(app, ["data", "import", str(FIXTURES / name), "--out", str(data)])
        assert result.exit_code == 0, result.output
    assert "mapped 3033" not in result.output  # the last (2024) file uses 3209 itself
    assert sorted(p.name for p in data.iterdir()) == ["population_3209.csv"]
    got = read_out(data / "population_3209.csv")
    validate_population(got, "imported")
    assert set(got.kommunenummer) == {"3209"} and set(got.kommune) == {"Ullensaker"}
    assert got.groupby("year").persons.sum().to_dict() == {
        y: v for y, v in ULLENSAKER_TOTALS.items() if y >= 2021}
    # All five at once: one 2020-2024 history, saying which codes were mapped.
    once = runner.invoke(app, ["data", "import", *[str(FIXTURES / f) for f in ULLENSAKER_FILES],
                               "--out", str(tmp_path / "once")])
    assert "mapped 3033 Ullensaker to 3209 Ullensaker: 2020..2023" in once.output
    five = read_out(tmp_path / "once" / "population_3209.csv")
    assert five.groupby("year").persons.sum().to_dict() == ULLENSAKER_TOTALS
    pd.testing.assert_frame_equal(five[five.year >= 2021].reset_index(drop=True), got)

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = runner.invoke(validate_app(), [
            "3209", "--population", str(data / "population_3209.csv"), "--out",
            str(tmp_path / "validation"), "--abm-runs", "0", "--no-calibrate-targets"])
    assert result.exit_code == 0, result.output
    assert "3209 package: total error 1 Jan 2024 from 2022 = " in result.output
    report = (tmp_path / "validation" / "validation.md").read_text()
    assert "## Ullensaker (3209)" in report and "nan" not in report
    assert "| short 2022 | package | 2021–2022 | 2024 | 2 |" in report  # estimated from 2021
    assert not [w for w in caught if issubclass(w.category, RuntimeWarning)]


# --------------------------------------------------------------------------- redistricting key


def test_key_is_complete_and_consistent():
    from sim.data import redistricting as r

    key = r._key()
    assert sum(len(ts) for codes in key.values() for ts in codes.values()) == 14_195  # rows
    assert r.key_years() == (2000, 2034)
    for codes in key.values():  # every code's weights sum to one
        for targets in codes.values():
            assert sum(w for _, w in targets) == pytest.approx(1.0)
    names = r.names_2024()
    assert len(names) == 358 and names["0000"] == "Norge" and names["3209"] == "Ullensaker"
    for knr in set(names) - {"0000"}:  # the 2024 kommuner are the key's 2024 codes
        assert r.targets(knr, 2024) == ((knr, 1.0),)
    assert {k for k, _ in (t for ts in key[2024].values() for t in ts)} == set(names) - {"0000"}


@pytest.mark.parametrize(("knr", "year", "parts", "alias", "split"), [
    ("3222", 2019, ("0230",), None, ()),                  # Lørenskog before 2020
    ("3222", 2022, ("3029",), None, ()),
    ("3222", 2023, ("3029",), "3222", ()),                # renumbered 2024, listed early
    ("3209", 2023, ("3033",), "3209", ()),                # Ullensaker
    ("3205", 2019, ("0226", "0227", "0231"), None, ()),   # Lillestrøm = Sørum + Fet + Skedsmo
    ("1103", 2019, ("1103", "1141", "1142"), None, ()),   # Stavanger + Finnøy + Rennesøy
    ("5001", 2018, ("5001", "5030"), None, ()),           # Trondheim + Klæbu (merged 2020)
    ("1508", 2023, (), "1508", ("1507",)),                # Ålesund after the 2024 split
    ("5055", 2019, ("1571", "5011"), None, ("5012",)),    # Heim: Halsa, Hemne, part Snillfjord
])
def test_composition(knr, year, parts, alias, split):
    from sim.data.redistricting import Composition, composition

    assert composition(knr, year) == Composition(parts, alias, split)


def test_targets():
    from sim.data.redistricting import targets

    assert targets("3033", 2021) == (("3209", 1.0),)
    assert targets("0230", 2005) == (("3222", 1.0),)
    assert targets("1507", 2021) == (("1508", 0.5), ("1580", 0.5))
    assert targets("3222", 2015) == () and targets("0301", 1999) == ()
    assert targets("0000", 1990) == (("0000", 1.0),)


def test_damaged_file_in_the_folder(runner, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "population_3222.csv").write_text("year,kommunenummer\n2024,3222\n")
    good = ssb_csv(tmp_path / "a.csv", region="3222 Lørenskog", years=(2024,))
    import_error(runner, tmp_path, [good], out, str(out / "population_3222.csv"),
                 "missing column(s) kommune")
