"""Database ids in URLs: `<int:...>` matches only ids a database row can have.

Werkzeug's `int` converter accepts any number of digits; an id beyond the column's range then
reaches the database driver, which raises (SQLite: OverflowError beyond 64 bits; PostgreSQL:
"integer out of range" beyond 32 bits, since parameters are cast to the column's type) and the
request ends in a 500. No row has such an id, so the URL simply does not match: 404, like any
other missing object. `int` covers INTEGER id columns (almost all); a route on a BIGINT id
(bank entries) says `<bigid:...>`.
"""

from __future__ import annotations

from flask import Flask
from werkzeug.routing import IntegerConverter

MAX_INTEGER_ID = 2**31 - 1  # INTEGER (PostgreSQL's 32-bit int)
MAX_BIGINT_ID = 2**63 - 1  # BIGINT


class DatabaseIdConverter(IntegerConverter):
    """`int` limited to 0..MAX_INTEGER_ID, unless a route gives its own `max`."""

    # A few digits more than the bound needs, so a thousand-digit id never reaches int() (which
    # refuses more than 4300 digits) and the range check below still sees leading zeros.
    regex = r"\d{1,24}"
    default_max = MAX_INTEGER_ID

    def __init__(self, map, fixed_digits=0, min=None, max=None, signed=False):  # noqa: A002
        super().__init__(
            map,
            fixed_digits=fixed_digits,
            min=min,
            max=self.default_max if max is None else max,
            signed=signed,
        )


class BigIdConverter(DatabaseIdConverter):
    """`bigid`: an id of a BIGINT column, 0..MAX_BIGINT_ID."""

    default_max = MAX_BIGINT_ID


def install_id_converter(app: Flask) -> None:
    """Make `int` in every route the bounded converter and add `bigid`; call before registering
    blueprints (a rule takes its converter when it is added)."""
    app.url_map.converters["int"] = DatabaseIdConverter
    app.url_map.converters["bigid"] = BigIdConverter


def database_id(text: str) -> int:
    """An INTEGER id from a query or form value, for `request.args.get(..., type=database_id)`;
    raises ValueError (Flask then uses the default, or skips the item in getlist) for anything
    else, including ids no row can have."""
    if not text.isascii() or not text.isdigit() or len(text) > 24:
        raise ValueError("not an id")
    value = int(text)
    if value > MAX_INTEGER_ID:
        raise ValueError("not an id")
    return value


MAX_PAGE = 1_000_000  # far beyond any real listing; keeps OFFSET inside every integer type


def page_number(text: str) -> int:
    """A 1-based page number from a query value (`type=page_number`); ValueError otherwise."""
    value = database_id(text)
    if not 1 <= value <= MAX_PAGE:
        raise ValueError("not a page")
    return value
