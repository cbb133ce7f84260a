
/*
 * Copyright (C) ngx_http_tfa_resend_module authors
 *
 * The Redis store's Lua scripts: the admission script and the refund
 * script, what every call of them carries (prepared when the
 * configuration is read), and the take-back of one admission.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_sha1.h>

#include "ngx_http_tfa_resend_redis_conn.h"
#include "ngx_http_tfa_resend_redis_cluster.h"
#include "ngx_http_tfa_resend_redis_script.h"


/*
 * KEYS: the pinIds' keys, one per admission asked; ARGV: N, the window in
 * ms, then each admission's nonce.  The resends a worker asks in one pass
 * of its event loop go in one call: Redis spends some 5us entering any
 * script, and TIME is asked once.  One integer answers each (one reply
 * object to read, not five), in an array in the order of KEYS:
 *
 *   >= 0   admitted at time T (ms, Redis's clock) as member "T-nonce",
 *          R admissions left: T * 64 + R (N <= 64; exact in a Lua number
 *          until the year 50000)
 *   <  0   rejected: -(ms until the oldest admission leaves the window)
 *
 * The same pinId twice in a call is two admissions one after the other,
 * the second seeing the first.  A new pinId (no key yet) has nothing to
 * trim: each redis.call() costs Redis some 2us.  A number passed to Redis
 * is printed with "%.14g" at every call, which cost a quarter of the
 * script's instructions: the stamp and the window's edge are printed once
 * a script call, and the window goes as it came.
 *
 * Times are Redis's: TIME in a script that writes needs effects
 * replication, the default from Redis 5 and the only kind from 7, asked
 * for by redis.replicate_commands() on 3.2 and 4.
 */

static const ngx_str_t  ngx_http_tfa_resend_redis_script = ngx_string(
    "if redis.replicate_commands then redis.replicate_commands() end\n"
    "local limit, window = tonumber(ARGV[1]), tonumber(ARGV[2])\n"
    "local t = redis.call('TIME')\n"
    "local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)\n"
    "local stamp, edge = tostring(now), nil\n"
    "local out = {}\n"
    "for i, key in ipairs(KEYS) do\n"
    "  local n = redis.call('ZCARD', key)\n"
    "  if n > 0 then\n"
    "    edge = edge or tostring(now - window)\n"
    "    n = n - redis.call('ZREMRANGEBYSCORE', key, '-inf', edge)\n"
    "  end\n"
    "  if n >= limit then\n"
    "    local first = redis.call('ZRANGE', key, 0, 0, 'WITHSCORES')\n"
    "    local wait = tonumber(first[2]) + window - now\n"
    "    if wait > window then wait = window end\n"
    "    if wait < 1 then wait = 1 end\n"
    "    out[i] = -wait\n"
    "  else\n"
    "    redis.call('ZADD', key, stamp, stamp .. '-' .. ARGV[2 + i])\n"
    "    redis.call('PEXPIRE', key, ARGV[2])\n"
    "    out[i] = now * 64 + limit - n - 1\n"
    "  end\n"
    "end\n"
    "return out\n");


/*
 * Takes back one admission: KEYS[1] the pinId's key, ARGV[1] its member,
 * ARGV[2] the window in ms.  Nothing is kept for what was taken back: the
 * admissions that left the window go too, and a key with none left is
 * deleted, so resends of pinIds the upstream does not know leave nothing
 * behind; one with some left expires one window after its newest.  Sent
 * with EVAL, and rarely: Redis keeps the compiled script all the same.
 */

static const ngx_str_t  ngx_http_tfa_resend_redis_refund_script = ngx_string(
    "if redis.replicate_commands then redis.replicate_commands() end\n"
    "local key, window = KEYS[1], tonumber(ARGV[2])\n"
    "if redis.call('ZREM', key, ARGV[1]) == 0 then return 0 end\n"
    "local t = redis.call('TIME')\n"
    "local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)\n"
    "redis.call('ZREMRANGEBYSCORE', key, '-inf', tostring(now - window))\n"
    "local last = redis.call('ZRANGE', key, -1, -1, 'WITHSCORES')\n"
    "if #last == 0 then\n"
    "  redis.call('DEL', key)\n"
    "else\n"
    "  redis.call('PEXPIRE', key, tostring(tonumber(last[2]) + window - now))\n"
    "end\n"
    "return 1\n");


