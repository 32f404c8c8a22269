"""Subcommands of ``pandora`` that live in the operator package (see ``pandora.cli.COMMANDS``)."""
