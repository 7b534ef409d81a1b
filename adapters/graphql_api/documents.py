"""Turning a query text into a validated document, cheaply refusing what is too big.

In order, each step only on what passed the one before:
1. a token count by regular expression (C speed), so an oversized text is refused without
   running graphql-core's lexer over it;
2. parsing, bounded by the same token limit;
3. the cost rule (depth, fields, estimated cost; ``query_cost``);
4. the specification's validation rules, some of them quadratic in fields, which is why
   they come last.

Clients send the same few documents over and over, so outcomes are kept in an LRU cache
keyed by a digest of the text. The cache is bounded by entries and by the total length of
the texts it keeps parsed documents for, so it never holds many large documents.
"""

from __future__ import annotations

import hashlib
import re
import threading
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

from graphql import (
    DocumentNode,
    GraphQLError,
    GraphQLSchema,
    GraphQLSyntaxError,
    parse,
    specified_rules,
    validate,
)

from dockyard.adapters.graphql_api.limits import LimitExceeded, QueryLimits
from dockyard.adapters.graphql_api.query_cost import cost_rule


def error(message: str, code: str, **extensions: Any) -> dict[str, Any]:
    return {"message": message, "extensions": {"code": code, **extensions}}


@dataclass(frozen=True)
class CacheInfo:
    hits: int
    misses: int
    entries: int
    chars: int  # of the texts whose parsed documents are kept


@dataclass(frozen=True)
class Prepared:
    document: DocumentNode | None
    errors: tuple[dict[str, Any], ...]


# One match per token GraphQL's lexer would count; whitespace, commas and comments are
# absorbed (possessively, so nothing backtracks) into the token that follows them. Ignored
# text at the very end makes a match without a token.
_TOKEN = re.compile(
    r"""[\s,\ufeff]*+(?:\#[^\n\r]*+[\s,\ufeff]*+)*+
    (?: (?P<token> "{3}(?:[^"\\]|\\.|"(?!""))*+(?:"{3})?
      | "(?:[^"\\\n\r]|\\.)*+"?
      | \.\.\.
      | [_A-Za-z][_0-9A-Za-z]*+
      | -?[0-9][0-9.eE+-]*+
      | [!$&():=@\[\]{|}]
      | .  # no token starts so: a syntax error for the parser, a token here
    ) | \Z )""",
    re.VERBOSE,
)
_NAME = re.compile(r"[_A-Za-z][_0-9A-Za-z]*")
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]|U\+D[89A-F]")


def more_tokens_than(text: str, limit: int) -> bool:
    if len(text) <= limit:
        return False  # every token takes a character at least
    # subn counts matches without making a match object for each (C speed); only the last
    # two matches can be without a token (ignored text at the end, then the empty end).
    _, matches = _TOKEN.subn("", text, count=limit + 3)
    if matches <= limit or matches > limit + 2:
        return matches > limit
    return len(_tokens(text)) > limit


def _tokens(text: str) -> list[str]:
    return [token for match in _TOKEN.finditer(text) if (token := match.group("token"))]


def literal_owner(text: str, offset: int) -> str | None:
    """Where the string literal running at ``offset`` sits, as ``field(argument.key…)``:
    the keys of the enclosing input objects, walked back through the tokens before it."""
    tokens = _tokens(text[:offset])
    if not tokens or not tokens[-1].startswith('"'):
        return None
    path: list[str] = []
    depth, keyed = 0, False
    for i in range(len(tokens) - 2, -1, -1):
        token = tokens[i]
        if token in ("}", "]", ")"):
            depth += 1
        elif token in ("{", "[", "("):
            if depth:
                depth -= 1
            elif token == "(":
                owner = tokens[i - 1] if i and _NAME.fullmatch(tokens[i - 1]) else "?"
                return f"{owner}({'.'.join(reversed(path))})"
            else:
                keyed = False  # up one level: the next key names this object or list
        elif token == ":" and not depth and not keyed and i and _NAME.fullmatch(tokens[i - 1]):
            path.append(tokens[i - 1])
            keyed = True
    return ".".join(reversed(path)) or None


