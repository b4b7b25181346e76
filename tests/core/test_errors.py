from __future__ import annotations

from core.errors import AnnotationError, CatalogImportError, FvwError, ImageTooLargeError, InputError


def test_message_names_file_and_field():
    err = AnnotationError("points must be numbers", path="a/b.json", field="shapes[2].points")
    assert str(err) == "points must be numbers (file a/b.json, field 'shapes[2].points')"
    assert isinstance(err, FvwError) and err.message == "points must be numbers"


def test_hierarchy_lets_callers_catch_broadly():
    assert issubclass(ImageTooLargeError, InputError)


def test_catalog_import_error_lists_rows():
    err = CatalogImportError(
        "3 invalid rows", [(2, "unknown head 'x'"), (5, "length_mm must be > 0")], path="c.csv"
    )
    assert "row 2: unknown head 'x'; row 5: length_mm must be > 0" in str(err)
    assert err.row_errors[1][0] == 5
