-- Rampart storage schema, version 6 (SQLite): the audit trail as one row per group commit.
--
-- Every request appends an audit record, and the writer thread commits the records queued at
-- the same moment together. As one row per record, each commit paid a statement execution, a
-- table B-tree insert and an index insert per record, and wrote the index's pages to the WAL
-- beside the records': a sixth of a signed request's instructions (BENCHMARKS.md, "sixth
-- pass"). A batch is now one row: its records encoded together (`src/sqlite/audit_batches.rs`),
-- their seqs `first_seq ..= last_seq`, and the time range they span, which `rampart audit
-- --since/--until` reads through the index. Rows written before this version stay in
-- `audit_records` and read back with the batches (their seqs are all lower).
CREATE TABLE audit_batches (
    first_seq    INTEGER PRIMARY KEY,
    last_seq     INTEGER NOT NULL CHECK (last_seq >= first_seq),
    time_from_us INTEGER NOT NULL,
    time_to_us   INTEGER NOT NULL CHECK (time_to_us >= time_from_us),
    records      BLOB    NOT NULL
);
CREATE INDEX audit_batches_time ON audit_batches (time_to_us);
