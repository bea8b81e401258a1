-- Rampart storage schema, version 4 (SQLite): how far the audit journal has been indexed.
--
-- A serving process appends each request's audit record to an append-only journal file beside
-- the database (`<db>-audit`, one `write` per record) and indexes the journal into
-- `audit_records` in large batches off the request path (`src/sqlite/journal.rs`). This row says
-- which journal belongs to this database (`trail_id`, also in the journal's header), which
-- generation of it is current (the file starts over once fully indexed) and the offset up to
-- which its records are in `audit_records`; it is updated in the same transaction as the
-- records it covers, so a crash never indexes a record twice or skips one.
CREATE TABLE audit_journal (
    id         INTEGER PRIMARY KEY CHECK (id = 1),
    trail_id   INTEGER NOT NULL,
    generation INTEGER NOT NULL CHECK (generation >= 1),
    indexed_to INTEGER NOT NULL CHECK (indexed_to >= 0)
);

INSERT INTO audit_journal (id, trail_id, generation, indexed_to) VALUES (1, random(), 1, 24);
