SELECT [toString((intDiv((ts + 7200), 3600) * 3600)) AS g0] AS dims, uniqExact(visitor_id), countIf(name = 'pageview'), count(*) FROM events WHERE site_id = ? AND ts >= ? AND ts < ? AND (source IN (?)) GROUP BY g0
-- params: 7, 1717977600, 1718064000, "Google"
