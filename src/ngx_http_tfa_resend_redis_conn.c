
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
 * Behind Sentinel the master's address is not known when the configuration
 * is read: each connection asks the Sentinels in order, each within
 * redis_timeout, while the handshake waits on the master's link; then it
 * subscribes to +switch-master on the Sentinel that answered.  A failover
 * (+switch-master, -READONLY, the master's connection lost) drops the
 * connection, and the next one asks again.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_event.h>

#include "ngx_http_tfa_resend_redis_conn.h"


/* a connection silent for this long after a timeout is made again */
#define NGX_HTTP_TFA_RESEND_REDIS_STALL_MIN     1000


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
static void ngx_http_tfa_resend_redis_ask_next(ngx_http_tfa_resend_redis_t *rd);
static void ngx_http_tfa_resend_redis_ask_timeout(ngx_event_t *ev);
static void ngx_http_tfa_resend_redis_sentinel_closed(
    ngx_http_tfa_resend_redis_link_t *link);
static void ngx_http_tfa_resend_redis_sentinel_auth_reply(void *data,
    redisReply *reply);
static void ngx_http_tfa_resend_redis_master_reply(void *data,
    redisReply *reply);
static ngx_int_t ngx_http_tfa_resend_redis_master_addr(
    ngx_http_tfa_resend_redis_t *rd, redisReply *ip, redisReply *port);
static void ngx_http_tfa_resend_redis_switch_master(void *data,
    redisReply *reply);
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

    /* connected, or connecting: the link queues behind the handshake */

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
    ngx_int_t                          rc;
    ngx_http_tfa_resend_redis_link_t  *link;
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

    link->timeout = ngx_max(10 * rd->timeout,
                            NGX_HTTP_TFA_RESEND_REDIS_STALL_MIN);
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
                   "tfa_resend redis: %V ready", &rd->addr);

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


/*
 * Sentinel i and the next ones in turn, each within redis_timeout: "SENTINEL
 * get-master-addr-by-name NAME".  NGX_OK: one is being asked, else none
 * could be (conn->why says why).
 */

ngx_int_t
ngx_http_tfa_resend_redis_ask(ngx_http_tfa_resend_redis_t *rd, ngx_uint_t i)
{
    size_t                             argvlen[3];
    const char                        *argv[3];
    ngx_http_tfa_resend_redis_link_t  *link;
    ngx_http_tfa_resend_redis_node_t  *node;
    ngx_http_tfa_resend_redis_conn_t  *conn;

    conn = &rd->conn;
    link = &conn->sentinel;

    ngx_http_tfa_resend_redis_link_close(link);

    for ( /* void */ ; i < rd->nsentinels; i++) {

        node = &rd->sentinels[i];

        ngx_http_tfa_resend_redis_link_init(link);

        link->peer.sockaddr = node->sockaddr;
        link->peer.socklen = node->socklen;
        link->peer.name = &node->name;
        link->timeout = rd->timeout;
        link->closed = ngx_http_tfa_resend_redis_sentinel_closed;
        link->data = rd;

#if (NGX_SSL)
        link->ssl = rd->ssl;
        link->ssl_name = rd->ssl_name.len ? rd->ssl_name : node->host;
        link->ssl_verify = rd->ssl_verify;
#endif

        conn->asked = i;

        if (rd->sentinel_password.len) {
            argv[0] = "AUTH";
            argvlen[0] = sizeof("AUTH") - 1;
            argv[1] = (const char *) rd->sentinel_password.data;
            argvlen[1] = rd->sentinel_password.len;

            if (ngx_http_tfa_resend_redis_link_send_argv(link, 2, argv,
                    argvlen, ngx_http_tfa_resend_redis_sentinel_auth_reply,
                    rd)
                != NGX_OK)
            {
                goto failed;
            }
        }

        argv[0] = "SENTINEL";
        argvlen[0] = sizeof("SENTINEL") - 1;
        argv[1] = "get-master-addr-by-name";
        argvlen[1] = sizeof("get-master-addr-by-name") - 1;
        argv[2] = (const char *) rd->master_name.data;
        argvlen[2] = rd->master_name.len;

        if (ngx_http_tfa_resend_redis_link_send_argv(link, 3, argv, argvlen,
                ngx_http_tfa_resend_redis_master_reply, rd)
            != NGX_OK)
        {
            goto failed;
        }

        if (ngx_http_tfa_resend_redis_link_connect(link) == NGX_OK) {
            conn->ask_timer.handler = ngx_http_tfa_resend_redis_ask_timeout;
            conn->ask_timer.data = rd;
            conn->ask_timer.log = ngx_cycle->log;

            ngx_add_timer(&conn->ask_timer, rd->timeout);

            return NGX_OK;
        }

        ngx_snprintf(conn->why, sizeof(conn->why) - 1,
                     "could not be found: the Sentinel at %V %s%Z",
                     &node->name, link->err);

        ngx_http_tfa_resend_redis_link_close(link);
    }

    /* conn->why: the last Sentinel's failure */

    return NGX_DECLINED;

failed:

    ngx_sprintf(conn->why, "could not be found: out of memory%Z");
    ngx_http_tfa_resend_redis_link_close(link);

    return NGX_DECLINED;
}