/*
 * Takes back one admission, member "time-nonce", by the refund script;
 * nothing waits for the answer
 */

void
ngx_http_tfa_resend_redis_take_back(ngx_http_tfa_resend_redis_t *rd,
    u_char *key, size_t len, uint64_t stamp, uint64_t nonce)
{
    u_char       member[NGX_INT64_LEN + 1 + 16];
    u_char       window[NGX_INT64_LEN];
    size_t       argvlen[6];
    const char  *argv[6];

    if (rd->conn.link == NULL && rd->cluster == NULL) {
        return;
    }

    argv[0] = "EVAL";
    argvlen[0] = sizeof("EVAL") - 1;
    argv[1] = (const char *) ngx_http_tfa_resend_redis_refund_script.data;
    argvlen[1] = ngx_http_tfa_resend_redis_refund_script.len;
    argv[2] = "1";
    argvlen[2] = 1;
    argv[3] = (const char *) key;
    argvlen[3] = len;
    argv[4] = (const char *) member;
    argvlen[4] = ngx_sprintf(member, "%uL-%016xL", stamp, nonce) - member;
    argv[5] = (const char *) window;
    argvlen[5] = ngx_sprintf(window, "%M", rd->store->window) - window;

    if ((rd->cluster
         ? ngx_http_tfa_resend_redis_cluster_command_argv(rd->cluster, 6, argv,
                                                          argvlen, NULL, NULL)
         : ngx_http_tfa_resend_redis_command_argv(rd, 6, argv, argvlen, NULL,
                                                  NULL))
        != NGX_OK)
    {
        ngx_log_error(NGX_LOG_INFO, ngx_cycle->log, 0,
                      "tfa_resend_limit_zone \"%V\": could not take back an "
                      "admission of \"%*s\" from redis at %V",
                      &rd->store->name, len, key, &rd->addr);
    }
}


/*
 * What every script call carries and was known when the configuration was
 * read: the keys' prefix "tfa:ZONE:", the script and its SHA-1, N and the
 * window as the script's arguments
 */

ngx_int_t
ngx_http_tfa_resend_redis_prepare(ngx_conf_t *cf,
    ngx_http_tfa_resend_redis_t *rd)
{
    u_char      *p, hash[20], digits[NGX_INT_T_LEN];
    size_t       n;
    ngx_sha1_t   sha1;

    rd->prefix.len = sizeof("tfa::") - 1 + rd->store->name.len;
    rd->prefix.data = ngx_pnalloc(cf->pool, rd->prefix.len);
    if (rd->prefix.data == NULL) {
        return NGX_ERROR;
    }

    ngx_sprintf(rd->prefix.data, "tfa:%V:", &rd->store->name);

    ngx_sha1_init(&sha1);
    ngx_sha1_update(&sha1, ngx_http_tfa_resend_redis_script.data,
                    ngx_http_tfa_resend_redis_script.len);
    ngx_sha1_final(hash, &sha1);

    ngx_hex_dump(rd->sha, hash, sizeof(hash));

    /* the script's N and window, as _send() writes them into each call */

    p = ngx_pnalloc(cf->pool, 32 + 2 * NGX_INT_T_LEN);
    if (p == NULL) {
        return NGX_ERROR;
    }

    rd->argv.data = p;

    n = ngx_sprintf(digits, "%ui", rd->store->limit) - digits;
    p = ngx_sprintf(p, "$%uz\r\n%*s\r\n", n, n, digits);

    n = ngx_sprintf(digits, "%M", rd->store->window) - digits;
    p = ngx_sprintf(p, "$%uz\r\n%*s\r\n", n, n, digits);

    rd->argv.len = p - rd->argv.data;

    rd->script = ngx_http_tfa_resend_redis_script;

    return NGX_OK;
}
