-- spurlos embedded store: users of the dashboard and their role per customer, and one-time
-- set-password links (stored by hash). Passwords are argon2 hashes; empty until set.
CREATE TABLE users (
    id UINTEGER PRIMARY KEY,
    email VARCHAR NOT NULL UNIQUE,
    password_hash VARCHAR NOT NULL,
    created_ts BIGINT NOT NULL
);

CREATE TABLE memberships (
    user_id UINTEGER NOT NULL,
    customer_id UINTEGER NOT NULL,
    role VARCHAR NOT NULL,             -- 'owner' or 'viewer'
    PRIMARY KEY (user_id, customer_id)
);

CREATE TABLE password_links (
    token_hash VARCHAR PRIMARY KEY,
    user_id UINTEGER NOT NULL,
    expires_ts BIGINT NOT NULL
);
