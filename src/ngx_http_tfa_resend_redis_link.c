
/*
 * Copyright (C) ngx_http_tfa_resend_module authors
 *
 * One connection to one Redis server on nginx's event loop.
 *
 * The socket is an nginx peer connection, as an upstream's
 * (ngx_event_connect_peer, edge-triggered events, nginx's timers); TLS is
 * nginx's own client (ngx_ssl_create_connection, ngx_ssl_handshake), the
 * certificate checked as proxy_ssl_verify does.  hiredis does what it is
 * good at and nothing else: its reader parses the answers, its formatter
 * writes a command from arguments.  Its asynchronous API, which owns the
 * socket and knows no TLS in Debian's 0.14, is not used.
 *
 * Commands are appended to one buffer and the write event is posted: all
 * that is queued during one pass of the event loop goes out in one
 * write at its end.  A command queued before the link is open waits in
 * the buffer, so a handshake (AUTH, SELECT ...) and the first commands
 * are pipelined.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_event.h>
#include <ngx_event_connect.h>

#include "ngx_http_tfa_resend_redis_link.h"


/* a command's handler, until its answer is in */

typedef struct {
    ngx_queue_t                          queue;
    ngx_http_tfa_resend_redis_reply_pt   handler;
    void                                *data;
} ngx_http_tfa_resend_redis_wait_t;


static void ngx_http_tfa_resend_redis_link_write(ngx_event_t *wev);
static void ngx_http_tfa_resend_redis_link_read(ngx_event_t *rev);
static ngx_int_t ngx_http_tfa_resend_redis_link_connected(
    ngx_http_tfa_resend_redis_link_t *link);
static void ngx_http_tfa_resend_redis_link_open(
    ngx_http_tfa_resend_redis_link_t *link);
static void ngx_http_tfa_resend_redis_link_fail(
    ngx_http_tfa_resend_redis_link_t *link);
static void ngx_http_tfa_resend_redis_link_shut(
    ngx_http_tfa_resend_redis_link_t *link, ngx_queue_t *waiting);
static void ngx_http_tfa_resend_redis_link_answer_all(ngx_queue_t *waiting);
static ngx_int_t ngx_http_tfa_resend_redis_link_get_peer(
    ngx_peer_connection_t *pc, void *data);
#if (NGX_SSL)
static ngx_int_t ngx_http_tfa_resend_redis_link_ssl(
    ngx_http_tfa_resend_redis_link_t *link);
static void ngx_http_tfa_resend_redis_link_ssl_done(ngx_connection_t *c);
static ngx_int_t ngx_http_tfa_resend_redis_link_check_name(
    ngx_http_tfa_resend_redis_link_t *link);
static ngx_uint_t ngx_http_tfa_resend_redis_link_is_ip(ngx_str_t *name);
#endif
static void ngx_http_tfa_resend_redis_link_log(ngx_log_t *log,
    ngx_uint_t level, u_char *buf, size_t len);


/* one read buffer for every link of the worker: answers are parsed at once */
static u_char  ngx_http_tfa_resend_redis_link_buf[16384];


ngx_int_t
ngx_http_tfa_resend_redis_link_name(ngx_pool_t *pool, ngx_str_t *host,
    ngx_str_t *name)
{
    ngx_str_t  h;

    h = *host;

    if (h.len > 2 && h.data[0] == '[') {
        h.data++;
        h.len -= 2;
    }

    name->data = ngx_pnalloc(pool, h.len + 1);
    if (name->data == NULL) {
        return NGX_ERROR;
    }

    name->len = h.len;
    *ngx_cpymem(name->data, h.data, h.len) = '\0';

    return NGX_OK;
}


void
ngx_http_tfa_resend_redis_link_init(ngx_http_tfa_resend_redis_link_t *link)
{
    ngx_uint_t  gen;

    /* a handler of the link's may set it up again: gen tells it is new */

    gen = link->gen;

    ngx_memzero(link, sizeof(ngx_http_tfa_resend_redis_link_t));

    link->gen = gen + 1;

    ngx_queue_init(&link->replies);
    link->state = NGX_HTTP_TFA_RESEND_REDIS_LINK_IDLE;
}


