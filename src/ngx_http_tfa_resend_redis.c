
/*
 * Copyright (C) ngx_http_tfa_resend_module authors
 *
 * The Redis store.
 *
 * The admissions of a pinId are one sorted set in Redis, "tfa:ZONE:PINID":
 * a member per admission, scored by the Redis server's clock in
 * milliseconds, the key expiring one window after its newest admission.
 * One Lua script makes the whole decision on the Redis server, atomically:
 * it drops the admissions that left the window, counts the rest, and adds
 * one if there are fewer than N.  So two gateways can never both admit the
 * N+1th resend, and since the time is the Redis server's (TIME), clock
 * skew between gateways cannot split a window.  The script is loaded once
 * per connection (SCRIPT LOAD) and called by its SHA-1 (EVALSHA; EVAL when
 * Redis answers NOSCRIPT, after a SCRIPT FLUSH or a failover).  The
 * resends a worker asks in one pass of its event loop wait in a queue and
 * go in one call when the pass ends (a posted event), up to 64 a call:
 * most of what a call costs Redis is entering the script at all.
 *
 * Each worker keeps one connection per zone, through hiredis's
 * asynchronous API on nginx's event loop (ngx_http_tfa_resend_hiredis.c):
 * admit answers NGX_AGAIN and the reply resumes the request.  No call
 * blocks: the address is resolved and the password file read when the
 * configuration is read, a lost connection is made again by the next
 * resend that needs it, after a backoff if it failed.
 *
 * When Redis cannot answer in time (down, refusing, slower than
 * redis_timeout, wrong password) on_store_error decides: reject (503),
 * allow, or local: this server's own shared-memory window, in the zone's
 * shared memory.  Every admission this server makes through Redis is
 * recorded there too, so a server that falls back goes on from what it
 * has admitted itself rather than from an empty window.
 *
 * A command that timed out is still answered later: if that late answer
 * is an admission and the resend was not let through meanwhile, it is
 * taken back (ZREM), so a slow Redis never uses up quota for calls that
 * were not placed.  So too when the request went away while it waited.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_event.h>
#include <ngx_sha1.h>

#include "ngx_http_tfa_resend_module.h"
#include "ngx_http_tfa_resend_shm.h"
#include "ngx_http_tfa_resend_redis.h"
#include "ngx_http_tfa_resend_hiredis.h"


#define NGX_HTTP_TFA_RESEND_REDIS_REJECT        0
#define NGX_HTTP_TFA_RESEND_REDIS_LOCAL         1
#define NGX_HTTP_TFA_RESEND_REDIS_ALLOW         2

#define NGX_HTTP_TFA_RESEND_REDIS_DOWN          0
#define NGX_HTTP_TFA_RESEND_REDIS_CONNECTING    1
#define NGX_HTTP_TFA_RESEND_REDIS_READY         2

/* reconnecting after a failure: 100ms, 200ms ... 2s */
#define NGX_HTTP_TFA_RESEND_REDIS_BACKOFF_MIN   100
#define NGX_HTTP_TFA_RESEND_REDIS_BACKOFF_MAX   2000

/* a connection silent for this long after a timeout is made again */
#define NGX_HTTP_TFA_RESEND_REDIS_STALL_MIN     1000

#define NGX_HTTP_TFA_RESEND_REDIS_PASSWORD_MAX  512

/* admissions asked in one script call at the most */
#define NGX_HTTP_TFA_RESEND_REDIS_BATCH         64


/* in the zone's shared memory, beside the local window */

typedef struct {
    ngx_atomic_t                        log_time;  /* s: last error logged */
    ngx_atomic_t                        failed;    /* resends decided by
                                                      on_store_error since
                                                      Redis last answered */
} ngx_http_tfa_resend_redis_shctx_t;


/* one worker's connection for one zone */

typedef struct {
    redisAsyncContext                  *ac;
    ngx_uint_t                          state;
    ngx_msec_t                          retry_at;  /* DOWN: connect again */
    ngx_msec_t                          backoff;
    ngx_msec_t                          stalled;   /* a command timed out
                                                      then, and nothing was
                                                      answered since; or 0 */
    ngx_uint_t                          pending;   /* admissions asked */
    ngx_queue_t                         waiting;   /* ... not sent yet */
    ngx_event_t                         flush;     /* sends them, posted */
    uint64_t                            nonce;     /* the next member's */
    ngx_pid_t                           pid;       /* whose nonces */
    unsigned                            broken:1;  /* lost with commands */
    unsigned                            closing:1; /* the worker exits */
    u_char                              why[256];  /* the last failure */
} ngx_http_tfa_resend_redis_conn_t;


typedef struct {
    ngx_http_tfa_resend_store_t        *store;
    ngx_str_t                           addr;      /* "127.0.0.1:6379" */
    u_char                             *ip;        /* for hiredis */
    int                                 port;
    ngx_uint_t                          db;
    ngx_str_t                           db_arg;
    ngx_str_t                           password;  /* empty: no AUTH */
    ngx_msec_t                          timeout;
    ngx_uint_t                          on_error;
    ngx_str_t                           prefix;    /* "tfa:ZONE:" */
    ngx_str_t                           script;    /* the Lua script */
    u_char                              sha[40];
    ngx_str_t                           argv;      /* N and the window,
                                                      as the script's
                                                      arguments */

    ngx_http_tfa_resend_store_t         local;     /* the fallback window */
    ngx_http_tfa_resend_redis_shctx_t  *sh;

    ngx_http_tfa_resend_redis_conn_t    conn;      /* this process's */
} ngx_http_tfa_resend_redis_t;


/* one admission asked of Redis, until its answer is in */

typedef struct {
    ngx_http_tfa_resend_redis_t        *rd;
    ngx_http_tfa_resend_store_op_t     *op;        /* NULL: nobody waits */
    ngx_pool_cleanup_t                 *cln;       /* on the op's pool */
    ngx_event_t                         timer;     /* redis_timeout */
    ngx_queue_t                         queue;     /* in conn->waiting */
    uint64_t                            nonce;
    unsigned                            passed:1;  /* let through without
                                                      Redis's answer */
    size_t                              key_len;
    u_char                              key[1];    /* "tfa:ZONE:PINID" */
} ngx_http_tfa_resend_redis_rec_t;


/* the admissions of one script call, until its answer is in */

typedef struct {
    ngx_http_tfa_resend_redis_t        *rd;
    ngx_uint_t                          n;
    unsigned                            eval:1;    /* sent as EVAL */
    ngx_http_tfa_resend_redis_rec_t    *rec[NGX_HTTP_TFA_RESEND_REDIS_BATCH];
} ngx_http_tfa_resend_redis_batch_t;


static ngx_int_t ngx_http_tfa_resend_redis_admit(
    ngx_http_tfa_resend_store_t *store, ngx_http_tfa_resend_store_op_t *op);
static ngx_int_t ngx_http_tfa_resend_redis_refund(
    ngx_http_tfa_resend_store_t *store, ngx_http_tfa_resend_store_op_t *op);
static ngx_int_t ngx_http_tfa_resend_redis_inspect(
    ngx_http_tfa_resend_store_t *store, ngx_http_tfa_resend_store_op_t *op);

static ngx_int_t ngx_http_tfa_resend_redis_ready(
    ngx_http_tfa_resend_redis_t *rd);
static ngx_int_t ngx_http_tfa_resend_redis_connect(
    ngx_http_tfa_resend_redis_t *rd);
static void ngx_http_tfa_resend_redis_fail(ngx_http_tfa_resend_redis_t *rd);
static void ngx_http_tfa_resend_redis_gone(redisAsyncContext *ac,
    void *data);
