"""Lending and interest: the pure rules of issue 5, standard library only.

One job per module:

    day_count             Actual/365 (Fixed), Actual/360, 30/360 Bond Basis, 30E/360 year fractions
    dates                 due dates: month-end rolling anchored on the first due date
    rounding              exact rationals, rounded once by a named rule
    rates                 annual rates (fixed, tiered banded or whole), compounding base
    accrual               daily accrual at the configured precision; posting with residue carried
    fees                  fixed or percentage fee rules
    products              product identity, versions and the draft/active/retired life cycle
    deposit_products      savings, checking, term deposits
    loan_products         term loan products
    credit_line_products  revolving credit line products
    catalog               products of every kind: kinds, new products, stored versions, the
                          account a deposit product opens
    schedule              repayment schedules (equal installment, equal principal, bullet)
    prepayment            recalculation after a partial prepayment (reduce term or installment)
    allocation            applying a repayment in the product's order; overpayments
    payoff                payoff quotes
    delinquency           days past due, buckets, late fees
    loan_status           loan life cycle and maker-checker
    loans                 a loan as the bank keeps it: installments, what a payment may pay,
                          interest billed, payoff amounts and settling in full
    credit_lines          draws, daily interest, monthly statements
    errors                lending refusals

Money is an ``int`` of minor units, rates are ``Decimal``, and every rounding is named at
its call (see ``rounding``).
"""