ngx_int_t
ngx_http_tfa_resend_redis_link_connect(ngx_http_tfa_resend_redis_link_t *link)
{
    ngx_int_t          rc;
    ngx_connection_t  *c;

    link->reader = redisReaderCreate();
    if (link->reader == NULL) {
        ngx_sprintf(link->err, "could not be connected to: out of "
                    "memory%Z");
        return NGX_ERROR;
    }

    /*
     * nginx logs a failed connect(), TLS handshake, read or write on the
     * connection's log, each time: a log of the link's own keeps the
     * reason for the store's error line instead, which is logged once a
     * second at most
     */

    link->log = *ngx_cycle->log;
    link->log.log_level = NGX_LOG_INFO;
    link->log.writer = ngx_http_tfa_resend_redis_link_log;
    link->log.wdata = link;
    link->log.handler = NULL;
    link->log.action = NULL;
    link->log.connection = 0;
    link->log.next = NULL;
    link->doing = "could not be connected to";

    link->peer.get = ngx_http_tfa_resend_redis_link_get_peer;
    link->peer.log = &link->log;
    link->peer.log_error = NGX_ERROR_ERR;
    link->peer.so_keepalive = 1;
    link->peer.tries = 1;
    link->peer.connection = NULL;

    ngx_sprintf(link->err, "could not be connected to%Z");

    rc = ngx_event_connect_peer(&link->peer);

    if (rc == NGX_ERROR || rc == NGX_BUSY || rc == NGX_DECLINED) {

        if (rc != NGX_DECLINED) {
            /* NGX_DECLINED: link->log kept connect()'s reason */
            ngx_sprintf(link->err, "could not be connected to: no socket "
                        "or no free connection in this worker%Z");
        }

        if (link->peer.connection) {
            ngx_close_connection(link->peer.connection);
            link->peer.connection = NULL;
        }

        redisReaderFree(link->reader);
        link->reader = NULL;

        return NGX_ERROR;
    }

    c = link->peer.connection;

    c->data = link;
    c->read->handler = ngx_http_tfa_resend_redis_link_read;
    c->write->handler = ngx_http_tfa_resend_redis_link_write;

    link->log.connection = c->number;

    c->pool = ngx_create_pool(512, ngx_cycle->log);
    if (c->pool == NULL) {
        ngx_sprintf(link->err, "could not be connected to: out of "
                    "memory%Z");
        ngx_close_connection(c);
        link->peer.connection = NULL;
        redisReaderFree(link->reader);
        link->reader = NULL;
        return NGX_ERROR;
    }

    link->state = NGX_HTTP_TFA_RESEND_REDIS_LINK_CONNECT;

    /* connected at once or not, the write handler goes on: never from here */

    ngx_add_timer(c->write, link->timeout);

    if (rc == NGX_OK) {
        ngx_post_event(c->write, &ngx_posted_events);
    }

    return NGX_OK;
}


static ngx_int_t
ngx_http_tfa_resend_redis_link_get_peer(ngx_peer_connection_t *pc,
    void *data)
{
    return NGX_OK;
}


ngx_int_t
ngx_http_tfa_resend_redis_link_send(ngx_http_tfa_resend_redis_link_t *link,
    u_char *cmd, size_t len, ngx_http_tfa_resend_redis_reply_pt handler,
    void *data)
{
    u_char                            *out;
    size_t                             size;
    ngx_connection_t                  *c;
    ngx_http_tfa_resend_redis_wait_t  *w;

    w = ngx_alloc(sizeof(ngx_http_tfa_resend_redis_wait_t), ngx_cycle->log);
    if (w == NULL) {
        return NGX_ERROR;
    }

    if (link->out_len + len > link->out_size) {

        /* what was sent goes; the rest moves to the front */

        size = ngx_max(2 * link->out_size, link->out_len - link->out_sent
                                           + len);
        size = ngx_max(size, 4096);

        out = ngx_alloc(size, ngx_cycle->log);
        if (out == NULL) {
            ngx_free(w);
            return NGX_ERROR;
        }

        if (link->out) {
            ngx_memcpy(out, link->out + link->out_sent,
                       link->out_len - link->out_sent);
            ngx_free(link->out);
        }

        link->out = out;
        link->out_len -= link->out_sent;
        link->out_sent = 0;
        link->out_size = size;
    }

    ngx_memcpy(link->out + link->out_len, cmd, len);
    link->out_len += len;

    w->handler = handler;
    w->data = data;
    ngx_queue_insert_tail(&link->replies, &w->queue);
    link->pending++;

    c = link->peer.connection;

    if (link->state == NGX_HTTP_TFA_RESEND_REDIS_LINK_OPEN
        && !c->write->posted)
    {
        ngx_post_event(c->write, &ngx_posted_events);
    }

    return NGX_OK;
}


