SELECT emptyArrayString() AS dims, uniqExact(visitor_id), countIf(name = 'pageview'), count(*) FROM events WHERE site_id = ? AND ts >= ? AND ts < ?
-- params: 7, 1717977600, 1718064000
