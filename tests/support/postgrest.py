"""A PostgREST-compatible HTTP server over a real PostgreSQL database, for tests.

Production talks to Supabase through supabase-py, which speaks PostgREST 12. There is no
PostgREST binary on the test machines, so this module serves the same wire protocol with
Starlette + asyncpg and lets the real client talk to it unchanged. Every statement runs in the
real database: types, constraints, triggers, defaults and row-level security are Postgres's own.

Emulated (as PostgREST 12 does it, to the extent supabase-py 2.34 can observe):

- `GET/HEAD/POST/PATCH/DELETE /rest/v1/<table>` and `GET/HEAD/POST /rest/v1/rpc/<function>`.
- Auth: the Bearer JWT (else `apikey`, else the `anon` role) is checked with HS256 and each
  request runs in one transaction as `claims.role`, with `request.jwt.claims`,
  `request.jwt.claim.sub`, `request.jwt.claim.role`, `request.method`, `request.path` and
  `request.headers` set locally, so RLS policies and `auth.uid()` behave as on Supabase.
  GET/HEAD run read-only.
- Filters `eq neq gt gte lt lte like ilike match imatch in is isdistinct cs cd ov sl sr nxl nxr
  adj fts plfts phfts wfts`, the `not.` prefix and the `(any)`/`(all)` modifiers, ANDed.
  Values reach Postgres as text parameters cast to the column's type. Logic trees `or=(…)`,
  `and=(…)`, `not.or=`, `not.and=` on the root table, nested, with its value syntax (a value
  ends at `,` or `)` unless double-quoted with backslash escapes, or a `{…}` array).
- `select=` with columns, `*` and `alias:column`; `order=`; `limit`, `offset`, `Range` header.
- `Accept: application/vnd.pgrst.object+json` (406 `PGRST116` unless exactly one row) and
  `nulls=stripped`; `Prefer: return=, count=, resolution=, missing=default`; `columns=` and
  `on_conflict=`; `Content-Range`, 206 for partial counted pages, 416 past the end.
- Errors as `{"code", "message", "details", "hint"}` with PostgREST's status for each SQLSTATE,
  and the `PGRST` codes the client can meet here (102, 103, 106, 107, 116, 202, 203, 204, 205,
  301, 000).
- Supabase's `safeupdate`: PATCH and DELETE without a filter fail with `21000`.

Refused rather than answered wrongly: resource embedding (`select=*,other(*)`), filters and
logic trees on embedded resources (`other.or=`), JSON paths and casts in `select`, limit/offset
on PATCH/DELETE and non-object RPC bodies (400 `PGRST100`); CSV and plan output (406
`PGRST107`); PUT (405 `PGRST117`).

Not emulated at all: `Prefer: tx=`/`handling=`/`max-affected=`/`params=single-object`, unnamed
and variadic RPC arguments, the OpenAPI root, `jwt-aud` checks, per-role statement timeouts and
the schema cache (the catalog is read on every request, so DDL is visible at once, without
`NOTIFY pgrst`). `count=planned`/`estimated` get an exact count. A body over 1 MiB gets 413, as
from the Supabase gateway. Timestamps render in UTC, as on Supabase.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import re
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, Final, Literal, TypeAlias

import asyncpg
import jwt
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from tests.support.serving import ThreadedServer

if TYPE_CHECKING:
    from asyncpg.pool import PoolConnectionProxy

__all__ = ["PostgrestDouble", "PostgrestError", "make_jwt"]

logger = logging.getLogger(__name__)

_Connection: TypeAlias = "PoolConnectionProxy[asyncpg.Record]"

MAX_BODY_BYTES: Final = 1024 * 1024
OBJECT_MEDIA_TYPE: Final = "application/vnd.pgrst.object+json"
ARRAY_MEDIA_TYPE: Final = "application/vnd.pgrst.array+json"
ANON_ROLE: Final = "anon"
_ALL_METHODS: Final = ["GET", "HEAD", "POST", "PATCH", "DELETE", "PUT", "OPTIONS"]
_NOT_CONNECTED_MESSAGE: Final = (
    "Could not connect with the database due to an incorrect db-uri or due to the PostgreSQL "
    "service not running."
)


def make_jwt(secret: str, *, role: str, sub: str | None = None, expires_in: int = 3600) -> str:
    """Mints an HS256 key the way Supabase does for `anon`, `service_role` and user sessions."""
    now = int(time.time())
    claims: dict[str, Any] = {"role": role, "iat": now, "exp": now + expires_in}
    if sub is not None:
        claims["sub"] = sub
    if role == "authenticated":
        claims["aud"] = "authenticated"
    return jwt.encode(claims, secret, algorithm="HS256")


class PostgrestError(Exception):
    """An error response in PostgREST's JSON shape."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        *,
        details: str | None = None,
        hint: str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.details = details
        self.hint = hint
        self.headers = dict(headers or {})

    def response(self) -> Response:
        body = {
            "code": self.code,
            "details": self.details,
            "hint": self.hint,
            "message": self.message,
        }
        headers = dict(self.headers)
        if self.code.startswith("PGRST"):
            headers["Proxy-Status"] = f"PostgREST; error={self.code}"
        return Response(
            json.dumps(body),
            status_code=self.status,
            headers=headers,
            media_type="application/json; charset=utf-8",
        )


def _parse_error(message: str, details: str | None = None) -> PostgrestError:
    return PostgrestError(400, "PGRST100", message, details=details)


def _unsupported(feature: str) -> PostgrestError:
    return _parse_error(f"{feature} is not supported by the PostgREST test double")


# PostgREST's `pgErrorStatus`: exact SQLSTATEs first, then the two-character class, else 400.
_STATUS_BY_SQLSTATE: Final = {
    "23503": 409,
    "23505": 409,
    "25006": 405,
    "42883": 404,
    "42P01": 404,
    "42P17": 500,
    "53400": 500,
    "P0001": 400,
}
_STATUS_BY_CLASS: Final = {
    "08": 503,
    "09": 500,
    "0L": 403,
    "0P": 403,
    "25": 500,
    "28": 403,
    "2D": 500,
    "38": 500,
    "39": 500,
    "3B": 500,
    "40": 500,
    "53": 503,
    "54": 500,
    "55": 500,
    "57": 500,
    "58": 500,
    "F0": 500,
    "HV": 500,
    "P0": 500,
    "XX": 500,
}


def _database_error(error: asyncpg.PostgresError, role: str) -> PostgrestError:
    code = str(error.sqlstate or "XX000")
    if code == "42501":
        status = 401 if role == ANON_ROLE else 403
    elif code.startswith("PT") and code[2:].isdigit():
        status = int(code[2:])  # `raise sqlstate 'PT402'` picks the HTTP status.
    else:
        status = _STATUS_BY_SQLSTATE.get(code, _STATUS_BY_CLASS.get(code[:2], 400))
    return PostgrestError(
        status,
        code,
        str(error.message),
        details=getattr(error, "detail", None),
        hint=getattr(error, "hint", None),
    )


