-- Nexum set-based batch posting for PostgreSQL, created by migration 0013.
--
-- nexum_post_entries posts an atomic batch's entries with one statement per table instead
-- of nexum_post_entry once per entry: one insert of the claims, the entries, the lines and
-- the audit records each, one update of the accounts. The rules are checked on the locked
-- accounts as a posting entry by entry would check them, in the same order: each account's
-- figures after an entry are its figures before the batch plus the running sum of the
-- batch's entries on it so far, so the first entry refused is the one a one-by-one posting
-- would refuse, for the same reason. Why: docs/adr/0012-set-based-batch-posting.md.
--
-- A batch the running sums cannot describe exactly is posted one by one, by the previous
-- function, kept as nexum_post_entries_one_by_one: one that reverses an entry (it must lock
-- and look at the entry reversed), whose entries fall on different business dates (the
-- daily limit restarts with the date), or one with an idempotency key already claimed or
-- given twice (a replay). The arguments and the result are nexum_post_entries' of 0012.

-- The audit chain a transaction appends to: any chain no other transaction is writing (a
-- transaction-scoped advisory lock: held in memory, nothing written); wait only when every
-- chain is busy. Shared by one record (nexum_audit_append) and a batch's records.
CREATE FUNCTION nexum_audit_take_shard() RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
    v_shards constant integer := nexum_audit_shards();
    v_start constant integer := floor(random() * v_shards)::integer;
    v_shard integer;
BEGIN
    FOR v_offset IN 0 .. v_shards - 1 LOOP
        v_shard := (v_start + v_offset) % v_shards;
        IF pg_try_advisory_xact_lock(20077, v_shard) THEN
            RETURN v_shard;
        END IF;
    END LOOP;
    PERFORM pg_advisory_xact_lock(20077, v_start);
    RETURN v_start;
END
$$;

CREATE OR REPLACE FUNCTION nexum_audit_append(
    p_occurred_at timestamptz,
    p_actor text,
    p_action text,
    p_entity_type text,
    p_entity_id text,
    p_request_id text,
    p_payload text
) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    v_shard constant integer := nexum_audit_take_shard();
    v_seq bigint;
    v_hash bytea;
BEGIN
    UPDATE audit_chain_heads
       SET seq = seq + 1,
           head_hash = sha256(head_hash || convert_to(p_payload, 'UTF8'))
     WHERE shard = v_shard
    RETURNING seq, head_hash INTO v_seq, v_hash;
    INSERT INTO audit_events
        (shard, seq, occurred_at, actor, action, entity_type, entity_id, request_id, payload, hash)
    VALUES
        (v_shard, v_seq, p_occurred_at, p_actor, p_action, p_entity_type, p_entity_id,
         p_request_id, p_payload, v_hash);
END
$$;

ALTER FUNCTION nexum_post_entries(
    uuid[], text[], date[], date[], text[], text[], text[], jsonb[], text[], uuid[], uuid[],
    bigint[], bigint[], text[], text[], boolean[], bigint[], bigint[], integer[], bigint[],
    bigint[], integer[], text[], bigint[], text[], text[], text[], bytea[], timestamptz[],
    text[], text[], integer[], integer[]
) RENAME TO nexum_post_entries_one_by_one;

