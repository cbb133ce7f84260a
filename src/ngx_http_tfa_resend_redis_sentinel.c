
/*
 * Copyright (C) ngx_http_tfa_resend_module authors
 *
 * The Redis store's master found through Sentinels.
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
#include "ngx_http_tfa_resend_redis_sentinel.h"


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
static ngx_uint_t ngx_http_tfa_resend_redis_is_master(
    ngx_http_tfa_resend_redis_t *rd, u_char *text, size_t len);


/*
 * Sentinel i and the next ones in turn, each within redis_timeout: "SENTINEL
 * get-master-addr-by-name NAME".  NGX_OK: one is being asked, else none
 * could be (conn->why says why).
 */

ngx_int_t
ngx_http_tfa_resend_redis_sentinel_ask(ngx_http_tfa_resend_redis_t *rd,
    ngx_uint_t i)
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

    if (ngx_http_tfa_resend_redis_sentinel_ask(rd, conn->asked + 1)
        == NGX_OK)
    {
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
                   "tfa_resend: redis sentinel %V: master at %V",
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
 * again at once, to the master a Sentinel names then; unless it is made
 * to the new master already (a Sentinel names the promoted replica before
 * the message is sent): dropped, its commands in flight would be refused
 * though the master may run them, and their quota lost.
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

    if (conn->state != NGX_HTTP_TFA_RESEND_REDIS_DOWN
        && ngx_http_tfa_resend_redis_is_master(rd, (u_char *) text->str,
                                               text->len))
    {
        ngx_log_error(NGX_LOG_NOTICE, ngx_cycle->log, 0,
                      "tfa_resend_limit_zone \"%V\": the Sentinel at %V "
                      "says +switch-master \"%*s\": connected to the new "
                      "master already", &rd->store->name,
                      &rd->sentinels[conn->asked].name,
                      (size_t) ngx_min(text->len, 200), text->str);
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


/* whether "... NEW-IP NEW-PORT" names the master connected to */

static ngx_uint_t
ngx_http_tfa_resend_redis_is_master(ngx_http_tfa_resend_redis_t *rd,
    u_char *text, size_t len)
{
    u_char                            *ip, *port, *last;
    ngx_int_t                          n;
    ngx_http_tfa_resend_redis_conn_t  *conn;

    conn = &rd->conn;
    last = text + len;

    port = last;
    while (port > text && port[-1] != ' ') {
        port--;
    }

    if (port == text) {
        return 0;
    }

    ip = port - 1;
    while (ip > text && ip[-1] != ' ') {
        ip--;
    }

    n = ngx_atoi(port, last - port);

    return n != NGX_ERROR && n <= 65535
           && (in_port_t) n
              == ngx_inet_get_port(&conn->master_sockaddr.sockaddr)
           && (size_t) (port - 1 - ip) == ngx_strlen(conn->master_ip)
           && ngx_strncmp(ip, conn->master_ip, port - 1 - ip) == 0;
}
