-- wrk script: POST the body in $BENCH_BODY (content type $BENCH_TYPE, default JSON)
-- with $BENCH_AUTH as bearer token.
local f = assert(io.open(os.getenv("BENCH_BODY"), "rb"))
wrk.method = "POST"
wrk.body = f:read("*a")
f:close()
wrk.headers["Content-Type"] = os.getenv("BENCH_TYPE") or "application/json"
local auth = os.getenv("BENCH_AUTH")
if auth and auth ~= "" then
    wrk.headers["Authorization"] = "Bearer " .. auth
end

local failures = 0
response = function(status, headers, body)
    if status ~= 201 and status ~= 200 then
        failures = failures + 1
    end
end

done = function(summary, latency, requests)
    io.write(string.format("non-2xx responses: %d\n", summary.errors.status or 0))
end