CREATE FUNCTION nexum_post_entries(
    p_entry_id uuid[],
    p_entry_type text[],
    p_business_date date[],
    p_value_date date[],
    p_actor text[],
    p_channel text[],
    p_reference text[],
    p_metadata jsonb[],
    p_request_id text[],
    p_reversal_of uuid[],
    p_accounts uuid[],
    p_debits bigint[],
    p_credits bigint[],
    p_currencies text[],
    p_required_kinds text[],
    p_enforce_funds boolean[],
    p_daily_amounts bigint[],
    p_release_held bigint[],
    p_line_counts integer[],
    p_default_min_balances bigint[],
    p_default_daily_limits bigint[],
    p_line_accounts integer[],
    p_line_sides text[],
    p_line_amounts bigint[],
    p_idem_scope text[],
    p_idem_key text[],
    p_idem_operation text[],
    p_idem_fingerprint bytea[],
    p_audit_occurred_at timestamptz[],
    p_audit_action text[],
    p_audit_payload text[],
    p_account_counts integer[],
    p_line_totals integer[]
)
RETURNS TABLE (
    entry_id uuid,
    replayed boolean,
    posted_at timestamptz,
    account_seqs bigint[],
    balances_after bigint[]
)
LANGUAGE plpgsql AS $$
DECLARE
    -- One reading of the clock for the whole batch: every line of an account gets the
    -- later of it and the account's last posting time, so an account's history never
    -- goes backwards.
    v_now constant timestamptz := clock_timestamp();
    v_entries constant integer := coalesce(array_length(p_entry_id, 1), 0);
    v_claims integer;
    v_claimed integer;
    v_refusal record;
    v_entry_posted_at timestamptz[];
    v_line_entry integer[];
    v_line_account uuid[];
    v_line_currency text[];
    v_line_seq bigint[];
    v_line_balance bigint[];
    v_line_posted_at timestamptz[];
    v_shard integer;
    v_seq bigint;
    v_hash bytea;
    v_audit_seq bigint[];
    v_audit_hash bytea[];
