"""hydraflow's check before launch: every batch of a job composed against the app's config.

Run by hydraflow with the job's own interpreter as ``python hydraflow_probe.py``, a
JSON request on stdin: ``{"spec": {...}, "batches": [[word, ...], ...], "words": [...]}``
(the spec as the warm process takes it; each batch's override words; the words the
command gives the app before them). It loads the app without running its work
(``hydraflow_app``), learns its ``hydra.main`` settings, and composes with Hydra's
public compose API (``hydraflow_checker``). It never calls the task.

It writes one JSON object on stdout: ``{"hydra": false}`` for a command that is no
Hydra app hydraflow can read, ``{"hydra": null}`` for one it cannot check, else
``{"hydra": true, "configs": N, "problems": [{"words", "key", "message", "batches"}]}``.
Standard library only at its top.
"""

from __future__ import annotations

import json
import os
import sys
from typing import Any

from hydraflow_app import (
    HydraMain,
    guarded,
    import_what_it_imports,
    initialize,
    load,
    module_source,
    recording,
    script_source,
    static_hydra_main,
)
from hydraflow_checker import Checker, Unchecked


def hydra_main_of(request: dict[str, Any]) -> HydraMain | None:
    """The app's ``hydra.main`` settings, learnt by loading it (its work not run), or read
    from its source where its top level is not guarded; None: no Hydra app."""
    spec = request["spec"]
    with recording() as found:
        function, whole = load(spec)
        if function is not None and not found:  # the function imports the app as it runs
            import_what_it_imports(function)
    if found:
        return _the_apps(found, spec, function)
    if whole:
        return None
    source_and_file = (
        (script_source(spec["target"]), spec["target"])
        if spec["kind"] == "script"
        else module_source(spec["target"])
    )
    if source_and_file is None or guarded(source_and_file[0]):
        return None
    return static_hydra_main(*source_and_file)


def _the_apps(found: list[HydraMain], spec: dict[str, Any], function: Any) -> HydraMain | None:
    """Of the ``hydra.main`` met while loading (a script may import other apps), the one in
    the file the batches run; else the only one; else none can be told."""
    files = {_file_of(spec, function)}
    mine = [main for main in found if main.file and os.path.abspath(main.file) in files]
    if len(mine) == 1:
        return mine[0]
    return found[0] if len(found) == 1 else None


def _file_of(spec: dict[str, Any], function: Any) -> str | None:
    if spec["kind"] == "script":
        return os.path.abspath(str(spec["target"]))
    if spec["kind"] == "module":
        found = module_source(spec["target"])
        return os.path.abspath(str(found[1])) if found else None
    code = getattr(function, "__code__", None)
    return os.path.abspath(str(code.co_filename)) if code else None


_NAME = ("--config-name", "-cn")
_PATH = ("--config-path", "-cp")


def as_the_words_say(main: HydraMain, words: list[str]) -> HydraMain | None:
    """The app's ``hydra.main`` settings as the words before the overrides change them
    (``--config-name x``, ``-cp conf2``); None when a word is one the check cannot follow
    (``--config-dir``, ``--cfg``, an app's own flag): then nothing is checked."""
    rest = list(words)
    while rest:
        name, equals, value = rest.pop(0).partition("=")
        if name in ("-m", "--multirun"):
            continue
        if name not in _NAME + _PATH:
            return None
        if not equals:
            if not rest:
                return None
            value = rest.pop(0)
        if name in _NAME:
            main.config_name = value
        else:
            main.config_path = value
    return main


def answer(request: dict[str, Any]) -> dict[str, Any]:
    try:
        found = hydra_main_of(request)
    except BaseException as error:  # the app does not load: the run would say it first
        return {"hydra": None, "why": f"{type(error).__name__}: {error}"}
    if found is not None:
        found = as_the_words_say(found, list(request.get("words", [])))
    if found is None:
        return {"hydra": False}
    from hydra.core.global_hydra import GlobalHydra

    GlobalHydra.instance().clear()
    try:
        with initialize(found):
            checker = Checker(found)
            checker.check(request["batches"])
    except Unchecked as why:
        return {"hydra": None, "why": str(why)}
    return {
        "hydra": True,
        "configs": checker.composed,
        "problems": checker.problems.as_list(),
        "sets_mode": checker.sets_mode,
        "main": found.as_dict(),
    }


def _answer_channel() -> Any:
    """Where the answer goes: the real stdout, kept for it alone. What the app prints as
    it loads (fd 1 or ``sys.stdout``) goes to stderr, so it cannot spoil the JSON."""
    channel = os.fdopen(os.dup(1), "w", encoding="utf-8")
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    return channel


def main() -> None:
    channel = _answer_channel()
    try:
        said = answer(json.load(sys.stdin))
    except BaseException as error:  # never a traceback in place of an answer
        said = {"hydra": None, "why": f"{type(error).__name__}: {error}"}
    json.dump(said, channel)
    channel.flush()
    # the app may have started threads that are not daemons: they must not hold us
    os._exit(0)


if __name__ == "__main__":
    main()
