"""Loading a job's app without running its work, in the job's own interpreter.

Shared by the warm process (``hydraflow_warm.py``) and the check before launch
(``hydraflow_probe.py``); standard library only, so it runs wherever the app runs,
with or without hydraflow installed.

- A script guarded by ``if __name__ == "__main__":`` is run under another name:
  its definitions are made, its work is not.
- A script without that guard would do its work as it loads. Only what its top
  level imports is imported (read with ``ast``: each ``import``/``from``, in order,
  each one on its own), and nothing else of it runs here.
- ``hydra.main`` is replaced while loading by a recorder: it notes the settings the
  app gives it (``config_path``, ``config_name``, ``version_base``) and the file of
  the function it decorates, so the check composes the app's config as Hydra would.
"""

from __future__ import annotations

import ast
import contextlib
import importlib
import importlib.util
import inspect
import os
import runpy
import sys
import textwrap
from collections.abc import Iterator
from typing import Any

MAIN_NAME = "__hydraflow_app__"
UNSET = "<unset>"  # hydra.main given no version_base: Hydra 1.1's defaults hold


def _before_1_2(version_base: Any) -> bool:
    """Whether ``version_base`` asks for the defaults of Hydra before 1.2 (unset does)."""
    if version_base == UNSET:
        return True
    if not isinstance(version_base, str):
        return False  # None: the installed Hydra's own defaults
    try:
        return tuple(int(part) for part in version_base.split(".")[:2]) < (1, 2)
    except ValueError:
        return False


class HydraMain:
    """What an app's ``@hydra.main(...)`` said, and about which function."""

    def __init__(self, kwargs: dict[str, Any], file: str | None) -> None:
        self.config_path = kwargs.get("config_path")
        self.config_name = kwargs.get("config_name")
        self.version_base = kwargs.get("version_base", UNSET)
        self.file = file
        if "config_path" not in kwargs and _before_1_2(self.version_base):
            # Hydra's own default then: the folder of the app's file
            self.config_path = "."

    @classmethod
    def of(cls, settings: dict[str, Any]) -> HydraMain:
        """Settings as ``as_dict`` gave them (the check's, handed to the warm process)."""
        names = ("config_path", "config_name", "version_base")
        return cls({name: settings[name] for name in names}, settings.get("file"))

    def as_dict(self) -> dict[str, Any]:
        return {
            "config_path": self.config_path,
            "config_name": self.config_name,
            "version_base": self.version_base,
            "file": self.file,
        }


class _Recorder:
    """Stands in for ``hydra.main`` while an app loads: a decorated function is noted and
    replaced by one that does nothing, so even an app that calls it runs no task."""

    def __init__(self) -> None:
        self.found: list[HydraMain] = []

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        names = ("config_path", "config_name", "version_base")
        settings = {**dict(zip(names, args, strict=False)), **kwargs}

        def decorate(task: Any) -> Any:
            code = getattr(task, "__code__", None)
            self.found.append(HydraMain(settings, code.co_filename if code else None))

            def nothing(*_args: Any, **_kwargs: Any) -> None:
                return None

            return nothing

        return decorate