static void ngx_http_tfa_resend_redis_close(ngx_http_tfa_resend_redis_t *rd);
static void ngx_http_tfa_resend_redis_pool_cleanup(void *data);
static void ngx_http_tfa_resend_redis_setup_reply(redisAsyncContext *ac,
    void *r, void *privdata);
static void ngx_http_tfa_resend_redis_load_reply(redisAsyncContext *ac,
    void *r, void *privdata);

static void ngx_http_tfa_resend_redis_flush(ngx_event_t *ev);
static ngx_int_t ngx_http_tfa_resend_redis_send(
    ngx_http_tfa_resend_redis_t *rd, ngx_http_tfa_resend_redis_batch_t *b);
static void ngx_http_tfa_resend_redis_reply(redisAsyncContext *ac, void *r,
    void *privdata);
static void ngx_http_tfa_resend_redis_decide(ngx_http_tfa_resend_redis_t *rd,
    ngx_http_tfa_resend_redis_rec_t *rec, redisReply *reply,
    redisAsyncContext *ac);
static ngx_int_t ngx_http_tfa_resend_redis_parse(
    ngx_http_tfa_resend_redis_t *rd, redisReply *reply, uint64_t *x,
    ngx_uint_t *remaining);
static void ngx_http_tfa_resend_redis_take_back(
    ngx_http_tfa_resend_redis_t *rd, u_char *key, size_t len,
    uint64_t stamp, uint64_t nonce);
static void ngx_http_tfa_resend_redis_timeout(ngx_event_t *ev);
static void ngx_http_tfa_resend_redis_op_cleanup(void *data);
static void ngx_http_tfa_resend_redis_free_rec(
    ngx_http_tfa_resend_redis_rec_t *rec);
static void ngx_http_tfa_resend_redis_answered(
    ngx_http_tfa_resend_redis_t *rd);
static ngx_int_t ngx_http_tfa_resend_redis_fallback(
    ngx_http_tfa_resend_redis_t *rd, ngx_http_tfa_resend_store_op_t *op);
static ngx_uint_t ngx_http_tfa_resend_redis_may_log(
    ngx_http_tfa_resend_redis_t *rd);

static ngx_int_t ngx_http_tfa_resend_redis_prepare(ngx_conf_t *cf,
    ngx_http_tfa_resend_redis_t *rd);
static ngx_int_t ngx_http_tfa_resend_redis_init_zone(ngx_shm_zone_t *shm_zone,
    void *data);
static ngx_int_t ngx_http_tfa_resend_redis_parse_url(ngx_conf_t *cf,
    ngx_http_tfa_resend_redis_t *rd, ngx_str_t *value);
static ngx_int_t ngx_http_tfa_resend_redis_read_password(ngx_conf_t *cf,
    ngx_http_tfa_resend_redis_t *rd, ngx_str_t *value);


const ngx_http_tfa_resend_store_type_t  ngx_http_tfa_resend_redis_store = {
    ngx_string("redis"),
    ngx_http_tfa_resend_redis_admit,
    ngx_http_tfa_resend_redis_refund,
    ngx_http_tfa_resend_redis_inspect
};


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

static char  ngx_http_tfa_resend_redis_script[] =
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
    "return out\n";


static ngx_str_t  ngx_http_tfa_resend_redis_modes[] = {
    ngx_string("reject"),
    ngx_string("local"),
    ngx_string("allow"),
    ngx_null_string
};


static const char  *ngx_http_tfa_resend_redis_effects[] = {
    "resends are refused with 503",
    "this server's own window decides",
    "resends are let through, unlimited"
};


/* ------------------------------------------------------------ the store */


static ngx_int_t
ngx_http_tfa_resend_redis_admit(ngx_http_tfa_resend_store_t *store,
    ngx_http_tfa_resend_store_op_t *op)
{
    size_t                             len;
    u_char                            *p;
    ngx_pool_cleanup_t                *cln;
    ngx_http_tfa_resend_redis_t       *rd;
    ngx_http_tfa_resend_redis_rec_t   *rec;
    ngx_http_tfa_resend_redis_conn_t  *conn;

    rd = store->data;
    conn = &rd->conn;

    op->stamp = 0;
    op->serial = 0;
    op->local = 0;
    op->retry_after = 0;

    if (ngx_http_tfa_resend_redis_ready(rd) != NGX_OK) {
        return ngx_http_tfa_resend_redis_fallback(rd, op);
    }

    len = rd->prefix.len + op->key.len;

    rec = ngx_alloc(offsetof(ngx_http_tfa_resend_redis_rec_t, key) + len,
                    op->log);
    if (rec == NULL) {
        return NGX_ERROR;
    }

    ngx_memzero(rec, offsetof(ngx_http_tfa_resend_redis_rec_t, key));

    p = ngx_cpymem(rec->key, rd->prefix.data, rd->prefix.len);
    ngx_memcpy(p, op->key.data, op->key.len);

    rec->key_len = len;
    rec->rd = rd;
    rec->nonce = conn->nonce++;

    /* the request may go before the answer comes: the answer is dropped */

    cln = ngx_pool_cleanup_add(op->pool, 0);
    if (cln == NULL) {
        ngx_free(rec);
        return NGX_ERROR;
    }

    /* sent with the others of this pass of the event loop, after it */

    ngx_queue_insert_tail(&conn->waiting, &rec->queue);

    if (!conn->flush.posted) {
        conn->flush.handler = ngx_http_tfa_resend_redis_flush;
        conn->flush.data = rd;
        conn->flush.log = ngx_cycle->log;

        ngx_post_event(&conn->flush, &ngx_posted_events);
    }

    cln->handler = ngx_http_tfa_resend_redis_op_cleanup;
    cln->data = rec;

    rec->op = op;
    rec->cln = cln;

    rec->timer.handler = ngx_http_tfa_resend_redis_timeout;
    rec->timer.data = rec;
    rec->timer.log = ngx_cycle->log;

    ngx_add_timer(&rec->timer, rd->timeout);

    conn->pending++;

    ngx_log_debug3(NGX_LOG_DEBUG_HTTP, op->log, 0,
                   "tfa_resend_limit admit \"%V\" in \"%V\": asked redis, "
                   "%ui pending", &op->key, &store->name, conn->pending);

    return NGX_AGAIN;
}


static ngx_int_t
ngx_http_tfa_resend_redis_refund(ngx_http_tfa_resend_store_t *store,
    ngx_http_tfa_resend_store_op_t *op)
{
    u_char                          *key, *p;
    size_t                           len;
    ngx_http_tfa_resend_redis_t     *rd;
    ngx_http_tfa_resend_store_op_t   lop;

    rd = store->data;

    op->rc = NGX_OK;

    if (op->local) {
        ngx_memzero(&lop, sizeof(ngx_http_tfa_resend_store_op_t));

        lop.key = op->key;
        lop.now = ngx_current_msec;
        lop.log = op->log;
        lop.stamp = op->local;

        (void) ngx_http_tfa_resend_shm_store.refund(&rd->local, &lop);
    }

    if (op->serial == 0) {
        return NGX_OK;
    }

    if (rd->conn.ac == NULL) {
        ngx_log_error(NGX_LOG_INFO, op->log, 0,
                      "tfa_resend_limit_zone \"%V\": redis at %V is not "
                      "connected: the refund of pinId \"%V\" is dropped, "
                      "the admission leaves the window on its own",
                      &store->name, &rd->addr, &op->key);

        op->rc = NGX_ERROR;
        return NGX_ERROR;
    }

    len = rd->prefix.len + op->key.len;

    key = ngx_alloc(len, op->log);
    if (key == NULL) {
        op->rc = NGX_ERROR;
        return NGX_ERROR;
    }

    p = ngx_cpymem(key, rd->prefix.data, rd->prefix.len);
    ngx_memcpy(p, op->key.data, op->key.len);

    ngx_http_tfa_resend_redis_take_back(rd, key, len, op->stamp, op->serial);

    ngx_free(key);

    return NGX_OK;
}


