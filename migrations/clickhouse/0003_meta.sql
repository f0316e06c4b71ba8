-- scope: main
-- spurlos ClickHouse store: everything that is not an event, on the server spurlos talks to.
-- meta holds sites, customers, users, logins, tokens, shared links and archived days as JSON
-- documents; a change is a new version, a removal a version with deleted = 1 (the newest
-- version of a key wins, so several spurlos nodes may write).
CREATE TABLE IF NOT EXISTS meta (
    kind String,
    key String,
    version UInt64,
    deleted UInt8,
    doc String
) ENGINE = ReplacingMergeTree(version)
ORDER BY (kind, key);

-- Day salts, one partition per UTC day, so that a salt that is no longer needed is dropped
-- with its partition (not merely marked deleted). The earliest write of a day wins.
CREATE TABLE IF NOT EXISTS salts (
    day String,
    salt String,
    created UInt64
) ENGINE = MergeTree()
PARTITION BY day
ORDER BY day;

-- Day archives (see src/stats/archive.rs). A day's rows belong to a build; the archived_day
-- document in meta names the current build, older builds are deleted afterwards.
CREATE TABLE IF NOT EXISTS archive (
    site_id UInt32,
    day Int32,
    build UInt64,
    dim String,
    value String,
    visitors UInt64,
    pageviews UInt64,
    events UInt64,
    visits Int64,
    visit_pageviews Int64,
    bounces Int64,
    duration Int64
) ENGINE = MergeTree()
ORDER BY (site_id, dim, day, build)
