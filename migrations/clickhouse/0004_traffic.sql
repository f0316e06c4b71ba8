-- scope: main
-- spurlos ClickHouse store: requests and bytes per site and local day from imported web-server
-- logs (for billing). Rows are added per imported batch; merges sum them, reads sum them too.
CREATE TABLE IF NOT EXISTS traffic (
    site_id UInt32,
    day Int32,
    requests UInt64,
    bytes UInt64
) ENGINE = SummingMergeTree()
ORDER BY (site_id, day)