def guarded(source: str) -> bool:
    """Whether a script's top level keeps its work under ``if __name__ == "__main__":``."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return False
    return any(isinstance(node, ast.If) and _is_main_test(node.test) for node in tree.body)


def _is_main_test(test: ast.expr) -> bool:
    if not isinstance(test, ast.Compare) or len(test.comparators) != 1:
        return False
    sides = [test.left, test.comparators[0]]
    names = [s for s in sides if isinstance(s, ast.Name) and s.id == "__name__"]
    texts = [s for s in sides if isinstance(s, ast.Constant) and s.value == "__main__"]
    return bool(names and texts) and isinstance(test.ops[0], ast.Eq)


def top_level_imports(source: str) -> list[tuple[str, list[str], int]]:
    """The modules a script's top level imports, in order: (module, names, level)."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return []
    found: list[tuple[str, list[str], int]] = []
    for node in tree.body:
        if isinstance(node, ast.Import):
            found += [(alias.name, [], 0) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module != "__future__":
            found.append((node.module or "", [a.name for a in node.names], node.level))
    return found


def static_hydra_main(source: str, file: str) -> HydraMain | None:
    """``@hydra.main(...)`` read from the source, when its arguments are written out."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return None
    for node in ast.walk(tree):
        if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            continue
        for decorator in node.decorator_list:
            if isinstance(decorator, ast.Call) and _names_hydra_main(decorator.func):
                try:
                    kwargs = {k.arg: ast.literal_eval(k.value) for k in decorator.keywords if k.arg}
                    names = ("config_path", "config_name", "version_base")
                    args = [ast.literal_eval(a) for a in decorator.args]
                except ValueError:
                    return None
                return HydraMain({**dict(zip(names, args, strict=False)), **kwargs}, file)
    return None


def _names_hydra_main(func: ast.expr) -> bool:
    if isinstance(func, ast.Attribute):
        return func.attr == "main" and isinstance(func.value, ast.Name) and func.value.id == "hydra"
    return False


def import_only(source: str, path: list[str]) -> list[str]:
    """Import what a script's top level imports, each on its own; what failed, and why."""
    for folder in reversed(path):
        if folder not in sys.path:
            sys.path.insert(0, folder)
    failed = []
    for module, names, level in top_level_imports(source):
        if level:  # relative imports need the script's package: the script makes it
            continue
        try:
            imported = importlib.import_module(module)
            for name in names:
                if name != "*" and not hasattr(imported, name):
                    importlib.import_module(f"{module}.{name}")
        except BaseException as error:  # an import of the app's is no reason to stop here
            failed.append(f"{module}: {type(error).__name__}: {error}")
    return failed


def import_what_it_imports(function: Any) -> None:
    """Import what a function's body imports, without calling it: a call job's function
    may import its Hydra app only as it runs (``from train import main``)."""
    try:
        tree = ast.parse(textwrap.dedent(inspect.getsource(function)))
    except (OSError, TypeError, SyntaxError):
        return
    package = (getattr(function, "__module__", "") or "").rpartition(".")[0]
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module != "__future__":
            names = ["." * node.level + (node.module or "")]
        else:
            continue
        for name in names:
            with contextlib.suppress(BaseException):  # the run says why it fails, not us
                importlib.import_module(name, package or None)


def script_source(target: str) -> str:
    with open(target, encoding="utf-8") as handle:
        return handle.read()


def module_source(name: str) -> tuple[str, str] | None:
    """A module's source and file, found without running it."""
    try:
        spec = importlib.util.find_spec(name)
    except (ImportError, ValueError):
        return None
    if spec is None or spec.origin is None or not spec.origin.endswith(".py"):
        return None
    try:
        return script_source(spec.origin), spec.origin
    except OSError:
        return None


def load(spec: dict[str, Any]) -> tuple[Any, bool]:
    """Load what a job's batches run, without running its work; returns the function of a
    call job, and whether the app was loaded whole (False: only its imports, its script
    has no ``__main__`` guard)."""
    for folder in reversed(spec.get("path", [])):
        if folder not in sys.path:
            sys.path.insert(0, folder)
    for name in spec.get("preload", []):
        importlib.import_module(name)
    return _load_target(spec)


@contextlib.contextmanager
def recording() -> Iterator[list[HydraMain]]:
    """Within this block ``hydra.main`` notes what it is given and runs nothing: the list
    it yields fills with the settings met."""
    recorder = _Recorder()
    restore = _record_hydra_main(recorder)
    try:
        yield recorder.found
    finally:
        if restore is not None:
            restore()


def _load_target(spec: dict[str, Any]) -> tuple[Any, bool]:
    kind, target = spec["kind"], spec["target"]
    if kind == "script":
        source = script_source(target)
        if not guarded(source):
            import_only(source, [os.path.dirname(target)])
            return None, False
        runpy.run_path(target, run_name=MAIN_NAME)
        return None, True
    if kind == "module":
        found = module_source(target)
        if found is not None and not guarded(found[0]):
            import_only(found[0], [])
            return None, False
        importlib.import_module(target)
        return None, True
    module_name, _, name = target.rpartition(".")
    function = getattr(importlib.import_module(module_name), name, None)
    if not callable(function):
        raise ImportError(f"{module_name!r} has no function {name!r}")
    return function, True


def _record_hydra_main(recorder: _Recorder) -> Any:
    """``hydra.main`` replaced by ``recorder`` until the returned function is called."""
    try:
        import hydra
    except ImportError:
        return None
    original = hydra.main
    hydra.main = recorder

    def restore() -> None:
        hydra.main = original

    return restore


def initialize(main: HydraMain) -> Any:
    """Hydra's global state set up as the app's ``hydra.main`` would set it up."""
    import hydra

    kwargs: dict[str, Any] = {}
    if main.version_base != UNSET:
        kwargs["version_base"] = main.version_base
    path = main.config_path
    if path is None:
        return hydra.initialize(config_path=None, **kwargs)
    if str(path).startswith("pkg://"):
        return hydra.initialize_config_module(config_module=str(path)[len("pkg://") :], **kwargs)
    if not os.path.isabs(path):
        path = os.path.join(os.path.dirname(os.path.abspath(main.file or ".")), path)
    return hydra.initialize_config_dir(config_dir=os.path.abspath(path), **kwargs)
