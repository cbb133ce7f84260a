
/*
 * Copyright (C) ngx_http_tfa_resend_module authors
 *
 * The Redis store's connection.
 *
 * Each worker keeps one connection per zone, through hiredis's
 * asynchronous API on nginx's event loop (ngx_http_tfa_resend_hiredis.c).
 * No call blocks: the address is resolved and the password file read when
 * the configuration is read, a lost connection is made again by the next
 * resend that needs it, after a backoff if it failed.  The handshake is
 * pipelined: AUTH, SELECT, SCRIPT LOAD, and the resends' commands queue
 * behind it.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_event.h>

#include "ngx_http_tfa_resend_redis_conn.h"


/* a connection silent for this long after a timeout is made again */
#define NGX_HTTP_TFA_RESEND_REDIS_STALL_MIN     1000


static ngx_int_t ngx_http_tfa_resend_redis_connect(
    ngx_http_tfa_resend_redis_t *rd);
static void ngx_http_tfa_resend_redis_gone(redisAsyncContext *ac,
    void *data);
static void ngx_http_tfa_resend_redis_setup_reply(redisAsyncContext *ac,
    void *r, void *privdata);
static void ngx_http_tfa_resend_redis_load_reply(redisAsyncContext *ac,
    void *r, void *privdata);
static void ngx_http_tfa_resend_redis_refused(
    ngx_http_tfa_resend_redis_t *rd);


ngx_str_t  ngx_http_tfa_resend_redis_modes[] = {
    ngx_string("reject"),
    ngx_string("local"),
    ngx_string("allow"),
    ngx_null_string
};


/*
 * NGX_OK: a command can be sent now (connected, or connecting: hiredis
 * queues it behind the handshake); else conn->why says why not.
 */

ngx_int_t
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

void
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
        ngx_http_tfa_resend_redis_lost(rd, ac);
    }

    conn->state = NGX_HTTP_TFA_RESEND_REDIS_DOWN;
    conn->stalled = 0;
    conn->retry_at = ngx_current_msec + conn->backoff;
    conn->backoff = ngx_min(2 * conn->backoff,
                            NGX_HTTP_TFA_RESEND_REDIS_BACKOFF_MAX);
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

    ngx_http_tfa_resend_redis_refused(rd);
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

        ngx_http_tfa_resend_redis_refused(rd);
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
    rd->conn.refused = 0;

    ngx_http_tfa_resend_redis_answered(rd);
}


/*
 * The handshake failed (conn->why says how): logged, and the connection is
 * made again after the backoff; the commands queued behind the handshake
 * are decided by on_store_error.
 */

static void
ngx_http_tfa_resend_redis_refused(ngx_http_tfa_resend_redis_t *rd)
{
    if (ngx_http_tfa_resend_redis_may_log(rd)) {
        ngx_log_error(NGX_LOG_ERR, ngx_cycle->log, 0,
                      "tfa_resend_limit_zone \"%V\": redis at %V %s",
                      &rd->store->name, &rd->addr, rd->conn.why);
    }

    rd->conn.broken = 1;
    rd->conn.refused = 1;

    ngx_http_tfa_resend_redis_fail(rd);
}


/*
 * A context that hiredis frees after an error: why, in conn->why, unless a
 * failure already said so
 */

void
ngx_http_tfa_resend_redis_lost(ngx_http_tfa_resend_redis_t *rd,
    redisAsyncContext *ac)
{
    ngx_http_tfa_resend_redis_conn_t  *conn;

    conn = &rd->conn;

    ngx_snprintf(conn->why, sizeof(conn->why) - 1, "%s%s%s%Z",
                 conn->state == NGX_HTTP_TFA_RESEND_REDIS_READY
                 ? "closed the connection" : "could not be connected to",
                 ac->err ? ": " : "", ac->err ? ac->errstr : "");
}

/* Redis decides again: say so once, if resends were decided without it */

void
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


ngx_uint_t
ngx_http_tfa_resend_redis_may_log(ngx_http_tfa_resend_redis_t *rd)
{
    ngx_atomic_uint_t  now, last;

    now = (ngx_atomic_uint_t) ngx_time();
    last = rd->sh->log_time;

    return last != now && ngx_atomic_cmp_set(&rd->sh->log_time, last, now);
}
