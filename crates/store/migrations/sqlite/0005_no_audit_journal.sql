-- Rampart storage schema, version 5 (SQLite): the audit journal is gone again.
--
-- Version 4 came with a journal file (`<db>-audit`) that requests appended their audit records
-- to, indexed into `audit_records` off the request path. Measured beside the writer thread's
-- group commit in one interleaved run (BENCHMARKS.md, "the audit journal, measured"), it cost
-- throughput (one more write and encoding per request, the same indexing later), so records go
-- to the writer thread again. Opening a database whose journal still holds records it had not
-- indexed is refused before this runs (`sqlite/mod.rs`), so dropping the table loses nothing.

DROP TABLE audit_journal;
