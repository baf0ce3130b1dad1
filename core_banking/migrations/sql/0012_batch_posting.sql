-- Nexum batch posting for PostgreSQL, created by migration 0012.
--
-- nexum_post_entries posts several journal entries in one call, so an atomic batch is one
-- round trip however many entries it holds. It calls nexum_post_entry for each entry, in
-- the batch's order, inside the caller's transaction: every entry gets exactly the checks,
-- idempotency claim (with its replay), lines, balances-after, positions and audit record it
-- would get posted alone, and the outbox triggers and the deferred balance check see the
-- same rows. Why: docs/adr/0010-batch-posting-in-one-call.md.
--
-- Its arguments are nexum_post_entry's, one array per argument. An argument that is already
-- an array there (the per-account and per-line ones) is the entries' arrays laid end to
-- end; p_account_counts and p_line_totals say how many elements each entry has, in order.
-- Parallel arrays of plain types are what the driver encodes cheapest.
--
-- A refusal (nexum_refuse) is raised again with the entry's place in the batch, counted
-- from 0, added to its detail as "operation_index", so the caller can name the operation.
-- One exception block around the whole loop costs one subtransaction per batch, not one
-- per entry. The caller rolls the transaction back, so nothing of the batch remains.

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
    -- each entry's accounts, laid end to end; p_account_counts[i] of them for entry i
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
    -- each entry's lines, laid end to end; p_line_totals[i] of them for entry i; the
    -- account is an index into the entry's own accounts, as for nexum_post_entry
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
    v_entry integer;
    v_first_account integer := 1;
    v_last_account integer;
    v_first_line integer := 1;
    v_last_line integer;
    v_message text;
    v_detail text;
BEGIN
    BEGIN
        FOR v_i IN 1 .. coalesce(array_length(p_entry_id, 1), 0) LOOP
            v_entry := v_i;
            v_last_account := v_first_account + p_account_counts[v_i] - 1;
            v_last_line := v_first_line + p_line_totals[v_i] - 1;
            SELECT e.entry_id, e.replayed, e.posted_at, e.account_seqs, e.balances_after
              INTO entry_id, replayed, posted_at, account_seqs, balances_after
              FROM nexum_post_entry(
                  p_entry_id[v_i], p_entry_type[v_i], p_business_date[v_i], p_value_date[v_i],
                  p_actor[v_i], p_channel[v_i], p_reference[v_i], p_metadata[v_i],
                  p_request_id[v_i], p_reversal_of[v_i],
                  p_accounts[v_first_account:v_last_account],
                  p_debits[v_first_account:v_last_account],
                  p_credits[v_first_account:v_last_account],
                  p_currencies[v_first_account:v_last_account],
                  p_required_kinds[v_first_account:v_last_account],
                  p_enforce_funds[v_first_account:v_last_account],
                  p_daily_amounts[v_first_account:v_last_account],
                  p_release_held[v_first_account:v_last_account],
                  p_line_counts[v_first_account:v_last_account],
                  p_default_min_balances[v_first_account:v_last_account],
                  p_default_daily_limits[v_first_account:v_last_account],
                  p_line_accounts[v_first_line:v_last_line],
                  p_line_sides[v_first_line:v_last_line],
                  p_line_amounts[v_first_line:v_last_line],
                  p_idem_scope[v_i], p_idem_key[v_i], p_idem_operation[v_i],
                  p_idem_fingerprint[v_i],
                  p_audit_occurred_at[v_i], p_audit_action[v_i], p_audit_payload[v_i]) e;
            RETURN NEXT;
            v_first_account := v_last_account + 1;
            v_first_line := v_last_line + 1;
        END LOOP;
    EXCEPTION WHEN raise_exception THEN
        GET STACKED DIAGNOSTICS v_message = MESSAGE_TEXT, v_detail = PG_EXCEPTION_DETAIL;
        IF v_message NOT LIKE 'nexum:%' THEN
            RAISE;
        END IF;
        RAISE EXCEPTION USING
            MESSAGE = v_message,
            DETAIL = (coalesce(nullif(v_detail, ''), '{}')::jsonb
                      || jsonb_build_object('operation_index', v_entry - 1))::text;
    END;
END
$$;
