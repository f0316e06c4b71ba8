-- spurlos embedded store: requests and bytes per site and local day from imported web-server
-- logs (for billing). Rows are added per imported batch and summed when read.
CREATE TABLE IF NOT EXISTS traffic (
    site_id UINTEGER NOT NULL,
    day INTEGER NOT NULL,
    requests UBIGINT NOT NULL,
    bytes UBIGINT NOT NULL
);
