-- The highest ingest-journal sequence number stored, written in the same transaction as each
-- batch: at start, exactly the journal's later hits are stored again.
CREATE TABLE journal_mark (id INTEGER PRIMARY KEY, seq UBIGINT NOT NULL);
