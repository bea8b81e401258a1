-- Rampart storage schema, version 7 (SQLite): key/value rows in a rowid table with a unique
-- index on (ns, key), instead of a WITHOUT ROWID table clustered on it.
--
-- A WITHOUT ROWID table is an index B-tree whose cells hold whole rows, interior cells
-- included. With rows far larger than a page (deployment packages of hundreds of KiB, sealed
-- log batches), a lookup compared its key against cells whose payload overflowed, and SQLite
-- reads an overflowing cell's whole payload to compare it: reading one small function record
-- cost ~120 µs against ~4 µs here, and grew as logs accumulated (BENCHMARKS.md, the functions
-- and gateway benchmarks). Now the index holds only (ns, key, rowid) and a value's overflow
-- pages are read only when that value is.
CREATE TABLE kv_rows (
    ns         TEXT    NOT NULL,
    key        BLOB    NOT NULL,
    value      BLOB    NOT NULL,
    version    INTEGER NOT NULL CHECK (version >= 1),
    updated_at INTEGER NOT NULL, -- Unix microseconds of the last put
    UNIQUE (ns, key)
);
INSERT INTO kv_rows (ns, key, value, version, updated_at)
    SELECT ns, key, value, version, updated_at FROM kv ORDER BY ns, key;
DROP TABLE kv;
ALTER TABLE kv_rows RENAME TO kv;
