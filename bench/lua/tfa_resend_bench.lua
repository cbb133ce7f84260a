-- The benchmark's Lua peer of ngx_http_tfa_resend_module: the same job,
-- written as well as lua-nginx-module allows, for comparison only.
--
--   access()         resend shape, pinId, method and body checks; an exact
--                    sliding window per pinId (3 in any 10 minutes) in a
--                    lua_shared_dict; the Authorization header replaced
--   header_filter()  the canonical answer's headers
--   body_filter()    collects the upstream's body, answers the canonical one
--
-- Limits of the platform, as opposed to the module:
--   * the window is read and written with two shared-dict calls (get, then
--     safe_set); they do not yield, so one worker is exact, but two workers
--     may both admit the last slot.  Exact across workers needs resty.lock
--     around both, which costs more again;
--   * headers are gone by the time the body is seen, so an unusable
--     upstream answer keeps its HTTP status (the module answers 502) and
--     only the body says UPSTREAM_ERROR.

local cjson = require "cjson.safe"

local ngx = ngx
local ngx_now = ngx.now
local ngx_req = ngx.req
local ngx_shared = ngx.shared
local ngx_header = ngx.header
local ngx_var = ngx.var
local ngx_arg = ngx.arg

local find, gmatch = string.find, string.gmatch
local match, upper = string.match, string.upper
local concat = table.concat
local tonumber, tostring, type, ceil = tonumber, tostring, type, math.ceil

local json_decode, json_encode = cjson.decode, cjson.encode

local LIMIT = 3                  -- admissions ...
local WINDOW = 600               -- ... in any WINDOW seconds
local MAX_BODY = 65536           -- tfa_resend_max_response_size's default
local AUTH = "Basic " .. ngx.encode_base64("bench:secret")

local dict = ngx_shared.tfa_resend_limit

local _M = {}


-- upstream status -> one of the 11 canonical callStatus values

local exact = {
    BAD_REQUEST = "BAD_REQUEST", PROCESSING = "PROCESSING",
    PROCESSED = "PROCESSED", ANSWERED_MACHINE = "ANSWERED_MACHINE",
    ERROR = "ERROR", ERROR_NOT_ENOUGH_CREDITS = "ERROR_NOT_ENOUGH_CREDITS",
    ERROR_NETWORK_NOT_AVAILABLE = "ERROR_NETWORK_NOT_AVAILABLE",
    ERROR_ROUTE_NOT_AVAILABLE = "ERROR_ROUTE_NOT_AVAILABLE",
    ERROR_USER_BUSY = "ERROR_USER_BUSY", ERROR_NO_ANSWER = "ERROR_NO_ANSWER",
    UNDEFINED = "UNDEFINED",

    PENDING = "PROCESSING", ACCEPTED = "PROCESSING",
    MESSAGE_SENT = "PROCESSING", SENT = "PROCESSING",
    DELIVERED = "PROCESSED", ANSWERED = "PROCESSED",
    ANSWERED_HUMAN = "PROCESSED", COMPLETED = "PROCESSED",
    MACHINE = "ANSWERED_MACHINE", ANSWERED_BY_MACHINE = "ANSWERED_MACHINE",
    VOICEMAIL = "ANSWERED_MACHINE",
    INSUFFICIENT_FUNDS = "ERROR_NOT_ENOUGH_CREDITS",
    NO_ROUTE = "ERROR_ROUTE_NOT_AVAILABLE",
    BUSY = "ERROR_USER_BUSY",
}

local prefixes = {
    { "PENDING_", "PROCESSING" }, { "DELIVERED_", "PROCESSED" },
    { "UNDELIVERABLE", "ERROR" }, { "REJECTED", "ERROR" },
    { "EXPIRED", "ERROR" }, { "FAILED", "ERROR" },
}

local infixes = {
    { "NOT_ENOUGH_CREDITS", "ERROR_NOT_ENOUGH_CREDITS" },
    { "NETWORK_NOT_AVAILABLE", "ERROR_NETWORK_NOT_AVAILABLE" },
    { "NETWORK_NOT_ALLOWED", "ERROR_NETWORK_NOT_AVAILABLE" },
    { "ROUTE_NOT_AVAILABLE", "ERROR_ROUTE_NOT_AVAILABLE" },
    { "USER_BUSY", "ERROR_USER_BUSY" },
    { "NO_ANSWER", "ERROR_NO_ANSWER" },
}

