"""``$(...)`` substitutions of the ROS 2 XML launch format (the subset in docs/launch.md).

Supported: ``$(var NAME)``, ``$(env NAME [DEFAULT])``,
``$(find-pkg-share PKG)``, ``$(dirname)``, ``$(filename)``, ``$(eval EXPR)`` (arithmetic,
comparisons, boolean logic and string/number literals only; no names, calls or attributes), and
``$(not X)``, ``$(and A B)``, ``$(or A B)``, ``$(equals A B)``. Substitutions nest.
"""

from __future__ import annotations

import ast
import operator
import os
import shlex
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from toponav.launching.errors import LaunchError
from toponav.launching.share import find_package_share


@dataclass
class SubstitutionContext:
    """What substitutions can see: launch configurations and the current file."""

    configs: Mapping[str, str]
    file: Path
    line: int | None = None
    env: Mapping[str, str] | None = None

    def error(self, message: str) -> LaunchError:
        return LaunchError(message, self.file, self.line)


def _find_close(text: str, start: int, ctx: SubstitutionContext) -> int:
    """Index of the ')' closing the '$(' whose '(' is at ``start - 1``, honouring nesting and quotes."""
    depth = 1
    quote: str | None = None
    i = start
    while i < len(text):
        ch = text[i]
        if quote:
            if ch == quote:
                quote = None
        elif ch in "'\"":
            quote = ch
        elif text.startswith("$(", i):
            depth += 1
            i += 1
        elif ch == ")":
            depth -= 1
            if depth == 0:
                return i
        i += 1
    raise ctx.error(f"unterminated substitution in {text!r}")


def substitute(text: str, ctx: SubstitutionContext) -> str:
    """Expand every ``$(...)`` in ``text``."""
    out: list[str] = []
    i = 0
    while i < len(text):
        j = text.find("$(", i)
        if j < 0:
            out.append(text[i:])
            break
        out.append(text[i:j])
        end = _find_close(text, j + 2, ctx)
        out.append(_evaluate(text[j + 2 : end], ctx))
        i = end + 1
    return "".join(out)


def _split_args(body: str, ctx: SubstitutionContext) -> list[str]:
    try:
        return shlex.split(substitute(body, ctx))
    except ValueError as exc:
        raise ctx.error(f"cannot split substitution arguments {body!r}: {exc}") from None


def _evaluate(inner: str, ctx: SubstitutionContext) -> str:
    inner = inner.strip()
    name, _, body = inner.partition(" ")
    body = body.strip()
    env = os.environ if ctx.env is None else ctx.env
    if name == "var":
        (key, *_) = _split_args(body, ctx) or [""]
        if key not in ctx.configs:
            known = ", ".join(sorted(ctx.configs)) or "none"
            raise ctx.error(f"$(var {key}): launch configuration '{key}' is not set (known: {known})")
        return ctx.configs[key]
    if name == "optenv":
        raise ctx.error("$(optenv ...) is ROS 1 roslaunch; ROS 2 launch writes $(env NAME DEFAULT) "
                        "(an empty default: $(env NAME '')")
    if name == "env":
        args = _split_args(body, ctx)
        if not args:
            raise ctx.error(f"$({name}) needs a variable name")
        if args[0] in env:
            return env[args[0]]
        if len(args) > 1:
            return " ".join(args[1:])
        raise ctx.error(f"$(env {args[0]}): environment variable '{args[0]}' is not set and has no default")
    if name == "find-pkg-share":
        args = _split_args(body, ctx)
        if len(args) != 1:
            raise ctx.error("$(find-pkg-share) takes exactly one package name")
        try:
            return str(find_package_share(args[0]))
        except LaunchError as exc:
            raise ctx.error(exc.message) from None
    if name == "dirname":
        return str(ctx.file.parent)
    if name == "filename":
        return ctx.file.name
    if name == "eval":
        expr = substitute(body, ctx).strip()
        if len(expr) >= 2 and expr[0] == expr[-1] and expr[0] in "'\"":
            expr = expr[1:-1]
        return _format(safe_eval(expr, ctx))
    if name in ("not", "and", "or", "equals"):
        args = _split_args(body, ctx)
        if name == "not":
            if len(args) != 1:
                raise ctx.error("$(not) takes one argument")
            return _format(not parse_bool(args[0], ctx))
        if len(args) != 2:
            raise ctx.error(f"$({name}) takes two arguments")
        if name == "equals":
            return _format(args[0] == args[1])
        a, b = parse_bool(args[0], ctx), parse_bool(args[1], ctx)
        return _format(a and b if name == "and" else a or b)
    raise ctx.error(f"unsupported substitution $({name} ...); supported: var, env, find-pkg-share, "
                    "dirname, filename, eval, not, and, or, equals")


