-- Rampart storage schema, version 2 (PostgreSQL): the authorization checks of each audit record.
--
-- A JSON array of objects {"action", "resource", "decision"}, one per check the request was
-- decided on, in order. Records written before this migration had none recorded: '[]'. TEXT,
-- not JSONB, like matched_statements: the store only writes and reads it whole, and a constant
-- default lets PostgreSQL add the column without rewriting the table.

ALTER TABLE audit_records ADD COLUMN checks TEXT NOT NULL DEFAULT '[]';
