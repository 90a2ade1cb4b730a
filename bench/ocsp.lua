-- wrk script: OCSP requests from $BENCH_REQUESTS, in turn.
-- BENCH_MODE=post: each line is a DER request in hex, POSTed to the URL's path.
-- BENCH_MODE=get:  each line is a URL-encoded base64 request appended to the path.
local mode = os.getenv("BENCH_MODE") or "post"
local lines = {}
for line in io.lines(os.getenv("BENCH_REQUESTS")) do
    if mode == "post" then
        lines[#lines + 1] = line:gsub("..", function(h) return string.char(tonumber(h, 16)) end)
    else
        lines[#lines + 1] = line
    end
end
local i = 0

-- BENCH_DELAY_MS > 0: each connection waits that long before its next request,
-- a fixed offered load instead of as many requests as the server can take.
local pause = tonumber(os.getenv("BENCH_DELAY_MS") or "0")
if pause > 0 then
    delay = function()
        return pause
    end
end

request = function()
    i = i % #lines + 1
    if mode == "post" then
        return wrk.format("POST", wrk.path, {["Content-Type"] = "application/ocsp-request"},
                          lines[i])
    end
    return wrk.format("GET", wrk.path .. "/" .. lines[i])
end

local bad = 0
response = function(status, headers, body)
    if status ~= 200 then
        bad = bad + 1
    end
end

done = function(summary, latency, requests)
    io.write(string.format("non-200 responses: %d\n", summary.errors.status or 0))
end
