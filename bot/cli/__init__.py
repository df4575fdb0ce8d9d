"""`citizenbot` command line: one Typer app; each layer registers its own commands.

Registration only wires commands: nothing heavy (models, indexes, database engines) is imported
here; each command imports what it needs when it runs.
"""

from __future__ import annotations

import typer

from bot.cli import civic, export, faq, run, scale, search, voice

app = typer.Typer(
    name="citizenbot",
    help="Trợ lý Hà Nội thông minh, xanh, bền vững: hỏi đáp, góp ý, khảo sát.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

@app.command()
def version() -> None:
    """Print the version."""
    from bot import __version__

    typer.echo(f"citizenbot {__version__}")


search.register(app)
civic.register(app)
export.register(app)
faq.register(app)
run.register(app)
voice.register(app)
scale.register(app)


def main() -> None:
    """Console-script entry point."""
    app()
