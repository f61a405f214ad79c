"""`python -m omnisync_pipelines.store.migrations <alembic command> [-x url=...]`: Alembic's command
line on the ops store's migrations (no alembic.ini). E.g., after changing store/tables.py:

    python -m omnisync_pipelines.store.migrations -x url=sqlite:///data/ops.sqlite upgrade head
    python -m omnisync_pipelines.store.migrations -x url=sqlite:///data/ops.sqlite \
        revision --autogenerate --rev-id 0003 -m "what changes"
"""

from alembic.config import CommandLine

from omnisync_pipelines.store.migrations import alembic_config


def main(argv: list[str] | None = None) -> None:
    cli = CommandLine(prog="python -m omnisync_pipelines.store.migrations")
    options = cli.parser.parse_args(argv)
    if not hasattr(options, "cmd"):
        cli.parser.error("too few arguments")
    config = alembic_config()
    config.cmd_opts = options
    cli.run_cmd(config, options)


if __name__ == "__main__":
    main()
