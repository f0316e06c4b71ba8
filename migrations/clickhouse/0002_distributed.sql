-- scope: cluster
-- spurlos ClickHouse store, cluster mode only: Distributed tables over the shards' local
-- tables, sharded by site so that all of a site's rows (and its visits) live on one shard.
CREATE TABLE IF NOT EXISTS events AS events_local
ENGINE = Distributed({cluster}, {database}, events_local, site_id);

CREATE TABLE IF NOT EXISTS sessions AS sessions_local
ENGINE = Distributed({cluster}, {database}, sessions_local, site_id)