/* the Sentinel asked could not tell (conn->why says why): the next one */

static void
ngx_http_tfa_resend_redis_ask_next(ngx_http_tfa_resend_redis_t *rd)
{
    ngx_http_tfa_resend_redis_conn_t  *conn;

    conn = &rd->conn;

    if (conn->ask_timer.timer_set) {
        ngx_del_timer(&conn->ask_timer);
    }

    if (ngx_http_tfa_resend_redis_ask(rd, conn->asked + 1) == NGX_OK) {
        return;
    }

    /* none could: the resends waiting are decided by on_store_error */

    ngx_http_tfa_resend_redis_fail(rd);
}


static void
ngx_http_tfa_resend_redis_ask_timeout(ngx_event_t *ev)
{
    ngx_http_tfa_resend_redis_t  *rd = ev->data;

    ngx_snprintf(rd->conn.why, sizeof(rd->conn.why) - 1,
                 "could not be found: the Sentinel at %V did not answer "
                 "within redis_timeout (%Mms)%Z",
                 &rd->sentinels[rd->conn.asked].name, rd->timeout);

    ngx_http_tfa_resend_redis_ask_next(rd);
}


static void
ngx_http_tfa_resend_redis_sentinel_closed(
    ngx_http_tfa_resend_redis_link_t *link)
{
    ngx_http_tfa_resend_redis_t  *rd = link->data;

    ngx_http_tfa_resend_redis_conn_t  *conn;

    conn = &rd->conn;

    if (link->push) {

        /* subscribed: the master goes on, a failover is still seen */

        ngx_log_error(NGX_LOG_INFO, ngx_cycle->log, 0,
                      "tfa_resend_limit_zone \"%V\": the Sentinel at %V %s: "
                      "+switch-master is no longer heard, until the next "
                      "connection", &rd->store->name,
                      &rd->sentinels[conn->asked].name, link->err);
        return;
    }

    ngx_snprintf(conn->why, sizeof(conn->why) - 1,
                 "could not be found: the Sentinel at %V %s%Z",
                 &rd->sentinels[conn->asked].name, link->err);

    ngx_http_tfa_resend_redis_ask_next(rd);
}


static void
ngx_http_tfa_resend_redis_sentinel_auth_reply(void *data, redisReply *reply)
{
    ngx_http_tfa_resend_redis_t  *rd = data;

    if (reply == NULL || reply->type != REDIS_REPLY_ERROR) {
        return;
    }

    ngx_snprintf(rd->conn.why, sizeof(rd->conn.why) - 1,
                 "could not be found: the Sentinel at %V refused "
                 "redis_sentinel_password_file: \"%*s\"%Z",
                 &rd->sentinels[rd->conn.asked].name,
                 (size_t) ngx_min(reply->len, 160), reply->str);

    ngx_http_tfa_resend_redis_ask_next(rd);
}


