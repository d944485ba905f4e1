"""The ``ledgerlm`` command line: ``ledgerlm --help`` lists the sub-commands.

Sub-commands live in ``ledgerlm.commands.<name>``; each module registers itself on the typer app.
"""

from __future__ import annotations

import importlib

import typer

COMMAND_MODULES: tuple[str, ...] = ("simulate", "cost", "prices", "proxy", "db", "spend")


def build_app() -> typer.Typer:
    """The typer app with every available sub-command registered."""
    app = typer.Typer(
        name="ledgerlm",
        help="ledgerlm: LLM gateway and logger with a spend ledger correct to the cent.",
        no_args_is_help=True,
        add_completion=False,
    )
    for name in COMMAND_MODULES:
        module_name = f"ledgerlm.commands.{name}"
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if exc.name == module_name:
                continue
            raise
        module.register(app)
    return app


def main() -> None:
    """Entry point of the ``ledgerlm`` script."""
    build_app()()


if __name__ == "__main__":
    main()
