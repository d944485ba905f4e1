"""The ``ledgerlm`` command line: ``ledgerlm --help`` lists the sub-commands.

Sub-commands live in ``ledgerlm.commands.<name>``; each module registers itself on the typer app.
"""

from __future__ import annotations

import importlib

import typer

from ledgerlm.errors import LedgerLMError

COMMAND_MODULES: tuple[str, ...] = (
    "simulate", "cost", "prices", "proxy", "db", "spend", "reconcile", "tags", "reprice", "period", "export",
)  # fmt: skip


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


NO_TABLES_HINT = (
    "no ledgerlm tables here: point --database-url at the proxy's database or run `ledgerlm db upgrade`"
)


def user_error_message(exc: BaseException) -> str | None:
    """One line for an error the user can act on (a file or port that cannot be used, a bad value, an
    unreachable, missing or unmigrated database), or ``None`` for anything else (a bug: traceback)."""
    if type(exc).__module__.startswith("sqlalchemy"):
        orig = getattr(exc, "orig", None) or exc
        text = " ".join(str(orig).split())
        if "no such table" in text or ("relation" in text and "does not exist" in text):
            text += f" ({NO_TABLES_HINT})"
        return f"database error: {type(orig).__name__}: {text}"
    if isinstance(exc, OSError | ValueError | OverflowError | LedgerLMError):
        return f"{type(exc).__name__}: {' '.join(str(exc).split())}"
    return None


def main() -> None:
    """Entry point of the ``ledgerlm`` script. A user error ends with one line on stderr and exit
    status 1 instead of a traceback (see ``user_error_message``)."""
    try:
        build_app()()
    except Exception as exc:  # typer's standalone mode already handled usage errors (exit 2)
        message = user_error_message(exc)
        if message is None:
            raise
        typer.echo(f"error: {message}", err=True)
        raise SystemExit(1) from None


if __name__ == "__main__":
    main()
