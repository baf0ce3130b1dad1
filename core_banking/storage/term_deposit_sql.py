"""SQL fragments that say where a term deposit stands on a business date.

Shared by the interest SQL (a term deposit earns until its maturity, and its interest is
posted when its term ends: storage/deposit_interest.py) and by the maturity step
(storage/term_deposits.py). ``td`` names the ``term_deposits`` row.
"""

from __future__ import annotations

from typing import Final

DEPOSIT_KINDS: Final = "('deposit', 'term_deposit')"
"""The account kinds that earn deposit interest."""

MATURING: Final = "td.status = 'active' AND td.maturity_date <= :maturing_by"
"""Due for settlement: an active deposit whose term ends with the day (``:maturing_by`` is
the day after it; the close of a term's last day settles it), or ended before and still
awaits its payout."""

EARNING: Final = "(td.account_id IS NULL OR (td.status = 'active' AND :day < td.maturity_date))"
"""Earns interest on the day: any deposit account that is not a term deposit (``td`` left
joined), and a term deposit on each day of its term."""


def next_maturity(dialect: str) -> str:
    """The maturity date of the term after the current one: counted from the first term's
    start, ``term_number + 1`` terms on (domain: ``maturity_of_term``). PostgreSQL's month
    arithmetic takes a month's last day where the month lacks the day, as the domain's
    ``add_months`` does; SQLite's does not, so there the domain computes it."""
    if dialect == "postgresql":
        return """CASE td.term_unit
            WHEN 'days' THEN td.start_date + td.term_length * (td.term_number + 1)
            ELSE CAST(td.start_date
                      + make_interval(months => td.term_length * (td.term_number + 1)) AS date)
        END"""
    return "nexum_term_maturity(td.start_date, td.term_length, td.term_unit, td.term_number + 1)"
