"""Gin config text (Magenta's ``operative_config-0.gin``) read without gin.

A gin file is a list of statements, one per logical line:

- ``import ddsp`` / ``import ddsp.training as ddsp2`` / ``from a import b``;
- ``include 'other.gin'``;
- bindings ``[scope/][module.]Configurable.param = value``;
- macros ``name = value`` (no dot), used elsewhere as ``%name``.

Values are Python literals (numbers, strings, tuples, lists, dicts, None,
True, False) plus ``@[scope/][module.]name`` references (``@name()`` means
"call it", ``@name`` the callable itself) and ``%macro`` references. Comments
start with ``#``; a statement continues over lines after a trailing
backslash or inside open brackets. Python's own tokenizer does the lexing,
as in gin itself.

:func:`parse_gin` returns ``{"[scope/]Configurable.param": value}`` with
macros resolved.

Not gin-config's ``ConfigParser``: it reads Magenta's config to the same 65
bindings, but its errors name the line after an unclosed bracket, span two
lines or are a bare ``TypeError``, where this parser gives one
``file: line N: ...`` line.
"""

from __future__ import annotations

import ast
import io
import re
import tokenize
from dataclasses import dataclass
from typing import Callable, Dict, List, Mapping, Optional, Tuple

#: Tokens that never matter to the statement structure.
_SKIP = {tokenize.COMMENT, tokenize.NL, tokenize.INDENT, tokenize.DEDENT, tokenize.ENCODING}
_SELECTOR = re.compile(r"^(?:[A-Za-z_][\w.]*/)*[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)*$")


@dataclass(frozen=True)
class Reference:
    """A gin ``@`` reference: ``@scope/module.Name()`` (``evaluate``) or
    ``@module.Name`` (the callable itself)."""

    name: str
    scope: str = ""
    evaluate: bool = False

    @property
    def configurable(self) -> str:
        """The configurable's own name, without module (``'Harmonic'``)."""
        return self.name.rsplit(".", 1)[-1]

    def __str__(self) -> str:
        scope = f"{self.scope}/" if self.scope else ""
        return f"@{scope}{self.name}{'()' if self.evaluate else ''}"


@dataclass(frozen=True)
class Macro:
    """A ``%name`` macro that no statement defines (left unresolved)."""

    name: str

    def __str__(self) -> str:
        return f"%{self.name}"


@dataclass
class _Binding:
    scope: str
    module: str
    configurable: str
    param: str
    value: object


