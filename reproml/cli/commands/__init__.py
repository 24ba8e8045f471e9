"""One module per `reproml` subcommand; each has `add_parser(subparsers)` and `run(args)`."""
