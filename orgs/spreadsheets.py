"""What every workbook the project writes shares: text that a spreadsheet would take for a formula
(=HYPERLINK(…), +1, -a, @b, a leading tab or CR) is written as text, shown and never run."""

# Text starting with one of these becomes a formula when typed into (or opened by) a spreadsheet.
FORMULA_LEADS = ("=", "+", "-", "@", "\t", "\r")


def looks_like_formula(value) -> bool:
    return isinstance(value, str) and value.startswith(FORMULA_LEADS)


def keep_as_text(cell) -> None:
    """Make `cell` (openpyxl, normal or write-only) a text cell with Excel's quote prefix, so a
    value that looks like a formula is shown, and stays text when the cell is edited."""
    cell.data_type = "s"
    cell.quotePrefix = True
