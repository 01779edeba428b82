"""The committed ``.pyi`` stubs agree with the runtime classes and with the generator.

Like zenoh-python's ``tests/stubs_check.py``: every class a stub declares is compared
with the class the registry generates at run time (field names and order from
``model_fields``, field types from the pydantic annotations, constants and their values,
``__init__`` keywords, the ``Request``/``Response``/``Goal``/... members), every name the
runtime module serves has a class in the stub, and the committed files are exactly what
``make stubs`` writes today, so a changed ``.msg`` with stale stubs fails here.
"""

from __future__ import annotations

import array
import ast
import importlib
import types
import typing
from pathlib import Path

import pytest

import robotfleet_nodes
from robotfleet_nodes.errors import InterfaceError
from robotfleet_nodes.idl import Action, Message, Service, default_registry
from robotfleet_nodes.idl._arrays import NumericArray
from robotfleet_nodes.idl._stubs import module_reexports, package_dependencies, render_stub, write_stubs

PACKAGE_DIR = Path(robotfleet_nodes.__file__).resolve().parent
TYPINGS = PACKAGE_DIR / "typings"
KINDS = ("msg", "srv", "action")
OWN = "robotfleet_nodes"
DERIVED = ("_SendGoal", "_GetResult", "_FeedbackMessage")


def _own_stub_files() -> list[tuple[str, str, Path]]:
    registry = default_registry()
    return [
        (OWN, kind, PACKAGE_DIR / kind / "__init__.pyi")
        for kind in KINDS
        if registry.package_names(OWN, kind)
    ]


def _standard_stub_files() -> list[tuple[str, str, Path]]:
    return sorted(
        (path.parent.parent.name, path.parent.name, path) for path in TYPINGS.glob("*/*/__init__.pyi")
    )


ALL_STUBS = _own_stub_files() + _standard_stub_files()


# --- expected stub text of a runtime annotation -------------------------------------------


def _expected_type(annotation: object, module: tuple[str, str]) -> str:
    """The stub's attribute type for a pydantic field annotation, derived independently."""
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        base, *metadata = typing.get_args(annotation)
        if base is array.array:  # numeric sequences: the element type is in NumericArray
            (numeric,) = [m for m in metadata if isinstance(m, NumericArray)]
            return f"_array.array[{'float' if numeric.base.startswith('float') else 'int'}]"
        return _expected_type(base, module)
    if origin is list:
        (element,) = typing.get_args(annotation)
        return f"list[{_expected_type(element, module)}]"
    if annotation in (int, float, bool, str, bytes):
        return annotation.__name__  # type: ignore[attr-defined]
    if isinstance(annotation, type) and issubclass(annotation, Message):
        package, kind, name = annotation.__ros_type__.split("/")
        return name if (package, kind) == module else f"_{package}_{kind}.{name}"
    raise AssertionError(f"unexpected field annotation {annotation!r}")


# --- the check ------------------------------------------------------------------------------


