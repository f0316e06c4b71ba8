-- scope: main
-- spurlos ClickHouse store: statistics imported from other tools (AWStats's history) as day
-- sums per dimension value, by import source; `timed`: whether visits carry bounces and
-- durations. A new import of a source's days deletes its old rows first (and waits).
CREATE TABLE IF NOT EXISTS imported (
    site_id UInt32,
    day Int32,
    source String,
    dim String,
    value String,
    visitors UInt64,
    pageviews UInt64,
    events UInt64,
    visits Int64,
    visit_pageviews Int64,
    bounces Int64,
    duration Int64,
    timed UInt8
) ENGINE = MergeTree()
ORDER BY (site_id, dim, day)