def _format(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def parse_bool(text: str, ctx: SubstitutionContext) -> bool:
    """ROS launch truth values: true/false/1/0 (case-insensitive)."""
    low = text.strip().lower()
    if low in ("true", "1"):
        return True
    if low in ("false", "0"):
        return False
    raise ctx.error(f"expected a boolean (true/false/1/0), got {text!r}")


_BINOPS: dict[type, Callable[[Any, Any], Any]] = {
    ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul, ast.Div: operator.truediv,
    ast.FloorDiv: operator.floordiv, ast.Mod: operator.mod, ast.Pow: operator.pow,
}
_CMPOPS: dict[type, Callable[[Any, Any], bool]] = {
    ast.Eq: operator.eq, ast.NotEq: operator.ne, ast.Lt: operator.lt, ast.LtE: operator.le,
    ast.Gt: operator.gt, ast.GtE: operator.ge,
}
_NAMES = {"true": True, "false": False, "True": True, "False": False}


def safe_eval(expr: str, ctx: SubstitutionContext) -> Any:
    """Evaluate a small Python expression: literals, + - * / // % **, comparisons, and/or/not, x if c else y."""
    try:
        tree = ast.parse(expr, mode="eval")
    except SyntaxError as exc:
        raise ctx.error(f"$(eval {expr!r}): not a valid expression: {exc.msg}") from None

    def ev(node: ast.AST) -> Any:
        if isinstance(node, ast.Expression):
            return ev(node.body)
        if isinstance(node, ast.Constant) and isinstance(node.value, int | float | str | bool):
            return node.value
        if isinstance(node, ast.Name) and node.id in _NAMES:
            return _NAMES[node.id]
        if isinstance(node, ast.BinOp) and type(node.op) in _BINOPS:
            return _BINOPS[type(node.op)](ev(node.left), ev(node.right))
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub | ast.UAdd | ast.Not):
            v = ev(node.operand)
            return -v if isinstance(node.op, ast.USub) else (+v if isinstance(node.op, ast.UAdd) else not v)
        if isinstance(node, ast.BoolOp):
            values = [ev(v) for v in node.values]
            return all(values) if isinstance(node.op, ast.And) else any(values)
        if isinstance(node, ast.Compare):
            left = ev(node.left)
            for op, comp in zip(node.ops, node.comparators):
                if type(op) not in _CMPOPS:
                    break
                right = ev(comp)
                if not _CMPOPS[type(op)](left, right):
                    return False
                left = right
            else:
                return True
        if isinstance(node, ast.IfExp):
            return ev(node.body) if ev(node.test) else ev(node.orelse)
        raise ctx.error(f"$(eval {expr!r}): only literals, arithmetic, comparisons and boolean logic are "
                        f"supported (found {type(node).__name__})")

    try:
        return ev(tree)
    except LaunchError:
        raise
    except Exception as exc:  # arithmetic errors (division by zero, bad operand types)
        raise ctx.error(f"$(eval {expr!r}) failed: {exc}") from None
