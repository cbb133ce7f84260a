
/*
 * Copyright (C) ngx_http_tfa_resend_module authors
 *
 * The Redis store's connection.
 *
 * Each worker keeps one connection per zone, a link on nginx's event loop
 * (ngx_http_tfa_resend_redis_link.c).
 * No call blocks: the address is resolved and the password file read when
 * the configuration is read, a lost connection is made again by the next
 * resend that needs it, after a backoff if it failed.  The handshake is
 * pipelined: AUTH, SELECT, (ROLE,) SCRIPT LOAD, and the resends' commands
 * queue behind it.
 *
 * Behind Sentinel, the master is found by rd->find_master
 * (ngx_http_tfa_resend_redis_sentinel.c) while the handshake waits.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_event.h>

#include "ngx_http_tfa_resend_redis_conn.h"


static ngx_int_t ngx_http_tfa_resend_redis_connect(
    ngx_http_tfa_resend_redis_t *rd);
static ngx_int_t ngx_http_tfa_resend_redis_handshake(
    ngx_http_tfa_resend_redis_t *rd, ngx_http_tfa_resend_redis_link_t *link);
static void ngx_http_tfa_resend_redis_closed(
    ngx_http_tfa_resend_redis_link_t *link);
static void ngx_http_tfa_resend_redis_setup_reply(void *data,
    redisReply *reply);
static void ngx_http_tfa_resend_redis_load_reply(void *data,
    redisReply *reply);
static void ngx_http_tfa_resend_redis_role_reply(void *data,
    redisReply *reply);
static void ngx_http_tfa_resend_redis_refused(
    ngx_http_tfa_resend_redis_t *rd);
static void ngx_http_tfa_resend_redis_unsubscribe(
    ngx_http_tfa_resend_redis_t *rd);


ngx_str_t  ngx_http_tfa_resend_redis_modes[] = {
    ngx_string("reject"),
    ngx_string("local"),
    ngx_string("allow"),
    ngx_null_string
};


/*
 * NGX_OK: a command can be sent now (connected, or connecting: the link
 * queues it behind the handshake); else conn->why says why not.
 */

ngx_int_t
ngx_http_tfa_resend_redis_ready(ngx_http_tfa_resend_redis_t *rd)
{
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

    /* connected, or connecting: the link queues behind the handshake */

    if (!conn->stalled) {
        return NGX_OK;
    }

    /*
     * A command timed out and nothing was answered since: resends do not
     * wait for Redis until it answers again; after a while, the connection
     * is made again
     */

    if (ngx_http_tfa_resend_redis_link_silent(conn->stalled, rd->timeout,
                                              conn->why, sizeof(conn->why))
        == NGX_ABORT)
    {
        ngx_http_tfa_resend_redis_fail(rd);
    }

    return NGX_DECLINED;
}


static ngx_int_t
ngx_http_tfa_resend_redis_connect(ngx_http_tfa_resend_redis_t *rd)
{
    ngx_int_t                          rc;
    ngx_http_tfa_resend_redis_link_t  *link;
    ngx_http_tfa_resend_redis_conn_t  *conn;

    conn = &rd->conn;

    ngx_log_debug1(NGX_LOG_DEBUG_HTTP, ngx_cycle->log, 0,
                   "tfa_resend: redis connecting to %V", &rd->addr);

    if (conn->pid != ngx_pid) {

        /*
         * A member is "time-nonce": random high bits (the generator is
         * seeded per worker) and a counter, unique among the gateways
         */

        conn->pid = ngx_pid;
        conn->nonce = (uint64_t) ((ngx_random() & 0x7fffffff) | 0x40000000)
                      << 32;
    }

    link = &conn->master;

    ngx_http_tfa_resend_redis_link_init(link);

    /* an IP address: no name is looked up here */

    if (rd->sentinels) {
        /* the master's, once a Sentinel has named it */
        link->peer.sockaddr = &conn->master_sockaddr.sockaddr;

    } else {
        link->peer.sockaddr = rd->sockaddr;
        link->peer.socklen = rd->socklen;
    }

    link->peer.name = &rd->addr;

    /* connecting and TLS may take as long as a silent connection is kept */

    link->timeout = ngx_http_tfa_resend_redis_link_cutoff(rd->timeout);
    link->closed = ngx_http_tfa_resend_redis_closed;
    link->data = rd;

#if (NGX_SSL)
    link->ssl = rd->ssl;
    link->ssl_name = rd->ssl_name;
    link->ssl_verify = rd->ssl_verify;
#endif

    /* the handshake, pipelined: the resends' commands queue behind it */

    rc = ngx_http_tfa_resend_redis_handshake(rd, link);

    if (rc == NGX_OK && rd->sentinels) {

        /* the handshake waits on the link until a Sentinel names the master */

        rd->addr.len = ngx_snprintf(conn->addr, sizeof(conn->addr),
                                    "\"%V\" (sentinel)", &rd->master_name)
                       - conn->addr;

        rc = rd->find_master(rd, 0);

    } else if (rc == NGX_OK) {
        rc = ngx_http_tfa_resend_redis_link_connect(link);

        if (rc != NGX_OK) {
            ngx_memcpy(conn->why, link->err, sizeof(conn->why));
        }

    } else {
        ngx_sprintf(conn->why, "could not take the handshake%Z");
    }

    if (rc != NGX_OK) {
        /* nothing was sent: the handshake's handlers answer nothing */
        ngx_http_tfa_resend_redis_link_close(link);
        goto failed;
    }

    conn->link = link;
    conn->state = NGX_HTTP_TFA_RESEND_REDIS_CONNECTING;
    conn->stalled = 0;

    return NGX_OK;

failed:

    conn->state = NGX_HTTP_TFA_RESEND_REDIS_DOWN;
    conn->retry_at = ngx_current_msec + conn->backoff;
    conn->backoff = ngx_min(2 * conn->backoff,
                            NGX_HTTP_TFA_RESEND_REDIS_BACKOFF_MAX);

    return NGX_DECLINED;
}


