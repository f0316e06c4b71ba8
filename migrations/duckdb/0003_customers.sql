-- spurlos embedded store: hosting customers, which sites belong to them, and Stats API tokens
-- for all sites of one customer. New tables instead of ALTER TABLE (DuckDB cannot alter
-- tables that have indexes).
CREATE TABLE customers (
    id UINTEGER PRIMARY KEY,
    handle VARCHAR NOT NULL UNIQUE,    -- the hosting panel's name for the customer
    name VARCHAR NOT NULL,
    created_ts BIGINT NOT NULL
);

CREATE TABLE site_customers (
    site_id UINTEGER PRIMARY KEY,
    customer_id UINTEGER NOT NULL
);

CREATE TABLE customer_tokens (
    token_hash VARCHAR PRIMARY KEY,
    customer_id UINTEGER NOT NULL,
    created_ts BIGINT NOT NULL
);