/*
 * The count lives in Redis: without asking it there is nothing exact to
 * tell, and a resend refused before the limiter (400, 405 ...) is not worth
 * a round trip.  The local window knows only this server's admissions.
 */

static ngx_int_t
ngx_http_tfa_resend_redis_inspect(ngx_http_tfa_resend_store_t *store,
    ngx_http_tfa_resend_store_op_t *op)
{
    return NGX_DECLINED;
}


/* ------------------------------------------------------- the connection */


/*
 * NGX_OK: a command can be sent now (connected, or connecting: hiredis
 * queues it behind the handshake); else conn->why says why not.
 */

static ngx_int_t
ngx_http_tfa_resend_redis_ready(ngx_http_tfa_resend_redis_t *rd)
{
    ngx_msec_t                         cutoff;
    ngx_http_tfa_resend_redis_conn_t  *conn;

    conn = &rd->conn;

    if (conn->closing) {
        ngx_sprintf(conn->why, "is closed: the worker is exiting%Z");
        return NGX_DECLINED;
    }

    if (conn->state == NGX_HTTP_TFA_RESEND_REDIS_DOWN) {

        if ((ngx_msec_int_t) (ngx_current_msec - conn->retry_at) < 0) {
            /* conn->why still tells the last failure */
            return NGX_DECLINED;
        }

        return ngx_http_tfa_resend_redis_connect(rd);
    }

    /* connected, or connecting: hiredis queues behind the handshake */

    if (!conn->stalled) {
        return NGX_OK;
    }

    /*
     * A command timed out and nothing was answered since: the next ones
     * would only wait as long.  Until Redis answers again (the late
     * answers come on this connection, and are taken back if need be)
     * resends do not wait for it; after a while, the connection is made
     * again.
     */

    cutoff = ngx_max(10 * rd->timeout, NGX_HTTP_TFA_RESEND_REDIS_STALL_MIN);

    if (ngx_current_msec - conn->stalled < cutoff) {
        ngx_sprintf(conn->why, "has not answered for %M ms "
                    "(redis_timeout=%Mms)%Z",
                    ngx_current_msec - conn->stalled, rd->timeout);
        return NGX_DECLINED;
    }

    ngx_sprintf(conn->why, "has not answered for %M ms: connecting "
                "again%Z", ngx_current_msec - conn->stalled);

    ngx_http_tfa_resend_redis_fail(rd);

    return NGX_DECLINED;
}


static ngx_int_t
ngx_http_tfa_resend_redis_connect(ngx_http_tfa_resend_redis_t *rd)
{
    int                                rc;
    redisAsyncContext                 *ac;
    ngx_http_tfa_resend_redis_conn_t  *conn;

    conn = &rd->conn;

    ngx_log_debug1(NGX_LOG_DEBUG_HTTP, ngx_cycle->log, 0,
                   "tfa_resend redis: connecting to %V", &rd->addr);

    if (conn->pid != ngx_pid) {

        /*
         * A member is "time-nonce": random high bits (the generator is
         * seeded per worker) and a counter, unique among the gateways
         */

        conn->pid = ngx_pid;
        conn->nonce = (uint64_t) ((ngx_random() & 0x7fffffff) | 0x40000000)
                      << 32;
    }

    /* an IP address: no name is looked up here */

    ac = redisAsyncConnect((char *) rd->ip, rd->port);

    if (ac == NULL) {
        ngx_sprintf(conn->why, "could not be connected to: out of "
                    "memory%Z");
        goto failed;
    }

    if (ac->err) {
        ngx_snprintf(conn->why, sizeof(conn->why) - 1,
                     "could not be connected to: %s%Z", ac->errstr);
        redisAsyncFree(ac);
        goto failed;
    }

    if (ngx_http_tfa_resend_hiredis_attach(ac, ngx_cycle->log,
                                           ngx_http_tfa_resend_redis_gone, rd)
        != NGX_OK)
    {
        ngx_sprintf(conn->why, "could not be connected to: no free "
                    "connection in this worker%Z");
        redisAsyncFree(ac);
        goto failed;
    }

    (void) redisEnableKeepAlive(&ac->c);

    conn->ac = ac;
    conn->state = NGX_HTTP_TFA_RESEND_REDIS_CONNECTING;
    conn->stalled = 0;
    conn->broken = 0;

    /* the handshake, pipelined: the resends' commands queue behind it */

    rc = REDIS_OK;

    if (rd->password.len) {
        rc = redisAsyncCommand(ac, ngx_http_tfa_resend_redis_setup_reply, rd,
                               "AUTH %b", rd->password.data,
                               rd->password.len);
    }

    if (rc == REDIS_OK && rd->db) {
        rc = redisAsyncCommand(ac, ngx_http_tfa_resend_redis_setup_reply, rd,
                               "SELECT %b", rd->db_arg.data, rd->db_arg.len);
    }

    if (rc == REDIS_OK) {
        rc = redisAsyncCommand(ac, ngx_http_tfa_resend_redis_load_reply, rd,
                               "SCRIPT LOAD %b", rd->script.data,
                               rd->script.len);
    }

    if (rc != REDIS_OK) {
        ngx_sprintf(conn->why, "could not take the handshake%Z");
        ngx_http_tfa_resend_redis_fail(rd);
        return NGX_DECLINED;
    }

    return NGX_OK;

failed:

    conn->state = NGX_HTTP_TFA_RESEND_REDIS_DOWN;
    conn->retry_at = ngx_current_msec + conn->backoff;
    conn->backoff = ngx_min(2 * conn->backoff,
                            NGX_HTTP_TFA_RESEND_REDIS_BACKOFF_MAX);

    return NGX_DECLINED;
}


/*
 * Drops the connection (conn->why set) and connects again after the
 * backoff.  From a hiredis callback the context is freed once it returns;
 * elsewhere at once, and the commands in flight are answered with NULL
 * then: their resends are decided by on_store_error.
 */

static void
ngx_http_tfa_resend_redis_fail(ngx_http_tfa_resend_redis_t *rd)
{
    redisAsyncContext                 *ac;
    ngx_http_tfa_resend_redis_conn_t  *conn;

    conn = &rd->conn;

    ac = conn->ac;

    conn->ac = NULL;
    conn->state = NGX_HTTP_TFA_RESEND_REDIS_DOWN;
    conn->stalled = 0;
    conn->retry_at = ngx_current_msec + conn->backoff;
    conn->backoff = ngx_min(2 * conn->backoff,
                            NGX_HTTP_TFA_RESEND_REDIS_BACKOFF_MAX);

    if (ac) {
        redisAsyncFree(ac);
    }
}


/* hiredis frees a context: by our redisAsyncFree(), or after an error */

