-- Credit lines' exact arithmetic for close of business, on PostgreSQL. SQLite gets the same
-- functions, by the same names, from Python (core_banking/storage/credit_line_sql.py), so the
-- statements that accrue interest and cut statements are one SQL text on both databases.
-- Every value is NUMERIC, computed exactly; the only roundings are the named ones below,
-- matching core_banking/domain/lending/rounding.py.

-- Amounts of minor units arrive as NUMERIC (sums of BIGINT are NUMERIC); results are BIGINT.

-- numerator / denominator (both >= 0, denominator > 0) rounded half to even to `decimals`
-- places. div() truncates exactly, so the remainder decides the rounding with no error.
CREATE FUNCTION nexum_credit_line_round_half_even(
    numerator numeric, denominator numeric, decimals integer
) RETURNS numeric
LANGUAGE sql IMMUTABLE STRICT AS $$
    SELECT round(
        (q + CASE WHEN 2 * (n - q * denominator) > denominator THEN 1
                  WHEN 2 * (n - q * denominator) = denominator AND mod(q, 2) = 1 THEN 1
                  ELSE 0 END)
        * power(10::numeric, -decimals),
        decimals)
      FROM (SELECT numerator * power(10::numeric, decimals) AS n) scaled,
           LATERAL (SELECT div(scaled.n, denominator) AS q) quotient
$$;

-- One day's interest on a closing balance, in major units at max(precision, minor units)
-- decimals: balance x annual rate x (day_numerator / day_denominator) / 10^minor_units.
CREATE FUNCTION nexum_credit_line_daily_accrual(
    balance_minor numeric,
    annual_rate numeric,
    day_numerator integer,
    day_denominator integer,
    minor_units integer,
    accrual_precision integer
) RETURNS numeric
LANGUAGE sql IMMUTABLE STRICT AS $$
    SELECT nexum_credit_line_round_half_even(
        GREATEST(balance_minor, 0) * annual_rate * day_numerator,
        day_denominator::numeric * power(10::numeric, minor_units),
        GREATEST(accrual_precision, minor_units))
$$;

-- The whole minor units of accrued interest plus the carried residue (toward zero).
CREATE FUNCTION nexum_credit_line_billed_minor(
    accrued numeric, residue numeric, minor_units integer
) RETURNS bigint
LANGUAGE sql IMMUTABLE STRICT AS $$
    SELECT floor((accrued + residue) * power(10::numeric, minor_units))::bigint
$$;

-- What is left below one minor unit once the whole units are billed: carried on, at the
-- decimals the accruals have (as Python's Decimal keeps them).
CREATE FUNCTION nexum_credit_line_carried_residue(
    accrued numeric, residue numeric, minor_units integer
) RETURNS numeric
LANGUAGE sql IMMUTABLE STRICT AS $$
    SELECT round(
        (accrued + residue)
        - nexum_credit_line_billed_minor(accrued, residue, minor_units)
          * power(10::numeric, -minor_units),
        scale(accrued + residue))
$$;

-- The minimum payment: rate x closing balance rounded up, at least the floor, at most the
-- balance; nothing on a balance of zero or less.
CREATE FUNCTION nexum_credit_line_minimum_payment(
    closing_minor numeric, rate numeric, floor_minor numeric
) RETURNS bigint
LANGUAGE sql IMMUTABLE STRICT AS $$
    SELECT CASE WHEN closing_minor <= 0 THEN 0
                ELSE LEAST(closing_minor, GREATEST(floor_minor, ceil(closing_minor * rate)))
           END::bigint
$$;

-- The late fee on an unpaid minimum: a fixed amount, or a rate of it rounded half to even,
-- or nothing when the product has no late fee.
CREATE FUNCTION nexum_credit_line_late_fee(
    unpaid_minor numeric, fixed_minor numeric, rate numeric
) RETURNS bigint
LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE WHEN fixed_minor IS NOT NULL THEN fixed_minor::bigint
                WHEN rate IS NOT NULL
                    THEN nexum_credit_line_round_half_even(unpaid_minor * rate, 1, 0)::bigint
                ELSE 0
           END
$$;

-- Exact addition (NUMERIC's own; SQLite's stand-in adds decimal text exactly).
CREATE FUNCTION nexum_credit_line_add(augend numeric, addend numeric) RETURNS numeric
LANGUAGE sql IMMUTABLE STRICT AS $$
    SELECT augend + addend
$$;
