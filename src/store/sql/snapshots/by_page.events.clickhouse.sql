SELECT [toString(pathname) AS g0] AS dims, uniqExact(visitor_id), countIf(name = 'pageview'), count(*) FROM events WHERE site_id = ? AND ts >= ? AND ts < ? GROUP BY g0
-- params: 7, 1717977600, 1718064000
