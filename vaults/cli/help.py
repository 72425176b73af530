"""``--help`` layout: command summaries are whole first sentences, never cut mid-sentence."""

from __future__ import annotations

import click

__all__ = ["SUMMARY_LIMIT", "SummaryGroup", "summary"]

SUMMARY_LIMIT = 1000  # click stops at the first sentence; this only keeps it from cutting it


def summary(command: click.Command) -> str:
    """The first sentence of ``command``'s help (or its ``short_help``), whole."""
    return command.get_short_help_str(limit=SUMMARY_LIMIT)


class SummaryGroup(click.Group):
    """A group whose command list shows each command's whole first sentence (wrapped)."""

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        rows = []
        for name in self.list_commands(ctx):
            command = self.get_command(ctx, name)
            if command is not None and not command.hidden:
                rows.append((name, summary(command)))
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(rows)