static void
ngx_http_tfa_resend_redis_gone(redisAsyncContext *ac, void *data)
{
    ngx_http_tfa_resend_redis_t  *rd = data;

    ngx_http_tfa_resend_redis_conn_t  *conn;

    conn = &rd->conn;

    if (conn->ac != ac) {
        /* dropped on purpose: accounted for already */
        return;
    }

    conn->ac = NULL;

    if (conn->state == NGX_HTTP_TFA_RESEND_REDIS_READY
        && !conn->broken && !conn->stalled)
    {
        /*
         * Closed while nothing was asked (Redis's idle timeout, a
         * restart): the next resend connects again at once.
         */

        ngx_log_error(NGX_LOG_INFO, ngx_cycle->log, 0,
                      "tfa_resend_limit_zone \"%V\": redis at %V closed "
                      "the connection%s%s",
                      &rd->store->name, &rd->addr, ac->err ? ": " : "",
                      ac->err ? ac->errstr : "");

        ngx_snprintf(conn->why, sizeof(conn->why) - 1,
                     "closed the connection%s%s%Z", ac->err ? ": " : "",
                     ac->err ? ac->errstr : "");

        conn->state = NGX_HTTP_TFA_RESEND_REDIS_DOWN;
        conn->retry_at = ngx_current_msec;

        return;
    }

    if (!conn->broken) {
        ngx_snprintf(conn->why, sizeof(conn->why) - 1, "%s%s%s%Z",
                     conn->state == NGX_HTTP_TFA_RESEND_REDIS_READY
                     ? "closed the connection" : "could not be connected to",
                     ac->err ? ": " : "", ac->err ? ac->errstr : "");
    }

    conn->state = NGX_HTTP_TFA_RESEND_REDIS_DOWN;
    conn->stalled = 0;
    conn->retry_at = ngx_current_msec + conn->backoff;
    conn->backoff = ngx_min(2 * conn->backoff,
                            NGX_HTTP_TFA_RESEND_REDIS_BACKOFF_MAX);
}


/*
 * The worker exits, or the configuration this store belongs to is freed:
 * the connection goes without resuming anything.
 */

static void
ngx_http_tfa_resend_redis_close(ngx_http_tfa_resend_redis_t *rd)
{
    ngx_queue_t        *q;
    redisAsyncContext  *ac;

    rd->conn.closing = 1;

    if (rd->conn.flush.posted) {
        ngx_delete_posted_event(&rd->conn.flush);
    }

    while (!ngx_queue_empty(&rd->conn.waiting)) {
        q = ngx_queue_head(&rd->conn.waiting);
        ngx_queue_remove(q);
        ngx_http_tfa_resend_redis_free_rec(
            ngx_queue_data(q, ngx_http_tfa_resend_redis_rec_t, queue));
    }

    ac = rd->conn.ac;

    if (ac) {
        rd->conn.ac = NULL;
        rd->conn.state = NGX_HTTP_TFA_RESEND_REDIS_DOWN;
        redisAsyncFree(ac);
    }
}


void
ngx_http_tfa_resend_redis_exit_process(ngx_cycle_t *cycle)
{
    ngx_uint_t                    i;
    ngx_shm_zone_t               *shm_zone;
    ngx_list_part_t              *part;
    ngx_http_tfa_resend_store_t  *store;

    part = &cycle->shared_memory.part;
    shm_zone = part->elts;

    for (i = 0; /* void */ ; i++) {

        if (i >= part->nelts) {
            if (part->next == NULL) {
                break;
            }

            part = part->next;
            shm_zone = part->elts;
            i = 0;
        }

        if (shm_zone[i].tag != &ngx_http_tfa_resend_module) {
            continue;
        }

        store = shm_zone[i].data;

        if (store && store->type == &ngx_http_tfa_resend_redis_store) {
            ngx_http_tfa_resend_redis_close(store->data);
        }
    }
}


static void
ngx_http_tfa_resend_redis_pool_cleanup(void *data)
{
    ngx_http_tfa_resend_redis_close(data);
}


/* AUTH, SELECT: an error drops the connection */

static void
ngx_http_tfa_resend_redis_setup_reply(redisAsyncContext *ac, void *r,
    void *privdata)
{
    ngx_http_tfa_resend_redis_t  *rd = privdata;

    redisReply  *reply = r;

    if (reply == NULL || rd->conn.ac != ac) {
        return;
    }

    rd->conn.stalled = 0;

    if (reply->type != REDIS_REPLY_ERROR) {
        return;
    }

    /* the error names the command, never the password */

    ngx_snprintf(rd->conn.why, sizeof(rd->conn.why) - 1,
                 "refused the connection's set-up: \"%*s\"%Z",
                 (size_t) ngx_min(reply->len, 160), reply->str);

    if (ngx_http_tfa_resend_redis_may_log(rd)) {
        ngx_log_error(NGX_LOG_ERR, ngx_cycle->log, 0,
                      "tfa_resend_limit_zone \"%V\": redis at %V %s",
                      &rd->store->name, &rd->addr, rd->conn.why);
    }

    rd->conn.broken = 1;

    ngx_http_tfa_resend_redis_fail(rd);
}


/* SCRIPT LOAD: the end of the handshake */

static void
ngx_http_tfa_resend_redis_load_reply(redisAsyncContext *ac, void *r,
    void *privdata)
{
    ngx_http_tfa_resend_redis_t  *rd = privdata;

    redisReply  *reply = r;

    if (reply == NULL || rd->conn.ac != ac) {
        return;
    }

    rd->conn.stalled = 0;

    if (reply->type != REDIS_REPLY_STRING) {
        ngx_snprintf(rd->conn.why, sizeof(rd->conn.why) - 1,
                     "could not load the script: \"%*s\"%Z",
                     (size_t) (reply->type == REDIS_REPLY_ERROR
                               ? ngx_min(reply->len, 160) : 0),
                     reply->str);

        if (ngx_http_tfa_resend_redis_may_log(rd)) {
            ngx_log_error(NGX_LOG_ERR, ngx_cycle->log, 0,
                          "tfa_resend_limit_zone \"%V\": redis at %V %s",
                          &rd->store->name, &rd->addr, rd->conn.why);
        }

        rd->conn.broken = 1;

        ngx_http_tfa_resend_redis_fail(rd);
        return;
    }

    if (reply->len != 40 || ngx_strncmp(reply->str, rd->sha, 40) != 0) {
        ngx_log_error(NGX_LOG_WARN, ngx_cycle->log, 0,
                      "tfa_resend_limit_zone \"%V\": redis at %V loaded the "
                      "script as \"%*s\", not \"%*s\": every resend will "
                      "carry the whole script",
                      &rd->store->name, &rd->addr,
                      (size_t) ngx_min(reply->len, 64), reply->str,
                      (size_t) 40, rd->sha);
    }

    ngx_log_debug1(NGX_LOG_DEBUG_HTTP, ngx_cycle->log, 0,
                   "tfa_resend redis: %V ready", &rd->addr);

    rd->conn.state = NGX_HTTP_TFA_RESEND_REDIS_READY;
    rd->conn.backoff = NGX_HTTP_TFA_RESEND_REDIS_BACKOFF_MIN;

    ngx_http_tfa_resend_redis_answered(rd);
}


/* ---------------------------------------------------------- admissions */


/*
 * The admissions waiting, in script calls of at most BATCH each.  One that
 * cannot be sent is decided by on_store_error, as if the connection went.
 */

static void
ngx_http_tfa_resend_redis_flush(ngx_event_t *ev)
{
    ngx_http_tfa_resend_redis_t *rd = ev->data;

    ngx_uint_t                          i;
    ngx_queue_t                        *q;
    ngx_http_tfa_resend_redis_conn_t   *conn;
    ngx_http_tfa_resend_redis_batch_t  *b;

    conn = &rd->conn;

    while (!ngx_queue_empty(&conn->waiting)) {

        b = ngx_alloc(sizeof(ngx_http_tfa_resend_redis_batch_t),
                      ngx_cycle->log);

        if (b == NULL) {
            ngx_sprintf(conn->why, "could not take a command%Z");

            while (!ngx_queue_empty(&conn->waiting)) {
                q = ngx_queue_head(&conn->waiting);
                ngx_queue_remove(q);
                ngx_http_tfa_resend_redis_decide(rd,
                    ngx_queue_data(q, ngx_http_tfa_resend_redis_rec_t, queue),
                    NULL, NULL);
            }

            return;
        }

        b->rd = rd;
        b->n = 0;
        b->eval = 0;

        while (b->n < NGX_HTTP_TFA_RESEND_REDIS_BATCH
               && !ngx_queue_empty(&conn->waiting))
        {
            q = ngx_queue_head(&conn->waiting);
            ngx_queue_remove(q);
            b->rec[b->n++] = ngx_queue_data(q, ngx_http_tfa_resend_redis_rec_t,
                                            queue);
        }

        if (ngx_http_tfa_resend_redis_send(rd, b) != NGX_OK) {

            if (conn->ac) {
                ngx_sprintf(conn->why, "could not take a command%Z");
            }

            for (i = 0; i < b->n; i++) {
                ngx_http_tfa_resend_redis_decide(rd, b->rec[i], NULL, NULL);
            }

            ngx_free(b);
        }
    }
}