local function map_status(v)
    if type(v) == "table" then
        v = v.name
        if type(v) ~= "string" then
            v = v.groupName
        end
    end

    if type(v) ~= "string" then
        return nil
    end

    v = upper(match(v, "^%s*(.-)%s*$"))

    local c = exact[v]
    if c then
        return c
    end

    for i = 1, #prefixes do
        local p = prefixes[i]
        if find(v, p[1], 1, true) == 1 then
            return p[2]
        end
    end

    for i = 1, #infixes do
        local p = infixes[i]
        if find(v, p[1], 1, true) then
            return p[2]
        end
    end

    return "UNDEFINED"
end


local by_status = {
    [400] = "BAD_REQUEST", [401] = "UNAUTHORIZED", [403] = "FORBIDDEN",
    [404] = "NOT_FOUND", [405] = "METHOD_NOT_ALLOWED",
    [413] = "REQUEST_TOO_LARGE", [429] = "TOO_MANY_REQUESTS",
}

local by_code = {
    E400 = "BAD_REQUEST", E401 = "UNAUTHORIZED", E403 = "FORBIDDEN",
    E404 = "NOT_FOUND", E429 = "TOO_MANY_REQUESTS", E500 = "GENERAL_ERROR",
}

local function str(v)
    if type(v) == "string" then
        return json_encode(v)
    end
    return "null"
end

local function status_message_id(status)
    return by_status[status]
        or (status < 500 and "BAD_REQUEST" or "GENERAL_ERROR")
end

local function error_json(message_id, text)
    return '{"serviceException":{"messageId":' .. str(message_id)
           .. ',"text":' .. str(text) .. '}}'
end

local function request_error(doc, status, body)
    if type(doc) == "table" then
        local re = doc.requestError
        local se = type(re) == "table" and re.serviceException
        if type(se) == "table" then
            local out = '{"serviceException":{"messageId":'
                        .. str(se.messageId) .. ',"text":' .. str(se.text)
            local ve = se.validationErrors
            if type(ve) == "table" then
                out = out .. ',"validationErrors":' .. json_encode(ve)
            end
            return out .. '}}'
        end

        if type(doc.errorCode) == "string" then
            return error_json(by_code[doc.errorCode] or doc.errorCode,
                              doc.description)
        end

        local text = doc.error
        if type(text) ~= "string" then
            text = doc.message
        end
        if type(text) == "string" then
            return error_json(status_message_id(status), text)
        end

    elseif #body > 0 and #body <= 256 then
        return error_json(status_message_id(status),
                          (body:gsub("%c", "")))
    end

    return error_json(status_message_id(status), nil)
end


-- the canonical body for an upstream answer

