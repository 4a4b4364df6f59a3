-- wrk script for bench/http-bench.sh's /keyed run: each request carries one of 64 API keys in X-Api-Key, in turn, so the
-- server reads and hashes a header of a realistic length (42 characters) on every request.
local keys = {}
for i = 1, 64 do
  keys[i] = string.format("sk_live_%08d_%s", i, string.rep(string.char(97 + i % 26), 24))
end
local n = 0
request = function()
  n = n % 64 + 1
  return wrk.format(nil, nil, { ["X-Api-Key"] = keys[n] })
end
