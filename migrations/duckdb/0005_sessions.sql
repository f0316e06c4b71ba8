-- spurlos embedded store: login sessions of dashboard users (stored by the hash of the cookie
-- value) with their CSRF token.
CREATE TABLE user_sessions (
    token_hash VARCHAR PRIMARY KEY,
    user_id UINTEGER NOT NULL,
    csrf VARCHAR NOT NULL,
    expires_ts BIGINT NOT NULL
);