def _ident(name: str) -> str:
    """Quotes an identifier; callers only pass names checked against the catalog."""
    return '"' + name.replace('"', '""') + '"'


# --- catalog ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Column:
    name: str
    type: str  # format_type() output: trusted, from the catalog, usable in CAST(... AS type).


@dataclass(frozen=True)
class _Source:
    """Something rows are read from: a table, or a function call in FROM."""

    from_sql: str
    ref: str
    label: str
    columns: Mapping[str, _Column]

    def column(self, name: str) -> _Column:
        column = self.columns.get(name)
        if column is None:
            raise PostgrestError(400, "42703", f"column {self.label}.{name} does not exist")
        return column


@dataclass(frozen=True)
class _Table:
    schema: str
    name: str
    columns: Mapping[str, _Column]
    primary_key: tuple[str, ...]

    @property
    def ref(self) -> str:
        return f"{_ident(self.schema)}.{_ident(self.name)}"

    def source(self) -> _Source:
        return _Source(self.ref, self.ref, self.name, self.columns)

    def body_column(self, name: str) -> str:
        if name not in self.columns:
            raise PostgrestError(
                400,
                "PGRST204",
                f"Could not find the '{name}' column of '{self.name}' in the schema cache",
            )
        return name


@dataclass(frozen=True)
class _Argument:
    name: str
    type: str
    has_default: bool


@dataclass(frozen=True)
class _Function:
    schema: str
    name: str
    arguments: tuple[_Argument, ...]
    returns: Literal["void", "scalar", "rows"]
    returns_set: bool
    columns: Mapping[str, _Column]

    @property
    def ref(self) -> str:
        return f"{_ident(self.schema)}.{_ident(self.name)}"

    def accepts(self, keys: frozenset[str]) -> bool:
        names = {argument.name for argument in self.arguments}
        required = {argument.name for argument in self.arguments if not argument.has_default}
        return keys <= names and required <= keys


_TABLE_SQL: Final = """
SELECT a.attname::text AS name,
       format_type(a.atttypid, NULL) AS type,
       EXISTS (SELECT FROM pg_catalog.pg_index AS i
               WHERE i.indrelid = c.oid AND i.indisprimary AND a.attnum = ANY (i.indkey))
         AS is_primary
FROM pg_catalog.pg_class AS c
JOIN pg_catalog.pg_namespace AS n ON n.oid = c.relnamespace
JOIN pg_catalog.pg_attribute AS a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
WHERE n.nspname = $1 AND c.relname = $2 AND c.relkind IN ('r', 'p', 'v', 'm', 'f')
ORDER BY a.attnum
"""

_FUNCTIONS_SQL: Final = """
SELECT p.proretset AS returns_set,
       p.pronargs AS input_count,
       p.pronargdefaults AS default_count,
       p.prorettype = 'pg_catalog.void'::regtype AS returns_void,
       t.typtype::text AS return_kind,
       coalesce(p.proargnames, ARRAY[]::text[]) AS arg_names,
       coalesce(p.proargmodes::text[], ARRAY[]::text[]) AS arg_modes,
       ARRAY(SELECT format_type(u.oid, NULL)
             FROM unnest(coalesce(p.proallargtypes, p.proargtypes::oid[]))
               WITH ORDINALITY AS u(oid, position)
             ORDER BY u.position) AS arg_types,
       ARRAY(SELECT a.attname::text FROM pg_catalog.pg_attribute AS a
             WHERE a.attrelid = t.typrelid AND a.attnum > 0 AND NOT a.attisdropped
             ORDER BY a.attnum) AS row_names,
       ARRAY(SELECT format_type(a.atttypid, NULL) FROM pg_catalog.pg_attribute AS a
             WHERE a.attrelid = t.typrelid AND a.attnum > 0 AND NOT a.attisdropped
             ORDER BY a.attnum) AS row_types
FROM pg_catalog.pg_proc AS p
JOIN pg_catalog.pg_namespace AS n ON n.oid = p.pronamespace
JOIN pg_catalog.pg_type AS t ON t.oid = p.prorettype
WHERE n.nspname = $1 AND p.proname = $2 AND p.prokind = 'f'
"""


async def _load_table(conn: _Connection, schema: str, name: str) -> _Table:
    rows = await conn.fetch(_TABLE_SQL, schema, name)
    if not rows:
        raise PostgrestError(
            404, "PGRST205", f"Could not find the table '{schema}.{name}' in the schema cache"
        )
    columns = {row["name"]: _Column(row["name"], row["type"]) for row in rows}
    primary_key = tuple(row["name"] for row in rows if row["is_primary"])
    return _Table(schema, name, columns, primary_key)


def _function_from_row(schema: str, name: str, row: asyncpg.Record) -> _Function:
    names: list[str] = list(row["arg_names"])
    modes: list[str] = list(row["arg_modes"]) or ["i"] * row["input_count"]
    types: list[str] = list(row["arg_types"])
    inputs: list[tuple[str, str]] = []
    outputs: dict[str, _Column] = {}
    for position, mode in enumerate(modes):
        arg_name = names[position] if position < len(names) else ""
        if mode in ("i", "b", "v"):
            inputs.append((arg_name, types[position]))
        if mode in ("o", "b", "t"):
            outputs[arg_name] = _Column(arg_name, types[position])
    first_default = len(inputs) - row["default_count"]
    arguments = tuple(
        _Argument(arg_name, arg_type, position >= first_default)
        for position, (arg_name, arg_type) in enumerate(inputs)
    )
    returns: Literal["void", "scalar", "rows"]
    if row["returns_void"]:
        returns = "void"
    elif row["return_kind"] == "c":
        returns = "rows"
        outputs = {
            column: _Column(column, column_type)
            for column, column_type in zip(row["row_names"], row["row_types"], strict=True)
        }
    elif row["return_kind"] == "p" and len(outputs) > 1:
        returns = "rows"  # RETURNS TABLE (...) or several OUT parameters.
    else:
        returns = "scalar"
        outputs = {}
    return _Function(schema, name, arguments, returns, row["returns_set"], outputs)


async def _load_functions(conn: _Connection, schema: str, name: str) -> list[_Function]:
    rows = await conn.fetch(_FUNCTIONS_SQL, schema, name)
    return [_function_from_row(schema, name, row) for row in rows]