def _class_mismatches(node: ast.ClassDef, runtime: object, where: tuple[str, str]) -> list[str]:
    name = node.name
    bases = [ast.unparse(b) for b in node.bases]
    if bases == ["_Message"]:
        if not (isinstance(runtime, type) and issubclass(runtime, Message)):
            return [f"{name}: stub says message, runtime has {runtime!r}"]
        problems = []
        fields: list[tuple[str, str]] = []
        constants: dict[str, object] = {}
        init: ast.FunctionDef | None = None
        for item in node.body:
            if isinstance(item, ast.AnnAssign) and isinstance(item.target, ast.Name):
                if ast.unparse(item.annotation) == "_Final":
                    assert item.value is not None
                    constants[item.target.id] = ast.literal_eval(item.value)
                else:
                    fields.append((item.target.id, ast.unparse(item.annotation)))
            elif isinstance(item, ast.FunctionDef) and item.name == "__init__":
                init = item
        model_fields = runtime.model_fields
        if [f for f, _ in fields] != list(model_fields):
            problems.append(f"{name}: stub fields {[f for f, _ in fields]} != runtime {list(model_fields)}")
        for field, annotation in fields:
            if field in model_fields:
                info = model_fields[field]
                annotation_of = info.annotation
                if info.metadata:
                    annotation_of = typing.Annotated[(info.annotation, *info.metadata)]
                expected = _expected_type(annotation_of, where)
                if annotation != expected:
                    problems.append(f"{name}.{field}: stub type {annotation} != runtime {expected}")
        runtime_constants = {c.name: getattr(runtime, c.name) for c in runtime.__ros_spec__.constants}
        if constants != runtime_constants:
            problems.append(f"{name}: stub constants {constants} != runtime {runtime_constants}")
        required = [f for f, info in model_fields.items() if info.is_required()]
        if required:
            problems.append(f"{name}: runtime requires {required}, the stub gives every field a default")
        if init is None:
            problems.append(f"{name}: no __init__ in the stub")
        else:
            keywords = [a.arg for a in init.args.kwonlyargs]
            if keywords != list(model_fields):
                problems.append(
                    f"{name}.__init__: keywords {keywords} != runtime fields {list(model_fields)}"
                )
            if init.args.args[1:] or init.args.vararg or init.args.kwarg:
                problems.append(f"{name}.__init__: takes more than keywords")
        return problems
    if bases in (["_Service"], ["_Action"]):
        namespace = Service if bases == ["_Service"] else Action
        if not (isinstance(runtime, type) and issubclass(runtime, namespace)):
            return [f"{name}: stub says {namespace.__name__}, runtime has {runtime!r}"]
        parts = ("Request", "Response", "Event") if namespace is Service else ("Goal", "Result", "Feedback")
        members = {
            item.target.id: ast.unparse(item.value)
            for item in node.body
            if isinstance(item, ast.AnnAssign) and isinstance(item.target, ast.Name) and item.value
        }
        expected_members = {part: getattr(runtime, part).__name__ for part in parts}
        if members != expected_members:
            return [f"{name}: stub members {members} != runtime {expected_members}"]
        return []
    return [f"{name}: unexpected bases {bases}"]


def stub_mismatches(text: str, package: str, kind: str) -> list[str]:
    """Every difference between a stub's text and the runtime module ``package.kind``."""
    module = importlib.import_module(f"{package}.{kind}")
    tree = ast.parse(text)
    problems: list[str] = []
    declared: set[str] = set()
    reexported: set[str] = set()
    for node in tree.body:
        if isinstance(node, ast.ClassDef):
            declared.add(node.name)
            try:
                runtime = getattr(module, node.name)
            except AttributeError:
                problems.append(f"{node.name}: declared in the stub, not served by {module.__name__}")
                continue
            if getattr(runtime, "__name__", None) != node.name:
                problems.append(f"{node.name}: runtime object is named {runtime.__name__!r}")
            problems.extend(_class_mismatches(node, runtime, (package, kind)))
        elif isinstance(node, ast.ImportFrom):
            reexported.update(a.asname for a in node.names if a.asname and not a.asname.startswith("_"))
    registry = default_registry()
    served: set[str] = set()
    for short in registry.package_names(package, kind):
        if kind == "action" and short.endswith(DERIVED) and short.rsplit("_", 1)[0] in dir(module):
            continue  # registered once an action server or client used the action: not stubbed
        interface = getattr(module, short)
        served.add(short)
        if isinstance(interface, type) and issubclass(interface, Service):
            served.update({interface.Request.__name__, interface.Response.__name__, interface.Event.__name__})
        elif isinstance(interface, type) and issubclass(interface, Action):
            served.update(getattr(interface, part).__name__ for part in ("Goal", "Result", "Feedback"))
    if declared != served:
        problems.append(
            f"{package}.{kind}: stub classes {sorted(declared - served)} not served, "
            f"served {sorted(served - declared)} not in the stub"
        )
    own_names = set(getattr(module, "__all__", ()))
    if reexported != own_names:
        problems.append(
            f"{package}.{kind}: stub re-exports {sorted(reexported)} != __all__ {sorted(own_names)}"
        )
    return problems