def _syntax_error(query: str, exc: GraphQLSyntaxError, limits: QueryLimits) -> dict[str, Any]:
    if f"more than {limits.max_tokens} tokens" in exc.message:
        return _too_many_tokens(limits)
    offset = next(iter(exc.positions)) if exc.positions else None
    if offset is not None and _SURROGATE_ESCAPE.search(exc.message):
        owner = literal_owner(query, offset) or "a string literal"
        where = exc.locations[0] if exc.locations else None
        at = f" (line {where.line}, column {where.column})" if where else ""
        return error(
            f"Invalid input for {owner}{at}: the string contains a lone UTF-16 surrogate, "
            "which is not Unicode text.",
            "BAD_USER_INPUT",
        )
    return _formatted(exc, "GRAPHQL_PARSE_FAILED")


def _too_many_tokens(limits: QueryLimits) -> dict[str, Any]:
    refused = LimitExceeded(
        "max_tokens",
        limits.max_tokens,
        f"more than {limits.max_tokens} tokens",
        f"Query refused: the document has more than {limits.max_tokens} tokens",
    )
    return error(str(refused), refused.code, **{k: v for k, v in refused.extensions.items() if k != "code"})


def _formatted(exc: GraphQLError, code: str) -> dict[str, Any]:
    formatted: dict[str, Any] = dict(exc.formatted)
    original = exc.original_error
    extensions = dict(formatted.get("extensions") or {})
    extensions["code"] = getattr(original, "code", None) or code
    formatted["extensions"] = extensions
    return formatted


def prepare(schema: GraphQLSchema, query: str, limits: QueryLimits) -> Prepared:
    if more_tokens_than(query, limits.max_tokens):
        return Prepared(None, (_too_many_tokens(limits),))
    try:
        document = parse(query, max_tokens=limits.max_tokens)
        problems = validate(schema, document, [cost_rule(limits)])
        if not problems:
            problems = validate(schema, document, specified_rules)
    except GraphQLSyntaxError as exc:
        return Prepared(None, (_syntax_error(query, exc, limits),))
    except GraphQLError as exc:
        return Prepared(None, (_formatted(exc, "GRAPHQL_PARSE_FAILED"),))
    except RecursionError:
        return Prepared(None, (error("The document is nested too deeply.", "GRAPHQL_PARSE_FAILED"),))
    if problems:
        return Prepared(None, tuple(_formatted(p, "GRAPHQL_VALIDATION_FAILED") for p in problems))
    return Prepared(document, ())


class DocumentCache:
    """The outcome of ``prepare`` per text, least recently used first out."""

    def __init__(
        self, schema: GraphQLSchema, limits: QueryLimits, *, entries: int = 512, chars: int = 1 << 20
    ):
        self._schema, self._limits = schema, limits
        self._entries, self._chars = entries, chars
        self._kept: OrderedDict[bytes, tuple[Prepared, int]] = OrderedDict()
        self._held = 0  # characters of the texts whose parsed documents are kept
        self._lock = threading.Lock()
        self.hits = self.misses = 0

    def get(self, query: str) -> Prepared:
        key = hashlib.blake2b(query.encode("utf-8", "surrogatepass"), digest_size=20).digest()
        with self._lock:
            found = self._kept.get(key)
            if found is not None:
                self._kept.move_to_end(key)
                self.hits += 1
                return found[0]
            self.misses += 1
        prepared = prepare(self._schema, query, self._limits)
        weight = len(query) if prepared.document is not None else 0
        if weight > self._chars // 8:
            return prepared  # a large document is parsed again next time rather than kept
        with self._lock:
            if key not in self._kept:
                self._kept[key] = (prepared, weight)
                self._held += weight
            while len(self._kept) > self._entries or self._held > self._chars:
                _, (_, dropped) = self._kept.popitem(last=False)
                self._held -= dropped
        return prepared

    def info(self) -> CacheInfo:
        with self._lock:
            return CacheInfo(self.hits, self.misses, len(self._kept), self._held)
