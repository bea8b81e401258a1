-- Rampart storage schema, version 3 (SQLite): the audit trail keeps one secondary index.
--
-- Every request appends an audit record, and each index on the table is one more B-tree insert
-- and one more 4 KiB page written to the WAL per group commit: with the principal and access
-- key indexes, half of what a commit wrote was index pages used only by `rampart audit
-- --principal`. That query now reads the time range it is given (`--since`, the time index) or
-- the whole trail, which is rare and offline; the hot path writes two pages fewer per batch.
-- PostgreSQL, where a batch is one multi-row INSERT, keeps its indexes.

DROP INDEX IF EXISTS audit_records_principal;
DROP INDEX IF EXISTS audit_records_access_key;