/*
 * The master's address from a Sentinel: the master's link, its handshake
 * queued, connects to it; the Sentinel's link stays, subscribed to
 * +switch-master
 */

static void
ngx_http_tfa_resend_redis_master_reply(void *data, redisReply *reply)
{
    ngx_http_tfa_resend_redis_t  *rd = data;

    size_t                             argvlen[2];
    const char                        *argv[2];
    ngx_http_tfa_resend_redis_link_t  *link;
    ngx_http_tfa_resend_redis_conn_t  *conn;

    if (reply == NULL) {
        return;
    }

    conn = &rd->conn;
    link = &conn->sentinel;

    if (reply->type != REDIS_REPLY_ARRAY || reply->elements != 2
        || reply->element[0]->type != REDIS_REPLY_STRING
        || reply->element[1]->type != REDIS_REPLY_STRING)
    {
        ngx_snprintf(conn->why, sizeof(conn->why) - 1,
                     "could not be found: the Sentinel at %V %s%*s%s%Z",
                     &rd->sentinels[conn->asked].name,
                     reply->type == REDIS_REPLY_ERROR ? "answered \"" :
                         "does not know it",
                     (size_t) (reply->type == REDIS_REPLY_ERROR
                               ? ngx_min(reply->len, 160) : 0),
                     reply->str,
                     reply->type == REDIS_REPLY_ERROR ? "\"" : "");

        ngx_http_tfa_resend_redis_ask_next(rd);
        return;
    }

    if (ngx_http_tfa_resend_redis_master_addr(rd, reply->element[0],
                                              reply->element[1])
        != NGX_OK)
    {
        ngx_snprintf(conn->why, sizeof(conn->why) - 1,
                     "could not be found: the Sentinel at %V named "
                     "\"%*s\" port \"%*s\"%Z",
                     &rd->sentinels[conn->asked].name,
                     (size_t) ngx_min(reply->element[0]->len, 64),
                     reply->element[0]->str,
                     (size_t) ngx_min(reply->element[1]->len, 16),
                     reply->element[1]->str);

        ngx_http_tfa_resend_redis_ask_next(rd);
        return;
    }

    if (conn->ask_timer.timer_set) {
        ngx_del_timer(&conn->ask_timer);
    }

    ngx_log_debug2(NGX_LOG_DEBUG_HTTP, ngx_cycle->log, 0,
                   "tfa_resend redis: sentinel %V: master at %V",
                   &rd->sentinels[conn->asked].name, &rd->addr);

    /* a failover from now on is heard; the subscription is best effort */

    argv[0] = "SUBSCRIBE";
    argvlen[0] = sizeof("SUBSCRIBE") - 1;
    argv[1] = "+switch-master";
    argvlen[1] = sizeof("+switch-master") - 1;

    if (ngx_http_tfa_resend_redis_link_send_argv(link, 2, argv, argvlen,
                                                 NULL, NULL)
        == NGX_OK)
    {
        link->push = ngx_http_tfa_resend_redis_switch_master;

    } else {
        ngx_http_tfa_resend_redis_link_close(link);
    }

    conn->master.peer.socklen = conn->master_socklen;

#if (NGX_SSL)
    if (rd->ssl_name.len == 0) {
        conn->master.ssl_name.data = conn->master_ip;
        conn->master.ssl_name.len = ngx_strlen(conn->master_ip);
    }
#endif

    if (ngx_http_tfa_resend_redis_link_connect(&conn->master) != NGX_OK) {
        ngx_memcpy(conn->why, conn->master.err, sizeof(conn->why));
        ngx_http_tfa_resend_redis_fail(rd);
    }
}


