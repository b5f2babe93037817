-- wrk script for benches/webhook.sh: POST a small patch envelope with a unique id each time.
-- The one argument after `--` is an extra header line ("Name: value"), e.g. the bearer token.

local threads = 0

function setup(thread)
    threads = threads + 1
    thread:set("tid", threads)
end

function init(args)
    counter = 0
    run = tostring(os.time())
    headers = { ["Content-Type"] = "application/json" }
    if args[1] then
        local name, value = args[1]:match("^([^:]+):%s*(.*)$")
        headers[name] = value
    end
end

function request()
    counter = counter + 1
    local id = string.format("bench-%s-%d-%d", run, tid, counter)
    local body = '{"id":"' .. id .. '","description":"benchmark","operations":[{"op":"write","path":"bench/'
        .. id .. '.txt","contents":"hello\\n"}]}'
    return wrk.format("POST", nil, headers, body)
end
