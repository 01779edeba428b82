"""Plain substitutions in strings, in ROS 2's XML/YAML syntax, resolved at visit time.

- ``$(var NAME)``: a launch argument or ``let`` value (from the
  :class:`~robotfleet_nodes.launch.context.LaunchContext`);
- ``$(env NAME [default])``: ``set_env`` values first, then ``os.environ``;
- ``$(equals A B)`` / ``$(not-equals A B)``: ``true`` or ``false`` (for ``if:`` on a choice,
  e.g. ``if: $(equals $(var edges) composed)``);
- ``$(find-pkg-share PKG)`` / ``$(find-pkg-prefix PKG)``: from the ament index (as
  ``ament_index_python``); ``$(exec-in-pkg EXEC PKG)``: an executable as ``ros2 run`` finds
  it; ``$(find-exec NAME)``: a program on ``PATH``;
- ``$(file-content PATH)``: a file's text (a relative path from the launch file's folder);
- ``$(command 'CMD' [fail|ignore|warn|capture])``: the standard output of ``CMD`` (split like
  a shell, not run by one; environment with ``set_env``); a non-zero exit is an error, and so
  is output on stderr unless the second argument says otherwise;
- ``$(eval 'EXPR' [MODULES])``: ``str()`` of the Python expression, with ``math`` (its names
  also bare) or the comma-separated ``MODULES`` importable by name;
- ``$(dirname)`` / ``$(filename)``: the folder / path of the launch file being visited.

As in ROS 2's grammar, a substitution's arguments are separated by spaces; an argument in
single or double quotes may hold spaces and parentheses; ``\\`` escapes the next character
inside a substitution. Substitutions nest (``$(equals $(var a) b)``); a nested one is
resolved first, and what a substitution returns is never scanned again. An unknown
substitution is an error listing the known ones.
"""

from __future__ import annotations

import importlib
import logging
import math
import os
import shlex
import shutil
import subprocess
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from robotfleet_nodes.ament_index import find_executable, get_package_prefix
from robotfleet_nodes.launch.errors import LaunchError

__all__ = ["evaluate_bool", "has_substitution", "substitute"]

log = logging.getLogger(__name__)

_TRUE = frozenset({"true", "1"})
_FALSE = frozenset({"false", "0"})
_ON_STDERR = ("fail", "ignore", "warn", "capture")

#: A parsed string: text and substitutions, in order.
_Parts = list["str | _Sub"]


@dataclass(slots=True)
class _Sub:
    name: str
    args: list[_Parts]
    text: str  #: as written, for error messages


def has_substitution(text: str) -> bool:
    """Whether ``text`` contains any ``$(...)``."""
    return "$(" in text