/* the IP address and port a Sentinel named: the master's link's peer */

static ngx_int_t
ngx_http_tfa_resend_redis_master_addr(ngx_http_tfa_resend_redis_t *rd,
    redisReply *ip, redisReply *port)
{
    in_addr_t                          a;
    ngx_int_t                          n;
    struct sockaddr_in                *sin;
#if (NGX_HAVE_INET6)
    struct sockaddr_in6               *sin6;
#endif
    ngx_http_tfa_resend_redis_conn_t  *conn;

    conn = &rd->conn;

    n = ngx_atoi((u_char *) port->str, port->len);

    if (n < 1 || n > 65535 || ip->len == 0 || ip->len > NGX_INET6_ADDRSTRLEN)
    {
        return NGX_ERROR;
    }

    ngx_memzero(&conn->master_sockaddr, sizeof(ngx_sockaddr_t));

    a = ngx_inet_addr((u_char *) ip->str, ip->len);

    if (a != INADDR_NONE) {
        sin = &conn->master_sockaddr.sockaddr_in;
        sin->sin_family = AF_INET;
        sin->sin_port = htons((in_port_t) n);
        sin->sin_addr.s_addr = a;
        conn->master_socklen = sizeof(struct sockaddr_in);

#if (NGX_HAVE_INET6)
    } else if (ngx_inet6_addr((u_char *) ip->str, ip->len,
                  conn->master_sockaddr.sockaddr_in6.sin6_addr.s6_addr)
               == NGX_OK)
    {
        sin6 = &conn->master_sockaddr.sockaddr_in6;
        sin6->sin6_family = AF_INET6;
        sin6->sin6_port = htons((in_port_t) n);
        conn->master_socklen = sizeof(struct sockaddr_in6);
#endif

    } else {
        return NGX_ERROR;
    }

    *ngx_cpymem(conn->master_ip, ip->str, ip->len) = '\0';

    rd->addr.len = ngx_sock_ntop(&conn->master_sockaddr.sockaddr,
                                 conn->master_socklen, conn->addr,
                                 NGX_SOCKADDR_STRLEN, 1);

    return NGX_OK;
}


/*
 * A message on the Sentinel's subscription: "+switch-master NAME OLD-IP
 * OLD-PORT NEW-IP NEW-PORT".  For this master, the connection is made
 * again at once, to the master a Sentinel names then.
 */

static void
ngx_http_tfa_resend_redis_switch_master(void *data, redisReply *reply)
{
    ngx_http_tfa_resend_redis_t  *rd = data;

    redisReply                        *text;
    ngx_http_tfa_resend_redis_conn_t  *conn;

    conn = &rd->conn;

    if (reply->type != REDIS_REPLY_ARRAY || reply->elements != 3
        || reply->element[2]->type != REDIS_REPLY_STRING)
    {
        return;
    }

    text = reply->element[2];

    if ((size_t) text->len <= rd->master_name.len
        || text->str[rd->master_name.len] != ' '
        || ngx_strncmp(text->str, rd->master_name.data,
                       rd->master_name.len) != 0)
    {
        return;
    }

    ngx_log_error(NGX_LOG_NOTICE, ngx_cycle->log, 0,
                  "tfa_resend_limit_zone \"%V\": the Sentinel at %V says "
                  "+switch-master \"%*s\": connecting to the new master",
                  &rd->store->name, &rd->sentinels[conn->asked].name,
                  (size_t) ngx_min(text->len, 200), text->str);

    ngx_snprintf(conn->why, sizeof(conn->why) - 1,
                 "is no longer the master (+switch-master)%Z");

    ngx_http_tfa_resend_redis_fail(rd);

    /* not a failure of the new master's: no backoff */

    conn->retry_at = ngx_current_msec;
    conn->backoff = NGX_HTTP_TFA_RESEND_REDIS_BACKOFF_MIN;
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
