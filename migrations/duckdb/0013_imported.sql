-- spurlos embedded store: statistics imported from other tools (AWStats's history) as day
-- sums per dimension value, by import source; `timed`: whether visits carry bounces and
-- durations.
CREATE TABLE IF NOT EXISTS imported (
    site_id UINTEGER NOT NULL,
    day INTEGER NOT NULL,
    source VARCHAR NOT NULL,
    dim VARCHAR NOT NULL,
    value VARCHAR NOT NULL,
    visitors UBIGINT NOT NULL,
    pageviews UBIGINT NOT NULL,
    events UBIGINT NOT NULL,
    visits BIGINT NOT NULL,
    visit_pageviews BIGINT NOT NULL,
    bounces BIGINT NOT NULL,
    duration BIGINT NOT NULL,
    timed BOOLEAN NOT NULL
);
