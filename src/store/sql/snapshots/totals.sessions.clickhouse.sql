SELECT emptyArrayString() AS dims, toInt64(sum(sign)), toInt64(sum(sign * pageviews)), toInt64(sum(if(pageviews = 1 AND interactive = 0, toInt64(sign), toInt64(0)))), toInt64(sum(sign * (end_ts - start_ts))) FROM sessions WHERE site_id = ? AND start_ts >= ? AND start_ts < ?
-- params: 7, 1717977600, 1718064000