/* AUTH, SELECT, SCRIPT LOAD, queued on the link before it connects */

static ngx_int_t
ngx_http_tfa_resend_redis_handshake(ngx_http_tfa_resend_redis_t *rd,
    ngx_http_tfa_resend_redis_link_t *link)
{
    int          argc;
    size_t       argvlen[3];
    const char  *argv[3];

    if (rd->password.len) {
        argv[0] = "AUTH";
        argvlen[0] = sizeof("AUTH") - 1;
        argc = 1;

        if (rd->username.len) {
            argv[argc] = (const char *) rd->username.data;
            argvlen[argc++] = rd->username.len;
        }

        argv[argc] = (const char *) rd->password.data;
        argvlen[argc++] = rd->password.len;

        if (ngx_http_tfa_resend_redis_link_send_argv(link, argc, argv,
                argvlen, ngx_http_tfa_resend_redis_setup_reply, rd)
            != NGX_OK)
        {
            return NGX_ERROR;
        }
    }

    if (rd->db) {
        argv[0] = "SELECT";
        argvlen[0] = sizeof("SELECT") - 1;
        argv[1] = (const char *) rd->db_arg.data;
        argvlen[1] = rd->db_arg.len;

        if (ngx_http_tfa_resend_redis_link_send_argv(link, 2, argv, argvlen,
                ngx_http_tfa_resend_redis_setup_reply, rd)
            != NGX_OK)
        {
            return NGX_ERROR;
        }
    }

    if (rd->sentinels) {

        /* a Sentinel's answer may be old: the server must say it is master */

        argv[0] = "ROLE";
        argvlen[0] = sizeof("ROLE") - 1;

        if (ngx_http_tfa_resend_redis_link_send_argv(link, 1, argv, argvlen,
                ngx_http_tfa_resend_redis_role_reply, rd)
            != NGX_OK)
        {
            return NGX_ERROR;
        }
    }

    argv[0] = "SCRIPT";
    argvlen[0] = sizeof("SCRIPT") - 1;
    argv[1] = "LOAD";
    argvlen[1] = sizeof("LOAD") - 1;
    argv[2] = (const char *) rd->script.data;
    argvlen[2] = rd->script.len;

    return ngx_http_tfa_resend_redis_link_send_argv(link, 3, argv, argvlen,
               ngx_http_tfa_resend_redis_load_reply, rd);
}


ngx_int_t
ngx_http_tfa_resend_redis_command(ngx_http_tfa_resend_redis_t *rd,
    u_char *cmd, size_t len, ngx_http_tfa_resend_redis_reply_pt handler,
    void *data)
{
    if (rd->conn.link == NULL) {
        return NGX_ERROR;
    }

    return ngx_http_tfa_resend_redis_link_send(rd->conn.link, cmd, len,
                                               handler, data);
}


ngx_int_t
ngx_http_tfa_resend_redis_command_argv(ngx_http_tfa_resend_redis_t *rd,
    int argc, const char **argv, const size_t *argvlen,
    ngx_http_tfa_resend_redis_reply_pt handler, void *data)
{
    if (rd->conn.link == NULL) {
        return NGX_ERROR;
    }

    return ngx_http_tfa_resend_redis_link_send_argv(rd->conn.link, argc,
                                                    argv, argvlen, handler,
                                                    data);
}


/*
 * Drops the connection (conn->why set) and connects again after the
 * backoff.  The commands in flight are answered with NULL: their resends
 * are decided by on_store_error.
 */

void
ngx_http_tfa_resend_redis_fail(ngx_http_tfa_resend_redis_t *rd)
{
    ngx_http_tfa_resend_redis_link_t  *link;
    ngx_http_tfa_resend_redis_conn_t  *conn;

    conn = &rd->conn;

    link = conn->link;

    conn->link = NULL;
    conn->state = NGX_HTTP_TFA_RESEND_REDIS_DOWN;
    conn->stalled = 0;
    conn->retry_at = ngx_current_msec + conn->backoff;
    conn->backoff = ngx_min(2 * conn->backoff,
                            NGX_HTTP_TFA_RESEND_REDIS_BACKOFF_MAX);

    ngx_http_tfa_resend_redis_unsubscribe(rd);

    if (link) {
        ngx_http_tfa_resend_redis_link_close(link);
    }
}


