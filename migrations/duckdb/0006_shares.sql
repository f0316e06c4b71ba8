-- spurlos embedded store: read-only shared links to a site's dashboard (by the hash of the
-- link's secret), optionally protected by an argon2-hashed password ('' for none).
CREATE TABLE shared_links (
    id UINTEGER PRIMARY KEY,
    site_id UINTEGER NOT NULL,
    token_hash VARCHAR NOT NULL UNIQUE,
    password_hash VARCHAR NOT NULL,
    created_ts BIGINT NOT NULL
);
