"""CLI sub-commands, one module each. Each module defines ``register(app: typer.Typer) -> None`` and
imports anything heavy inside its command functions, so ``ledgerlm --help`` stays fast."""
