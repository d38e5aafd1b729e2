"""Parse the supported subset of the ROS 2 XML launch format into plain node specifications.

The subset (documented in docs/launch.md) is what toponav's launch files use, with ROS 2 semantics:
``<launch>``, ``<arg>``, ``<let>``, ``<node>`` (+ ``<param>``, ``<remap>``, ``<env>``), ``<group>``
(scoped, ``if``/``unless``), ``<push-ros-namespace>``, ``<set_parameter>``, ``<set_remap>``,
``<set_env>``, ``<include>`` (+ ``<arg>``), ``<log>``. Anything else is refused with the file and
line, never skipped: a launch file that silently loses a node is worse than one that fails.
"""

from __future__ import annotations

import xml.parsers.expat
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from toponav.launching.errors import LaunchError
from toponav.launching.share import find_executable
from toponav.launching.substitutions import SubstitutionContext, parse_bool, substitute


# -- XML with line numbers ----------------------------------------------------------------------------
@dataclass
class Element:
    tag: str
    attrs: dict[str, str]
    line: int
    children: list[Element] = field(default_factory=list)


def read_xml(path: Path) -> Element:
    """Parse ``path`` into an :class:`Element` tree that remembers each tag's line."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise LaunchError("launch file does not exist", path) from None
    except OSError as exc:
        raise LaunchError(f"cannot read launch file: {exc}", path) from None
    parser = xml.parsers.expat.ParserCreate()
    stack: list[Element] = []
    roots: list[Element] = []

    def start(tag: str, attrs: dict[str, str]) -> None:
        el = Element(tag, dict(attrs), parser.CurrentLineNumber)
        (stack[-1].children if stack else roots).append(el)
        stack.append(el)

    def end(tag: str) -> None:
        stack.pop()

    def text(data: str) -> None:
        if data.strip() and stack:
            raise LaunchError(f"unexpected text {data.strip()[:40]!r} inside <{stack[-1].tag}>", path,
                              parser.CurrentLineNumber)

    parser.StartElementHandler = start
    parser.EndElementHandler = end
    parser.CharacterDataHandler = text
    try:
        parser.Parse(data, True)
    except xml.parsers.expat.ExpatError as exc:
        raise LaunchError(f"malformed XML: {xml.parsers.expat.errors.messages[exc.code]}", path, exc.lineno) from None
    if not roots:
        raise LaunchError("empty launch file", path)
    if roots[0].tag != "launch":
        raise LaunchError(f"root tag must be <launch>, found <{roots[0].tag}>", path, roots[0].line)
    return roots[0]


# -- results ------------------------------------------------------------------------------------------
@dataclass
class ParamSource:
    """One parameter source, applied in order: a params YAML file or inline name -> value pairs."""

    file: Path | None = None
    values: dict[str, Any] = field(default_factory=dict)


@dataclass
class NodeSpec:
    """One node to run, fully resolved (no substitutions left)."""

    package: str
    executable: str
    name: str | None
    namespace: str
    output: str = "log"
    respawn: bool = False
    respawn_delay: float = 0.0
    required: bool = False
    params: list[ParamSource] = field(default_factory=list)
    remaps: list[tuple[str, str]] = field(default_factory=list)
    arguments: list[str] = field(default_factory=list)
    ros_arguments: list[str] = field(default_factory=list)
    env: dict[str, str] = field(default_factory=dict)
    file: str = ""
    line: int = 0

    @property
    def label(self) -> str:
        """Name shown in log prefixes: the node name, else the executable."""
        base = self.name or self.executable
        ns = self.namespace.strip("/")
        return f"{ns}/{base}" if ns else base

    def command(self, param_dir: Path) -> list[str]:
        """Full command line; inline parameters go to a YAML file in ``param_dir`` (as launch_ros does)."""
        cmd = [*find_executable(self.package, self.executable), *self.arguments, "--ros-args"]
        if self.name:
            cmd += ["-r", f"__node:={self.name}"]
        if self.namespace and self.namespace != "/":
            cmd += ["-r", f"__ns:={self.namespace}"]
        for i, src in enumerate(self.params):
            if src.file is not None:
                cmd += ["--params-file", str(src.file)]
            elif src.values:
                path = param_dir / f"{self.label.replace('/', '_')}_{i}.yaml"
                path.write_text(yaml.safe_dump({"/**": {"ros__parameters": _nest(src.values)}}))
                cmd += ["--params-file", str(path)]
        for src, dst in self.remaps:
            cmd += ["-r", f"{src}:={dst}"]
        return cmd + list(self.ros_arguments)


def _nest(values: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in values.items():
        parts = key.split(".")
        d = out
        for p in parts[:-1]:
            d = d.setdefault(p, {})
        d[parts[-1]] = value
    return out


@dataclass
class ArgDecl:
    name: str
    default: str | None
    description: str
    file: str
    line: int


@dataclass
class LaunchDescription:
    """Everything a launch file (with its includes) resolves to."""

    file: Path
    nodes: list[NodeSpec]
    arguments: dict[str, ArgDecl]
    configs: dict[str, str]
    messages: list[str] = field(default_factory=list)


# -- parsing ------------------------------------------------------------------------------------------
# Every tag and attribute accepted here is one the real launch_xml / launch_ros parsers accept with the same
# meaning (ros2/launch, ros2/launch_ros; test/launching/test_grammar.py holds their rules), so a file that
# runs here runs under `ros2 launch`. Real launch accepts more (<executable>, <timer>, launch-prefix, ...):
# those are refused here, never skipped.
_COMMON = {"if", "unless"}
_ALLOWED: dict[str, set[str]] = {
    "launch": {"version"},
    "arg": {"name", "default", "description", "value"},
    "let": {"name", "value"} | _COMMON,
    "node": {"pkg", "exec", "name", "namespace", "output", "respawn", "respawn_delay", "on_exit",
             "args", "ros_args", "exec_name"} | _COMMON,
    "param": {"name", "value", "from", "value-sep"},
    "remap": {"from", "to"},
    "env": {"name", "value"},
    "group": {"scoped"} | _COMMON,
    "push-ros-namespace": {"namespace"} | _COMMON,
    "push_ros_namespace": {"namespace"} | _COMMON,
    "set_parameter": {"name", "value"} | _COMMON,
    "set_remap": {"from", "to"} | _COMMON,
    "set_env": {"name", "value"} | _COMMON,
    "include": {"file"} | _COMMON,
    "log": {"message"} | _COMMON,
}
_ACTIONS = sorted(t for t in _ALLOWED if t not in ("launch", "param", "remap", "env"))
#: Constructs of other launch dialects (ROS 1 roslaunch, older toponav) that real launch_xml rejects, with what
#: to write instead: (tag, attribute or None) -> hint.
_REFUSED_HINTS: dict[tuple[str, str | None], str] = {
    ("node", "required"): "'required' is ROS 1 roslaunch; ROS 2 writes on_exit=\"shutdown\"",
    ("param", "sep"): "'sep' is not a launch_xml attribute; ROS 2 writes value-sep=\",\" (it splits the raw "
                      "text before substitution) or a YAML list value=\"[a, b]\"",
    ("group", "namespace"): "<group> has no 'namespace' in launch_xml; put <push_ros_namespace namespace=...> "
                            "first inside the group",
    ("set-parameter", None): "launch_ros spells it <set_parameter>",
    ("set-remap", None): "launch_ros spells it <set_remap>",
    ("set-env", None): "launch spells it <set_env>",
}


@dataclass
class _Scope:
    configs: dict[str, str]
    namespace: str = "/"
    params: list[tuple[str, Any]] = field(default_factory=list)
    remaps: list[tuple[str, str]] = field(default_factory=list)
    env: dict[str, str] = field(default_factory=dict)

    def copy(self) -> _Scope:
        return _Scope(dict(self.configs), self.namespace, list(self.params), list(self.remaps), dict(self.env))


def typed_value(text: str) -> Any:
    """Parameter value typing as launch_ros does it: YAML scalars/lists, anything else a string."""
    try:
        value = yaml.safe_load(text)
    except yaml.YAMLError:
        return text
    if isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, list) and value and all(isinstance(v, bool | int | float | str) for v in value):
        kinds = {type(v) for v in value}
        if kinds <= {int, float} or len(kinds) == 1:
            return [float(v) for v in value] if kinds == {int, float} else value
    return text


def join_namespace(base: str, ns: str) -> str:
    if not ns:
        return base
    if ns.startswith("/"):
        out = ns
    else:
        out = base.rstrip("/") + "/" + ns
    out = "/" + "/".join(p for p in out.split("/") if p)
    return out


class _Parser:
    def __init__(self, provided: Mapping[str, str], env: Mapping[str, str] | None) -> None:
        self.provided = dict(provided)
        self.env = env
        self.nodes: list[NodeSpec] = []
        self.arguments: dict[str, ArgDecl] = {}
        self.messages: list[str] = []
        self.stack: list[Path] = []

    # helpers
    def ctx(self, scope: _Scope, path: Path, line: int) -> SubstitutionContext:
        return SubstitutionContext(scope.configs, path, line, self.env)

    def sub(self, text: str, scope: _Scope, path: Path, line: int) -> str:
        return substitute(text, self.ctx(scope, path, line))

    def attr(self, el: Element, key: str, scope: _Scope, path: Path, default: str | None = None,
             required: bool = False) -> str | None:
        if key not in el.attrs:
            if required:
                raise LaunchError(f"<{el.tag}> needs the attribute '{key}'", path, el.line)
            return default
        return self.sub(el.attrs[key], scope, path, el.line)

    def check(self, el: Element, path: Path) -> None:
        if (el.tag, None) in _REFUSED_HINTS:
            raise LaunchError(f"unsupported tag <{el.tag}>: {_REFUSED_HINTS[el.tag, None]}", path, el.line)
        for key in el.attrs:
            if (el.tag, key) in _REFUSED_HINTS:
                raise LaunchError(f"unsupported attribute '{key}' on <{el.tag}>: {_REFUSED_HINTS[el.tag, key]}",
                                  path, el.line)
        if el.tag not in _ALLOWED:
            raise LaunchError(f"unsupported tag <{el.tag}>; supported actions: {', '.join(_ACTIONS)} "
                              "(see docs/launch.md)", path, el.line)
        extra = sorted(set(el.attrs) - _ALLOWED[el.tag])
        if extra:
            raise LaunchError(f"unsupported attribute '{extra[0]}' on <{el.tag}>; supported: "
                              f"{', '.join(sorted(_ALLOWED[el.tag]))}", path, el.line)

    def condition(self, el: Element, scope: _Scope, path: Path) -> bool:
        ctx = self.ctx(scope, path, el.line)
        if "if" in el.attrs and not parse_bool(substitute(el.attrs["if"], ctx), ctx):
            return False
        return not ("unless" in el.attrs and parse_bool(substitute(el.attrs["unless"], ctx), ctx))

    # file
    def parse_file(self, path: Path, scope: _Scope, top: bool) -> None:
        path = path.resolve()
        if path in self.stack:
            raise LaunchError("include cycle: " + " -> ".join(str(p) for p in [*self.stack, path]), path)
        self.stack.append(path)
        root = read_xml(path)
        self.check(root, path)
        for child in root.children:
            self.action(child, scope, path, top)
        self.stack.pop()

    def action(self, el: Element, scope: _Scope, path: Path, top: bool) -> None:
        self.check(el, path)
        tag = el.tag.replace("-", "_")
        if tag in ("param", "remap", "env"):
            raise LaunchError(f"<{el.tag}> is only allowed inside <node>", path, el.line)
        if tag == "arg":
            self.declare_arg(el, scope, path, top)
            return
        if not self.condition(el, scope, path):
            return
        if tag == "let":
            name = self.attr(el, "name", scope, path, required=True)
            scope.configs[name] = self.attr(el, "value", scope, path, required=True)
        elif tag == "node":
            self.node(el, scope, path)
        elif tag == "group":
            inner = scope.copy() if parse_bool(self.attr(el, "scoped", scope, path, "true"),
                                               self.ctx(scope, path, el.line)) else scope
            for child in el.children:
                self.action(child, inner, path, top)
        elif tag == "push_ros_namespace":
            scope.namespace = join_namespace(scope.namespace, self.attr(el, "namespace", scope, path, required=True))
        elif tag == "set_parameter":
            name = self.attr(el, "name", scope, path, required=True)
            scope.params.append((name, typed_value(self.attr(el, "value", scope, path, required=True))))
        elif tag == "set_remap":
            scope.remaps.append((self.attr(el, "from", scope, path, required=True),
                                 self.attr(el, "to", scope, path, required=True)))
        elif tag == "set_env":
            scope.env[self.attr(el, "name", scope, path, required=True)] = self.attr(el, "value", scope, path,
                                                                                    required=True)
        elif tag == "include":
            self.include(el, scope, path)
        elif tag == "log":
            self.messages.append(self.attr(el, "message", scope, path, required=True))
        if tag not in ("group", "node", "include") and el.children:
            raise LaunchError(f"<{el.tag}> takes no child tags", path, el.children[0].line)

    def declare_arg(self, el: Element, scope: _Scope, path: Path, top: bool) -> None:
        if "value" in el.attrs:
            raise LaunchError("<arg value=...> is only allowed inside <include>; use default=", path, el.line)
        name = self.attr(el, "name", scope, path, required=True)
        default = self.attr(el, "default", scope, path)
        desc = el.attrs.get("description", "")
        if name not in self.arguments:
            self.arguments[name] = ArgDecl(name, default, desc, str(path), el.line)
        if name in scope.configs:
            return
        if name in self.provided:
            scope.configs[name] = self.provided[name]
        elif default is not None:
            scope.configs[name] = default
        else:
            raise LaunchError(f"launch argument '{name}' is required (no default): pass {name}:=<value>"
                              + (f" ({desc})" if desc else ""), path, el.line)

    def include(self, el: Element, scope: _Scope, path: Path) -> None:
        target = Path(self.attr(el, "file", scope, path, required=True))
        if not target.is_absolute():
            target = path.parent / target
        if not target.is_file():
            raise LaunchError(f"included launch file {target} does not exist", path, el.line)
        inner = scope.copy()
        for child in el.children:
            self.check(child, path)
            if child.tag != "arg":
                raise LaunchError(f"<include> only takes <arg name= value=> children, found <{child.tag}>",
                                  path, child.line)
            name = self.attr(child, "name", scope, path, required=True)
            inner.configs[name] = self.attr(child, "value", scope, path, required=True)
        self.parse_file(target, inner, top=False)

    def node(self, el: Element, scope: _Scope, path: Path) -> None:
        ctx = self.ctx(scope, path, el.line)
        a = lambda key, default=None, required=False: self.attr(el, key, scope, path, default, required)  # noqa: E731
        output = a("output", "log")
        if output not in ("screen", "log", "both"):
            raise LaunchError(f"output must be screen, log or both, got {output!r}", path, el.line)
        on_exit = a("on_exit", "")
        if on_exit not in ("", "shutdown"):
            raise LaunchError(f"on_exit supports only 'shutdown', got {on_exit!r}", path, el.line)
        try:
            delay = float(a("respawn_delay", "0"))
        except ValueError:
            raise LaunchError(f"respawn_delay must be a number, got {el.attrs['respawn_delay']!r}", path,
                              el.line) from None
        spec = NodeSpec(
            package=a("pkg", required=True),
            executable=a("exec", required=True),
            name=a("name") or None,
            namespace=join_namespace(scope.namespace, a("namespace", "")),
            output=output,
            respawn=parse_bool(a("respawn", "false"), ctx),
            respawn_delay=delay,
            required=on_exit == "shutdown",
            arguments=_split(a("args", ""), ctx),
            ros_arguments=_split(a("ros_args", ""), ctx),
            env=dict(scope.env),
            remaps=list(scope.remaps),
            file=str(path),
            line=el.line,
        )
        if scope.params:
            spec.params.append(ParamSource(values=dict(scope.params)))
        for child in el.children:
            self.check(child, path)
            if child.tag == "param":
                self.node_param(child, spec, scope, path, "")
            elif child.tag == "remap":
                spec.remaps.append((self.attr(child, "from", scope, path, required=True),
                                    self.attr(child, "to", scope, path, required=True)))
            elif child.tag == "env":
                spec.env[self.attr(child, "name", scope, path, required=True)] = self.attr(
                    child, "value", scope, path, required=True)
            else:
                raise LaunchError(f"<node> takes <param>, <remap> and <env> children, found <{child.tag}>",
                                  path, child.line)
        self.nodes.append(spec)

    def node_param(self, el: Element, spec: NodeSpec, scope: _Scope, path: Path, prefix: str) -> None:
        if "from" in el.attrs:
            if set(el.attrs) - {"from"} or el.children:
                raise LaunchError("<param from=...> takes no other attributes or children", path, el.line)
            file = Path(self.attr(el, "from", scope, path))
            if not file.is_absolute():
                file = path.parent / file
            if not file.is_file():
                raise LaunchError(f"parameter file {file} does not exist", path, el.line)
            spec.params.append(ParamSource(file=file))
            return
        name = prefix + self.attr(el, "name", scope, path, required=True)
        if el.children:  # nested parameter namespace
            for child in el.children:
                self.check(child, path)
                if child.tag != "param":
                    raise LaunchError(f"<param> children must be <param>, found <{child.tag}>", path, child.line)
                self.node_param(child, spec, scope, path, name + ".")
            return
        if "value" not in el.attrs:
            raise LaunchError("<param> needs 'value', nested <param> children or 'from'", path, el.line)
        sep = el.attrs.get("value-sep")
        if sep is None:
            value = typed_value(self.attr(el, "value", scope, path))
        elif not sep:
            raise LaunchError("value-sep must not be empty", path, el.line)
        else:
            # as launch_xml does: the raw attribute text is split first, then each piece is substituted and
            # typed, so value="$(var list)" value-sep="," is ONE element whatever the argument holds (pass
            # lists through arguments as YAML: default="[a, b]" and value="$(var list)" without value-sep)
            value = [typed_value(self.sub(piece, scope, path, el.line)) for piece in el.attrs["value"].split(sep)]
        if not spec.params or spec.params[-1].file is not None:
            spec.params.append(ParamSource())
        spec.params[-1].values[name] = value


def _split(text: str, ctx: SubstitutionContext) -> list[str]:
    import shlex

    try:
        return shlex.split(text)
    except ValueError as exc:
        raise ctx.error(f"cannot split arguments {text!r}: {exc}") from None


def parse_launch_file(path: str | Path, arguments: Mapping[str, str] | None = None,
                      env: Mapping[str, str] | None = None) -> LaunchDescription:
    """Parse a launch file with ``name:=value`` launch arguments into a :class:`LaunchDescription`.

    Raises :class:`LaunchError` (with file:line) for malformed XML, unsupported tags/attributes,
    missing required arguments, bad substitutions, and for arguments the file does not declare.
    """
    path = Path(path)
    provided = dict(arguments or {})
    parser = _Parser(provided, env)
    scope = _Scope(configs={})
    parser.parse_file(path, scope, top=True)
    unknown = sorted(set(provided) - set(parser.arguments))
    if unknown:
        declared = ", ".join(sorted(parser.arguments)) or "none"
        raise LaunchError(f"unknown launch argument '{unknown[0]}' (this file declares: {declared})", path)
    return LaunchDescription(path.resolve(), parser.nodes, parser.arguments, scope.configs, parser.messages)


def parse_cli_arguments(items: list[str]) -> dict[str, str]:
    """``["world:=maze", "seed:=3"]`` -> dict; a malformed item raises LaunchError naming it."""
    out: dict[str, str] = {}
    for item in items:
        name, sep, value = item.partition(":=")
        if not sep or not name:
            raise LaunchError(f"launch arguments are name:=value, got {item!r}")
        out[name] = value
    return out
