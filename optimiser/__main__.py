from .cli import cli

raise SystemExit(cli())