/*
 * EVALSHA sha K KEY... N WINDOW NONCE..., in the protocol's own form (EVAL
 * with the script once Redis has lost it): all but the keys and the nonces
 * were made when the configuration was read, and hiredis takes the command
 * as it is (formatting it argument by argument costs more than all the
 * rest of its work)
 */

static ngx_int_t
ngx_http_tfa_resend_redis_send(ngx_http_tfa_resend_redis_t *rd,
    ngx_http_tfa_resend_redis_batch_t *b)
{
    int          rc;
    u_char      *cmd, *p, nonce[8];
    size_t       len, n;
    ngx_uint_t   i, j;

    if (rd->conn.ac == NULL) {
        return NGX_ERROR;
    }

    n = sizeof(ngx_http_tfa_resend_redis_script) - 1;

    /*
     * hiredis 0.14 scans a formatted command as a C string (strchr() for
     * each "$"): the buffer ends in a NUL that the length does not count
     */

    len = sizeof("*\r\n$7\r\nEVALSHA\r\n$\r\n\r\n$\r\n\r\n") - 1
          + 3 * NGX_SIZE_T_LEN + n + rd->argv.len + 1;

    for (i = 0; i < b->n; i++) {
        len += 1 + NGX_SIZE_T_LEN + 2 + b->rec[i]->key_len + 2
               + sizeof("$16\r\n\r\n") - 1 + 16;
    }

    cmd = ngx_alloc(len, ngx_cycle->log);
    if (cmd == NULL) {
        return NGX_ERROR;
    }

    p = ngx_sprintf(cmd, "*%ui\r\n", 2 * b->n + 5);

    if (b->eval) {
        p = ngx_sprintf(p, "$4\r\nEVAL\r\n$%uz\r\n", n);
        p = ngx_cpymem(p, ngx_http_tfa_resend_redis_script, n);

    } else {
        p = ngx_cpymem(p, "$7\r\nEVALSHA\r\n$40\r\n",
                       sizeof("$7\r\nEVALSHA\r\n$40\r\n") - 1);
        p = ngx_cpymem(p, rd->sha, 40);
    }

    /* numkeys: 1 to BATCH (64), one or two digits */

    p = ngx_sprintf(p, "\r\n$%uz\r\n%ui\r\n", (size_t) (b->n < 10 ? 1 : 2),
                    b->n);

    for (i = 0; i < b->n; i++) {
        p = ngx_sprintf(p, "$%uz\r\n", b->rec[i]->key_len);
        p = ngx_cpymem(p, b->rec[i]->key, b->rec[i]->key_len);
        *p++ = CR;
        *p++ = LF;
    }

    p = ngx_cpymem(p, rd->argv.data, rd->argv.len);

    for (i = 0; i < b->n; i++) {

        /* as "%016xL" would print it */

        for (j = 0; j < 8; j++) {
            nonce[j] = (u_char) (b->rec[i]->nonce >> (56 - 8 * j));
        }

        p = ngx_cpymem(p, "$16\r\n", sizeof("$16\r\n") - 1);
        p = ngx_hex_dump(p, nonce, 8);
        *p++ = CR;
        *p++ = LF;
    }

    *p = '\0';

    rc = redisAsyncFormattedCommand(rd->conn.ac,
                                    ngx_http_tfa_resend_redis_reply, b,
                                    (char *) cmd, p - cmd);

    ngx_free(cmd);

    return rc == REDIS_OK ? NGX_OK : NGX_ERROR;
}


static void
ngx_http_tfa_resend_redis_reply(redisAsyncContext *ac, void *r,
    void *privdata)
{
    ngx_http_tfa_resend_redis_batch_t  *b = privdata;

    ngx_uint_t                          i, each;
    redisReply                         *reply;
    ngx_http_tfa_resend_redis_t        *rd;

    reply = r;
    rd = b->rd;

    if (rd->conn.closing) {
        for (i = 0; i < b->n; i++) {
            ngx_http_tfa_resend_redis_free_rec(b->rec[i]);
        }

        ngx_free(b);
        return;
    }

    if (reply
        && reply->type == REDIS_REPLY_ERROR
        && !b->eval
        && ngx_strncmp(reply->str, "NOSCRIPT", 8) == 0)
    {
        /* the script is gone from Redis (SCRIPT FLUSH, a failover) */

        ngx_log_debug1(NGX_LOG_DEBUG_HTTP, ngx_cycle->log, 0,
                       "tfa_resend redis: %V lost the script, EVAL",
                       &rd->addr);

        b->eval = 1;

        if (ngx_http_tfa_resend_redis_send(rd, b) == NGX_OK) {
            return;
        }
    }

    /* an answer each; or an error, another answer, or none: for all */

    each = (reply
            && reply->type == REDIS_REPLY_ARRAY
            && reply->elements == b->n);

    for (i = 0; i < b->n; i++) {
        ngx_http_tfa_resend_redis_decide(rd, b->rec[i],
                                         each ? reply->element[i] : reply,
                                         ac);
    }

    ngx_free(b);
}


/*
 * One admission's answer (reply NULL: none, its connection went, or it
 * could not be sent); resumes its request, or takes a late admission back.
 */

static void
ngx_http_tfa_resend_redis_decide(ngx_http_tfa_resend_redis_t *rd,
    ngx_http_tfa_resend_redis_rec_t *rec, redisReply *reply,
    redisAsyncContext *ac)
{
    uint64_t                           x;
    ngx_int_t                          rc;
    ngx_uint_t                         remaining;
    ngx_http_tfa_resend_store_op_t    *op, lop;
    ngx_http_tfa_resend_redis_conn_t  *conn;

    conn = &rd->conn;

    conn->pending--;

    x = 0;
    remaining = 0;

    if (reply) {
        conn->stalled = 0;
        rc = ngx_http_tfa_resend_redis_parse(rd, reply, &x, &remaining);

    } else {
        /* the connection is being freed */

        if (ac && conn->ac == ac) {
            /* lost by an error, not dropped by us */
            ngx_snprintf(conn->why, sizeof(conn->why) - 1, "%s%s%s%Z",
                         conn->state == NGX_HTTP_TFA_RESEND_REDIS_READY
                         ? "closed the connection"
                         : "could not be connected to",
                         ac->err ? ": " : "", ac->err ? ac->errstr : "");

            conn->broken = 1;
        }

        rc = NGX_ERROR;
    }

    op = rec->op;

    if (op == NULL) {

        /*
         * Nobody waits: the resend timed out, or its request went away.
         * An admission it was not let through with is taken back.
         */

        if (rc == NGX_OK && !rec->passed) {
            ngx_log_error(NGX_LOG_INFO, ngx_cycle->log, 0,
                          "tfa_resend_limit_zone \"%V\": redis admitted "
                          "\"%*s\" after the resend was decided without "
                          "it: taken back",
                          &rd->store->name, rec->key_len, rec->key);

            ngx_http_tfa_resend_redis_take_back(rd, rec->key, rec->key_len,
                                                x, rec->nonce);
        }

        ngx_http_tfa_resend_redis_free_rec(rec);
        return;
    }

    rec->op = NULL;

    switch (rc) {

    case NGX_OK:
        op->stamp = x;
        op->serial = rec->nonce;
        op->remaining = remaining;
        op->rc = NGX_OK;

        /* this server's own record, should Redis fail later */

        ngx_memzero(&lop, sizeof(ngx_http_tfa_resend_store_op_t));

        lop.key = op->key;
        lop.now = ngx_current_msec;
        lop.log = op->log;

        if (ngx_http_tfa_resend_shm_store.admit(&rd->local, &lop) == NGX_OK) {
            op->local = lop.stamp;
        }

        ngx_http_tfa_resend_redis_answered(rd);
        break;

    case NGX_BUSY:
        op->remaining = 0;
        op->retry_after = (ngx_msec_t) x;
        op->rc = NGX_BUSY;

        ngx_http_tfa_resend_redis_answered(rd);
        break;

    default: /* NGX_ERROR */
        (void) ngx_http_tfa_resend_redis_fallback(rd, op);
        break;
    }

    ngx_log_debug4(NGX_LOG_DEBUG_HTTP, op->log, 0,
                   "tfa_resend_limit admit \"%V\" in \"%V\": redis said %i, "
                   "remaining %ui", &op->key, &rd->store->name, op->rc,
                   op->remaining);

    ngx_http_tfa_resend_redis_free_rec(rec);

    op->done(op);
}


