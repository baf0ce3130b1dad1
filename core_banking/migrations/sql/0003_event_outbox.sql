-- The transactional outbox on PostgreSQL: statement triggers write the outbox rows in the
-- transaction that writes the journal lines or audit events they announce, whichever path
-- wrote them (the posting function or a unit of work). They write only when the connection
-- says events are wanted (SET nexum.outbox = 'on', done by the application when
-- NEXUM_ENABLE_KAFKA_EVENTS is true), so an installation without Kafka keeps no backlog.

CREATE FUNCTION nexum_outbox_lines() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF current_setting('nexum.outbox', true) IS DISTINCT FROM 'on' THEN
        RETURN NULL;
    END IF;
    -- Customers' accounts only: the bank's own general-ledger lines are not announced.
    INSERT INTO outbox_events (id, kind, account_id, account_seq, created_at)
    SELECT gen_random_uuid(), 'line', l.account_id, l.account_seq, now()
      FROM new_lines l
      JOIN accounts a ON a.id = l.account_id
     WHERE a.kind <> 'gl'
     ORDER BY l.account_id, l.account_seq;
    RETURN NULL;
END
$$;

CREATE TRIGGER trg_journal_lines_outbox
    AFTER INSERT ON journal_lines
    REFERENCING NEW TABLE AS new_lines
    FOR EACH STATEMENT EXECUTE FUNCTION nexum_outbox_lines();

CREATE FUNCTION nexum_outbox_audit() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF current_setting('nexum.outbox', true) IS DISTINCT FROM 'on' THEN
        RETURN NULL;
    END IF;
    INSERT INTO outbox_events (id, kind, audit_shard, audit_seq, created_at)
    SELECT gen_random_uuid(), 'audit', e.shard, e.seq, now()
      FROM new_events e
     ORDER BY e.shard, e.seq;
    RETURN NULL;
END
$$;

CREATE TRIGGER trg_audit_events_outbox
    AFTER INSERT ON audit_events
    REFERENCING NEW TABLE AS new_events
    FOR EACH STATEMENT EXECUTE FUNCTION nexum_outbox_audit();
