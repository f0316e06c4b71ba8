-- wrk script for the ingestion benchmark: Plausible-style page views from many visitors
-- (distinct addresses via the trusted X-Forwarded-For), counting the 202 answers.
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
end

function request()
  n = n + 1
  local ip = string.format("10.%d.%d.%d", id % 256, math.floor(n / 256) % 256, n % 256)
  local body = string.format(
    '{"n":"pageview","u":"https://bench.example/page-%d?utm_source=wrk","d":"bench.example","r":"https://www.google.com/","w":1280}',
    n % 500)
  return wrk.format("POST", "/api/event", {
    ["Content-Type"] = "text/plain",
    ["X-Forwarded-For"] = ip,
    ["User-Agent"] = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36",
  }, body)
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