/* the script's answer: NGX_OK (admitted at *x, ms), NGX_BUSY (retry *x) */

static ngx_int_t
ngx_http_tfa_resend_redis_parse(ngx_http_tfa_resend_redis_t *rd,
    redisReply *reply, uint64_t *x, ngx_uint_t *remaining)
{
    if (reply->type == REDIS_REPLY_INTEGER) {

        if (reply->integer >= 0) {
            *x = (uint64_t) reply->integer >> 6;
            *remaining = (ngx_uint_t) (reply->integer & 63);
            return NGX_OK;
        }

        *x = (uint64_t) -reply->integer;
        *remaining = 0;
        return NGX_BUSY;
    }

    if (reply->type == REDIS_REPLY_ERROR) {
        ngx_snprintf(rd->conn.why, sizeof(rd->conn.why) - 1,
                     "answered \"%*s\"%Z",
                     (size_t) ngx_min(reply->len, 160), reply->str);
        return NGX_ERROR;
    }

    ngx_sprintf(rd->conn.why, "answered the script with something else%Z");

    return NGX_ERROR;
}


/* ZREM of one admission, "time-nonce"; nothing waits for the answer */

static void
ngx_http_tfa_resend_redis_take_back(ngx_http_tfa_resend_redis_t *rd,
    u_char *key, size_t len, uint64_t stamp, uint64_t nonce)
{
    u_char       member[NGX_INT64_LEN + 1 + 16];
    size_t       argvlen[3];
    const char  *argv[3];

    if (rd->conn.ac == NULL) {
        return;
    }

    argv[0] = "ZREM";
    argvlen[0] = sizeof("ZREM") - 1;
    argv[1] = (const char *) key;
    argvlen[1] = len;
    argv[2] = (const char *) member;
    argvlen[2] = ngx_sprintf(member, "%uL-%016xL", stamp, nonce) - member;

    if (redisAsyncCommandArgv(rd->conn.ac, NULL, NULL, 3, argv, argvlen)
        != REDIS_OK)
    {
        ngx_log_error(NGX_LOG_INFO, ngx_cycle->log, 0,
                      "tfa_resend_limit_zone \"%V\": could not take back an "
                      "admission of \"%*s\" from redis at %V",
                      &rd->store->name, len, key, &rd->addr);
    }
}


/* no answer within redis_timeout: on_store_error decides */

static void
ngx_http_tfa_resend_redis_timeout(ngx_event_t *ev)
{
    ngx_http_tfa_resend_redis_rec_t  *rec = ev->data;

    ngx_http_tfa_resend_redis_t       *rd;
    ngx_http_tfa_resend_store_op_t    *op;
    ngx_http_tfa_resend_redis_conn_t  *conn;

    rd = rec->rd;
    conn = &rd->conn;
    op = rec->op;

    if (op == NULL) {
        return;
    }

    rec->op = NULL;

    if (rec->cln) {
        rec->cln->handler = NULL;
        rec->cln = NULL;
    }

    ngx_sprintf(conn->why, "did not answer within redis_timeout (%Mms)%s%Z",
                rd->timeout,
                conn->state == NGX_HTTP_TFA_RESEND_REDIS_CONNECTING
                ? " of connecting" : "");

    rec->passed = (ngx_http_tfa_resend_redis_fallback(rd, op) == NGX_OK);

    /*
     * The connection stays: the command was sent and may yet be answered,
     * and such a late admission must be seen to be taken back.
     */

    if (!conn->stalled) {
        conn->stalled = ngx_current_msec;
    }

    /* rec stays with hiredis until the answer, or the connection, goes */

    op->done(op);
}


/* the request went away while it waited: nothing is resumed */

static void
ngx_http_tfa_resend_redis_op_cleanup(void *data)
{
    ngx_http_tfa_resend_redis_rec_t  *rec = data;

    rec->op = NULL;
    rec->cln = NULL;
    rec->passed = 0;

    if (rec->timer.timer_set) {
        ngx_del_timer(&rec->timer);
    }
}


static void
ngx_http_tfa_resend_redis_free_rec(ngx_http_tfa_resend_redis_rec_t *rec)
{
    if (rec->timer.timer_set) {
        ngx_del_timer(&rec->timer);
    }

    if (rec->cln) {
        rec->cln->handler = NULL;
    }

    ngx_free(rec);
}


/* Redis decides again: say so once, if resends were decided without it */

static void
ngx_http_tfa_resend_redis_answered(ngx_http_tfa_resend_redis_t *rd)
{
    ngx_atomic_uint_t  n;

    n = rd->sh->failed;

    if (n == 0 || !ngx_atomic_cmp_set(&rd->sh->failed, n, 0)) {
        return;
    }

    ngx_log_error(NGX_LOG_NOTICE, ngx_cycle->log, 0,
                  "tfa_resend_limit_zone \"%V\": redis at %V answers "
                  "again; %uA resends were decided without it "
                  "(on_store_error=%V)", &rd->store->name, &rd->addr, n,
                  &ngx_http_tfa_resend_redis_modes[rd->on_error]);
}


/* Redis cannot decide (conn->why says why): on_store_error does */

static ngx_int_t
ngx_http_tfa_resend_redis_fallback(ngx_http_tfa_resend_redis_t *rd,
    ngx_http_tfa_resend_store_op_t *op)
{
    ngx_int_t  rc;

    (void) ngx_atomic_fetch_add(&rd->sh->failed, 1);

    if (ngx_http_tfa_resend_redis_may_log(rd)) {
        ngx_log_error(NGX_LOG_ERR, op->log, 0,
                      "tfa_resend_limit_zone \"%V\": redis at %V %s; "
                      "on_store_error=%V: %s (logged once a second at most)",
                      &rd->store->name, &rd->addr, rd->conn.why,
                      &ngx_http_tfa_resend_redis_modes[rd->on_error],
                      ngx_http_tfa_resend_redis_effects[rd->on_error]);
    }

    op->stamp = 0;
    op->serial = 0;
    op->local = 0;

    /* decided now, perhaps redis_timeout after the resend was asked */

    op->now = ngx_current_msec;

    switch (rd->on_error) {

    case NGX_HTTP_TFA_RESEND_REDIS_REJECT:
        op->remaining = 0;
        op->retry_after = 0;
        rc = NGX_ERROR;
        break;

    case NGX_HTTP_TFA_RESEND_REDIS_ALLOW:

        /* counted nowhere; what is left as far as this server knows */

        (void) ngx_http_tfa_resend_shm_store.inspect(&rd->local, op);

        op->retry_after = 0;
        rc = NGX_OK;
        break;

    default: /* NGX_HTTP_TFA_RESEND_REDIS_LOCAL */

        rc = ngx_http_tfa_resend_shm_store.admit(&rd->local, op);

        if (rc == NGX_OK) {
            op->local = op->stamp;
            op->stamp = 0;
            op->serial = 0;
        }

        break;
    }

    op->rc = rc;

    return rc;
}


