-- Rampart storage schema, version 3 (PostgreSQL): what a deployed API's access log adds to its
-- requests' audit records.
--
-- A JSON object (`AccessDetail`: apiId, stage, routeKey, httpMethod, path, protocol,
-- responseLatencyMs, integrationLatencyMs) for requests to the gateway's data plane, NULL for
-- every other record (and for records written before this migration). TEXT like `checks`: the
-- store writes and reads it whole; a nullable column without a default is added without
-- rewriting the table.

ALTER TABLE audit_records ADD COLUMN access TEXT;