ngx_int_t
ngx_http_tfa_resend_redis_link_send_argv(
    ngx_http_tfa_resend_redis_link_t *link, int argc, const char **argv,
    const size_t *argvlen, ngx_http_tfa_resend_redis_reply_pt handler,
    void *data)
{
    int        len;
    char      *cmd;
    ngx_int_t  rc;

    len = redisFormatCommandArgv(&cmd, argc, argv, argvlen);
    if (len < 0) {
        return NGX_ERROR;
    }

    rc = ngx_http_tfa_resend_redis_link_send(link, (u_char *) cmd,
                                             (size_t) len, handler, data);

    redisFreeCommand(cmd);

    return rc;
}


/*
 * A command timed out at stalled and nothing was answered since: the next
 * ones would only wait as long.  Until the server answers again (the late
 * answers come on the same link, and are taken back if need be) they do
 * not wait for it; after the cutoff its link is made again, as a hung host
 * would otherwise keep it until TCP gives up.
 */

ngx_int_t
ngx_http_tfa_resend_redis_link_silent(ngx_msec_t stalled, ngx_msec_t timeout,
    u_char *why, size_t len)
{
    ngx_msec_t  silent;

    silent = ngx_current_msec - stalled;

    if (silent < ngx_http_tfa_resend_redis_link_cutoff(timeout)) {
        ngx_snprintf(why, len, "has not answered for %M ms "
                     "(redis_timeout=%Mms)%Z", silent, timeout);
        return NGX_DECLINED;
    }

    ngx_snprintf(why, len, "has not answered for %M ms: connecting again%Z",
                 silent);

    return NGX_ABORT;
}


static void
ngx_http_tfa_resend_redis_link_write(ngx_event_t *wev)
{
    ssize_t                            n;
    ngx_connection_t                  *c;
    ngx_http_tfa_resend_redis_link_t  *link;

    c = wev->data;
    link = c->data;

    if (link->state == NGX_HTTP_TFA_RESEND_REDIS_LINK_CONNECT) {

        if (wev->timedout) {
            ngx_sprintf(link->err, "could not be connected to: no "
                        "connection within %M ms%Z", link->timeout);
            ngx_http_tfa_resend_redis_link_fail(link);
            return;
        }

        if (ngx_http_tfa_resend_redis_link_connected(link) != NGX_OK) {
            ngx_http_tfa_resend_redis_link_fail(link);
            return;
        }

#if (NGX_SSL)
        if (link->ssl && c->ssl == NULL) {
            (void) ngx_http_tfa_resend_redis_link_ssl(link);
            return;
        }
#endif

        ngx_http_tfa_resend_redis_link_open(link);
        return;
    }

    if (link->state != NGX_HTTP_TFA_RESEND_REDIS_LINK_OPEN) {
        return;
    }

    while (link->out_sent < link->out_len) {

        /* nginx's reason, if it logs one, takes the place of this */

        ngx_sprintf(link->err, "closed the connection: the write "
                    "failed%Z");

        n = c->send(c, link->out + link->out_sent,
                    link->out_len - link->out_sent);

        if (n == NGX_AGAIN) {
            if (ngx_handle_write_event(wev, 0) != NGX_OK) {
                ngx_sprintf(link->err, "closed the connection: could not "
                            "wait to write%Z");
                ngx_http_tfa_resend_redis_link_fail(link);
            }

            return;
        }

        if (n == NGX_ERROR || n == 0) {
            ngx_http_tfa_resend_redis_link_fail(link);
            return;
        }

        link->out_sent += n;
    }

    link->out_len = 0;
    link->out_sent = 0;
}


/* the TCP connection is made, or failed: SO_ERROR says which */