BEGIN
    IF v_entries = 0 THEN
        RETURN;
    END IF;
    -- Every account of the batch, locked in id order (the order every writer uses), so two
    -- batches sharing accounts queue instead of deadlocking, whichever way they post.
    PERFORM 1 FROM accounts WHERE id = ANY (p_accounts) ORDER BY id FOR UPDATE;
    IF EXISTS (SELECT 1 FROM unnest(p_reversal_of) AS r WHERE r IS NOT NULL)
       OR EXISTS (SELECT 1 FROM unnest(p_business_date) AS d WHERE d <> p_business_date[1])
       OR EXISTS (SELECT 1
                    FROM unnest(p_idem_scope, p_idem_key) AS c(scope, key)
                   WHERE c.key IS NOT NULL
                   GROUP BY c.scope, c.key HAVING count(*) > 1)
       OR EXISTS (SELECT 1
                    FROM unnest(p_idem_scope, p_idem_key) AS c(scope, key)
                    JOIN idempotency_keys k ON k.scope = c.scope AND k.key = c.key) THEN
        RETURN QUERY SELECT * FROM nexum_post_entries_one_by_one(
            p_entry_id, p_entry_type, p_business_date, p_value_date, p_actor, p_channel,
            p_reference, p_metadata, p_request_id, p_reversal_of, p_accounts, p_debits,
            p_credits, p_currencies, p_required_kinds, p_enforce_funds, p_daily_amounts,
            p_release_held, p_line_counts, p_default_min_balances, p_default_daily_limits,
            p_line_accounts, p_line_sides, p_line_amounts, p_idem_scope, p_idem_key,
            p_idem_operation, p_idem_fingerprint, p_audit_occurred_at, p_audit_action,
            p_audit_payload, p_account_counts, p_line_totals);
        RETURN;
    END IF;

    -- The claims first, as each entry posted alone claims its key before anything else: a
    -- concurrent request with one of these keys is waited for. None was claimed when we
    -- looked; if one is now, that request won the race and a retry replays it.
    INSERT INTO idempotency_keys (scope, key, operation, fingerprint, entity_id, created_at)
    SELECT c.scope, c.key, c.operation, c.fingerprint, c.entity_id, v_now
      FROM unnest(p_idem_scope, p_idem_key, p_idem_operation, p_idem_fingerprint, p_entry_id)
           AS c(scope, key, operation, fingerprint, entity_id)
     WHERE c.key IS NOT NULL
    ON CONFLICT (scope, key) DO NOTHING;
    GET DIAGNOSTICS v_claimed = ROW_COUNT;
    SELECT count(*) INTO v_claims FROM unnest(p_idem_key) AS k WHERE k IS NOT NULL;
    IF v_claimed <> v_claims THEN
        RAISE EXCEPTION USING ERRCODE = 'serialization_failure',
            MESSAGE = 'an idempotency key of this batch was claimed by a concurrent request';
    END IF;

    -- The first refusal, in the order one-by-one posting checks: entry by entry, each
    -- entry's accounts in id order, each account's rules in nexum_post_entry's order. An
    -- account's figures after an entry are its figures before the batch plus the running
    -- sums of the batch's entries on it up to that one.
    WITH entries AS (
        SELECT c.i::integer AS i,
               (sum(c.accounts) OVER (ORDER BY c.i) - c.accounts)::integer AS account_offset
          FROM unnest(p_account_counts) WITH ORDINALITY AS c(accounts, i)
    ), legs AS (
        SELECT e.i, g.*
          FROM unnest(p_accounts, p_debits, p_credits, p_currencies, p_required_kinds,
                      p_enforce_funds, p_daily_amounts, p_release_held,
                      p_default_min_balances, p_default_daily_limits) WITH ORDINALITY
               AS g(account_id, debit, credit, currency, required_kind, enforce_funds,
                    daily, released, default_min, default_daily, pos)
          JOIN entries e
            ON g.pos > e.account_offset AND g.pos <= e.account_offset + p_account_counts[e.i]
    ), figures AS (
        SELECT l.*, a.id IS NOT NULL AS found, a.currency AS held_currency, a.kind, a.status,
               a.overdraft_limit_minor, a.min_balance_minor, a.posted_minor, a.held_minor,
               coalesce(a.daily_limit_minor, l.default_daily) AS daily_limit,
               CASE WHEN a.daily_debit_date = p_business_date[1]
                    THEN a.daily_debit_minor ELSE 0 END AS daily_before,
               CASE WHEN a.account_type IN ('asset', 'expense') THEN l.debit - l.credit
                    ELSE l.credit - l.debit END AS delta,
               CASE WHEN a.account_type IN ('asset', 'expense') THEN l.credit > 0
                    ELSE l.debit > 0 END AS decreases
          FROM legs l
          LEFT JOIN accounts a ON a.id = l.account_id
    ), running AS (
        SELECT f.*,
               f.posted_minor + sum(f.delta) OVER w AS posted_after,
               f.held_minor - sum(f.released) OVER w AS held_after,
               f.daily_before + sum(f.daily) OVER w AS daily_after
          FROM figures f
        WINDOW w AS (PARTITION BY f.account_id ORDER BY f.i)
    ), refusals AS (
        SELECT r.*,
               CASE
                   WHEN NOT r.found THEN 'account_not_found'
                   WHEN r.currency <> r.held_currency THEN 'currency_mismatch'
                   WHEN r.required_kind <> r.kind::text THEN 'wrong_account_kind'
                   WHEN r.status <> 'active' AND NOT (r.status = 'dormant' AND NOT r.decreases)
                       THEN 'account_not_operational'
                   WHEN r.delta < 0 AND r.kind <> 'gl' AND r.enforce_funds
                        AND r.posted_after - r.held_after + r.overdraft_limit_minor
                            < coalesce(r.min_balance_minor, r.default_min)
                       THEN 'insufficient_funds'
                   WHEN r.daily > 0 AND r.daily_after > r.daily_limit
                       THEN 'daily_limit_exceeded'
               END AS code
          FROM running r
    )
    SELECT * INTO v_refusal FROM refusals WHERE code IS NOT NULL ORDER BY i, pos LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION USING
            MESSAGE = 'nexum:' || v_refusal.code,
            DETAIL = (jsonb_build_object('operation_index', v_refusal.i - 1) || CASE v_refusal.code
                WHEN 'account_not_found' THEN jsonb_build_object(
                    'message', 'no such account', 'account_id', v_refusal.account_id)
                WHEN 'currency_mismatch' THEN jsonb_build_object(
                    'message', format('account holds %s, not %s', v_refusal.held_currency,
                                      v_refusal.currency),
                    'account_id', v_refusal.account_id)
                WHEN 'wrong_account_kind' THEN jsonb_build_object(
                    'message', format('account is not a %s account', v_refusal.required_kind),
                    'account_id', v_refusal.account_id)
                WHEN 'account_not_operational' THEN jsonb_build_object(
                    'message', format('account is %s', v_refusal.status),
                    'account_id', v_refusal.account_id, 'status', v_refusal.status)
                WHEN 'insufficient_funds' THEN jsonb_build_object(
                    'message', 'insufficient available funds',
                    'account_id', v_refusal.account_id)
                ELSE jsonb_build_object(
                    'message', 'the daily transaction limit would be exceeded',
                    'account_id', v_refusal.account_id, 'limit_minor', v_refusal.daily_limit)
            END)::text;
    END IF;

    -- Each line's account, balance after it and place in its account's history: the
    -- account's figures before the batch plus the running sum of the batch's lines on it.
    -- A line's time is its account's new posting time; an entry's, the latest of its lines'.
    WITH entries AS (
        SELECT c.i::integer AS i,
               (sum(c.accounts) OVER (ORDER BY c.i) - c.accounts)::integer AS account_offset,
               (sum(c.lines) OVER (ORDER BY c.i) - c.lines)::integer AS line_offset
          FROM unnest(p_account_counts, p_line_totals) WITH ORDINALITY AS c(accounts, lines, i)
    ), lines AS (
        SELECT e.i, g.line, g.side, g.amount, e.account_offset + g.leg AS leg
          FROM unnest(p_line_accounts, p_line_sides, p_line_amounts) WITH ORDINALITY
               AS g(leg, side, amount, line)
          JOIN entries e
            ON g.line > e.line_offset AND g.line <= e.line_offset + p_line_totals[e.i]
    ), placed AS (
        SELECT l.i, l.line, a.id AS account_id, a.currency,
               (a.posted_minor + sum(CASE WHEN (l.side = 'D')
                                               = (a.account_type IN ('asset', 'expense'))
                                          THEN l.amount ELSE -l.amount END) OVER w)::bigint
                   AS balance,
               a.line_seq + row_number() OVER w AS seq,
               greatest(v_now, a.last_posted_at) AS line_posted_at
          FROM lines l
          JOIN unnest(p_accounts) WITH ORDINALITY AS g(account_id, pos) ON g.pos = l.leg
          JOIN accounts a ON a.id = g.account_id
        WINDOW w AS (PARTITION BY a.id ORDER BY l.line)
    )
    SELECT array_agg(p.i ORDER BY p.line), array_agg(p.account_id ORDER BY p.line),
           array_agg(p.currency ORDER BY p.line), array_agg(p.seq ORDER BY p.line),
           array_agg(p.balance ORDER BY p.line), array_agg(p.line_posted_at ORDER BY p.line)
      INTO v_line_entry, v_line_account, v_line_currency, v_line_seq, v_line_balance,
           v_line_posted_at
      FROM placed p;

    SELECT array_agg(t.latest ORDER BY t.i) INTO v_entry_posted_at
      FROM (SELECT l.i, max(l.posted_at) AS latest
              FROM unnest(v_line_entry, v_line_posted_at) AS l(i, posted_at)
             GROUP BY l.i) t;

    INSERT INTO journal_entries
        (id, entry_type, business_date, value_date, posted_at, actor, channel, reference,
         metadata, request_id, reversal_of)
    SELECT e.*, NULL
      FROM unnest(p_entry_id, p_entry_type, p_business_date, p_value_date, v_entry_posted_at,
                  p_actor, p_channel, p_reference, p_metadata, p_request_id) AS e;

    INSERT INTO journal_lines
        (entry_id, line_no, account_id, account_seq, side, amount_minor, currency,
         balance_after_minor, posted_at)
    SELECT p_entry_id[l.i], row_number() OVER (PARTITION BY l.i ORDER BY l.line),
           l.account_id, l.seq, l.side::entry_side, l.amount, l.currency, l.balance,
           l.posted_at
      FROM unnest(v_line_entry, v_line_account, v_line_seq, p_line_sides, p_line_amounts,
                  v_line_currency, v_line_balance, v_line_posted_at) WITH ORDINALITY
           AS l(i, account_id, seq, side, amount, currency, balance, posted_at, line);

    -- Each account once, by the batch's totals on it.
    UPDATE accounts a
       SET posted_minor = a.posted_minor
               + CASE WHEN a.account_type IN ('asset', 'expense') THEN t.debits - t.credits
                      ELSE t.credits - t.debits END,
           held_minor = a.held_minor - t.released,
           line_seq = a.line_seq + t.lines,
           daily_debit_minor = CASE
               WHEN t.daily = 0 THEN a.daily_debit_minor
               WHEN a.daily_debit_date = p_business_date[1] THEN a.daily_debit_minor + t.daily
               ELSE t.daily END,
           daily_debit_date = CASE WHEN t.daily = 0 THEN a.daily_debit_date
                                   ELSE p_business_date[1] END,
           last_posted_at = greatest(v_now, a.last_posted_at),
           updated_at = greatest(v_now, a.last_posted_at)
      FROM (SELECT g.account_id, sum(g.debit) AS debits, sum(g.credit) AS credits,
                   sum(g.released) AS released, sum(g.line_count) AS lines,
                   sum(g.daily) AS daily
              FROM unnest(p_accounts, p_debits, p_credits, p_release_held, p_line_counts,
                          p_daily_amounts) AS g(account_id, debit, credit, released,
                                                line_count, daily)
             GROUP BY g.account_id) t
     WHERE a.id = t.account_id;

    -- The audit records, one per entry, chained in the batch's order on one chain.
    IF EXISTS (SELECT 1 FROM unnest(p_audit_payload) AS p WHERE p IS NOT NULL) THEN
        v_shard := nexum_audit_take_shard();
        SELECT h.seq, h.head_hash INTO v_seq, v_hash
          FROM audit_chain_heads h WHERE h.shard = v_shard;
        FOR v_i IN 1 .. v_entries LOOP
            IF p_audit_payload[v_i] IS NOT NULL THEN
                v_seq := v_seq + 1;
                v_hash := sha256(v_hash || convert_to(p_audit_payload[v_i], 'UTF8'));
                v_audit_seq[v_i] := v_seq;
                v_audit_hash[v_i] := v_hash;
            END IF;
        END LOOP;
        UPDATE audit_chain_heads SET seq = v_seq, head_hash = v_hash WHERE shard = v_shard;
        INSERT INTO audit_events
            (shard, seq, occurred_at, actor, action, entity_type, entity_id, request_id,
             payload, hash)
        SELECT v_shard, v_audit_seq[i], p_audit_occurred_at[i], p_actor[i], p_audit_action[i],
               'journal_entry', p_entry_id[i]::text, p_request_id[i], p_audit_payload[i],
               v_audit_hash[i]
          FROM generate_series(1, v_entries) AS i
         WHERE p_audit_payload[i] IS NOT NULL
         ORDER BY i;
    END IF;

    RETURN QUERY
    SELECT p_entry_id[l.i], false, v_entry_posted_at[l.i],
           array_agg(l.seq ORDER BY l.line), array_agg(l.balance ORDER BY l.line)
      FROM unnest(v_line_entry, v_line_seq, v_line_balance) WITH ORDINALITY
           AS l(i, seq, balance, line)
     GROUP BY l.i
     ORDER BY l.i;
END
$$;
