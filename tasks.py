"""The project's tasks: every job of hydraflow.yaml, plus development tasks."""

from invoke import Context, task

from hydraflow import collection

ns = collection()


@task
def test(c: Context) -> None:
    """Run the test suite."""
    c.run("python -m pytest -q -n 2", pty=False)


@task
def lint(c: Context) -> None:
    """ruff, mypy and the import-linter contracts."""
    c.run("ruff check .")
    c.run("ruff format --check .")
    c.run("mypy hydraflow")
    c.run("lint-imports")


@task
def bench(c: Context) -> None:
    """Run every benchmark in bench/."""
    for script in ("sweep", "startup", "list", "pool", "results", "warm", "check", "plot"):
        c.run(f"python bench/{script}.py")


for development_task in (test, lint, bench):
    ns.add_task(development_task)