# --- tests ------------------------------------------------------------------------------------


def test_the_stubs_cover_this_package_and_its_dependencies() -> None:
    assert {kind for _, kind, _ in _own_stub_files()} == {"msg", "srv", "action"}
    standard = {package for package, _, _ in _standard_stub_files()}
    dependencies = set(package_dependencies(default_registry(), [OWN])) - {OWN}
    assert dependencies <= standard, f"missing stubs of {dependencies - standard}: run `make stubs`"


@pytest.mark.parametrize(("package", "kind", "path"), ALL_STUBS, ids=[f"{p}.{k}" for p, k, _ in ALL_STUBS])
def test_stub_matches_runtime_classes(package: str, kind: str, path: Path) -> None:
    assert stub_mismatches(path.read_text(encoding="utf-8"), package, kind) == []


@pytest.mark.parametrize(("package", "kind", "path"), ALL_STUBS, ids=[f"{p}.{k}" for p, k, _ in ALL_STUBS])
def test_committed_stub_is_what_the_generator_writes(package: str, kind: str, path: Path) -> None:
    source = path.with_suffix(".py")
    reexports = (
        module_reexports(source.read_text(encoding="utf-8"), f"{package}.{kind}") if source.exists() else []
    )
    fresh = render_stub(default_registry(), package, kind, reexports=reexports)
    assert path.read_text(encoding="utf-8") == fresh, f"{path} is stale: run `make stubs`"


def test_standard_stub_trees_hold_no_stale_files(tmp_path: Path) -> None:
    registry = default_registry()
    packages = sorted(p.name for p in TYPINGS.iterdir() if p.is_dir())
    for package in packages:
        write_stubs(registry, package, tmp_path)
    fresh = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*.pyi"))
    committed = sorted(p.relative_to(TYPINGS) for p in TYPINGS.rglob("*.pyi"))
    assert committed == fresh


def test_the_check_catches_a_misspelled_field_a_wrong_type_and_a_missing_class() -> None:
    text = (PACKAGE_DIR / "msg" / "__init__.pyi").read_text(encoding="utf-8")
    assert stub_mismatches(
        text.replace("    battery_percent: float", "    batery_percent: float"), OWN, "msg"
    )
    assert stub_mismatches(text.replace("    battery_percent: float", "    battery_percent: int"), OWN, "msg")
    assert stub_mismatches(text.replace("STATE_OFFLINE: _Final = 4", "STATE_OFFLINE: _Final = 5"), OWN, "msg")
    without_heartbeat = text.replace("class Heartbeat(_Message):", "class Heartbeet(_Message):")
    assert stub_mismatches(without_heartbeat, OWN, "msg")
    srv = (PACKAGE_DIR / "srv" / "__init__.pyi").read_text(encoding="utf-8")
    swapped = srv.replace(
        "Response: _TypeAlias = GetWorkOrder_Response", "Response: _TypeAlias = GetWorkOrder_Request"
    )
    assert stub_mismatches(swapped, OWN, "srv")


def test_derived_action_types_registered_by_use_change_no_stub() -> None:
    from robotfleet_nodes.action import ExecuteTask
    from robotfleet_nodes.action._types import action_types

    before = render_stub(default_registry(), OWN, "action", reexports=[])
    action_types(ExecuteTask)  # what creating an ActionServer / ActionClient does
    assert "ExecuteTask_SendGoal" in default_registry().package_names(OWN, "action")
    assert render_stub(default_registry(), OWN, "action", reexports=[]) == before
    assert "ExecuteTask_SendGoal" not in before