def _choose_function(
    candidates: Sequence[_Function], schema: str, name: str, keys: frozenset[str]
) -> _Function:
    """Picks the overload whose argument names fit the request, as PostgREST does."""
    matches = [function for function in candidates if function.accepts(keys)]
    if len(matches) == 1:
        return matches[0]
    signature = ", ".join(sorted(keys))
    if matches:
        raise PostgrestError(
            300,
            "PGRST203",
            f"Could not choose the best candidate function between: {len(matches)} overloads "
            f"of {schema}.{name}({signature})",
        )
    raise PostgrestError(
        404,
        "PGRST202",
        f"Could not find the function {schema}.{name}({signature}) in the schema cache",
        details=(
            f"Searched for the function {schema}.{name} with parameters {signature}, but no "
            "matches were found in the schema cache."
        ),
        hint=(
            "If a new function was created in the database with this name and parameters, "
            "try reloading the schema cache."
        ),
    )


# --- request parsing -------------------------------------------------------------------------


def _split_top_level(text: str, separator: str = ",") -> list[str]:
    """Splits on `separator` outside double quotes and parentheses, keeping the quotes."""
    parts: list[str] = []
    current: list[str] = []
    depth = 0
    quoted = escaped = False
    for char in text:
        if escaped:
            escaped = False
        elif quoted and char == "\\":
            escaped = True
        elif char == '"':
            quoted = not quoted
        elif not quoted and char == "(":
            depth += 1
        elif not quoted and char == ")":
            depth -= 1
        elif not quoted and depth == 0 and char == separator:
            parts.append("".join(current))
            current = []
            continue
        current.append(char)
    parts.append("".join(current))
    return parts


def _unquote(token: str) -> str:
    if len(token) >= 2 and token[0] == token[-1] == '"':
        return re.sub(r"\\(.)", r"\1", token[1:-1])
    return token


def _name_list(text: str) -> tuple[str, ...]:
    return tuple(_unquote(part.strip()) for part in _split_top_level(text) if part.strip())


@dataclass(frozen=True)
class _Filter:
    column: str
    operator: str
    modifier: str | None
    value: str
    negated: bool


@dataclass(frozen=True)
class _Order:
    column: str
    descending: bool
    nulls: Literal["FIRST", "LAST"] | None


@dataclass(frozen=True)
class _SelectItem:
    column: str | None  # None for `*`.
    alias: str | None = None


@dataclass(frozen=True)
class _Logic:
    """An `or=(…)`/`and=(…)` tree: its members joined by `operator`, the whole maybe negated."""

    operator: Literal["AND", "OR"]
    negated: bool
    members: tuple[_Filter | _Logic, ...]

    def leaves(self) -> Iterator[_Filter]:
        for member in self.members:
            if isinstance(member, _Logic):
                yield from member.leaves()
            else:
                yield member


@dataclass(frozen=True)
class _Query:
    select: tuple[_SelectItem, ...]
    filters: tuple[_Filter, ...]
    logic: tuple[_Logic, ...]
    order: tuple[_Order, ...]
    offset: int
    limit: int | None
    columns: tuple[str, ...] | None
    on_conflict: tuple[str, ...] | None


_OPERATOR = re.compile(r"(?P<op>[a-z]+)(?:\((?P<modifier>[\w.]+)\))?")
_ORDER_TERM = re.compile(r'(?P<column>"(?:[^"\\]|\\.)*"|[^.]+)(?P<modifiers>(?:\.[a-z]+)*)')
_RANGE = re.compile(r"(?:items=)?(?P<lower>\d+)-(?P<upper>\d*)")


def _parse_filter(column: str, expression: str) -> _Filter:
    text = expression
    negated = text.startswith("not.")
    if negated:
        text = text[len("not.") :]
    operator, dot, value = text.partition(".")
    match = _OPERATOR.fullmatch(operator)
    if not dot or match is None:
        raise _parse_error(f"failed to parse filter ({expression})")
    return _Filter(_unquote(column), match["op"], match["modifier"], value, negated)


class _TreeSyntax(Exception):
    """The text at the parser's position is not what it tried; it backtracks or gives up."""


