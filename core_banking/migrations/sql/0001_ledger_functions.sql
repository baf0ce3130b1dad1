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

-- The number of audit chains; the same as core_banking.domain.audit.AUDIT_SHARDS (a test
-- checks that they agree), and the number of rows migration 0001 puts in audit_chain_heads.
CREATE FUNCTION nexum_audit_shards() RETURNS integer
LANGUAGE sql IMMUTABLE AS 'SELECT 64';

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
    v_shards constant integer := nexum_audit_shards();
    v_start constant integer := floor(random() * v_shards)::integer;
    v_shard integer;
    v_seq bigint;
    v_hash bytea;
BEGIN
    -- Take any chain no other transaction is writing (a transaction-scoped advisory lock:
    -- held in memory, nothing written); wait only when every chain is busy.
    FOR v_offset IN 0 .. v_shards - 1 LOOP
        v_shard := (v_start + v_offset) % v_shards;
        EXIT WHEN pg_try_advisory_xact_lock(20077, v_shard);
        v_shard := NULL;
    END LOOP;
    IF v_shard IS NULL THEN
        v_shard := v_start;
        PERFORM pg_advisory_xact_lock(20077, v_shard);
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
    -- one element per account the entry touches, in account id order (the lock order)
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
    -- one element per line, in line order; the account is an index into p_accounts
    p_line_accounts integer[],
    p_line_sides text[],
    p_line_amounts bigint[],
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
    v_account accounts%ROWTYPE;
    v_lines constant integer := array_length(p_line_accounts, 1);
    v_delta bigint;
    v_decreases boolean;
    v_minimum bigint;
    v_limit bigint;
    v_balances bigint[];
    v_seqs bigint[];
    v_normal_sides text[];
    v_posted_ats timestamptz[];
    v_k integer;
    -- One reading of the clock for the whole entry, so its lines share one time unless an
    -- account's previous line is later (a line never precedes its account's last one).
    v_now constant timestamptz := clock_timestamp();
BEGIN
    entry_id := p_entry_id;
    replayed := false;

    IF p_idem_key IS NOT NULL THEN
        INSERT INTO idempotency_keys (scope, key, operation, fingerprint, entity_id, created_at)
        VALUES (p_idem_scope, p_idem_key, p_idem_operation, p_idem_fingerprint, p_entry_id,
                v_now)
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

    -- A reversal locks the entry it reverses, so two reversals of one entry queue here and
    -- the second is told the entry is already reversed (whatever its accounts hold now).
    IF p_reversal_of IS NOT NULL THEN
        PERFORM 1 FROM journal_entries WHERE id = p_reversal_of FOR UPDATE;
        IF EXISTS (SELECT 1 FROM journal_entries WHERE reversal_of = p_reversal_of) THEN
            PERFORM nexum_refuse('already_reversed', jsonb_build_object(
                'message', 'this entry has already been reversed',
                'entry_id', p_reversal_of));
        END IF;
    END IF;

    -- One UPDATE per account, in account id order: it locks the row (the order every writer
    -- uses, so postings never deadlock), applies the entry's net effect and returns the new
    -- row for the rules below to check. A refusal raises, and the whole transaction, this
    -- update included, rolls back.
    FOR v_k IN 1 .. array_length(p_accounts, 1) LOOP
        UPDATE accounts a
           SET posted_minor = a.posted_minor
                   + CASE WHEN a.account_type IN ('asset', 'expense')
                          THEN p_debits[v_k] - p_credits[v_k]
                          ELSE p_credits[v_k] - p_debits[v_k] END,
               held_minor = a.held_minor - p_release_held[v_k],
               line_seq = a.line_seq + p_line_counts[v_k],
               daily_debit_minor = CASE
                   WHEN p_daily_amounts[v_k] = 0 THEN a.daily_debit_minor
                   WHEN a.daily_debit_date = p_business_date
                       THEN a.daily_debit_minor + p_daily_amounts[v_k]
                   ELSE p_daily_amounts[v_k] END,
               daily_debit_date = CASE WHEN p_daily_amounts[v_k] = 0 THEN a.daily_debit_date
                                       ELSE p_business_date END,
               last_posted_at = greatest(v_now, a.last_posted_at),
               updated_at = greatest(v_now, a.last_posted_at)
         WHERE a.id = p_accounts[v_k]
        RETURNING a.* INTO v_account;
        IF NOT FOUND THEN
            PERFORM nexum_refuse('account_not_found', jsonb_build_object(
                'message', 'no such account', 'account_id', p_accounts[v_k]));
        END IF;
        IF p_currencies[v_k] <> v_account.currency THEN
            PERFORM nexum_refuse('currency_mismatch', jsonb_build_object(
                'message', format('account holds %s, not %s', v_account.currency,
                                  p_currencies[v_k]),
                'account_id', v_account.id));
        END IF;
        IF p_required_kinds[v_k] <> v_account.kind::text THEN
            PERFORM nexum_refuse('wrong_account_kind', jsonb_build_object(
                'message', format('account is not a %s account', p_required_kinds[v_k]),
                'account_id', v_account.id));
        END IF;

        IF v_account.account_type IN ('asset', 'expense') THEN
            v_delta := p_debits[v_k] - p_credits[v_k];
            v_decreases := p_credits[v_k] > 0;
            v_normal_sides[v_k] := 'D';
        ELSE
            v_delta := p_credits[v_k] - p_debits[v_k];
            v_decreases := p_debits[v_k] > 0;
            v_normal_sides[v_k] := 'C';
        END IF;
        IF v_account.status <> 'active'
           AND NOT (v_account.status = 'dormant' AND NOT v_decreases) THEN
            PERFORM nexum_refuse('account_not_operational', jsonb_build_object(
                'message', format('account is %s', v_account.status),
                'account_id', v_account.id, 'status', v_account.status));
        END IF;
        IF v_delta < 0 AND v_account.kind <> 'gl' AND p_enforce_funds[v_k] THEN
            v_minimum := coalesce(v_account.min_balance_minor, p_default_min_balances[v_k]);
            IF v_account.posted_minor - v_account.held_minor + v_account.overdraft_limit_minor
               < v_minimum THEN
                PERFORM nexum_refuse('insufficient_funds', jsonb_build_object(
                    'message', 'insufficient available funds', 'account_id', v_account.id));
            END IF;
        END IF;
        IF p_daily_amounts[v_k] > 0 THEN
            v_limit := coalesce(v_account.daily_limit_minor, p_default_daily_limits[v_k]);
            IF v_account.daily_debit_minor > v_limit THEN
                PERFORM nexum_refuse('daily_limit_exceeded', jsonb_build_object(
                    'message', 'the daily transaction limit would be exceeded',
                    'account_id', v_account.id, 'limit_minor', v_limit));
            END IF;
        END IF;

        v_balances[v_k] := v_account.posted_minor - v_delta;
        v_seqs[v_k] := v_account.line_seq - p_line_counts[v_k];
        v_posted_ats[v_k] := v_account.last_posted_at;
        posted_at := greatest(posted_at, v_account.last_posted_at);
    END LOOP;

    -- Each line's balance after it and its place in its account's history, in line order.
    FOR v_line IN 1 .. v_lines LOOP
        v_k := p_line_accounts[v_line];
        v_balances[v_k] := v_balances[v_k] + CASE WHEN p_line_sides[v_line] = v_normal_sides[v_k]
                                                  THEN p_line_amounts[v_line]
                                                  ELSE -p_line_amounts[v_line] END;
        v_seqs[v_k] := v_seqs[v_k] + 1;
        balances_after[v_line] := v_balances[v_k];
        account_seqs[v_line] := v_seqs[v_k];
    END LOOP;

    INSERT INTO journal_entries
        (id, entry_type, business_date, value_date, posted_at, actor, channel, reference,
         metadata, request_id, reversal_of)
    VALUES
        (p_entry_id, p_entry_type, p_business_date, p_value_date, posted_at, p_actor, p_channel,
         p_reference, p_metadata, p_request_id, p_reversal_of);

    -- A line's time is its own account's posting time, which never goes backwards for that
    -- account, so "the balance at a moment" is the last line at or before it.
    INSERT INTO journal_lines
        (entry_id, line_no, account_id, account_seq, side, amount_minor, currency,
         balance_after_minor, posted_at)
    SELECT p_entry_id, n, p_accounts[p_line_accounts[n]], account_seqs[n],
           p_line_sides[n]::entry_side, p_line_amounts[n], p_currencies[p_line_accounts[n]], balances_after[n],
           v_posted_ats[p_line_accounts[n]]
      FROM generate_series(1, v_lines) AS n;

    IF p_audit_payload IS NOT NULL THEN
        PERFORM nexum_audit_append(p_audit_occurred_at, p_actor, p_audit_action,
                                   'journal_entry', p_entry_id::text, p_request_id,
                                   p_audit_payload);
    END IF;
