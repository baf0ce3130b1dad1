"""Close-of-business deposit interest accrual over many accounts on PostgreSQL, in accruals
per second; then the month-end posting of what accrued, in accounts posted per second.

    python -m bench.accruals [--accounts 100000] [--dates 5]

Creates a fresh database on the PostgreSQL named by --postgres-url (default
NEXUM_TEST_POSTGRES_URL, else the local server), migrates it, creates four interest-bearing
products through the services (a fixed rate under Actual/365 Fixed, a banded and a whole
tiered rate, a fixed rate under 30/360 with daily compounding), and then, in bulk SQL, the
accounts spread over them, each funded by an opening deposit (a balanced journal entry with
its lines) before the first date; one account in ten also has a second deposit after the
last date, so the lookup of its closing balances (the latest line of the date or earlier,
by business date) walks back past its newest line. The accrual step then runs for each
of --dates consecutive business dates ending on a month end, timed one by one; the posting
step runs on that month end. The last line printed is a JSON object with the figures; the
database is dropped at the end. A benchmark never fails a build: it reports.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import time
import uuid
from datetime import UTC, date, datetime, timedelta
from datetime import time as time_of_day
from decimal import Decimal

from sqlalchemy import text

from bench.common import DEFAULT_POSTGRES_URL, create_database, drop_database
from core_banking.bootstrap import build, deposit_interest_steps
from core_banking.config import load_config
from core_banking.domain.chart import GLCode, gl_account_id
from core_banking.domain.commands import CreateCustomer, RequestContext
from core_banking.domain.lending.catalog import ProductKind
from core_banking.domain.lending.day_count import DayCount
from core_banking.domain.lending.deposit_products import DepositKind, InterestPostingFrequency
from core_banking.domain.lending.rates import (
    Compounding,
    FixedRate,
    InterestRate,
    RateTier,
    TieredRate,
    TierMethod,
)
from core_banking.migrations import MigrationManager
from core_banking.services.products import CreateProduct
from core_banking.storage.verification import verify_ledger

CONTEXT = RequestContext(actor="bench")
TARGET_ACCRUALS_PER_SECOND = 10_000
PRECISION = 4
LAST_DATE = date(2030, 1, 31)
"""A month end, so the posting step has work on the last date."""

TIERS = (
    RateTier(0, Decimal("0.005")),
    RateTier(10_000_00, Decimal("0.015")),
    RateTier(50_000_00, Decimal("0.025")),
)
PRODUCTS: tuple[tuple[InterestRate, DayCount, Compounding], ...] = (
    (FixedRate(Decimal("0.0525")), DayCount.ACTUAL_365_FIXED, Compounding.AT_POSTING),
    (TieredRate(TIERS, TierMethod.BANDED), DayCount.ACTUAL_365_FIXED, Compounding.AT_POSTING),
    (TieredRate(TIERS, TierMethod.WHOLE), DayCount.ACTUAL_360, Compounding.AT_POSTING),
    (FixedRate(Decimal("0.031")), DayCount.THIRTY_360, Compounding.DAILY),
)

# The accounts, their opening deposits before the first date and, for one in ten, a second
# deposit after the last: entries, customer lines (position and balance-after per account)
# and cash lines (a running position and balance over all of them), then the balances.
_SEED = """
CREATE TABLE bench_movements AS
WITH accounts_seeded AS (
    SELECT gen_random_uuid() AS account_id, n,
           (CAST(:product_ids AS uuid[]))[1 + n % cardinality(CAST(:product_ids AS uuid[]))]
               AS product_id
      FROM generate_series(1, :accounts) AS n
)
SELECT account_id, product_id, n, gen_random_uuid() AS entry_id, 1 AS seq,
       (1 + floor(random() * 10000000))::bigint AS amount_minor,
       CAST(:opened_at AS timestamptz) AS at
  FROM accounts_seeded
UNION ALL
SELECT account_id, product_id, n, gen_random_uuid(), 2,
       (1 + floor(random() * 100000))::bigint, CAST(:later_at AS timestamptz)
  FROM accounts_seeded WHERE n % 10 = 0
"""

_SETUP = (
    """
INSERT INTO accounts (id, kind, account_type, currency, status, name, number, customer_id,
                      posted_minor, held_minor, overdraft_limit_minor, daily_debit_minor,
                      line_seq, last_posted_at, created_at, updated_at,
                      product_id, product_version)
SELECT account_id, 'deposit', 'liability', 'USD', 'active', 'Bench saver',
       'BENCH' || lpad(n::text, 12, '0'), CAST(:customer_id AS uuid),
       SUM(amount_minor), 0, 0, 0, COUNT(*), MAX(at), CAST(:opened_at AS timestamptz),
       CAST(:opened_at AS timestamptz), product_id, 1
  FROM bench_movements GROUP BY account_id, n, product_id
""",
    """
INSERT INTO journal_entries (id, entry_type, business_date, value_date, posted_at, actor,
                             channel, reference, metadata)
SELECT entry_id, 'deposit', at::date, at::date, at, 'bench', 'branch', NULL, '{}'::jsonb
  FROM bench_movements
""",
    """
INSERT INTO journal_lines (entry_id, line_no, account_id, account_seq, side, amount_minor,
                           currency, balance_after_minor, posted_at)
SELECT entry_id, 1, CAST(:cash_id AS uuid), ROW_NUMBER() OVER w, 'D', amount_minor, 'USD',
       SUM(amount_minor) OVER w, at
  FROM bench_movements
