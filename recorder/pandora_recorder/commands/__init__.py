"""`pandora` subcommands of the recorder image; each module has `configure(parser)` and `run(args) -> int`."""