class _Statements:
    """Recursive-descent parser over the tokens of one gin text."""

    def __init__(self, text: str, source: str):
        self.source = source
        tokens: List[tokenize.TokenInfo] = []
        try:
            for token in tokenize.generate_tokens(io.StringIO(text).readline):
                # Python 3.11 reports the blank before a stray quote as an error token.
                blank_error = token.type == tokenize.ERRORTOKEN and token.string.isspace()
                if token.type not in _SKIP and not blank_error:
                    tokens.append(token)
        except (tokenize.TokenError, IndentationError, SyntaxError) as exc:
            # Report where the unfinished statement starts, not where the text ends.
            starts = [t for i, t in enumerate(tokens)
                      if i == 0 or tokens[i - 1].type == tokenize.NEWLINE]
            line = starts[-1].start[0] if starts else 1
            raise ValueError(f"{source}: line {line}: {exc.args[0]} (an unclosed bracket or "
                             f"string?)") from None
        self.tokens = tokens
        self.pos = 0

    # token helpers
    def _peek(self) -> tokenize.TokenInfo:
        return self.tokens[self.pos]

    def _next(self) -> tokenize.TokenInfo:
        token = self.tokens[self.pos]
        self.pos += 1
        return token

    def _error(self, message: str, token: Optional[tokenize.TokenInfo] = None) -> ValueError:
        token = token or self._peek()
        return ValueError(f"{self.source}: line {token.start[0]}: {message}")

    def _expect(self, string: str) -> None:
        token = self._next()
        if token.string != string:
            raise self._error(f"expected {string!r}, found {token.string!r}", token)

    def _is(self, string: str) -> bool:
        token = self._peek()
        return token.type == tokenize.OP and token.string == string

    def _name_path(self) -> str:
        """``a/b/c.d.e``: names joined by '.' or '/' (no spaces checked: the
        tokenizer already split them)."""
        token = self._next()
        if token.type != tokenize.NAME:
            raise self._error(f"expected a name, found {token.string!r}", token)
        parts = [token.string]
        while self._peek().type == tokenize.OP and self._peek().string in (".", "/") and \
                self.tokens[self.pos + 1].type == tokenize.NAME:
            parts += [self._next().string, self._next().string]
        return "".join(parts)

    # values
    def value(self):
        """Parse one value at the current position."""
        token = self._peek()
        if token.type == tokenize.OP:
            if token.string in "([{":
                return self._container()
            if token.string == "@":
                self._next()
                path = self._name_path()
                scope, _, name = path.rpartition("/")
                evaluate = self._is("(")
                if evaluate:
                    self._next()
                    self._expect(")")
                return Reference(name, scope, evaluate)
            if token.string == "%":
                self._next()
                return Macro(self._name_path())
            if token.string in "+-":
                self._next()
                number = self.value()
                if isinstance(number, bool) or not isinstance(number, (int, float, complex)):
                    raise self._error(f"expected a number after {token.string!r}", token)
                return -number if token.string == "-" else number
        if token.type == tokenize.NUMBER:
            self._next()
            return ast.literal_eval(token.string)
        if token.type == tokenize.STRING:
            parts = []
            while self._peek().type == tokenize.STRING:
                parts.append(ast.literal_eval(self._next().string))
            try:
                return parts[0][:0].join(parts)
            except TypeError:
                raise self._error("cannot join str and bytes literals", token) from None
        if token.type == tokenize.NAME and token.string in ("True", "False", "None"):
            self._next()
            return {"True": True, "False": False, "None": None}[token.string]
        raise self._error(f"unexpected {token.string!r} in a value", token)

    def _container(self):
        """A tuple, parenthesised value, list or dict."""
        opening = self._next().string
        closing = {"(": ")", "[": "]", "{": "}"}[opening]
        items: list = []
        trailing_comma = False
        while not self._is(closing):
            if opening == "{":
                key = self.value()
                self._expect(":")
                items.append((key, self.value()))
            else:
                items.append(self.value())
            trailing_comma = self._is(",")
            if trailing_comma:
                self._next()
            elif not self._is(closing):
                raise self._error(f"expected ',' or {closing!r}")
        self._next()
        if opening == "[":
            return items
        if opening == "{":
            try:
                return dict(items)
            except TypeError:
                raise self._error("a dict key is not hashable") from None
        if len(items) == 1 and not trailing_comma:
            return items[0]
        return tuple(items)

    # statements
    def statements(self, include_loader) -> Tuple[List[_Binding], Dict[str, object],
                                                   Dict[str, str]]:
        """All bindings (in order), macro definitions and import aliases."""
        bindings: List[_Binding] = []
        macros: Dict[str, object] = {}
        imports: Dict[str, str] = {}
        while self._peek().type != tokenize.ENDMARKER:
            first = self._peek()
            if first.type == tokenize.NAME and first.string in ("import", "from"):
                self._import(imports)
            elif first.type == tokenize.NAME and first.string == "include":
                self._next()
                token = self._next()
                if token.type != tokenize.STRING:
                    raise self._error("include needs a quoted file name", token)
                path = ast.literal_eval(token.string)
                if include_loader is None:
                    raise self._error(f"include {path!r} cannot be followed here; pass "
                                      f"include_loader (operative configs never include)",
                                      token)
                inner = _Statements(include_loader(path), path).statements(include_loader)
                bindings += inner[0]
                macros.update(inner[1])
                imports.update(inner[2])
            else:
                self._binding(bindings, macros)
            token = self._next()
            if token.type not in (tokenize.NEWLINE, tokenize.ENDMARKER):
                raise self._error(f"unexpected {token.string!r} after a statement", token)
            if token.type == tokenize.ENDMARKER:
                break
        return bindings, macros, imports

    def _import(self, imports: Dict[str, str]) -> None:
        keyword = self._next().string
        module = self._name_path()
        if keyword == "from":
            if self._next().string != "import":
                raise self._error("expected 'import' in a from-import")
            module = f"{module}.{self._name_path()}"
        alias = module
        if self._peek().type == tokenize.NAME and self._peek().string == "as":
            self._next()
            alias = self._name_path()
        imports[alias] = module

    def _binding(self, bindings: List[_Binding], macros: Dict[str, object]) -> None:
        start = self._peek()
        selector = self._name_path()
        if not _SELECTOR.match(selector):
            raise self._error(f"{selector!r} is not a gin selector", start)
        self._expect("=")
        value = self.value()
        scope, _, dotted = selector.rpartition("/")
        parts = dotted.split(".")
        if len(parts) == 1:
            macros[selector] = value
            return
        bindings.append(_Binding(scope, ".".join(parts[:-2]), parts[-2], parts[-1], value))


