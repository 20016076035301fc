"""Cells that a spreadsheet would run as formulas, made inert on export and restored on import.

A cell starting with `=`, `+`, `-`, `@`, tab or CR can be executed by Excel or
Sheets when the file is opened (CSV injection), so an exported cell gets a
leading apostrophe: spreadsheets show it as text and hide the apostrophe. The
import removes exactly that apostrophe again, so an export re-imports unchanged.
Phone numbers are exported as they are stored (E.164): a validated `+` and
digits cannot carry a formula, and the number stays the number.
"""

from __future__ import annotations

TRIGGERS = ("=", "+", "-", "@", "\t", "\r")
MARK = "'"


def neutralize(cell: str) -> str:
    return MARK + cell if cell.startswith(TRIGGERS) else cell


def restore(cell: str) -> str:
    """Undo `neutralize`; any other apostrophe is the cell's own and stays."""
    return cell[1:] if cell.startswith(MARK) and cell[1:].startswith(TRIGGERS) else cell