/*
 * The link closed by itself (link->err says why); the commands it took
 * with it are answered NULL once this returns
 */

static void
ngx_http_tfa_resend_redis_closed(ngx_http_tfa_resend_redis_link_t *link)
{
    ngx_http_tfa_resend_redis_t  *rd = link->data;

    ngx_http_tfa_resend_redis_conn_t  *conn;

    conn = &rd->conn;

    if (conn->link != link) {
        return;
    }

    conn->link = NULL;

    ngx_memcpy(conn->why, link->err, sizeof(conn->why));

    ngx_http_tfa_resend_redis_unsubscribe(rd);

    if (conn->state == NGX_HTTP_TFA_RESEND_REDIS_READY
        && link->lost == 0 && !conn->stalled)
    {
        /*
         * Closed while nothing was asked (Redis's idle timeout, a
         * restart): the next resend connects again at once.
         */

        ngx_log_error(NGX_LOG_INFO, ngx_cycle->log, 0,
                      "tfa_resend_limit_zone \"%V\": redis at %V %s",
                      &rd->store->name, &rd->addr, link->err);

        conn->state = NGX_HTTP_TFA_RESEND_REDIS_DOWN;
        conn->retry_at = ngx_current_msec;

        return;
    }

    conn->state = NGX_HTTP_TFA_RESEND_REDIS_DOWN;
    conn->stalled = 0;
    conn->retry_at = ngx_current_msec + conn->backoff;
    conn->backoff = ngx_min(2 * conn->backoff,
                            NGX_HTTP_TFA_RESEND_REDIS_BACKOFF_MAX);
}


/* AUTH, SELECT: an error drops the connection */

static void
ngx_http_tfa_resend_redis_setup_reply(void *data, redisReply *reply)
{
    ngx_http_tfa_resend_redis_t  *rd = data;

    if (reply == NULL) {
        return;
    }

    rd->conn.stalled = 0;

    if (reply->type != REDIS_REPLY_ERROR) {
        return;
    }

    /* the error names the user, never the password */

    ngx_snprintf(rd->conn.why, sizeof(rd->conn.why) - 1,
                 "refused the connection's set-up%s%V%s: \"%*s\"%Z",
                 rd->username.len ? " as user \"" : "", &rd->username,
                 rd->username.len ? "\"" : "",
                 (size_t) ngx_min(reply->len, 160), reply->str);

    ngx_http_tfa_resend_redis_refused(rd);
}


/* SCRIPT LOAD: the end of the handshake */

static void
ngx_http_tfa_resend_redis_load_reply(void *data, redisReply *reply)
{
    ngx_http_tfa_resend_redis_t  *rd = data;

    if (reply == NULL) {
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
                   "tfa_resend: redis %V ready", &rd->addr);

    rd->conn.state = NGX_HTTP_TFA_RESEND_REDIS_READY;
    rd->conn.backoff = NGX_HTTP_TFA_RESEND_REDIS_BACKOFF_MIN;
    rd->conn.refused = 0;

    ngx_http_tfa_resend_redis_answered(rd);
}


/* ROLE, with Sentinels: the server a Sentinel named must be the master */

static void
ngx_http_tfa_resend_redis_role_reply(void *data, redisReply *reply)
{
    ngx_http_tfa_resend_redis_t  *rd = data;

    redisReply  *role;

    if (reply == NULL) {
        return;
    }

    if (reply->type == REDIS_REPLY_ARRAY && reply->elements > 0
        && reply->element[0]->type == REDIS_REPLY_STRING
        && reply->element[0]->len == 6
        && ngx_strncmp(reply->element[0]->str, "master", 6) == 0)
    {
        return;
    }

    role = (reply->type == REDIS_REPLY_ARRAY && reply->elements > 0)
           ? reply->element[0] : reply;

    ngx_snprintf(rd->conn.why, sizeof(rd->conn.why) - 1,
                 "is not the master of \"%V\" (ROLE: \"%*s\")%Z",
                 &rd->master_name,
                 (size_t) (role->type == REDIS_REPLY_STRING
                           || role->type == REDIS_REPLY_ERROR
                           ? ngx_min(role->len, 64) : 0),
                 role->str);

    ngx_http_tfa_resend_redis_refused(rd);
}


/* the Sentinel's link goes: its query, or its subscription */

static void
ngx_http_tfa_resend_redis_unsubscribe(ngx_http_tfa_resend_redis_t *rd)
{
    if (rd->sentinels == NULL) {
        return;
    }

    if (rd->conn.ask_timer.timer_set) {
        ngx_del_timer(&rd->conn.ask_timer);
    }

    ngx_http_tfa_resend_redis_link_close(&rd->conn.sentinel);
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

    rd->conn.refused = 1;

    ngx_http_tfa_resend_redis_fail(rd);
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