local function canonical(body, status, pin)
    local doc = json_decode(body)

    if type(doc) ~= "table" and (status < 400 or #body > 256) then
        return '{"pinId":' .. str(pin) .. ',"to":null,"callStatus":"ERROR"'
               .. ',"requestError":' .. error_json("UPSTREAM_ERROR",
                                          "Unusable answer from upstream")
               .. '}'
    end

    local call
    if type(doc) == "table" then
        local cs = doc.callStatus
        if cs == nil then
            cs = doc.status
        end
        call = map_status(cs)
        if type(doc.pinId) == "string" then
            pin = doc.pinId
        end
    end

    if status < 400 then
        return '{"pinId":' .. str(pin) .. ',"to":' .. str(doc.to)
               .. ',"callStatus":"' .. (call or "UNDEFINED") .. '"}'
    end

    if not call then
        call = status < 500 and "BAD_REQUEST" or "ERROR"
    end

    return '{"pinId":' .. str(pin) .. ',"to":'
           .. str(type(doc) == "table" and doc.to or nil)
           .. ',"callStatus":"' .. call .. '","requestError":'
           .. request_error(doc, status, body) .. '}'
end


-- the module's own refusals

local function refuse(ctx, status, pin, message_id, text)
    ctx.own = true
    ngx.status = status
    ngx_header.content_type = "application/json"
    ngx.print('{"pinId":', str(pin),
              ',"to":null,"callStatus":"BAD_REQUEST","requestError":',
              error_json(message_id, text), '}')
    return ngx.exit(status)
end


local function check_body(ctx, pin)
    local ct = ngx_var.http_content_type
    if not ct or not find(ct, "^%s*[Aa][Pp][Pp][Ll][Ii][Cc][Aa][Tt][Ii][Oo][Nn]/[Jj][Ss][Oo][Nn]") then
        return refuse(ctx, 415, pin, "UNSUPPORTED_MEDIA_TYPE",
                      "The body must be application/json")
    end

    ngx_req.read_body()
    local body = ngx_req.get_body_data()
    if not body then
        return refuse(ctx, 400, pin, "BAD_REQUEST", "Body too large")
    end

    local doc = json_decode(body)
    if type(doc) ~= "table" or body:find("^%s*%[") then
        return refuse(ctx, 400, pin, "BAD_REQUEST", "Body is not an object")
    end

    local ph = doc.placeholders
    if ph ~= nil then
        if type(ph) ~= "table" then
            return refuse(ctx, 400, pin, "BAD_REQUEST", "Bad placeholders")
        end
        for _, v in pairs(ph) do
            if type(v) ~= "string" then
                return refuse(ctx, 400, pin, "BAD_REQUEST",
                              "Bad placeholders")
            end
        end
    end

    if doc.trackDelivery ~= nil and type(doc.trackDelivery) ~= "boolean" then
        return refuse(ctx, 400, pin, "BAD_REQUEST", "Bad trackDelivery")
    end
end


function _M.access()
    local pin = match(ngx_var.uri, "^/2fa/[12]/pin/([^/]*)/resend/voice$")
    if not pin then
        return                          -- not a resend: proxied as it is
    end

    local ctx = ngx.ctx

    if #pin ~= 32 or find(pin, "%X") then
        return refuse(ctx, 400, nil, "BAD_REQUEST", "Invalid pinId")
    end

    ctx.pin = pin

    if ngx_req.get_method() ~= "POST" then
        ngx_header["Allow"] = "POST"
        return refuse(ctx, 405, pin, "METHOD_NOT_ALLOWED",
                      "Only POST is allowed")
    end

    local len = ngx_var.http_content_length
    if (len and len ~= "0") or ngx_var.http_transfer_encoding then
        check_body(ctx, pin)
    end

    -- the exact sliding window: up to LIMIT admission times per pinId

    local now = ngx_now()
    local horizon = now - WINDOW
    local v = dict:get(pin)
    local n, oldest, kept = 0, nil, nil

    if v then
        for t in gmatch(tostring(v), "[^ ]+") do
            t = tonumber(t)
            if t > horizon then
                n = n + 1
                if not oldest then
                    oldest = t
                    kept = tostring(t)
                else
                    kept = kept .. " " .. t
                end
            end
        end
    end

    if n >= LIMIT then
        ctx.remaining = 0
        ngx_header["Retry-After"] = ceil(oldest + WINDOW - now)
        ngx_header["X-RateLimit-Limit"] = LIMIT
        ngx_header["X-RateLimit-Remaining"] = 0
        return refuse(ctx, 429, pin, "TOO_MANY_REQUESTS",
                      "Too many resends of this pinId")
    end

    -- safe_set: a full dict refuses, never evicts another pinId's history
    local ok = dict:safe_set(pin, kept and (kept .. " " .. now) or now,
                             WINDOW)
    if not ok then
        return refuse(ctx, 503, pin, "SERVICE_UNAVAILABLE",
                      "Limiter zone is full")
    end

    ctx.remaining = LIMIT - n - 1

    ngx_req.set_header("Authorization", AUTH)
end


function _M.header_filter()
    local ctx = ngx.ctx
    local remaining = ctx.remaining
    if remaining == nil then
        return
    end

    ngx_header["X-RateLimit-Limit"] = LIMIT
    ngx_header["X-RateLimit-Remaining"] = remaining

    if ctx.own then
        return
    end

    ngx_header.content_length = nil
    ngx_header.content_type = "application/json"
    ngx_header.content_encoding = nil
    ngx_header.etag = nil
end


function _M.body_filter()
    local ctx = ngx.ctx
    if ctx.remaining == nil or ctx.own then
        return
    end

    local chunk, eof = ngx_arg[1], ngx_arg[2]

    if not eof then
        if chunk ~= "" then
            local buf = ctx.buf
            if buf then
                buf[#buf + 1] = chunk
            else
                ctx.buf = { chunk }
            end
            ctx.size = (ctx.size or 0) + #chunk
        end
        ngx_arg[1] = nil
        return
    end

    local body = chunk
    if ctx.buf then
        ctx.buf[#ctx.buf + 1] = chunk
        body = concat(ctx.buf)
    end

    if #body > MAX_BODY then
        body = ""
    end

    ngx_arg[1] = canonical(body, ngx.status, ctx.pin)
end


return _M
