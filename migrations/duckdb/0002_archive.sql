-- spurlos embedded store: day archives (see src/stats/archive.rs). Sums per site, local day,
-- dimension and value for days that are over; they hold no visitor ids.
CREATE TABLE archive (
    site_id UINTEGER NOT NULL,
    day INTEGER NOT NULL,              -- days since 1970-01-01 in the site's time zone
    dim VARCHAR NOT NULL,              -- dimension API name, '' for the day's totals
    value VARCHAR NOT NULL,
    visitors BIGINT NOT NULL,
    pageviews BIGINT NOT NULL,
    events BIGINT NOT NULL,
    visits BIGINT NOT NULL,
    visit_pageviews BIGINT NOT NULL,
    bounces BIGINT NOT NULL,
    duration BIGINT NOT NULL
);

CREATE TABLE archived_days (
    site_id UINTEGER NOT NULL,
    day INTEGER NOT NULL,
    timezone VARCHAR NOT NULL,
    built_ts BIGINT NOT NULL,
    PRIMARY KEY (site_id, day)
);