static ngx_int_t
ngx_http_tfa_resend_redis_link_connected(
    ngx_http_tfa_resend_redis_link_t *link)
{
    int                err;
    socklen_t          len;
    ngx_connection_t  *c;

    c = link->peer.connection;

    err = 0;
    len = sizeof(int);

    if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, (void *) &err, &len) == -1) {
        err = ngx_socket_errno;
    }

    if (err) {
        ngx_snprintf(link->err, sizeof(link->err) - 1,
                     "could not be connected to: %s%Z", strerror(err));
        return NGX_ERROR;
    }

    return NGX_OK;
}


static void
ngx_http_tfa_resend_redis_link_open(ngx_http_tfa_resend_redis_link_t *link)
{
    ngx_uint_t         gen;
    ngx_connection_t  *c;

    c = link->peer.connection;

    if (c->write->timer_set) {
        ngx_del_timer(c->write);
    }

    link->state = NGX_HTTP_TFA_RESEND_REDIS_LINK_OPEN;
    link->doing = "closed the connection";

    gen = link->gen;

    if (link->opened) {
        link->opened(link);
    }

    if (link->gen != gen) {
        return;
    }

    /* what was queued while connecting, and the answers already in */

    if (link->out_len && !c->write->posted) {
        ngx_post_event(c->write, &ngx_posted_events);
    }

    if (c->read->ready) {
        ngx_post_event(c->read, &ngx_posted_events);
    }
}


#if (NGX_SSL)

static ngx_int_t
ngx_http_tfa_resend_redis_link_ssl(ngx_http_tfa_resend_redis_link_t *link)
{
    ngx_int_t          rc;
    ngx_connection_t  *c;

    c = link->peer.connection;

    if (ngx_ssl_create_connection(link->ssl, c, NGX_SSL_CLIENT) != NGX_OK) {
        ngx_sprintf(link->err, "could not start TLS%Z");
        ngx_http_tfa_resend_redis_link_fail(link);
        return NGX_ERROR;
    }

    /* no SNI for an IP address (RFC 6066) */

    if (!ngx_http_tfa_resend_redis_link_is_ip(&link->ssl_name)
        && SSL_set_tlsext_host_name(c->ssl->connection,
                                    (char *) link->ssl_name.data)
           == 0)
    {
        ngx_sprintf(link->err, "could not start TLS: SNI%Z");
        ngx_http_tfa_resend_redis_link_fail(link);
        return NGX_ERROR;
    }

    /* nginx's reason for a failed handshake goes to link->err */

    link->doing = "refused the TLS handshake";

    ngx_sprintf(link->err, "refused the TLS handshake%Z");

    rc = ngx_ssl_handshake(c);

    if (rc == NGX_AGAIN) {
        c->ssl->handler = ngx_http_tfa_resend_redis_link_ssl_done;
        return NGX_AGAIN;
    }

    ngx_http_tfa_resend_redis_link_ssl_done(c);

    return NGX_OK;
}


static void
ngx_http_tfa_resend_redis_link_ssl_done(ngx_connection_t *c)
{
    long                               rc;
    ngx_http_tfa_resend_redis_link_t  *link;

    link = c->data;

    if (c->write->timedout) {
        ngx_sprintf(link->err, "could not be connected to: no TLS "
                    "handshake within %M ms%Z", link->timeout);
        ngx_http_tfa_resend_redis_link_fail(link);
        return;
    }

    if (!c->ssl->handshaked) {
        /* link->err: nginx's reason, as link->log kept it */
        ngx_http_tfa_resend_redis_link_fail(link);
        return;
    }

    if (link->ssl_verify) {
        rc = SSL_get_verify_result(c->ssl->connection);

        if (rc != X509_V_OK) {
            ngx_snprintf(link->err, sizeof(link->err) - 1,
                         "sent a certificate that failed verification: "
                         "(%l: %s)%Z", rc, X509_verify_cert_error_string(rc));
            ngx_http_tfa_resend_redis_link_fail(link);
            return;
        }

        if (ngx_http_tfa_resend_redis_link_check_name(link) != NGX_OK) {
            ngx_snprintf(link->err, sizeof(link->err) - 1,
                         "sent a certificate that does not match "
                         "\"%V\"%Z", &link->ssl_name);
            ngx_http_tfa_resend_redis_link_fail(link);
            return;
        }
    }

    c->read->handler = ngx_http_tfa_resend_redis_link_read;
    c->write->handler = ngx_http_tfa_resend_redis_link_write;

    ngx_http_tfa_resend_redis_link_open(link);
}