def test_generated_stub_types_arrays_bytes_nested_and_constants() -> None:
    registry = default_registry()
    text = render_stub(registry, "sensor_msgs", "msg")
    image = text[text.index("class Image(_Message):") :]
    image = image[: image.index("\nclass ")]
    assert "    header: _std_msgs_msg.Header\n" in image
    assert "    data: bytes\n" in image
    assert "        data: _Bytes = ...,\n" in image
    battery = text[text.index("class BatteryState(_Message):") :]
    assert "    POWER_SUPPLY_STATUS_CHARGING: _Final = 1\n" in battery
    assert "    cell_voltage: _array.array[float]\n" in battery
    assert "        cell_voltage: _Array[float] = ...,\n" in battery
    assert "import std_msgs.msg as _std_msgs_msg\n" in text


def test_a_field_named_like_a_builtin_does_not_shadow_the_type() -> None:
    from robotfleet_nodes.idl import TypeRegistry

    registry = TypeRegistry()
    registry.add_text("shadow_msgs/msg/Odd", "string str\nint32 int\nstring[] list\nint32 self\n")
    text = render_stub(registry, "shadow_msgs", "msg")
    assert "    str: _builtins.str\n" in text
    assert "    list: _builtins.list[_builtins.str]\n" in text
    assert "import builtins as _builtins\n" in text
    assert "        self_,\n" in text
    compile(text, "Odd.pyi", "exec")


def test_writing_into_a_real_package_needs_the_kind_module(tmp_path: Path) -> None:
    (tmp_path / "std_msgs").mkdir()
    (tmp_path / "std_msgs" / "__init__.py").write_text("")
    with pytest.raises(InterfaceError, match="namespace package"):
        write_stubs(default_registry(), "std_msgs", tmp_path)


def test_reexports_must_be_imported_names() -> None:
    assert module_reexports("from .a import B\n__all__ = ['B']\n", "pkg.msg") == [("pkg.msg.a", "B")]
    with pytest.raises(InterfaceError, match="C in __all__"):
        module_reexports("C = 1\n__all__ = ['C']\n", "pkg.msg")


def test_types_module_is_untouched() -> None:
    # The stub replaces robotfleet_nodes.msg only for type checkers: at run time the module
    # is still the lazy one, and a misspelled name is an AttributeError naming close matches.
    module = importlib.import_module("robotfleet_nodes.msg")
    assert isinstance(module, types.ModuleType)
    with pytest.raises(AttributeError, match="RobotStatus"):
        _ = module.RobotStatuss


def test_standard_classes_for_own_code_are_the_registry_classes_mypy_sees() -> None:
    from robotfleet_nodes.idl import standard

    tree = ast.parse(Path(standard.__file__).read_text(encoding="utf-8"))
    typed: dict[str, str] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.endswith(".msg"):
            typed.update({alias.name: node.module for alias in node.names})
    assert sorted(typed) == sorted(standard.STANDARD_TYPES) == sorted(standard.__all__)
    for name, full_name in standard.STANDARD_TYPES.items():
        package, kind, short = full_name.split("/")
        assert (short, typed[name]) == (name, f"{package}.{kind}")
        assert getattr(standard, name) is default_registry().get_class(full_name)
        assert f"class {short}(_Message):" in (TYPINGS / package / kind / "__init__.pyi").read_text()
    with pytest.raises(AttributeError):
        _ = standard.Duration


def test_constants_that_are_no_plain_literal_still_make_valid_source() -> None:
    from robotfleet_nodes.idl import TypeRegistry

    registry = TypeRegistry()
    registry.add_text(
        "odd_msgs/msg/Limits", "float64 TOP=inf\nstring QUOTED='say \"hi\"'\nstring TAB=a\\tb\n"
    )
    text = render_stub(registry, "odd_msgs", "msg")
    assert '    TOP: _Final = float("inf")\n' in text
    assert "    QUOTED: _Final = 'say \"hi\"'\n" in text
    assert '    TAB: _Final = "a\\\\tb"\n' in text
    compile(text, "Limits.pyi", "exec")