END
$$;

-- The database's own guard: at commit, the entry of every journal line written in the
-- transaction balances in every currency and has at least two lines, however the rows
-- arrived. (An entry with no lines at all moves nothing; `nexum verify` reports it.)
CREATE FUNCTION nexum_check_entry_balanced() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    v_lines bigint;
    v_unbalanced boolean;
BEGIN
    SELECT coalesce(sum(n), 0), coalesce(bool_or(net <> 0), false)
      INTO v_lines, v_unbalanced
      FROM (SELECT count(*) AS n,
                   sum(CASE WHEN side = 'D' THEN amount_minor ELSE -amount_minor END) AS net
              FROM journal_lines WHERE entry_id = NEW.entry_id GROUP BY currency) per_currency;
    IF v_lines < 2 OR v_unbalanced THEN
        PERFORM nexum_refuse('unbalanced_entry', jsonb_build_object(
            'message', 'a journal entry must have two or more lines balanced per currency',
            'entry_id', NEW.entry_id));
    END IF;
    RETURN NULL;
END
$$;

CREATE CONSTRAINT TRIGGER trg_journal_lines_balanced
    AFTER INSERT ON journal_lines
    DEFERRABLE INITIALLY DEFERRED
    FOR EACH ROW EXECUTE FUNCTION nexum_check_entry_balanced();

-- An account is either the bank's (a GL code, no customer, no number) or a customer's (a
-- number and a customer, no code). Checked only when those columns are written, so the
-- balance updates of every posting do not pay for it.
CREATE FUNCTION nexum_check_account_identity() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF NOT ((NEW.kind = 'gl' AND NEW.code IS NOT NULL AND NEW.customer_id IS NULL
             AND NEW.number IS NULL)
            OR (NEW.kind = 'deposit' AND NEW.number IS NOT NULL AND NEW.customer_id IS NOT NULL
                AND NEW.code IS NULL)) THEN
        PERFORM nexum_refuse('invalid_account_identity', jsonb_build_object(
            'message', 'a GL account has a code only; a deposit account a number and customer',
            'account_id', NEW.id));
    END IF;
    RETURN NEW;
END
$$;

CREATE TRIGGER trg_accounts_identity
    BEFORE INSERT OR UPDATE OF kind, code, number, customer_id ON accounts
    FOR EACH ROW EXECUTE FUNCTION nexum_check_account_identity();

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