/*
 * The name the certificate must hold: a host name as proxy_ssl_name is
 * checked, an IP address against the certificate's IP addresses
 */

static ngx_int_t
ngx_http_tfa_resend_redis_link_check_name(
    ngx_http_tfa_resend_redis_link_t *link)
{
    int                rc;
    X509              *cert;
    ngx_connection_t  *c;

    c = link->peer.connection;

    if (!ngx_http_tfa_resend_redis_link_is_ip(&link->ssl_name)) {
        return ngx_ssl_check_host(c, &link->ssl_name);
    }

    cert = SSL_get_peer_certificate(c->ssl->connection);
    if (cert == NULL) {
        return NGX_ERROR;
    }

    rc = X509_check_ip_asc(cert, (char *) link->ssl_name.data, 0);

    X509_free(cert);

    return rc == 1 ? NGX_OK : NGX_ERROR;
}


static ngx_uint_t
ngx_http_tfa_resend_redis_link_is_ip(ngx_str_t *name)
{
    if (ngx_inet_addr(name->data, name->len) != INADDR_NONE) {
        return 1;
    }

    /* an IPv6 address, the only kind of name with a colon */

    return ngx_strlchr(name->data, name->data + name->len, ':') != NULL;
}

#endif


/* nginx's line about connect() or TLS, without its time and process */

static void
ngx_http_tfa_resend_redis_link_log(ngx_log_t *log, ngx_uint_t level,
    u_char *buf, size_t len)
{
    ngx_http_tfa_resend_redis_link_t  *link = log->wdata;

    u_char  *p, *last;

    if (link->doing == NULL) {
        return;
    }

    last = buf + len;

    while (last > buf && (last[-1] == LF || last[-1] == CR)) {
        last--;
    }

    /* "TIME [LEVEL] PID#TID: *N text" */

    p = ngx_strlchr(buf, last, '#');
    p = p ? ngx_strlchr(p, last, ' ') : NULL;

    if (p && p + 1 < last && p[1] == '*') {
        p = ngx_strlchr(p + 1, last, ' ');
    }

    p = p ? p + 1 : buf;

    ngx_snprintf(link->err, sizeof(link->err) - 1, "%s: %*s%Z",
                 link->doing, last - p, p);
}


static void
ngx_http_tfa_resend_redis_link_read(ngx_event_t *rev)
{
    void                              *r;
    ssize_t                            n;
    ngx_uint_t                         gen;
    ngx_queue_t                       *q;
    redisReply                        *reply;
    ngx_connection_t                  *c;
    ngx_http_tfa_resend_redis_wait_t  *w;
    ngx_http_tfa_resend_redis_link_t  *link;

    c = rev->data;
    link = c->data;

    if (link->state != NGX_HTTP_TFA_RESEND_REDIS_LINK_OPEN) {
        /* an answer before the link is open: read once it is */
        return;
    }

    gen = link->gen;

    for ( ;; ) {

        /* nginx's reason, if it logs one, takes the place of this */

        ngx_sprintf(link->err, "closed the connection: the read failed%Z");

        n = c->recv(c, ngx_http_tfa_resend_redis_link_buf,
                    sizeof(ngx_http_tfa_resend_redis_link_buf));

        if (n == NGX_AGAIN) {
            break;
        }

        if (n == 0 || n == NGX_ERROR) {
            if (n == 0) {
                ngx_sprintf(link->err, "closed the connection%Z");
            }

            ngx_http_tfa_resend_redis_link_fail(link);
            return;
        }

        if (redisReaderFeed(link->reader,
                            (const char *) ngx_http_tfa_resend_redis_link_buf,
                            (size_t) n)
            != REDIS_OK)
        {
            ngx_sprintf(link->err, "could not be read: out of memory%Z");
            ngx_http_tfa_resend_redis_link_fail(link);
            return;
        }

        for ( ;; ) {
            r = NULL;

            if (redisReaderGetReply(link->reader, &r) != REDIS_OK) {
                ngx_snprintf(link->err, sizeof(link->err) - 1,
                             "answered outside the protocol: %s%Z",
                             link->reader->errstr);
                ngx_http_tfa_resend_redis_link_fail(link);
                return;
            }

            if (r == NULL) {
                break;
            }

            reply = r;

            if (ngx_queue_empty(&link->replies)) {

                if (link->push == NULL) {
                    freeReplyObject(reply);
                    ngx_sprintf(link->err, "answered a command never "
                                "sent%Z");
                    ngx_http_tfa_resend_redis_link_fail(link);
                    return;
                }

                link->push(link->data, reply);

            } else {
                q = ngx_queue_head(&link->replies);
                ngx_queue_remove(q);
                link->pending--;

                w = ngx_queue_data(q, ngx_http_tfa_resend_redis_wait_t,
                                   queue);

                if (w->handler) {
                    w->handler(w->data, reply);
                }

                ngx_free(w);
            }

            freeReplyObject(reply);

            if (link->gen != gen) {
                /* the handler closed the link */
                return;
            }
        }
    }

    if (ngx_handle_read_event(rev, 0) != NGX_OK) {
        ngx_sprintf(link->err, "closed the connection: could not wait to "
                    "read%Z");
        ngx_http_tfa_resend_redis_link_fail(link);
    }
}