static ngx_uint_t
ngx_http_tfa_resend_redis_may_log(ngx_http_tfa_resend_redis_t *rd)
{
    ngx_atomic_uint_t  now, last;

    now = (ngx_atomic_uint_t) ngx_time();
    last = rd->sh->log_time;

    return last != now && ngx_atomic_cmp_set(&rd->sh->log_time, last, now);
}


/* ------------------------------------------------------- configuration */


ngx_uint_t
ngx_http_tfa_resend_redis_param(ngx_str_t *value)
{
    static ngx_str_t  names[] = {
        ngx_string("store="),
        ngx_string("redis_timeout="),
        ngx_string("redis_password_file="),
        ngx_string("on_store_error="),
        ngx_null_string
    };

    ngx_str_t  *n;

    for (n = names; n->len; n++) {
        if (value->len >= n->len
            && ngx_strncmp(value->data, n->data, n->len) == 0)
        {
            return 1;
        }
    }

    return 0;
}


ngx_int_t
ngx_http_tfa_resend_redis_create(ngx_conf_t *cf,
    ngx_http_tfa_resend_store_t *store, ngx_array_t *params)
{
    ngx_int_t                     t;
    ngx_str_t                    *value, *url, *timeout, *password, *mode, s;
    ngx_str_t                   **slot;
    ngx_uint_t                    i, m;
    ngx_pool_cleanup_t           *cln;
    ngx_http_tfa_resend_redis_t  *rd;

    value = params->elts;

    url = NULL;
    timeout = NULL;
    password = NULL;
    mode = NULL;

    for (i = 0; i < params->nelts; i++) {

        switch (value[i].data[0]) {
        case 's':
            slot = &url;
            break;
        case 'r':
            slot = (value[i].data[6] == 't') ? &timeout : &password;
            break;
        default: /* 'o' */
            slot = &mode;
            break;
        }

        if (*slot) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "duplicate parameter \"%V\"", &value[i]);
            return NGX_ERROR;
        }

        *slot = &value[i];
    }

    if (url == NULL) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid parameter \"%V\": only with "
                           "store=redis://HOST:PORT", &value[0]);
        return NGX_ERROR;
    }

    s.data = url->data + sizeof("store=") - 1;
    s.len = url->len - (sizeof("store=") - 1);

    if (s.len == 3 && ngx_strncmp(s.data, "shm", 3) == 0) {

        for (i = 0; i < params->nelts; i++) {
            if (&value[i] != url) {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                   "invalid parameter \"%V\": only with "
                                   "store=redis://HOST:PORT", &value[i]);
                return NGX_ERROR;
            }
        }

        return NGX_DECLINED;
    }

    if (s.len >= sizeof("rediss://") - 1
        && ngx_strncmp(s.data, "rediss://", sizeof("rediss://") - 1) == 0)
    {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid store \"%V\": TLS to Redis (rediss://) "
                           "is not supported", url);
        return NGX_ERROR;
    }

    if (s.len < sizeof("redis://") - 1
        || ngx_strncmp(s.data, "redis://", sizeof("redis://") - 1) != 0)
    {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid store \"%V\": use "
                           "store=redis://HOST:PORT[/DB] or store=shm", url);
        return NGX_ERROR;
    }

    rd = ngx_pcalloc(cf->pool, sizeof(ngx_http_tfa_resend_redis_t));
    if (rd == NULL) {
        return NGX_ERROR;
    }

    rd->store = store;

    if (ngx_http_tfa_resend_redis_parse_url(cf, rd, url) != NGX_OK) {
        return NGX_ERROR;
    }

    rd->timeout = 100;

    if (timeout) {
        s.data = timeout->data + sizeof("redis_timeout=") - 1;
        s.len = timeout->len - (sizeof("redis_timeout=") - 1);

        t = ngx_parse_time(&s, 0);

        if (t == NGX_ERROR || t < 1 || t > 60000) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "invalid \"%V\": a time from 1ms to 60s, "
                               "as in redis_timeout=100ms", timeout);
            return NGX_ERROR;
        }

        rd->timeout = (ngx_msec_t) t;
    }

    rd->on_error = NGX_HTTP_TFA_RESEND_REDIS_LOCAL;

    if (mode) {
        s.data = mode->data + sizeof("on_store_error=") - 1;
        s.len = mode->len - (sizeof("on_store_error=") - 1);

        for (m = 0; ngx_http_tfa_resend_redis_modes[m].len; m++) {
            if (s.len == ngx_http_tfa_resend_redis_modes[m].len
                && ngx_strncmp(s.data, ngx_http_tfa_resend_redis_modes[m].data,
                               s.len) == 0)
            {
                break;
            }
        }

        if (ngx_http_tfa_resend_redis_modes[m].len == 0) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "invalid \"%V\": use on_store_error=reject, "
                               "local or allow", mode);
            return NGX_ERROR;
        }

        rd->on_error = m;
    }

    if (password
        && ngx_http_tfa_resend_redis_read_password(cf, rd, password)
           != NGX_OK)
    {
        return NGX_ERROR;
    }

    if (ngx_http_tfa_resend_redis_prepare(cf, rd) != NGX_OK) {
        return NGX_ERROR;
    }

    /* the local window, in the zone's shared memory */

    rd->local.shm_zone = store->shm_zone;
    rd->local.name = store->name;
    rd->local.limit = store->limit;
    rd->local.window = store->window;

    if (ngx_http_tfa_resend_shm_create(cf, &rd->local) != NGX_OK) {
        return NGX_ERROR;
    }

    store->type = &ngx_http_tfa_resend_redis_store;
    store->data = rd;
    store->local = &rd->local;

    store->shm_zone->init = ngx_http_tfa_resend_redis_init_zone;
    store->shm_zone->data = store;

    /* each worker's connection, made when a resend first needs it */

    rd->conn.state = NGX_HTTP_TFA_RESEND_REDIS_DOWN;
    rd->conn.backoff = NGX_HTTP_TFA_RESEND_REDIS_BACKOFF_MIN;
    ngx_queue_init(&rd->conn.waiting);
    ngx_sprintf(rd->conn.why, "is not connected yet%Z");

    /* a single-process nginx frees an old configuration after a reload */

    cln = ngx_pool_cleanup_add(cf->pool, 0);
    if (cln == NULL) {
        return NGX_ERROR;
    }

    cln->handler = ngx_http_tfa_resend_redis_pool_cleanup;
    cln->data = rd;

    return NGX_OK;
}


/*
 * What every script call carries and was known when the configuration was
 * read: the keys' prefix "tfa:ZONE:", the script and its SHA-1, N and the
 * window as the script's arguments
 */

static ngx_int_t
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
    ngx_sha1_update(&sha1, ngx_http_tfa_resend_redis_script,
                    sizeof(ngx_http_tfa_resend_redis_script) - 1);
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

    rd->script.data = (u_char *) ngx_http_tfa_resend_redis_script;
    rd->script.len = sizeof(ngx_http_tfa_resend_redis_script) - 1;

    return NGX_OK;
}