class _TreeParser:
    """PostgREST's logic tree grammar (`pLogicTree`): members separated by commas, each either a
    filter `column.operator.value` or a nested `[not.]and(…)`/`[not.]or(…)`. A value ends at the
    first `,` or `)` unless double-quoted (a backslash escapes the next character inside the
    quotes) or a `{…}` array literal; spaces and tabs around columns and separators are skipped."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0

    def tree(self, operator: str, negated: bool) -> _Logic:
        """The members after the `or`/`and` key: `(member,member,…)` and nothing after."""
        logic = self._members(operator, negated)
        if self.pos != len(self.text):
            raise _TreeSyntax
        return logic

    def _peek(self) -> str:
        return self.text[self.pos : self.pos + 1]

    def _skip_blanks(self) -> None:
        while self._peek() and self._peek() in " \t":
            self.pos += 1

    def _at_value_end(self) -> bool:
        """At a `,` or `)`, or past the end (where the closing `)` is then missing)."""
        return self.pos >= len(self.text) or self.text[self.pos] in ",)"

    def _take(self, literal: str) -> bool:
        if self.text.startswith(literal, self.pos):
            self.pos += len(literal)
            return True
        return False

    def _expect(self, literal: str) -> None:
        if not self._take(literal):
            raise _TreeSyntax

    def _members(self, operator: str, negated: bool) -> _Logic:
        self._skip_blanks()
        self._expect("(")
        members = [self._member()]
        self._skip_blanks()
        while self._take(","):
            members.append(self._member())
            self._skip_blanks()
        self._expect(")")
        self._skip_blanks()
        return _Logic("AND" if operator == "and" else "OR", negated, tuple(members))

    def _member(self) -> _Filter | _Logic:
        start = self.pos
        try:
            return self._filter()
        except _TreeSyntax:
            self.pos = start
        self._skip_blanks()
        negated = self._take("not.")
        for operator in ("and", "or"):
            if self._take(operator):
                return self._members(operator, negated)
        raise _TreeSyntax

    def _filter(self) -> _Filter:
        self._skip_blanks()
        column = self._column()
        self._skip_blanks()
        self._expect(".")
        negated = self._take("not.")
        match = _OPERATOR.match(self.text, self.pos)
        if match is None or not self.text.startswith(".", match.end()):
            raise _TreeSyntax
        self.pos = match.end() + 1
        operator = match["op"]
        value = self._list() if operator == "in" else self._value()
        return _Filter(column, operator, match["modifier"], value, negated)

    def _column(self) -> str:
        if self._peek() == '"':
            return self._quoted()
        match = _TREE_COLUMN.match(self.text, self.pos)
        if match is None:
            raise _TreeSyntax
        self.pos = match.end()
        return match.group().strip()

    def _quoted(self) -> str:
        """A double-quoted text, unescaped."""
        self._expect('"')
        chars: list[str] = []
        while (char := self._peek()) != '"':
            if not char:
                raise _TreeSyntax
            if char == "\\":
                self.pos += 1
                char = self._peek()
                if not char:
                    raise _TreeSyntax
            chars.append(char)
            self.pos += 1
        self.pos += 1
        return "".join(chars)

    def _value(self) -> str:
        start = self.pos
        if self._peek() == '"':
            try:
                value = self._quoted()
                if self._at_value_end():
                    return value
            except _TreeSyntax:
                pass
            self.pos = start
        if self._peek() == "{":
            end = self.text.find("}", self.pos)
            inner = self.text[self.pos + 1 : end]
            if end != -1 and "{" not in inner:
                self.pos = end + 1
                return self.text[start : self.pos]
        while not self._at_value_end():
            self.pos += 1
        return self.text[start : self.pos]

    def _list(self) -> str:
        """An `in` list, kept as its text `(a,"b,c")` for `_condition` to split."""
        start = self.pos
        self._skip_blanks()
        self._expect("(")
        while True:
            if self._peek() == '"':
                self._quoted()
            while not self._at_value_end():
                self.pos += 1
            if not self._take(","):
                break
        self._expect(")")
        return self.text[start : self.pos].strip(" \t")


# `pFieldName`: identifiers of letters, digits, `_`, `$` and spaces, joined by single dashes.
_TREE_COLUMN = re.compile(r"[\w $]+(?:-(?!>)[\w $]+)*")


def _parse_logic(key: str, value: str) -> _Logic:
    negated, _, operator = key.rpartition(".")
    try:
        return _TreeParser(value).tree(operator, bool(negated))
    except _TreeSyntax:
        raise _parse_error(f"failed to parse logic tree ({value})") from None


def _parse_select(text: str) -> tuple[_SelectItem, ...]:
    items: list[_SelectItem] = []
    for raw in _split_top_level(text):
        item = raw.strip()
        if not item:
            continue
        if item == "*":
            items.append(_SelectItem(None))
            continue
        if "(" in item or "->" in item or "::" in item or item.startswith("..."):
            raise _unsupported(f"select item {item!r} (embedding, JSON paths, casts)")
        alias, colon, column = item.partition(":")
        if colon:
            items.append(_SelectItem(_unquote(column), _unquote(alias)))
        else:
            items.append(_SelectItem(_unquote(item)))
    return tuple(items) or (_SelectItem(None),)


def _parse_order(text: str) -> tuple[_Order, ...]:
    terms: list[_Order] = []
    for raw in _split_top_level(text):
        match = _ORDER_TERM.fullmatch(raw.strip())
        if match is None:
            raise _parse_error(f"failed to parse order ({text})")
        modifiers = [modifier for modifier in match["modifiers"].split(".") if modifier]
        if not set(modifiers) <= {"asc", "desc", "nullsfirst", "nullslast"}:
            raise _parse_error(f"failed to parse order ({text})")
        nulls: Literal["FIRST", "LAST"] | None = None
        if "nullsfirst" in modifiers:
            nulls = "FIRST"
        elif "nullslast" in modifiers:
            nulls = "LAST"
        terms.append(_Order(_unquote(match["column"]), "desc" in modifiers, nulls))
    return tuple(terms)


def _parse_int(name: str, text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise _parse_error(f"failed to parse {name} parameter ({text})") from None
    if value < 0:
        raise _parse_error(f"{name} must be a non-negative integer")
    return value


def _parse_query(
    items: Sequence[tuple[str, str]],
    range_header: str | None,
    *,
    arguments: frozenset[str] = frozenset(),
) -> _Query:
    select: tuple[_SelectItem, ...] = (_SelectItem(None),)
    filters: list[_Filter] = []
    logic: list[_Logic] = []
    order: tuple[_Order, ...] = ()
    offset = 0
    limit: int | None = None
    columns: tuple[str, ...] | None = None
    on_conflict: tuple[str, ...] | None = None
    for key, value in items:
        if key in arguments:
            continue
        if key == "select":
            select = _parse_select(value)
        elif key == "order":
            order = _parse_order(value)
        elif key == "offset":
            offset = _parse_int("offset", value)
        elif key == "limit":
            limit = _parse_int("limit", value)
        elif key == "columns":
            columns = _name_list(value)
        elif key == "on_conflict":
            on_conflict = _name_list(value)
        elif key in ("or", "and", "not.or", "not.and"):
            logic.append(_parse_logic(key, value))
        elif "." in _unquote(key):
            raise _unsupported(f"the query parameter {key!r} (embedded filters and logic trees)")
        else:
            filters.append(_parse_filter(key, value))
    if range_header:
        match = _RANGE.fullmatch(range_header.strip())
        if match is None:
            raise PostgrestError(416, "PGRST103", "Requested range not satisfiable")
        header_lower = int(match["lower"])
        header_upper = int(match["upper"]) if match["upper"] else None
        query_upper = None if limit is None else offset + limit - 1
        offset = max(offset, header_lower)
        uppers = [upper for upper in (query_upper, header_upper) if upper is not None]
        limit = max(min(uppers) - offset + 1, 0) if uppers else None
    return _Query(select, tuple(filters), tuple(logic), order, offset, limit, columns, on_conflict)


@dataclass(frozen=True)
class _Preferences:
    representation: bool = False
    count: bool = False
    resolution: Literal["merge", "ignore"] | None = None
    missing_default: bool = False

    @classmethod
    def parse(cls, header: str) -> _Preferences:
        values = {part.strip() for part in header.split(",") if part.strip()}
        resolution: Literal["merge", "ignore"] | None = None
        if "resolution=merge-duplicates" in values:
            resolution = "merge"
        elif "resolution=ignore-duplicates" in values:
            resolution = "ignore"
        return cls(
            representation="return=representation" in values,
            count=any(value.startswith("count=") for value in values),
            resolution=resolution,
            missing_default="missing=default" in values,
        )


def _parse_accept(header: str) -> tuple[bool, bool]:
    """Returns (singular, strip_nulls) for the first media type this server can produce."""
    for raw in header.split(",") if header.strip() else ["*/*"]:
        media, *parameters = (part.strip() for part in raw.split(";"))
        strip_nulls = "nulls=stripped" in parameters
        if media == OBJECT_MEDIA_TYPE:
            return True, strip_nulls
        if media in ("application/json", ARRAY_MEDIA_TYPE, "application/*", "*/*"):
            return False, strip_nulls
    raise PostgrestError(406, "PGRST107", f"None of these media types are available: {header}")


_NO_BODY: Final = object()


@dataclass(frozen=True)
class _Context:
    """What a request asks for, once authenticated and parsed."""

    method: str
    path: str
    role: str
    claims: Mapping[str, Any]
    headers: Mapping[str, str]
    preferences: _Preferences
    singular: bool
    strip_nulls: bool
    items: tuple[tuple[str, str], ...]
    range_header: str | None
    body: Any = field(default=_NO_BODY)

    @property
    def read_only(self) -> bool:
        return self.method in ("GET", "HEAD")


# --- SQL building ----------------------------------------------------------------------------


class _Statement:
    """Collects positional parameters while SQL text is assembled; values never enter it."""

    def __init__(self) -> None:
        self.params: list[object] = []

    def param(self, value: object, pg_type: Literal["text", "text[]", "json", "bigint"]) -> str:
        self.params.append(value)
        return f"${len(self.params)}::{pg_type}"


_COMPARISONS: Final = {
    "eq": "=",
    "neq": "<>",
    "gt": ">",
    "gte": ">=",
    "lt": "<",
    "lte": "<=",
    "isdistinct": "IS DISTINCT FROM",
    "cs": "@>",
    "cd": "<@",
    "ov": "&&",
    "sl": "<<",
    "sr": ">>",
    "nxr": "&<",
    "nxl": "&>",
    "adj": "-|-",
}
_PATTERNS: Final = {"like": "LIKE", "ilike": "ILIKE", "match": "~", "imatch": "~*"}
_TEXT_SEARCHES: Final = {
    "fts": "to_tsquery",
    "plfts": "plainto_tsquery",
    "phfts": "phraseto_tsquery",
    "wfts": "websearch_to_tsquery",
}
_IS_VALUES: Final = {
    "null": "NULL",
    "not_null": "NOT NULL",
    "true": "TRUE",
    "false": "FALSE",
    "unknown": "UNKNOWN",
}
_QUANTIFIERS: Final = {"any": "ANY", "all": "ALL"}


def _quantifier(modifier: str | None) -> str | None:
    if modifier is None:
        return None
    quantifier = _QUANTIFIERS.get(modifier)
    if quantifier is None:
        raise _parse_error(f"unknown operator modifier ({modifier})")
    return quantifier


def _condition(source: _Source, condition: _Filter, statement: _Statement) -> str:
    column = source.column(condition.column)
    target = f"{source.ref}.{_ident(column.name)}"
    operator, value = condition.operator, condition.value
    if operator == "is":
        keyword = _IS_VALUES.get(value.lower())
        if keyword is None:
            raise _parse_error(f"failed to parse filter (is.{value})")
        sql = f"{target} IS {keyword}"
    elif operator == "in":
        if not (value.startswith("(") and value.endswith(")")):
            raise _parse_error(f"failed to parse filter (in.{value})")
        inner = value[1:-1]
        members = [_unquote(member) for member in _split_top_level(inner)] if inner else []
        elements = statement.param(members, "text[]")
        sql = (
            f"{target} = ANY (SELECT CAST(pgrst_v AS {column.type}) "
            f"FROM unnest({elements}) AS pgrst_v)"
        )
    elif operator in _PATTERNS:
        pattern = value.replace("*", "%") if operator in ("like", "ilike") else value
        quantifier = _quantifier(condition.modifier)
        if quantifier is None:
            sql = f"{target} {_PATTERNS[operator]} {statement.param(pattern, 'text')}"
        else:
            array = f"CAST({statement.param(pattern, 'text')} AS text[])"
            sql = f"{target} {_PATTERNS[operator]} {quantifier} ({array})"
    elif operator in _TEXT_SEARCHES:
        query = statement.param(value, "text")
        config = ""
        if condition.modifier is not None:
            config = f"CAST({statement.param(condition.modifier, 'text')} AS regconfig), "
        document = target if column.type == "tsvector" else f"to_tsvector({config}{target})"
        sql = f"{document} @@ {_TEXT_SEARCHES[operator]}({config}{query})"
    elif operator in _COMPARISONS:
        quantifier = _quantifier(condition.modifier)
        if quantifier is None:
            operand = f"CAST({statement.param(value, 'text')} AS {column.type})"
            sql = f"{target} {_COMPARISONS[operator]} {operand}"
        else:
            elements = f"CAST({statement.param(value, 'text')} AS text[])"
            sql = (
                f"{target} {_COMPARISONS[operator]} {quantifier} (SELECT CAST(pgrst_v AS "
                f"{column.type}) FROM unnest({elements}) AS pgrst_v)"
            )
    else:
        raise _parse_error(f"failed to parse filter ({operator}.{value})", "unknown operator")
    return f"NOT ({sql})" if condition.negated else sql


def _where(source: _Source, query: _Query, statement: _Statement) -> str:
    """The filters and the logic trees, ANDed."""
    conditions = [_condition(source, f, statement) for f in query.filters]
    conditions += [_logic_condition(source, tree, statement) for tree in query.logic]
    return " AND ".join(conditions) or "TRUE"


def _logic_condition(source: _Source, tree: _Logic, statement: _Statement) -> str:
    members = [
        _logic_condition(source, m, statement)
        if isinstance(m, _Logic)
        else f"({_condition(source, m, statement)})"
        for m in tree.members
    ]
    sql = f"({f' {tree.operator} '.join(members)})"
    return f"NOT {sql}" if tree.negated else sql


def _select_list(source: _Source, items: Sequence[_SelectItem]) -> str:
    parts: list[str] = []
    for item in items:
        if item.column is None:
            parts.append(f"{source.ref}.*")
            continue
        column = source.column(item.column)
        parts.append(f"{source.ref}.{_ident(column.name)} AS {_ident(item.alias or column.name)}")
    return ", ".join(parts)


def _order_by(source: _Source, order: Sequence[_Order]) -> str:
    terms = []
    for term in order:
        column = source.column(term.column)
        sql = f"{source.ref}.{_ident(column.name)} {'DESC' if term.descending else 'ASC'}"
        if term.nulls:
            sql += f" NULLS {term.nulls}"
        terms.append(sql)
    return f" ORDER BY {', '.join(terms)}" if terms else ""


def _aggregate(page_sql: str, total_sql: str, *, strip_nulls: bool) -> str:
    """Renders rows to JSON in Postgres, as PostgREST does, so values look exactly like its."""
    row = "json_strip_nulls(to_json(pgrst_row))" if strip_nulls else "pgrst_row"
    return (
        f"SELECT {total_sql} AS total, count(*) AS page_total, "
        f"coalesce(json_agg({row}), '[]')::text AS body, (json_agg({row}) -> 0)::text AS first "
        f"FROM ({page_sql}) AS pgrst_row"
    )


def _read_sql(source: _Source, query: _Query, statement: _Statement, ctx: _Context) -> str:
    select = _select_list(source, query.select)
    where = _where(source, query, statement)
    page = f"SELECT {select} FROM {source.from_sql} WHERE {where}{_order_by(source, query.order)}"
    if query.limit is not None:
        page += f" LIMIT {statement.param(query.limit, 'bigint')}"
    if query.offset:
        page += f" OFFSET {statement.param(query.offset, 'bigint')}"
    total = "NULL::bigint"
    if ctx.preferences.count:
        total = f"(SELECT count(*) FROM {source.from_sql} WHERE {where})"
    return _aggregate(page, total, strip_nulls=ctx.strip_nulls)


def _rows(body: Any) -> list[Mapping[str, Any]]:
    rows = body if isinstance(body, list) else [body]
    if not all(isinstance(row, dict) for row in rows):
        raise PostgrestError(400, "PGRST102", "Empty or invalid json")
    return rows


def _insert_sql(table: _Table, query: _Query, ctx: _Context, statement: _Statement) -> str | None:
    rows = _rows(ctx.body)
    if query.columns is not None:
        names = list(query.columns)
    elif isinstance(ctx.body, list):
        names = list(rows[0]) if rows else []
        if any(set(row) != set(names) for row in rows):
            raise PostgrestError(400, "PGRST102", "All object keys must match")
    else:
        names = list(rows[0])
    columns = ", ".join(_ident(table.body_column(name)) for name in names)
    if not rows:
        return None
    if ctx.preferences.missing_default and names:
        tuples = []
        for row in rows:
            payload = statement.param(json.dumps(row), "json")
            record = f"json_populate_record(NULL::{table.ref}, {payload})"
            cells = [f"({record}).{_ident(name)}" if name in row else "DEFAULT" for name in names]
            tuples.append(f"({', '.join(cells)})")
        sql = f"INSERT INTO {table.ref} ({columns}) VALUES {', '.join(tuples)}"
    else:
        # json_populate_recordset converts every JSON value with the column type's own rules,
        # exactly as PostgREST's json_to_recordset does.
        payload = statement.param(json.dumps(rows), "json")
        target = f" ({columns})" if names else ""
        sql = (
            f"INSERT INTO {table.ref}{target} SELECT {columns} "
            f"FROM json_populate_recordset(NULL::{table.ref}, {payload})"
        )
    resolution = ctx.preferences.resolution
    if resolution is not None:
        keys = [table.body_column(name) for name in query.on_conflict or table.primary_key]
        conflict_target = f" ({', '.join(_ident(key) for key in keys)})" if keys else ""
        if resolution == "ignore" or not names:
            sql += f" ON CONFLICT{conflict_target} DO NOTHING"
        elif not keys:
            raise PostgrestError(
                400,
                "42P10",
                "there is no unique or exclusion constraint matching the ON CONFLICT specification",
            )
        else:
            updates = ", ".join(f"{_ident(n)} = EXCLUDED.{_ident(n)}" for n in names)
            sql += f" ON CONFLICT{conflict_target} DO UPDATE SET {updates}"
    return sql


def _require_filters(query: _Query, verb: str) -> None:
    if query.limit is not None or query.offset:
        raise _unsupported(f"limit/offset on {verb}")
    if not query.filters and not query.logic:
        # Supabase loads the safeupdate extension for API requests.
        raise PostgrestError(400, "21000", f"{verb} requires a WHERE clause")


def _update_sql(table: _Table, query: _Query, ctx: _Context, statement: _Statement) -> str | None:
    if not isinstance(ctx.body, dict):
        raise PostgrestError(400, "PGRST102", "Empty or invalid json")
    _require_filters(query, "UPDATE")
    if not ctx.body:
        return None
    assignments = ", ".join(
        f"{_ident(table.body_column(name))} = pgrst_body.{_ident(name)}" for name in ctx.body
    )
    payload = statement.param(json.dumps(ctx.body), "json")
    where = _where(table.source(), query, statement)
    return (
        f"UPDATE {table.ref} SET {assignments} FROM (SELECT * FROM "
        f"json_populate_record(NULL::{table.ref}, {payload})) AS pgrst_body WHERE {where}"
    )


def _delete_sql(table: _Table, query: _Query, statement: _Statement) -> str:
    _require_filters(query, "DELETE")
    return f"DELETE FROM {table.ref} WHERE {_where(table.source(), query, statement)}"


# --- responses -------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Result:
    page_total: int
    total: int | None
    body: str
    first: str | None

    @classmethod
    def from_record(cls, record: asyncpg.Record | None) -> _Result:
        assert record is not None  # An aggregate always yields one row.
        return cls(record["page_total"], record["total"], record["body"], record["first"])


def _content_range(lower: int, upper: int, total: int | None) -> str:
    total_text = "*" if total is None else str(total)
    if total != 0 and lower <= upper:
        return f"{lower}-{upper}/{total_text}"
    return f"*/{total_text}"


def _json_response(
    ctx: _Context,
    status: int,
    body: str | None,
    *,
    content_range: str | None = None,
) -> Response:
    headers = {"Content-Range": content_range} if content_range else {}
    if body is None or ctx.method == "HEAD":
        return Response(status_code=status, headers=headers)
    media = OBJECT_MEDIA_TYPE if ctx.singular else "application/json"
    return Response(body, status_code=status, headers=headers, media_type=f"{media}; charset=utf-8")


def _check_singular(ctx: _Context, rows: int) -> None:
    if ctx.singular and rows != 1:
        raise PostgrestError(
            406,
            "PGRST116",
            "Cannot coerce the result to a single JSON object",
            details=f"The result contains {rows} rows",
        )


def _write_response(ctx: _Context, result: _Result) -> Response:
    _check_singular(ctx, result.page_total)
    created = ctx.method == "POST"
    total = result.page_total if ctx.preferences.count else None
    if created:
        content_range = _content_range(1, 0, total)
    else:
        content_range = _content_range(0, result.page_total - 1, total)
    if not ctx.preferences.representation:
        return _json_response(ctx, 201 if created else 204, None, content_range=content_range)
    body = result.first if ctx.singular else result.body
    return _json_response(ctx, 201 if created else 200, body, content_range=content_range)


def _read_response(ctx: _Context, query: _Query, result: _Result) -> Response:
    lower = query.offset
    upper = lower + result.page_total - 1
    status = 200
    if result.total is not None:
        if lower > result.total:
            raise PostgrestError(
                416,
                "PGRST103",
                "Requested range not satisfiable",
                details=(
                    f"An offset of {lower} was requested, but there are only {result.total} rows."
                ),
            )
        if result.page_total < result.total:
            status = 206
    _check_singular(ctx, result.page_total)
    body = result.first if ctx.singular else result.body
    return _json_response(
        ctx, status, body, content_range=_content_range(lower, upper, result.total)
    )


# --- the application -------------------------------------------------------------------------


_Handler = Callable[[Request, _Context], Awaitable[Response]]


class _Api:
    def __init__(self, dsn: str, jwt_secret: str, schema: str) -> None:
        self._dsn = dsn
        self._jwt_secret = jwt_secret
        self._schema = schema
        self._pool: asyncpg.Pool | None = None
        self._pool_lock: asyncio.Lock | None = None
        self.outages = 0

    def app(self) -> Starlette:
        return Starlette(
            routes=[
                Route("/rest/v1/rpc/{function}", self._rpc_endpoint, methods=_ALL_METHODS),
                Route("/rest/v1/{table}", self._table_endpoint, methods=_ALL_METHODS),
                Route("/{path:path}", self._not_found, methods=_ALL_METHODS),
            ],
            lifespan=self._lifespan,
        )

    @contextlib.asynccontextmanager
    async def _lifespan(self, _app: Starlette) -> AsyncIterator[None]:
        # Each start() runs a new event loop: loop-bound objects are made here, per run.
        self._pool_lock = asyncio.Lock()
        try:
            yield
        finally:
            pool, self._pool = self._pool, None
            if pool is not None:
                try:
                    await asyncio.wait_for(pool.close(), timeout=5)
                except TimeoutError:
                    pool.terminate()

    # -- database access

    async def _connect(self) -> tuple[asyncpg.Pool, _Connection]:
        assert self._pool_lock is not None, "requests are only served inside the lifespan"
        try:
            async with self._pool_lock:
                # Created on first use, so the double starts (and recovers) while Postgres is down.
                if self._pool is None:
                    self._pool = await asyncpg.create_pool(
                        self._dsn,
                        min_size=0,
                        max_size=10,
                        # Tests change tables while the server runs: cached plans would go stale.
                        statement_cache_size=0,
                        server_settings={"timezone": "UTC", "application_name": "postgrest-double"},
                    )
            connection = await self._pool.acquire(timeout=10)
        except (OSError, TimeoutError, asyncpg.PostgresError) as error:
            raise PostgrestError(
                503, "PGRST000", _NOT_CONNECTED_MESSAGE, details=str(error)
            ) from error
        return self._pool, connection

    @contextlib.asynccontextmanager
    async def _transaction(self, ctx: _Context) -> AsyncIterator[_Connection]:
        """One transaction per request, rolled back by any error, as in PostgREST."""
        pool, connection = await self._connect()
        try:
            async with connection.transaction(readonly=ctx.read_only):
                yield connection
        except asyncpg.PostgresError as error:
            raise _database_error(error, ctx.role) from error
        except OSError as error:
            raise PostgrestError(
                503, "PGRST001", "Database client error", details=str(error)
            ) from error
        finally:
            await pool.release(connection)

    @staticmethod
    async def _assume_role(connection: _Connection, ctx: _Context) -> None:
        """Becomes the JWT's role for the rest of the transaction, so RLS applies."""
        await connection.execute(
            "SELECT set_config('role', $1, true), set_config('request.jwt.claim.role', $1, true),"
            " set_config('request.jwt.claims', $2, true),"
            " set_config('request.jwt.claim.sub', $3, true),"
            " set_config('request.method', $4, true), set_config('request.path', $5, true),"
            " set_config('request.headers', $6, true)",
            ctx.role,
            json.dumps(ctx.claims),
            str(ctx.claims.get("sub") or ""),
            ctx.method,
            ctx.path,
            json.dumps(dict(ctx.headers)),
        )

    # -- request parsing

    async def _not_found(self, _request: Request) -> Response:
        return PostgrestError(404, "PGRST125", "Invalid path specified in request URL").response()

    async def _table_endpoint(self, request: Request) -> Response:
        return await self._guarded(request, self._table)

    async def _rpc_endpoint(self, request: Request) -> Response:
        return await self._guarded(request, self._rpc)

    async def _guarded(self, request: Request, handler: _Handler) -> Response:
        try:
            if self.outages:
                raise PostgrestError(503, "PGRST000", _NOT_CONNECTED_MESSAGE)
            return await handler(request, await self._context(request))
        except PostgrestError as error:
            return error.response()
        except Exception:
            logger.exception("the PostgREST double failed on %s", request.url.path)
            return PostgrestError(500, "XX000", "Internal error in the test double").response()

    def _claims(self, request: Request) -> dict[str, Any]:
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not token:
            token = request.headers.get("apikey", "")
        if not token:
            return {"role": ANON_ROLE}
        try:
            claims: dict[str, Any] = jwt.decode(
                token, self._jwt_secret, algorithms=["HS256"], options={"verify_aud": False}
            )
        except jwt.ExpiredSignatureError:
            raise _jwt_error("JWT expired") from None
        except jwt.InvalidSignatureError:
            raise _jwt_error("JWSError JWSInvalidSignature") from None
        except jwt.PyJWTError as error:
            raise _jwt_error(f"JWSError {error}") from None
        return claims

    async def _context(self, request: Request) -> _Context:
        claims = self._claims(request)
        role = claims.get("role") or ANON_ROLE
        if not isinstance(role, str):
            raise _jwt_error("JWT role claim is not a string")
        method = request.method
        profile_header = "accept-profile" if method in ("GET", "HEAD") else "content-profile"
        if request.headers.get(profile_header, self._schema) != self._schema:
            raise PostgrestError(
                406, "PGRST106", f"The schema must be one of the following: {self._schema}"
            )
        singular, strip_nulls = _parse_accept(request.headers.get("accept", ""))
        return _Context(
            method=method,
            path=request.url.path,
            role=role,
            claims=claims,
            headers={key.lower(): value for key, value in request.headers.items()},
            preferences=_Preferences.parse(request.headers.get("prefer", "")),
            singular=singular,
            strip_nulls=strip_nulls,
            items=tuple(request.query_params.multi_items()),
            range_header=request.headers.get("range"),
            body=await _read_json(request) if method in ("POST", "PATCH") else _NO_BODY,
        )

    # -- tables

    async def _table(self, request: Request, ctx: _Context) -> Response:
        if ctx.method not in ("GET", "HEAD", "POST", "PATCH", "DELETE"):
            raise PostgrestError(405, "PGRST117", f"Unsupported HTTP method: {ctx.method}")
        if ctx.method in ("POST", "PATCH") and ctx.body is _NO_BODY:
            raise PostgrestError(400, "PGRST102", "Empty or invalid json")
        query = _parse_query(ctx.items, ctx.range_header if ctx.read_only else None)
        async with self._transaction(ctx) as connection:
            # The catalog is read as the superuser, like PostgREST's schema cache.
            table = await _load_table(connection, self._schema, request.path_params["table"])
            statement = _Statement()
            if ctx.read_only:
                sql = _read_sql(table.source(), query, statement, ctx)
                await self._assume_role(connection, ctx)
                record = await connection.fetchrow(sql, *statement.params)
                return _read_response(ctx, query, _Result.from_record(record))
            write: str | None
            if ctx.method == "POST":
                write = _insert_sql(table, query, ctx, statement)
            elif ctx.method == "PATCH":
                write = _update_sql(table, query, ctx, statement)
            else:
                write = _delete_sql(table, query, statement)
            returned = _Source("pgrst_source", "pgrst_source", table.name, table.columns)
            select = _select_list(returned, query.select)
            await self._assume_role(connection, ctx)
            if write is None:
                result = _Result(0, None, "[]", None)
            elif ctx.preferences.representation:
                sql = f"WITH pgrst_source AS ({write} RETURNING {table.ref}.*) " + _aggregate(
                    f"SELECT {select} FROM pgrst_source",
                    "NULL::bigint",
                    strip_nulls=ctx.strip_nulls,
                )
                result = _Result.from_record(await connection.fetchrow(sql, *statement.params))
            else:
                # No RETURNING: as in PostgREST, a minimal write needs no SELECT policy on its rows.
                status_tag = await connection.execute(write, *statement.params)
                result = _Result(int(status_tag.rsplit(" ", 1)[-1]), None, "[]", None)
            return _write_response(ctx, result)

    # -- functions

    async def _rpc(self, request: Request, ctx: _Context) -> Response:
        name = request.path_params["function"]
        if ctx.method not in ("GET", "HEAD", "POST"):
            raise PostgrestError(405, "PGRST117", f"Unsupported HTTP method: {ctx.method}")
        body = {} if ctx.body is _NO_BODY else ctx.body
        if not isinstance(body, dict):
            raise _unsupported("an RPC body that is not a JSON object")
        async with self._transaction(ctx) as connection:
            candidates = await _load_functions(connection, self._schema, name)
            if ctx.read_only:
                # GET sends the arguments in the query string, beside the filters.
                names = {argument.name for f in candidates for argument in f.arguments}
                arguments: dict[str, Any] = {k: v for k, v in ctx.items if k in names}
            else:
                arguments = body
            keys = frozenset(arguments)
            function = _choose_function(candidates, self._schema, name, keys)
            query = _parse_query(
                ctx.items, ctx.range_header, arguments=keys if ctx.read_only else frozenset()
            )
            statement = _Statement()
            source = _call_source(function, arguments, statement)
            if function.returns != "rows":
                for condition in (*query.filters, *(f for t in query.logic for f in t.leaves())):
                    source.column(condition.column)  # A scalar has no columns to filter on.
            await self._assume_role(connection, ctx)
            if function.returns == "void":
                await connection.execute(
                    f"SELECT count(*) FROM {source.from_sql}", *statement.params
                )
                return Response(status_code=204)
            if function.returns == "scalar":
                # A bare JSON value: the object media type has nothing to coerce.
                value = "coalesce(json_agg(pgrst_call.pgrst_value), '[]')"
                if not function.returns_set:
                    value = "to_json(pgrst_call.pgrst_value)"
                sql = f"SELECT {value}::text FROM {source.from_sql}"
                body_text = await connection.fetchval(sql, *statement.params)
                return _json_response(replace(ctx, singular=False), 200, body_text or "null")
            sql = _read_sql(source, query, statement, ctx)
            result = _Result.from_record(await connection.fetchrow(sql, *statement.params))
            if function.returns_set:
                return _read_response(ctx, query, result)
            return _json_response(replace(ctx, singular=False), 200, result.first or "null")