class _Parser:
    """A recursive-descent reader of ``$(name arg ...)`` in a string."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.i = 0

    def error(self, message: str) -> LaunchError:
        return LaunchError(f"bad substitution in {self.text!r} at column {self.i + 1}: {message}")

    def template(self) -> _Parts:
        parts: _Parts = []
        start = self.i
        while self.i < len(self.text):
            if self.text.startswith("$(", self.i):
                if self.i > start:
                    parts.append(self.text[start : self.i])
                parts.append(self.substitution())
                start = self.i
            else:
                self.i += 1
        if self.i > start:
            parts.append(self.text[start : self.i])
        return parts

    def substitution(self) -> _Sub:
        begin = self.i
        self.i += 2
        name_start = self.i
        while self.i < len(self.text) and (self.text[self.i].isalnum() or self.text[self.i] in "_-"):
            self.i += 1
        name = self.text[name_start : self.i]
        if not name or not name[0].isalpha():
            raise self.error("expected a substitution name after '$('")
        args: list[_Parts] = []
        while True:
            while self.i < len(self.text) and self.text[self.i] in " \t\n":
                self.i += 1
            if self.i >= len(self.text):
                self.i = begin
                raise self.error("'$(' is never closed with ')'")
            if self.text[self.i] == ")":
                self.i += 1
                return _Sub(name, args, self.text[begin : self.i])
            args.append(self.argument())

    def argument(self) -> _Parts:
        quote = self.text[self.i]
        if quote in "'\"":
            return self.quoted(quote)
        parts: _Parts = []
        chars: list[str] = []
        while self.i < len(self.text) and self.text[self.i] not in " \t\n)":
            c = self.text[self.i]
            if self.text.startswith("$(", self.i):
                if chars:
                    parts.append("".join(chars))
                    chars = []
                parts.append(self.substitution())
                continue
            if c == "\\" and self.i + 1 < len(self.text):
                self.i += 1
                c = self.text[self.i]
            chars.append(c)
            self.i += 1
        if chars:
            parts.append("".join(chars))
        return parts

    def quoted(self, quote: str) -> _Parts:
        start = self.i
        self.i += 1
        parts: _Parts = []
        chars: list[str] = []
        while self.i < len(self.text):
            c = self.text[self.i]
            if c == quote:
                self.i += 1
                if chars:
                    parts.append("".join(chars))
                return parts
            if self.text.startswith("$(", self.i):
                if chars:
                    parts.append("".join(chars))
                    chars = []
                parts.append(self.substitution())
                continue
            if c == "\\" and self.i + 1 < len(self.text):
                self.i += 1
                c = self.text[self.i]
            chars.append(c)
            self.i += 1
        self.i = start
        raise self.error(f"the quote {quote} is never closed")


class _Resolver:
    def __init__(
        self, lookup_var: Callable[[str], str], env: Mapping[str, str] | None, source: Path | None
    ) -> None:
        self.lookup_var = lookup_var
        self.env = env
        self.source = source

    def parts(self, parts: _Parts) -> str:
        return "".join(p if isinstance(p, str) else self.sub(p) for p in parts)

    def sub(self, sub: _Sub) -> str:
        handler = _HANDLERS.get(sub.name)
        if handler is None:
            raise LaunchError(
                f"unsupported substitution {sub.text!r}: use one of "
                + ", ".join(f"$({name} ...)" for name in sorted(_HANDLERS))
            )
        args = [self.parts(a) for a in sub.args]
        try:
            return handler(self, sub, args)
        except LaunchError:
            raise
        except (OSError, ValueError, LookupError) as exc:  # no such package, file, program
            message = exc.args[0] if isinstance(exc, LookupError) and exc.args else exc
            raise LaunchError(f"substitution {sub.text!r} failed: {message}") from None

    def environ(self) -> dict[str, str]:
        return {**os.environ, **(self.env or {})}

    def path(self, text: str) -> Path:
        path = Path(text).expanduser()
        if not path.is_absolute() and self.source is not None:
            path = self.source.parent / path
        return path


def _arity(sub: _Sub, args: list[str], low: int, high: int, usage: str) -> None:
    if not low <= len(args) <= high:
        raise LaunchError(f"bad substitution {sub.text!r}: expected {usage}")


def _var(r: _Resolver, sub: _Sub, args: list[str]) -> str:
    _arity(sub, args, 1, 1, "$(var NAME)")
    return r.lookup_var(args[0])


def _env(r: _Resolver, sub: _Sub, args: list[str]) -> str:
    if not args or not args[0]:
        raise LaunchError(f"bad substitution {sub.text!r}: expected $(env NAME [default])")
    name = args[0]
    if r.env is not None and name in r.env:
        return r.env[name]
    value = os.environ.get(name)
    if value is not None:
        return value
    if len(args) > 1:
        return " ".join(args[1:])
    raise LaunchError(f"environment variable {name!r} is not set and {sub.text!r} has no default")


def _equals(r: _Resolver, sub: _Sub, args: list[str]) -> str:
    _arity(sub, args, 2, 2, f"$({sub.name} A B)")
    return "true" if (args[0] == args[1]) == (sub.name == "equals") else "false"


def _find_pkg_prefix(r: _Resolver, sub: _Sub, args: list[str]) -> str:
    _arity(sub, args, 1, 1, f"$({sub.name} PACKAGE)")
    prefix = get_package_prefix(args[0])
    return prefix if sub.name == "find-pkg-prefix" else os.path.join(prefix, "share", args[0])


def _exec_in_pkg(r: _Resolver, sub: _Sub, args: list[str]) -> str:
    _arity(sub, args, 2, 2, "$(exec-in-pkg EXECUTABLE PACKAGE)")
    return find_executable(args[1], args[0])


def _find_exec(r: _Resolver, sub: _Sub, args: list[str]) -> str:
    _arity(sub, args, 1, 1, "$(find-exec NAME)")
    found = shutil.which(args[0], path=r.environ().get("PATH"))
    if found is None:
        raise LaunchError(f"substitution {sub.text!r} failed: {args[0]!r} is not on PATH")
    return found


def _file_content(r: _Resolver, sub: _Sub, args: list[str]) -> str:
    _arity(sub, args, 1, 1, "$(file-content PATH)")
    return r.path(args[0]).read_text(encoding="utf-8")


def _command(r: _Resolver, sub: _Sub, args: list[str]) -> str:
    _arity(sub, args, 1, 2, "$(command 'CMD' [fail|ignore|warn|capture])")
    on_stderr = args[1] if len(args) > 1 else "fail"
    if on_stderr not in _ON_STDERR:
        choices = ", ".join(_ON_STDERR)
        raise LaunchError(f"bad substitution {sub.text!r}: the second argument is one of {choices}")
    argv = shlex.split(args[0])
    if not argv:
        raise LaunchError(f"bad substitution {sub.text!r}: the command is empty")
    result = subprocess.run(
        argv,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT if on_stderr == "capture" else subprocess.PIPE,
        env=r.environ(),
        text=True,
        check=False,
    )
    if result.returncode != 0:
        detail = f"; stderr: {result.stderr.strip()}" if result.stderr else ""
        code = result.returncode
        raise LaunchError(f"substitution {sub.text!r} failed: {args[0]!r} exited with {code}{detail}")
    if result.stderr:
        if on_stderr == "fail":
            raise LaunchError(
                f"substitution {sub.text!r} failed: {args[0]!r} wrote to stderr ({result.stderr.strip()}); "
                "add 'ignore', 'warn' or 'capture' as the second argument to allow it"
            )
        if on_stderr == "warn":
            log.warning("%s wrote to stderr: %s", sub.text, result.stderr.strip())
    return result.stdout


def _eval(r: _Resolver, sub: _Sub, args: list[str]) -> str:
    _arity(sub, args, 1, 2, "$(eval 'EXPRESSION' [MODULES])")
    modules = [m.strip() for m in args[1].split(",") if m.strip()] if len(args) > 1 else ["math"]
    names: dict[str, Any] = {}
    for name in modules:
        module = importlib.import_module(name)
        if module is math:  # as in ROS 2: math's names may be used bare
            names.update({k: v for k, v in vars(math).items() if not k.startswith("_")})
        names[name.partition(".")[0]] = importlib.import_module(name.partition(".")[0])
    try:
        return str(eval(args[0], {}, names))  # launch files are code, as in ROS 2
    except Exception as exc:  # any error of the expression is the launch file's
        raise LaunchError(f"substitution {sub.text!r} failed: {type(exc).__name__}: {exc}") from None


def _dirname(r: _Resolver, sub: _Sub, args: list[str]) -> str:
    _arity(sub, args, 0, 0, f"$({sub.name})")
    if r.source is None:
        raise LaunchError(f"substitution {sub.text!r} failed: no launch file is being visited")
    path = r.source.resolve()
    return str(path.parent if sub.name == "dirname" else path)


_Handler = Callable[[_Resolver, _Sub, list[str]], str]
_HANDLERS: dict[str, _Handler] = {
    "var": _var,
    "env": _env,
    "equals": _equals,
    "not-equals": _equals,
    "find-pkg-share": _find_pkg_prefix,
    "find-pkg-prefix": _find_pkg_prefix,
    "exec-in-pkg": _exec_in_pkg,
    "find-exec": _find_exec,
    "file-content": _file_content,
    "command": _command,
    "eval": _eval,
    "dirname": _dirname,
    "filename": _dirname,
}


def substitute(
    text: str,
    lookup_var: Callable[[str], str],
    env: Mapping[str, str] | None = None,
    *,
    source: str | Path | None = None,
) -> str:
    """``text`` with every ``$(...)`` resolved (see the module docstring).

    ``lookup_var`` raises :class:`LaunchError` for an unknown argument; ``env`` holds the
    launch-wide ``set_env`` overrides, consulted before ``os.environ``; ``source`` is the
    launch file being visited (``$(dirname)``, relative ``$(file-content ...)``).
    """
    if "$(" not in text:
        return text
    parts = _Parser(text).template()
    resolver = _Resolver(lookup_var, env, None if source is None else Path(source))
    return resolver.parts(parts)


def evaluate_bool(text: str) -> bool:
    """``"true"``/``"1"`` -> True, ``"false"``/``"0"`` -> False (case-insensitive); else an error."""
    value = text.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise LaunchError(f"condition {text!r} is not a boolean: use true/false or 1/0")
