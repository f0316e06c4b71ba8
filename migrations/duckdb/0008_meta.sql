-- spurlos embedded store: the tenancy model's documents (customers, sites, users, tokens,
-- shared links, set-password links, logins) as JSON by kind and key, the same documents the
-- ClickHouse store keeps, and the highest id handed out per kind (ids are never used twice).
-- The step after this one moves the rows of the older tables into documents and drops them.
CREATE TABLE meta (
    kind VARCHAR NOT NULL,
    key VARCHAR NOT NULL,
    doc VARCHAR NOT NULL
);

CREATE TABLE meta_ids (
    kind VARCHAR NOT NULL,
    last_id UINTEGER NOT NULL
);