/* the link closes by itself (link->err says why) */

static void
ngx_http_tfa_resend_redis_link_fail(ngx_http_tfa_resend_redis_link_t *link)
{
    ngx_queue_t  waiting;

    ngx_log_debug1(NGX_LOG_DEBUG_EVENT, ngx_cycle->log, 0,
                   "tfa_resend: redis link %s", link->err);

    ngx_http_tfa_resend_redis_link_shut(link, &waiting);

    if (link->closed) {
        link->closed(link);
    }

    ngx_http_tfa_resend_redis_link_answer_all(&waiting);
}


void
ngx_http_tfa_resend_redis_link_close(ngx_http_tfa_resend_redis_link_t *link)
{
    ngx_queue_t  waiting;

    ngx_http_tfa_resend_redis_link_shut(link, &waiting);
    ngx_http_tfa_resend_redis_link_answer_all(&waiting);
}


/* the socket goes; the handlers waiting move to *waiting */

static void
ngx_http_tfa_resend_redis_link_shut(ngx_http_tfa_resend_redis_link_t *link,
    ngx_queue_t *waiting)
{
    ngx_pool_t        *pool;
    ngx_connection_t  *c;

    link->gen++;

    /* the reason is kept: what nginx logs while closing is not it */

    link->doing = NULL;

    c = link->peer.connection;

    if (c) {
        pool = c->pool;

#if (NGX_SSL)
        if (c->ssl) {
            c->ssl->no_wait_shutdown = 1;
            (void) ngx_ssl_shutdown(c);
        }
#endif

        c->log = ngx_cycle->log;
        ngx_close_connection(c);
        link->peer.connection = NULL;

        if (pool) {
            ngx_destroy_pool(pool);
        }
    }

    if (link->reader) {
        redisReaderFree(link->reader);
        link->reader = NULL;
    }

    if (link->out) {
        ngx_free(link->out);
        link->out = NULL;
    }

    link->out_len = 0;
    link->out_sent = 0;
    link->out_size = 0;
    link->lost = link->pending;
    link->pending = 0;
    link->state = NGX_HTTP_TFA_RESEND_REDIS_LINK_IDLE;

    ngx_queue_init(waiting);

    if (!ngx_queue_empty(&link->replies)) {
        waiting->next = link->replies.next;
        waiting->prev = link->replies.prev;
        waiting->next->prev = waiting;
        waiting->prev->next = waiting;
        ngx_queue_init(&link->replies);
    }
}


static void
ngx_http_tfa_resend_redis_link_answer_all(ngx_queue_t *waiting)
{
    ngx_queue_t                       *q;
    ngx_http_tfa_resend_redis_wait_t  *w;

    while (!ngx_queue_empty(waiting)) {
        q = ngx_queue_head(waiting);
        ngx_queue_remove(q);

        w = ngx_queue_data(q, ngx_http_tfa_resend_redis_wait_t, queue);

        if (w->handler) {
            w->handler(w->data, NULL);
        }

        ngx_free(w);
    }
}
