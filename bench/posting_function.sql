-- The posting function alone: what one Nexum transfer costs PostgreSQL, with no Python.
--
-- bench.transfers creates this in its scratch Nexum database and has pgbench call
-- bench_transfer(:a, :b) at the same concurrency as the service-layer run. Each call posts
-- what LedgerService.transfer posts between two of the funded customer accounts: one call
-- of nexum_post_entry with the same arguments (two accounts in id order, a debit and a
-- credit, funds and daily limit enforced on the source, an idempotency key claimed, an
-- audit record of a transfer's size). The rate it reaches against TPC-B's tells how much of the gap between Nexum and
-- pgbench is the database's work and how much is the Python client's.

CREATE TABLE bench_accounts (n bigint PRIMARY KEY, id uuid NOT NULL);

INSERT INTO bench_accounts (n, id)
SELECT row_number() OVER (ORDER BY id), id FROM accounts WHERE kind = 'deposit';

CREATE FUNCTION bench_transfer(p_from bigint, p_to bigint) RETURNS uuid
LANGUAGE plpgsql AS $$
DECLARE
    v_source uuid := (SELECT id FROM bench_accounts WHERE n = p_from);
    v_target uuid := (SELECT id FROM bench_accounts WHERE n = p_to);
    v_entry uuid := gen_random_uuid();
    v_source_first boolean := v_source < v_target;
    v_payload text;
    v_result uuid;
BEGIN
    IF v_source = v_target THEN
        RETURN NULL;
    END IF;
    v_payload := jsonb_build_object(
        'action', 'ledger.transfer', 'actor', 'bench', 'entity_id', v_entry,
        'entity_type', 'journal_entry', 'occurred_at', clock_timestamp(),
        'request_id', NULL,
        'details', jsonb_build_object('legs', jsonb_build_array(
            jsonb_build_array(v_source, 'D', 1, 'USD'),
            jsonb_build_array(v_target, 'C', 1, 'USD'))))::text;
    SELECT e.entry_id INTO v_result
      FROM nexum_post_entry(
          v_entry, 'transfer', current_date, current_date, 'bench', NULL, NULL, '{}'::jsonb,
          NULL, NULL,
          CASE WHEN v_source_first THEN ARRAY[v_source, v_target]
               ELSE ARRAY[v_target, v_source] END,
          CASE WHEN v_source_first THEN ARRAY[1, 0] ELSE ARRAY[0, 1] END::bigint[],
          CASE WHEN v_source_first THEN ARRAY[0, 1] ELSE ARRAY[1, 0] END::bigint[],
          ARRAY['USD', 'USD'], ARRAY['deposit', 'deposit'],
          ARRAY[v_source_first, NOT v_source_first],
          CASE WHEN v_source_first THEN ARRAY[1, 0] ELSE ARRAY[0, 1] END::bigint[],
          ARRAY[0, 0]::bigint[], ARRAY[1, 1],
          ARRAY[0, 0]::bigint[], ARRAY[100000000000, 100000000000]::bigint[],
          CASE WHEN v_source_first THEN ARRAY[1, 2] ELSE ARRAY[2, 1] END,
          ARRAY['D', 'C'], ARRAY[1, 1]::bigint[],
          'bench', v_entry::text, 'transfer', sha256(convert_to(v_entry::text, 'UTF8')),
          clock_timestamp(), 'ledger.transfer', v_payload) e;
    RETURN v_result;
END
$$;
