-- spurlos embedded store: tokens that may also manage (change site settings, users and tokens
-- within their scope). Tokens without a row here only read statistics.
CREATE TABLE token_access (
    token_hash VARCHAR PRIMARY KEY,
    access VARCHAR NOT NULL            -- 'manage'
);