WINDOW w AS (ORDER BY at, n ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW)
""",
    """
INSERT INTO journal_lines (entry_id, line_no, account_id, account_seq, side, amount_minor,
                           currency, balance_after_minor, posted_at)
SELECT entry_id, 2, account_id, seq, 'C', amount_minor, 'USD',
       SUM(amount_minor) OVER (PARTITION BY account_id ORDER BY seq), at
  FROM bench_movements
""",
    """
UPDATE accounts SET posted_minor = posted_minor + totals.amount_minor,
                    line_seq = line_seq + totals.lines, last_posted_at = totals.at
  FROM (SELECT SUM(amount_minor) AS amount_minor, COUNT(*) AS lines, MAX(at) AS at
          FROM bench_movements) totals
 WHERE id = :cash_id
""",
    "DROP TABLE bench_movements",
    "ANALYZE",
)


def _at(day: date) -> datetime:
    return datetime.combine(day, time_of_day(12), tzinfo=UTC)


async def _seed(url: str, accounts: int, first_date: date) -> None:
    bank = build(load_config({"NEXUM_DATABASE_URL": url}))
    try:
        customer = await bank.customers.create(CreateCustomer("Bench", "Mark"), CONTEXT)
        product_ids = []
        for rate, day_count, compounding in PRODUCTS:
            record = await bank.products.create(
                CreateProduct(
                    ProductKind.DEPOSIT,
                    "Bench saver",
                    "USD",
                    {
                        "kind": DepositKind.SAVINGS,
                        "rate": rate,
                        "day_count": day_count,
                        "compounding": compounding,
                        "posting_frequency": InterestPostingFrequency.MONTHLY,
                        "monthly_maintenance_fee_minor": 0,
                        "transaction_fee_minor": 0,
                        "minimum_opening_minor": 0,
                        "term_deposit": None,
                    },
                ),
                CONTEXT,
            )
            await bank.products.activate(record.product.product_id, 1, CONTEXT)
            product_ids.append(str(record.product.product_id))
        parameters = {
            "product_ids": product_ids,
            "accounts": accounts,
            "opened_at": _at(first_date - timedelta(days=2)),
            "later_at": _at(LAST_DATE + timedelta(days=1)),
            "customer_id": customer.id,
            "cash_id": gl_account_id(GLCode.CASH, "USD"),
        }
        async with bank.storage.engine.begin() as conn:
            await conn.execute(text("SET LOCAL statement_timeout = 0"))
            await conn.execute(text(_SEED), parameters)
            for statement in _SETUP:
                await conn.execute(text(statement), parameters)
    finally:
        await bank.aclose()


async def _close(url: str, dates: list[date], verify: bool) -> dict[str, object]:
    bank = build(load_config({"NEXUM_DATABASE_URL": url}))
    accrual, posting = deposit_interest_steps(bank.storage, PRECISION)
    rates: list[float] = []
    try:
        for day in dates:
            started = time.perf_counter()
            accrued = await accrual.run(day, lambda _done, _total: None)
            seconds = time.perf_counter() - started
            rates.append(accrued / seconds)
            print(f"{day}: {accrued} accruals in {seconds:.2f} s", file=sys.stderr)
        started = time.perf_counter()
        posted = await posting.run(dates[-1], lambda _done, _total: None)
        posting_seconds = time.perf_counter() - started
        print(f"{dates[-1]}: {posted} accounts posted in {posting_seconds:.2f} s", file=sys.stderr)
        verified = None
        if verify:
            report = await verify_ledger(bank.storage)
            verified = report.ok
            print(f"nexum verify: {'clean' if report.ok else report.violations}", file=sys.stderr)
    finally:
        await bank.aclose()
    return {
        "accruals_per_second": round(statistics.median(rates)),
        "accruals_per_second_by_date": [round(rate) for rate in rates],
        "postings_per_second": round(posted / posting_seconds),
        "accounts_posted": posted,
        "verified": verified,
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--postgres-url",
        default=DEFAULT_POSTGRES_URL,
    )
    parser.add_argument("--accounts", type=int, default=100_000)
    parser.add_argument("--dates", type=int, default=5, help="business dates accrued (median)")
    parser.add_argument(
        "--verify", action="store_true", help="run nexum verify on the ledger at the end"
    )
    options = parser.parse_args()
    dates = [LAST_DATE - timedelta(days=back) for back in range(options.dates - 1, -1, -1)]

    name = f"nexum_bench_accruals_{uuid.uuid4().hex[:8]}"
    url = asyncio.run(create_database(options.postgres_url, name))
    try:
        MigrationManager(url).migrate_up()
        started = time.perf_counter()
        asyncio.run(_seed(url, options.accounts, dates[0]))
        print(
            f"created {options.accounts} funded accounts in {time.perf_counter() - started:.1f} s",
            file=sys.stderr,
        )
        figures = asyncio.run(_close(url, dates, options.verify))
    finally:
        asyncio.run(drop_database(options.postgres_url, name))

    result = {
        "benchmark": "accruals",
        "unit": "accruals per second (close-of-business step, PostgreSQL)",
        **figures,
        "target_accruals_per_second": TARGET_ACCRUALS_PER_SECOND,
        "accounts": options.accounts,
        "dates": [day.isoformat() for day in dates],
        "precision": PRECISION,
        "cpus": os.cpu_count(),
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
