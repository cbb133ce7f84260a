-- wrk script of the benchmark kit: every request is a resend over voice for
-- a fresh random 32-hex pinId, so that each one is admitted by the limiter
-- and leaves an entry behind (the worst case for the zone).
--
--   wrk ... -s bench/wrk/resend.lua URL -- NONCE [QUOTA]
--
-- NONCE seeds the generator (each thread adds its number), so that two runs
-- never send the same pinIds.  QUOTA, when given, stops each thread after
-- that many responses: the zone filler.  done() prints one machine-readable
-- line for bench/run.sh.

local fmt, random = string.format, math.random

local head = "POST /2fa/2/pin/"
local tail
local quota, served = 0, 0

local threads = 0

function setup(thread)
    threads = threads + 1
    thread:set("tid", threads)
end


function init(args)
    local nonce = tonumber(args[1]) or os.time()
    quota = tonumber(args[2]) or 0

    math.randomseed(nonce * 64 + (tid or 0))
    for _ = 1, 16 do
        random()
    end

    tail = "/resend/voice HTTP/1.1\r\nHost: " .. wrk.host .. ":" .. wrk.port
           .. "\r\nContent-Length: 0\r\n\r\n"

    if quota > 0 then
        response = function()
            served = served + 1
            if served >= quota then
                wrk.thread:stop()
            end
        end
    end
end


function request()
    return head .. fmt("%08X%08X%08X%08X",
                       random(0, 0xFFFFFFFF), random(0, 0xFFFFFFFF),
                       random(0, 0xFFFFFFFF), random(0, 0xFFFFFFFF))
           .. tail
end


function done(summary, latency, requests)
    local e = summary.errors
    io.write(fmt("WRK requests=%d duration_us=%d connect=%d read=%d"
                 .. " write=%d status=%d timeout=%d p50_us=%d p99_us=%d"
                 .. " max_us=%d\n",
                 summary.requests, summary.duration, e.connect, e.read,
                 e.write, e.status, e.timeout, latency:percentile(50),
                 latency:percentile(99), latency.max))
end