def _jwt_error(message: str) -> PostgrestError:
    challenge = f'Bearer error="invalid_token", error_description="{message}"'
    return PostgrestError(401, "PGRST301", message, headers={"WWW-Authenticate": challenge})


async def _read_json(request: Request) -> Any:
    too_large = PostgrestError(413, "413", "Payload Too Large")
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_BODY_BYTES:
        raise too_large
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            raise too_large
        chunks.append(chunk)
    raw = b"".join(chunks)
    if not raw.strip():
        return _NO_BODY
    try:
        return json.loads(raw)
    except ValueError as error:
        raise PostgrestError(400, "PGRST102", "Empty or invalid json", details=str(error)) from None


def _call_source(
    function: _Function, arguments: Mapping[str, Any], statement: _Statement
) -> _Source:
    """The function call as a FROM item named `pgrst_call`, arguments passed by name."""
    columns = "" if function.returns == "rows" else "(pgrst_value)"
    if not arguments:
        return _Source(
            f"{function.ref}() AS pgrst_call{columns}",
            "pgrst_call",
            function.name,
            function.columns,
        )
    types = {argument.name: argument.type for argument in function.arguments}
    payload = statement.param(json.dumps(arguments), "json")
    definitions = ", ".join(f"{_ident(key)} {types[key]}" for key in arguments)
    named = ", ".join(f"{_ident(key)} => pgrst_args.{_ident(key)}" for key in arguments)
    # json_to_record converts each argument by its declared type's rules, as PostgREST does.
    from_sql = (
        f"json_to_record({payload}) AS pgrst_args({definitions}), "
        f"LATERAL {function.ref}({named}) AS pgrst_call{columns}"
    )
    return _Source(from_sql, "pgrst_call", function.name, function.columns)


# --- the server ------------------------------------------------------------------------------


class PostgrestDouble:
    """Serves PostgREST's API for `schema` of the database at `dsn` on a local port.

    Run it from synchronous code (a fixture): uvicorn gets its own thread and event loop, so
    the test's loop is free to drive the real supabase client against `url`.
    """

    def __init__(self, dsn: str, jwt_secret: str, *, schema: str = "public") -> None:
        self._api = _Api(dsn, jwt_secret, schema)
        self._server = ThreadedServer(self._api.app(), name="postgrest-double")
        self._outage_lock = threading.Lock()

    @property
    def url(self) -> str:
        return self._server.url

    def start(self) -> str:
        return self._server.start()

    def stop(self) -> None:
        self._server.stop()

    @contextlib.contextmanager
    def unavailable(self) -> Iterator[None]:
        """Answers every request with 503 while inside, like an outage behind the gateway."""
        with self._outage_lock:
            self._api.outages += 1
        try:
            yield
        finally:
            with self._outage_lock:
                self._api.outages -= 1

    def __enter__(self) -> PostgrestDouble:
        self.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self.stop()