def _resolve(value, macros: Mapping[str, object], seen: Tuple[str, ...] = ()):
    """``value`` with every defined ``%macro`` replaced (recursively)."""
    if isinstance(value, Macro):
        if value.name not in macros:
            return value
        if value.name in seen:
            raise ValueError(f"gin: macro %{value.name} refers to itself")
        return _resolve(macros[value.name], macros, seen + (value.name,))
    if isinstance(value, (list, tuple)):
        return type(value)(_resolve(v, macros, seen) for v in value)
    if isinstance(value, dict):
        return {_resolve(k, macros, seen): _resolve(v, macros, seen) for k, v in value.items()}
    return value


def _expand_alias(module: str, imports: Mapping[str, str]) -> str:
    """``ddsp2.x`` -> ``ddsp.training.x`` after ``import ddsp.training as ddsp2``."""
    head, _, rest = module.partition(".")
    if head in imports and imports[head] != head:
        return imports[head] + (f".{rest}" if rest else "")
    return module


def parse_gin(text: str, source: str = "gin",
              include_loader: Optional[Callable[[str], str]] = None) -> Dict[str, object]:
    """Parse gin text into ``{"[scope/]Configurable.param": value}``.

    Args:
      text: the gin file's contents.
      source: the name used in error messages (e.g. the file name).
      include_loader: ``path -> text`` for ``include`` statements; without
        one, an include raises (Magenta's operative configs have none).

    Module prefixes are dropped from keys (``processors.Add.name`` ->
    ``Add.name``) unless two different modules bind the same configurable
    name, in which case those keys stay module-qualified (with import
    aliases expanded). Later bindings of the same key win, as in gin.
    Macros are resolved; an undefined ``%name`` stays a :class:`Macro`.

    Raises ValueError ``"<source>: line N: ..."`` for malformed text.
    """
    bindings, macros, imports = _Statements(text, source).statements(include_loader)
    modules: Dict[str, set] = {}
    for b in bindings:
        b.module = _expand_alias(b.module, imports)
        short = f"{b.scope}/{b.configurable}" if b.scope else b.configurable
        modules.setdefault(f"{short}.{b.param}", set()).add(b.module)
    result: Dict[str, object] = {}
    for b in bindings:
        short = f"{b.scope}/{b.configurable}" if b.scope else b.configurable
        key = f"{short}.{b.param}"
        if b.module and len(modules[key] - {""}) > 1:
            qualified = f"{b.module}.{b.configurable}.{b.param}"
            key = f"{b.scope}/{qualified}" if b.scope else qualified
        result[key] = _resolve(b.value, macros)
    return result
