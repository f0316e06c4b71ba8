-- spurlos embedded store: initial schema.
CREATE TABLE sites (
    id UINTEGER PRIMARY KEY,
    domain VARCHAR NOT NULL UNIQUE,
    aliases VARCHAR NOT NULL,          -- comma-separated domains
    timezone VARCHAR NOT NULL,
    ip_mask_bytes UTINYINT NOT NULL,
    respect_dnt BOOLEAN NOT NULL,
    excluded_ranges VARCHAR NOT NULL,  -- comma-separated CIDRs
    created_ts BIGINT NOT NULL
);

CREATE TABLE tokens (
    token_hash VARCHAR PRIMARY KEY,
    site_id UINTEGER NOT NULL,
    created_ts BIGINT NOT NULL
);

CREATE TABLE events (
    site_id UINTEGER NOT NULL,
    ts BIGINT NOT NULL,
    event_id UBIGINT NOT NULL,
    session_id UBIGINT NOT NULL,
    visitor_id UBIGINT NOT NULL,
    name VARCHAR NOT NULL,
    interactive BOOLEAN NOT NULL,
    hostname VARCHAR NOT NULL,
    pathname VARCHAR NOT NULL,
    referrer VARCHAR NOT NULL,
    source VARCHAR NOT NULL,
    utm_source VARCHAR NOT NULL,
    utm_medium VARCHAR NOT NULL,
    utm_campaign VARCHAR NOT NULL,
    utm_content VARCHAR NOT NULL,
    utm_term VARCHAR NOT NULL,
    country_code VARCHAR NOT NULL,
    region VARCHAR NOT NULL,
    city VARCHAR NOT NULL,
    browser VARCHAR NOT NULL,
    browser_version VARCHAR NOT NULL,
    os VARCHAR NOT NULL,
    os_version VARCHAR NOT NULL,
    device VARCHAR NOT NULL,
    screen VARCHAR NOT NULL
);

CREATE TABLE props (
    site_id UINTEGER NOT NULL,
    ts BIGINT NOT NULL,
    event_id UBIGINT NOT NULL,
    key VARCHAR NOT NULL,
    value VARCHAR NOT NULL
);

CREATE TABLE sessions (
    site_id UINTEGER NOT NULL,
    session_id UBIGINT NOT NULL,
    visitor_id UBIGINT NOT NULL,
    sign TINYINT NOT NULL,
    version UINTEGER NOT NULL,
    start_ts BIGINT NOT NULL,
    end_ts BIGINT NOT NULL,
    pageviews UINTEGER NOT NULL,
    events UINTEGER NOT NULL,
    interactive UINTEGER NOT NULL,
    entry_page VARCHAR NOT NULL,
    exit_page VARCHAR NOT NULL,
    hostname VARCHAR NOT NULL,
    referrer VARCHAR NOT NULL,
    source VARCHAR NOT NULL,
    utm_source VARCHAR NOT NULL,
    utm_medium VARCHAR NOT NULL,
    utm_campaign VARCHAR NOT NULL,
    utm_content VARCHAR NOT NULL,
    utm_term VARCHAR NOT NULL,
    country_code VARCHAR NOT NULL,
    region VARCHAR NOT NULL,
    city VARCHAR NOT NULL,
    browser VARCHAR NOT NULL,
    browser_version VARCHAR NOT NULL,
    os VARCHAR NOT NULL,
    os_version VARCHAR NOT NULL,
    device VARCHAR NOT NULL,
    screen VARCHAR NOT NULL
);
