-- Nexum, migration 0014: whether any key of a batch is already claimed, asked with a plan
-- made for each call.
--
-- nexum_post_entries (0013) asked it with a join of the batch's keys to idempotency_keys
-- inside the function, where PL/pgSQL keeps a connection's plan once it has made a generic
-- one: planned while the table was small, a hash join over a scan of the whole table, then
-- kept while the table grew, so every group commit and every batch read all the keys ever
-- claimed. EXECUTE plans the question at each call, with the batch's keys and the table as
-- they are: by the primary key, one lookup per key, once the table is large. Migration
-- 0014 replaces that one condition of nexum_post_entries with a call of this function.
CREATE FUNCTION nexum_any_key_claimed(p_scope text[], p_key text[]) RETURNS boolean
LANGUAGE plpgsql AS $$
DECLARE
    v_claimed boolean;
BEGIN
    EXECUTE 'SELECT EXISTS (SELECT 1 FROM unnest($1, $2) AS c(scope, key)'
            ' JOIN idempotency_keys k ON k.scope = c.scope AND k.key = c.key)'
       INTO v_claimed
      USING p_scope, p_key;
    RETURN v_claimed;
END
$$;
