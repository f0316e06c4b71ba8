-- scope: shards
-- spurlos ClickHouse store: events and session versions. Applied on every shard; in cluster
-- mode the tables are called events_local and sessions_local ({local} = "_local") and
-- Distributed tables named events and sessions sit in front of them (0002). Works on
-- ClickHouse 18.16 and current releases: no TTL, codecs, LowCardinality or Nullable.
-- Ordered for per-site, per-day scans; partitioned by UTC month for retention
-- (ALTER TABLE ... DROP PARTITION) and deletion (ALTER TABLE ... DELETE).
CREATE TABLE IF NOT EXISTS events{local} (
    site_id UInt32,
    ts Int64,
    event_id UInt64,
    session_id UInt64,
    visitor_id UInt64,
    name String,
    interactive UInt8,
    hostname String,
    pathname String,
    referrer String,
    source String,
    utm_source String,
    utm_medium String,
    utm_campaign String,
    utm_content String,
    utm_term String,
    country_code String,
    region String,
    city String,
    browser String,
    browser_version String,
    os String,
    os_version String,
    device String,
    screen String,
    prop_keys Array(String),
    prop_values Array(String),
    batch UInt64
) ENGINE = {engine:events}
PARTITION BY toYYYYMM(toDateTime(ts, 'UTC'))
ORDER BY (site_id, intDiv(ts, 86400), session_id, ts);

CREATE TABLE IF NOT EXISTS sessions{local} (
    site_id UInt32,
    session_id UInt64,
    visitor_id UInt64,
    sign Int8,
    version UInt32,
    start_ts Int64,
    end_ts Int64,
    pageviews UInt32,
    events UInt32,
    interactive UInt32,
    entry_page String,
    exit_page String,
    hostname String,
    referrer String,
    source String,
    utm_source String,
    utm_medium String,
    utm_campaign String,
    utm_content String,
    utm_term String,
    country_code String,
    region String,
    city String,
    browser String,
    browser_version String,
    os String,
    os_version String,
    device String,
    screen String,
    batch UInt64
) ENGINE = {engine:sessions}
PARTITION BY toYYYYMM(toDateTime(start_ts, 'UTC'))
ORDER BY (site_id, intDiv(start_ts, 86400), session_id, version)
