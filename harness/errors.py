"""The two exceptions harness and its plugins raise on purpose.

A ``UsageError`` is something the user can fix (a bad config, a missing asset): the
CLI prints it without a traceback and exits with its ``exit_code``. A ``FormatError``
is one data record a formatter cannot read or write.
"""

from __future__ import annotations


class UsageError(Exception):
    """A problem the user can fix (bad config, missing asset): printed without a traceback."""

    exit_code = 2


class FormatError(ValueError):
    """A record that a formatter cannot read or write; the message says why."""
