from __future__ import annotations

import time

import numpy as np
import pytest

from core.catalog import (
    ATTRIBUTES,
    HEAD_GEOMETRY,
    build_catalog,
    export_csv,
    get_sku,
    import_csv,
    load_arrays,
    read_catalog,
    write_catalog,
)
from core.errors import CatalogError, CatalogImportError


@pytest.fixture(scope="module")
def catalog_db(tmp_path_factory):
    return write_catalog(build_catalog(), tmp_path_factory.mktemp("cat") / "catalog.sqlite")


def test_default_catalog_is_deterministic_unique_and_covers_taxonomy(catalog_db):
    a = load_arrays(catalog_db)
    assert len(a) == 15_000
    assert len(set(a.ids.tolist())) == 15_000
    assert a.ids[0] == "FVW-000001" and a.ids[-1] == "FVW-015000"
    for attr, idx in (
        ("head", a.head_idx),
        ("finish", a.finish_idx),
        ("tip", a.tip_idx),
        ("thread", a.thread_idx),
    ):
        assert set(idx.tolist()) == set(range(len(ATTRIBUTES[attr])))  # type: ignore[index]
    again = build_catalog()
    assert [s.id for s in again[:50]] == a.ids[:50].tolist()
    assert again[123] == a.sku(123)
    # short screws (length close to the head diameter) are present
    hd = np.asarray([HEAD_GEOMETRY[s.head].diameter * s.diameter_mm for s in again])
    ln = np.asarray([s.length_mm for s in again])
    assert 0.03 < np.mean(ln <= 1.5 * hd) < 0.6


def test_load_arrays_under_one_second(catalog_db):
    t0 = time.perf_counter()
    a = load_arrays(catalog_db)
    assert time.perf_counter() - t0 < 1.0
    assert a.length_mm.dtype == np.float32 and a.head_idx.dtype == np.int16


def test_lookup_and_missing(catalog_db, tmp_path):
    a = load_arrays(catalog_db)
    assert get_sku(str(a.ids[7]), catalog_db) == a.sku(7)
    assert a.row_of(str(a.ids[9])) == 9
    with pytest.raises(CatalogError, match="unknown SKU id"):
        get_sku("NOPE", catalog_db)
    with pytest.raises(CatalogError, match="catalog file not found"):
        load_arrays(tmp_path / "missing.sqlite")


def test_csv_round_trip(catalog_db, tmp_path):
    skus = read_catalog(catalog_db)[:20]
    path = export_csv(skus, tmp_path / "c.csv")
    assert import_csv(path) == skus


def _csv(tmp_path, body: str):
    p = tmp_path / "in.csv"
    p.write_text("id,name,head,finish,tip,thread,length_mm,diameter_mm\n" + body, encoding="utf-8")
    return p


def test_csv_errors_are_reported_per_row(tmp_path):
    p = _csv(
        tmp_path,
        "A1,,pan,zinc,sharp,full,20,4\n"
        "A2,,pann,zinc,sharp,full,20,4\n"
        "A1,,hex,brass,flat,short,30,6\n"
        "A3,,hex,brass,flat,short,abc,-2\n"
        ",,hex,brass,flat,short,10,3\n",
    )
    with pytest.raises(CatalogImportError) as ei:
        import_csv(p)
    errs = ei.value.row_errors
    rows = {r for r, _ in errs}
    assert rows == {3, 4, 5, 6}
    assert any(r == 3 and "unknown head value 'pann'" in m and "valid values: flat" in m for r, m in errs)
    assert any(r == 4 and "duplicate id 'A1' (first used in row 2)" in m for r, m in errs)
    assert any(r == 5 and "length_mm 'abc' is not a number" in m for r, m in errs)
    assert any(r == 5 and "diameter_mm '-2' is outside" in m for r, m in errs)
    assert any(r == 6 and "id is empty" in m for r, m in errs)
    assert "row 3" in str(ei.value)


def test_csv_missing_columns_and_file(tmp_path):
    p = tmp_path / "bad.csv"
    p.write_text("id,head\nX,pan\n", encoding="utf-8")
    with pytest.raises(CatalogImportError, match="missing columns finish, tip"):
        import_csv(p)
    with pytest.raises(CatalogImportError, match="not found"):
        import_csv(tmp_path / "nope.csv")


def test_valid_csv_generates_names(tmp_path):
    skus = import_csv(_csv(tmp_path, "B1,,Pan,zinc,sharp,full,20,4\n\n"))
    assert skus[0].head == "pan" and skus[0].name.startswith("Pan head 4 x 20 mm")


def test_cli_build_and_import(tmp_path, capsys):
    from core.catalog.__main__ import main

    assert (
        main(
            [
                "import",
                str(_csv(tmp_path, "A1,,pan,zinc,sharp,full,20,4\nA1,,x,zinc,sharp,full,20,4\n")),
                "--db",
                str(tmp_path / "x.sqlite"),
            ]
        )
        == 2
    )
    err = capsys.readouterr().err
    assert "row 3: unknown head value 'x'" in err and "row 3: duplicate id" in err
    assert not (tmp_path / "x.sqlite").exists()
