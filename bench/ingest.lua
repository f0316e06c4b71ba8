-- wrk script for the ingestion benchmark: Plausible-style page views from many visitors
-- (distinct addresses via the trusted X-Forwarded-For), counting the 202 answers.
-- The requests (65,536 visitors, 500 pages) are built once per thread in init(), so the load
-- generator spends its share of the two cores on sending, not on string formatting.
local threads = {}
local counter = 0

function setup(thread)
  thread:set("id", counter)
  counter = counter + 1
  table.insert(threads, thread)
end

function init(args)
  accepted = 0
  other = 0
  n = 0
  reqs = {}
  for i = 0, 65535 do
    local ip = string.format("10.%d.%d.%d", id % 256, math.floor(i / 256) % 256, i % 256)
    local body = string.format(
      '{"n":"pageview","u":"https://bench.example/page-%d?utm_source=wrk","d":"bench.example","r":"https://www.google.com/","w":1280}',
      i % 500)
    reqs[i + 1] = wrk.format("POST", "/api/event", {
      ["Content-Type"] = "text/plain",
      ["X-Forwarded-For"] = ip,
      ["User-Agent"] = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36",
    }, body)
  end
end

function request()
  n = n + 1
  return reqs[(n % 65536) + 1]
end

function response(status, headers, body)
  if status == 202 then accepted = accepted + 1 else other = other + 1 end
end

function done(summary, latency, requests)
  local a, o = 0, 0
  for _, t in ipairs(threads) do
    a = a + t:get("accepted")
    o = o + t:get("other")
  end
  io.write(string.format("ACCEPTED %d\nOTHER %d\n", a, o))
  io.write(string.format("P50_US %d\nP99_US %d\n", latency:percentile(50), latency:percentile(99)))
end
