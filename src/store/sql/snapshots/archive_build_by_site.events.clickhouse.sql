SELECT [toString(site_id) AS g0, toString((intDiv((ts + 7200), 86400) * 86400)) AS g1, toString(pathname) AS g2] AS dims, uniqExact(visitor_id), countIf(name = 'pageview'), count(*) FROM events WHERE site_id IN (7, 9) AND ts >= ? AND ts < ? GROUP BY g0, g1, g2
-- params: 1717977600, 1718064000