static ngx_int_t
ngx_http_tfa_resend_redis_init_zone(ngx_shm_zone_t *shm_zone, void *data)
{
    ngx_http_tfa_resend_store_t  *ostore = data;

    ngx_slab_pool_t              *shpool;
    ngx_http_tfa_resend_redis_t  *rd, *ord;
    ngx_http_tfa_resend_store_t  *store;

    if (ngx_http_tfa_resend_shm_init_zone(shm_zone, data) != NGX_OK) {
        return NGX_ERROR;
    }

    store = shm_zone->data;
    rd = store->data;

    if (ostore && ostore->type == &ngx_http_tfa_resend_redis_store) {
        ord = ostore->data;
        rd->sh = ord->sh;
        return NGX_OK;
    }

    shpool = (ngx_slab_pool_t *) shm_zone->shm.addr;

    rd->sh = ngx_slab_calloc(shpool,
                             sizeof(ngx_http_tfa_resend_redis_shctx_t));
    if (rd->sh == NULL) {
        return NGX_ERROR;
    }

    return NGX_OK;
}


/* redis://HOST[:PORT][/DB]: resolved now, by the master */

static ngx_int_t
ngx_http_tfa_resend_redis_parse_url(ngx_conf_t *cf,
    ngx_http_tfa_resend_redis_t *rd, ngx_str_t *value)
{
    size_t     len;
    ngx_int_t  db;
    ngx_url_t  u;

    ngx_memzero(&u, sizeof(ngx_url_t));

    u.url.data = value->data + sizeof("store=redis://") - 1;
    u.url.len = value->len - (sizeof("store=redis://") - 1);
    u.default_port = 6379;
    u.uri_part = 1;

    if (ngx_strlchr(u.url.data, u.url.data + u.url.len, '@')) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid store \"%V\": no user or password in "
                           "the URL, use redis_password_file=", value);
        return NGX_ERROR;
    }

    if (u.url.len == 0 || u.url.data[0] == '/') {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid store \"%V\": no host", value);
        return NGX_ERROR;
    }

    if (ngx_parse_url(cf->pool, &u) != NGX_OK) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid store \"%V\": %s", value,
                           u.err ? u.err : "bad URL");
        return NGX_ERROR;
    }

    if (u.family == AF_UNIX || u.naddrs == 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid store \"%V\": use "
                           "store=redis://HOST:PORT[/DB]", value);
        return NGX_ERROR;
    }

    if (u.uri.len) {
        db = (u.uri.len > 1) ? ngx_atoi(u.uri.data + 1, u.uri.len - 1)
                             : NGX_ERROR;

        if (db == NGX_ERROR || db > 65535) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "invalid store \"%V\": the database is a "
                               "number, as in redis://127.0.0.1:6379/2",
                               value);
            return NGX_ERROR;
        }

        rd->db = (ngx_uint_t) db;
        rd->db_arg.data = u.uri.data + 1;
        rd->db_arg.len = u.uri.len - 1;
    }

    if (u.naddrs > 1) {
        ngx_conf_log_error(NGX_LOG_WARN, cf, 0,
                           "store \"%V\": \"%V\" has %ui addresses, "
                           "%V is used", value, &u.host, u.naddrs,
                           &u.addrs[0].name);
    }

    rd->addr = u.addrs[0].name;
    rd->port = (int) u.port;

    rd->ip = ngx_pnalloc(cf->pool, NGX_SOCKADDR_STRLEN + 1);
    if (rd->ip == NULL) {
        return NGX_ERROR;
    }

    len = ngx_sock_ntop(u.addrs[0].sockaddr, u.addrs[0].socklen, rd->ip,
                        NGX_SOCKADDR_STRLEN, 0);
    rd->ip[len] = '\0';

    return NGX_OK;
}


/*
 * redis_password_file=PATH: one line, read now by the master (the file can
 * be 0600 and owned by root); errors name the file, never what it holds.
 */

static ngx_int_t
ngx_http_tfa_resend_redis_read_password(ngx_conf_t *cf,
    ngx_http_tfa_resend_redis_t *rd, ngx_str_t *value)
{
    u_char           *buf;
    size_t            len;
    ssize_t           n;
    ngx_fd_t          fd;
    ngx_int_t         rc;
    ngx_str_t         name;
    ngx_uint_t        mode;
    ngx_file_info_t   fi;

    name.data = value->data + sizeof("redis_password_file=") - 1;
    name.len = value->len - (sizeof("redis_password_file=") - 1);

    if (name.len == 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid \"%V\": no file name", value);
        return NGX_ERROR;
    }

    if (ngx_conf_full_name(cf->cycle, &name, 1) != NGX_OK) {
        return NGX_ERROR;
    }

    buf = ngx_pnalloc(cf->temp_pool,
                      NGX_HTTP_TFA_RESEND_REDIS_PASSWORD_MAX + 1);
    if (buf == NULL) {
        return NGX_ERROR;
    }

    fd = ngx_open_file(name.data, NGX_FILE_RDONLY, NGX_FILE_OPEN, 0);

    if (fd == NGX_INVALID_FILE) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, ngx_errno,
                           "redis_password_file: " ngx_open_file_n
                           " \"%s\" failed", name.data);
        return NGX_ERROR;
    }

    rc = NGX_ERROR;
    len = 0;

    if (ngx_fd_info(fd, &fi) == NGX_FILE_ERROR) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, ngx_errno,
                           "redis_password_file: " ngx_fd_info_n
                           " \"%s\" failed", name.data);
        goto done;
    }

    if (!ngx_is_file(&fi)) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "redis_password_file \"%s\" is not a regular "
                           "file", name.data);
        goto done;
    }

    mode = ngx_file_access(&fi);

    if (mode & (S_IRGRP|S_IROTH)) {
        ngx_conf_log_error(NGX_LOG_WARN, cf, 0,
                           "redis_password_file \"%s\" is readable by group "
                           "or others: restrict it to its owner", name.data);
    }

    /* one byte more than allowed, to tell "too large" */

    while (len <= NGX_HTTP_TFA_RESEND_REDIS_PASSWORD_MAX) {
        n = ngx_read_fd(fd, buf + len,
                        NGX_HTTP_TFA_RESEND_REDIS_PASSWORD_MAX + 1 - len);

        if (n == -1) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, ngx_errno,
                               "redis_password_file: " ngx_read_fd_n
                               " \"%s\" failed", name.data);
            goto done;
        }

        if (n == 0) {
            break;
        }

        len += n;
    }

    if (len > NGX_HTTP_TFA_RESEND_REDIS_PASSWORD_MAX) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "redis_password_file \"%s\" is too large (more "
                           "than %d bytes)", name.data,
                           NGX_HTTP_TFA_RESEND_REDIS_PASSWORD_MAX);
        goto done;
    }

    /* one line: a trailing "\n" or "\r\n" is not the password's */

    if (len && buf[len - 1] == '\n') {
        len--;

        if (len && buf[len - 1] == '\r') {
            len--;
        }
    }

    if (len == 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "redis_password_file \"%s\" is empty", name.data);
        goto done;
    }

    if (ngx_strlchr(buf, buf + len, '\n') || ngx_strlchr(buf, buf + len, '\r')
        || ngx_strlchr(buf, buf + len, '\0'))
    {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "redis_password_file \"%s\" must hold one line",
                           name.data);
        goto done;
    }

    rd->password.data = ngx_pnalloc(cf->pool, len);
    if (rd->password.data == NULL) {
        goto done;
    }

    ngx_memcpy(rd->password.data, buf, len);
    rd->password.len = len;

    rc = NGX_OK;

done:

    ngx_explicit_memzero(buf, NGX_HTTP_TFA_RESEND_REDIS_PASSWORD_MAX + 1);

    if (ngx_close_file(fd) == NGX_FILE_ERROR) {
        ngx_conf_log_error(NGX_LOG_ALERT, cf, ngx_errno,
                           ngx_close_file_n " \"%s\" failed", name.data);
    }

    return rc;
}
