-- Nexum ledger functions for PostgreSQL, created by migration 0001.
--
-- nexum_post_entry writes one journal entry in one round trip: it claims the idempotency
-- key, locks every account the entry touches in id order, checks the bank's rules against
-- the locked rows, updates the balances, inserts the entry and its lines (each with the
-- account's balance after it and its position in the account's history) and appends to the
-- audit trail. It is the PostgreSQL twin of core_banking/storage/posting_sqlite.py and of
-- core_banking.domain.ledger.post_to_account; the same tests run against both.
-- Why a function: docs/adr/0002-postings-in-one-round-trip.md.

CREATE FUNCTION nexum_refuse(p_code text, p_detail jsonb) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION USING MESSAGE = 'nexum:' || p_code, DETAIL = p_detail::text;
END
$$;

CREATE FUNCTION nexum_audit_append(
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
    v_shard smallint;
    v_seq bigint;
    v_hash bytea;
BEGIN
    -- Any chain head that no other transaction holds; wait only when every head is busy.
    SELECT shard INTO v_shard FROM audit_chain_heads
     ORDER BY random() LIMIT 1 FOR UPDATE SKIP LOCKED;
    IF NOT FOUND THEN
        SELECT shard INTO v_shard FROM audit_chain_heads ORDER BY random() LIMIT 1 FOR UPDATE;
    END IF;
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

CREATE FUNCTION nexum_post_entry(
    p_entry_id uuid,
    p_entry_type text,
    p_business_date date,
    p_value_date date,
    p_actor text,
    p_channel text,
    p_reference text,
    p_metadata jsonb,
    p_request_id text,
    p_reversal_of uuid,
    -- one element per leg
    p_leg_accounts uuid[],
    p_leg_sides text[],
    p_leg_amounts bigint[],
    p_leg_currencies text[],
    p_leg_enforce_funds boolean[],
    p_leg_count_daily boolean[],
    p_leg_required_kinds text[],
    p_leg_release_held bigint[],
    p_leg_default_min_balances bigint[],
    p_leg_default_daily_limits bigint[],
    -- idempotency; all null when the caller claimed the key in its own transaction
    p_idem_scope text,
    p_idem_key text,
    p_idem_operation text,
    p_idem_fingerprint bytea,
    -- audit; a null payload when the audit trail is switched off
    p_audit_occurred_at timestamptz,
    p_audit_action text,
    p_audit_payload text,
    OUT entry_id uuid,
    OUT replayed boolean,
    OUT posted_at timestamptz,
    OUT account_seqs bigint[],
    OUT balances_after bigint[]
)
LANGUAGE plpgsql AS $$
DECLARE
    v_claimed record;
    v_group record;
    v_account accounts%ROWTYPE;
    v_decreases boolean;
    v_delta bigint;
    v_posted bigint;
    v_held bigint;
    v_minimum bigint;
    v_daily bigint;
    v_daily_date date;
    v_daily_limit bigint;
    v_ids uuid[] := '{}';
    v_start_balances bigint[] := '{}';
    v_start_seqs bigint[] := '{}';
    v_normal_sides text[] := '{}';
BEGIN
    entry_id := p_entry_id;
    replayed := false;

    IF p_idem_key IS NOT NULL THEN
        INSERT INTO idempotency_keys (scope, key, operation, fingerprint, entity_id, created_at)
        VALUES (p_idem_scope, p_idem_key, p_idem_operation, p_idem_fingerprint, p_entry_id,
                clock_timestamp())
        ON CONFLICT (scope, key) DO NOTHING;
        IF NOT FOUND THEN
            SELECT k.fingerprint, k.entity_id INTO v_claimed
              FROM idempotency_keys k
             WHERE k.scope = p_idem_scope AND k.key = p_idem_key;
            IF v_claimed.fingerprint <> p_idem_fingerprint THEN
                PERFORM nexum_refuse('idempotency_key_reused', jsonb_build_object(
                    'message', 'this idempotency key was used for a different request',
                    'key', p_idem_key));
            END IF;
            entry_id := v_claimed.entity_id;
            replayed := true;
            RETURN;
        END IF;
    END IF;

    -- Lock every account in id order (the order every writer uses, so no deadlock), then
    -- take the posting time: after the locks, so each account's history is in time order.
    PERFORM 1 FROM accounts WHERE id = ANY (p_leg_accounts) ORDER BY id FOR UPDATE;
    SELECT greatest(clock_timestamp(), max(a.last_posted_at)) INTO posted_at
      FROM accounts a WHERE a.id = ANY (p_leg_accounts);

    FOR v_group IN
        SELECT l.account_id,
               count(*) AS legs,
               sum(CASE WHEN l.side = 'D' THEN l.amount ELSE 0 END) AS debits,
               sum(CASE WHEN l.side = 'C' THEN l.amount ELSE 0 END) AS credits,
               bool_or(l.side = 'D') AS has_debit,
               bool_or(l.side = 'C') AS has_credit,
               min(l.currency) AS min_currency,
               max(l.currency) AS max_currency,
               min(l.required_kind) AS min_kind,
               max(l.required_kind) AS max_kind,
               bool_or(l.enforce_funds) AS enforce_funds,
               coalesce(sum(l.amount) FILTER (WHERE l.count_daily), 0) AS daily_amount,
               sum(l.release_held) AS release_held,
               max(l.default_min_balance) AS default_min_balance,
               max(l.default_daily_limit) AS default_daily_limit
          FROM unnest(p_leg_accounts, p_leg_sides, p_leg_amounts, p_leg_currencies,
                      p_leg_enforce_funds, p_leg_count_daily, p_leg_required_kinds,
                      p_leg_release_held, p_leg_default_min_balances,
                      p_leg_default_daily_limits)
               AS l(account_id, side, amount, currency, enforce_funds, count_daily,
                    required_kind, release_held, default_min_balance, default_daily_limit)
         GROUP BY l.account_id
         ORDER BY l.account_id
    LOOP
        SELECT * INTO v_account FROM accounts WHERE id = v_group.account_id;
        IF NOT FOUND THEN
            PERFORM nexum_refuse('account_not_found', jsonb_build_object(
                'message', 'no such account', 'account_id', v_group.account_id));
        END IF;
        IF v_group.min_currency <> v_account.currency
           OR v_group.max_currency <> v_account.currency THEN
            PERFORM nexum_refuse('currency_mismatch', jsonb_build_object(
                'message', format('account holds %s, not %s', v_account.currency,
                    CASE WHEN v_group.min_currency <> v_account.currency
                         THEN v_group.min_currency ELSE v_group.max_currency END),
                'account_id', v_account.id));
        END IF;
        IF v_group.min_kind <> v_account.kind OR v_group.max_kind <> v_account.kind THEN
            PERFORM nexum_refuse('wrong_account_kind', jsonb_build_object(
                'message', format('account is not a %s account', v_group.min_kind),
                'account_id', v_account.id));
        END IF;

        IF v_account.account_type IN ('asset', 'expense') THEN
            v_delta := v_group.debits - v_group.credits;
            v_decreases := v_group.has_credit;
        ELSE
            v_delta := v_group.credits - v_group.debits;
            v_decreases := v_group.has_debit;
        END IF;

        IF v_account.status <> 'active'
           AND NOT (v_account.status = 'dormant' AND NOT v_decreases) THEN
            PERFORM nexum_refuse('account_not_operational', jsonb_build_object(
                'message', format('account is %s', v_account.status),
                'account_id', v_account.id, 'status', v_account.status));
        END IF;

        v_held := v_account.held_minor - v_group.release_held;
        IF v_held < 0 THEN
            RAISE EXCEPTION 'a posting releases more than is held on account %', v_account.id;
        END IF;
        v_posted := v_account.posted_minor + v_delta;
        IF v_delta < 0 AND v_account.kind <> 'gl' AND v_group.enforce_funds THEN
            v_minimum := coalesce(v_account.min_balance_minor, v_group.default_min_balance);
            IF v_posted - v_held + v_account.overdraft_limit_minor < v_minimum THEN
                PERFORM nexum_refuse('insufficient_funds', jsonb_build_object(
                    'message', 'insufficient available funds', 'account_id', v_account.id));
            END IF;
        END IF;

        v_daily := v_account.daily_debit_minor;
        v_daily_date := v_account.daily_debit_date;
        IF v_group.daily_amount > 0 THEN
            v_daily_limit := coalesce(v_account.daily_limit_minor, v_group.default_daily_limit);
            v_daily := CASE WHEN v_daily_date = p_business_date THEN v_daily ELSE 0 END
                       + v_group.daily_amount;
            v_daily_date := p_business_date;
            IF v_daily > v_daily_limit THEN
                PERFORM nexum_refuse('daily_limit_exceeded', jsonb_build_object(
                    'message', 'the daily transaction limit would be exceeded',
                    'account_id', v_account.id, 'limit_minor', v_daily_limit));
            END IF;
        END IF;

        UPDATE accounts
           SET posted_minor = v_posted,
               held_minor = v_held,
               line_seq = line_seq + v_group.legs,
               daily_debit_minor = v_daily,
               daily_debit_date = v_daily_date,
               last_posted_at = posted_at,
               updated_at = posted_at
         WHERE id = v_account.id;

        v_ids := v_ids || v_account.id;
        v_start_balances := v_start_balances || v_account.posted_minor;
        v_start_seqs := v_start_seqs || v_account.line_seq;
        v_normal_sides := v_normal_sides
            || CASE WHEN v_account.account_type IN ('asset', 'expense') THEN 'D' ELSE 'C' END;
    END LOOP;

    INSERT INTO journal_entries
        (id, entry_type, business_date, value_date, posted_at, actor, channel, reference,
         metadata, request_id, reversal_of)
    VALUES
        (p_entry_id, p_entry_type, p_business_date, p_value_date, posted_at, p_actor, p_channel,
         p_reference, p_metadata, p_request_id, p_reversal_of);

    WITH legs AS (
        SELECT l.*
          FROM unnest(p_leg_accounts, p_leg_sides, p_leg_amounts, p_leg_currencies)
               WITH ORDINALITY AS l(account_id, side, amount, currency, line_no)
    ), starts AS (
        SELECT s.*
          FROM unnest(v_ids, v_start_balances, v_start_seqs, v_normal_sides)
               AS s(account_id, start_balance, start_seq, normal_side)
    ), written AS (
        INSERT INTO journal_lines
            (entry_id, line_no, account_id, account_seq, side, amount_minor, currency,
             balance_after_minor, posted_at)
        SELECT p_entry_id, l.line_no, l.account_id,
               s.start_seq + row_number() OVER per_account,
               l.side, l.amount, l.currency,
               s.start_balance + sum(CASE WHEN l.side = s.normal_side THEN l.amount
                                          ELSE -l.amount END) OVER per_account,
               posted_at
          FROM legs l JOIN starts s USING (account_id)
        WINDOW per_account AS (PARTITION BY l.account_id ORDER BY l.line_no
                               ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW)
        RETURNING line_no, account_seq, balance_after_minor
    )
    SELECT array_agg(w.account_seq ORDER BY w.line_no),
           array_agg(w.balance_after_minor ORDER BY w.line_no)
      INTO account_seqs, balances_after
      FROM written w;

    IF p_audit_payload IS NOT NULL THEN
        PERFORM nexum_audit_append(p_audit_occurred_at, p_actor, p_audit_action,
                                   'journal_entry', p_entry_id::text, p_request_id,
                                   p_audit_payload);
    END IF;
END
$$;

-- The database's own guard: at commit, every journal entry balances in every currency and
-- has at least two lines, however its rows arrived. The trigger's argument names the column
-- that holds the entry id in the row that fired it.
CREATE FUNCTION nexum_check_entry_balanced() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    v_entry uuid := (to_jsonb(NEW) ->> TG_ARGV[0])::uuid;
    v_lines bigint;
    v_unbalanced boolean;
BEGIN
    SELECT coalesce(sum(n), 0), coalesce(bool_or(net <> 0), false)
      INTO v_lines, v_unbalanced
      FROM (SELECT count(*) AS n,
                   sum(CASE WHEN side = 'D' THEN amount_minor ELSE -amount_minor END) AS net
              FROM journal_lines WHERE entry_id = v_entry GROUP BY currency) per_currency;
    IF v_lines < 2 OR v_unbalanced THEN
        PERFORM nexum_refuse('unbalanced_entry', jsonb_build_object(
            'message', 'a journal entry must have two or more lines balanced per currency',
            'entry_id', v_entry));
    END IF;
    RETURN NULL;
END
$$;

CREATE CONSTRAINT TRIGGER trg_journal_lines_balanced
    AFTER INSERT ON journal_lines
    DEFERRABLE INITIALLY DEFERRED
    FOR EACH ROW EXECUTE FUNCTION nexum_check_entry_balanced('entry_id');

CREATE CONSTRAINT TRIGGER trg_journal_entries_balanced
    AFTER INSERT ON journal_entries
    DEFERRABLE INITIALLY DEFERRED
    FOR EACH ROW EXECUTE FUNCTION nexum_check_entry_balanced('id');

-- Posted history never changes: corrections are reversal entries.
CREATE FUNCTION nexum_refuse_change() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM nexum_refuse('append_only', jsonb_build_object(
        'message', format('%s is append-only', TG_TABLE_NAME), 'table', TG_TABLE_NAME));
    RETURN NULL;
END
$$;

CREATE TRIGGER trg_journal_entries_append_only
    BEFORE UPDATE OR DELETE OR TRUNCATE ON journal_entries
    FOR EACH STATEMENT EXECUTE FUNCTION nexum_refuse_change();
CREATE TRIGGER trg_journal_lines_append_only
    BEFORE UPDATE OR DELETE OR TRUNCATE ON journal_lines
    FOR EACH STATEMENT EXECUTE FUNCTION nexum_refuse_change();
CREATE TRIGGER trg_audit_events_append_only
    BEFORE UPDATE OR DELETE OR TRUNCATE ON audit_events
    FOR EACH STATEMENT EXECUTE FUNCTION nexum_refuse_change();
