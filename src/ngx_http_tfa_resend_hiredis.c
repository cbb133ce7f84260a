
/*
 * Copyright (C) ngx_http_tfa_resend_module authors
 *
 * The hiredis event adapter (as hiredis's own adapters/ for libevent and
 * libev, but for nginx).
 *
 * The context's socket is registered level-triggered: hiredis reads at
 * most 16k per redisAsyncHandleRead() and expects to be called again while
 * data is left, and it asks for write events only while it has output.
 *
 * Writes are batched: once connected, a command queued outside a write
 * handler does not ask the kernel for a write event (an epoll_ctl() per
 * command, and another to remove it) but posts the write event, so that
 * everything queued during this turn of the event loop goes out in one
 * write() at its end.  Only a write that could not finish registers for
 * the socket's writability.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_event.h>

#include "ngx_http_tfa_resend_hiredis.h"


typedef struct {
    redisAsyncContext                    *ac;
    ngx_connection_t                     *c;
    ngx_http_tfa_resend_hiredis_gone_pt   gone;
    void                                 *data;
    ngx_uint_t                           *alive;   /* a handler's, while it
                                                      runs: 0 once freed */
    unsigned                              writing:1;
} ngx_http_tfa_resend_hiredis_t;


static void ngx_http_tfa_resend_hiredis_read_handler(ngx_event_t *rev);
static void ngx_http_tfa_resend_hiredis_write_handler(ngx_event_t *wev);
static void ngx_http_tfa_resend_hiredis_add_read(void *data);
static void ngx_http_tfa_resend_hiredis_del_read(void *data);
static void ngx_http_tfa_resend_hiredis_add_write(void *data);
static void ngx_http_tfa_resend_hiredis_del_write(void *data);
static void ngx_http_tfa_resend_hiredis_cleanup(void *data);


ngx_int_t
ngx_http_tfa_resend_hiredis_attach(redisAsyncContext *ac, ngx_log_t *log,
    ngx_http_tfa_resend_hiredis_gone_pt gone, void *data)
{
    ngx_connection_t               *c;
    ngx_http_tfa_resend_hiredis_t  *h;

    if (ac->ev.data != NULL) {
        return NGX_ERROR;
    }

    h = ngx_alloc(sizeof(ngx_http_tfa_resend_hiredis_t), log);
    if (h == NULL) {
        return NGX_ERROR;
    }

    c = ngx_get_connection(ac->c.fd, log);
    if (c == NULL) {
        ngx_free(h);
        return NGX_ERROR;
    }

    c->data = h;
    c->log = log;
    c->read->log = log;
    c->write->log = log;
    c->read->handler = ngx_http_tfa_resend_hiredis_read_handler;
    c->write->handler = ngx_http_tfa_resend_hiredis_write_handler;
    c->number = ngx_atomic_fetch_add(ngx_connection_counter, 1);

    h->ac = ac;
    h->c = c;
    h->gone = gone;
    h->data = data;
    h->alive = NULL;
    h->writing = 0;

    ac->ev.data = h;
    ac->ev.addRead = ngx_http_tfa_resend_hiredis_add_read;
    ac->ev.delRead = ngx_http_tfa_resend_hiredis_del_read;
    ac->ev.addWrite = ngx_http_tfa_resend_hiredis_add_write;
    ac->ev.delWrite = ngx_http_tfa_resend_hiredis_del_write;
    ac->ev.cleanup = ngx_http_tfa_resend_hiredis_cleanup;

    ngx_log_debug2(NGX_LOG_DEBUG_EVENT, log, 0,
                   "tfa_resend redis: *%uA on fd:%d", c->number, c->fd);

    return NGX_OK;
}


static void
ngx_http_tfa_resend_hiredis_read_handler(ngx_event_t *rev)
{
    ngx_connection_t               *c;
    ngx_http_tfa_resend_hiredis_t  *h;

    c = rev->data;
    h = c->data;

    /* may free the context, and h and c with it */

    redisAsyncHandleRead(h->ac);
}


static void
ngx_http_tfa_resend_hiredis_write_handler(ngx_event_t *wev)
{
    ngx_uint_t                      alive;
    ngx_connection_t               *c;
    ngx_http_tfa_resend_hiredis_t  *h;

    c = wev->data;
    h = c->data;

    alive = 1;
    h->alive = &alive;
    h->writing = 1;

    redisAsyncHandleWrite(h->ac);

    if (alive) {
        h->writing = 0;
        h->alive = NULL;
    }
}


static void
ngx_http_tfa_resend_hiredis_add_read(void *data)
{
    ngx_http_tfa_resend_hiredis_t  *h = data;

    ngx_event_t  *rev;

    rev = h->c->read;

    if (rev->active) {
        return;
    }

    if (ngx_add_event(rev, NGX_READ_EVENT, NGX_LEVEL_EVENT) != NGX_OK) {
        ngx_log_error(NGX_LOG_ALERT, h->c->log, 0,
                      "tfa_resend redis: could not add a read event");
    }
}


static void
ngx_http_tfa_resend_hiredis_del_read(void *data)
{
    ngx_http_tfa_resend_hiredis_t  *h = data;

    ngx_event_t  *rev;

    rev = h->c->read;

    if (rev->active) {
        (void) ngx_del_event(rev, NGX_READ_EVENT, 0);
    }
}


static void
ngx_http_tfa_resend_hiredis_add_write(void *data)
{
    ngx_http_tfa_resend_hiredis_t  *h = data;

    ngx_event_t  *wev;

    wev = h->c->write;

    if (wev->active) {
        return;
    }

    if (!h->writing && (h->ac->c.flags & REDIS_CONNECTED)) {
        ngx_post_event(wev, &ngx_posted_events);
        return;
    }

    /* connecting, or a write that could not finish: wait for the socket */

    if (ngx_add_event(wev, NGX_WRITE_EVENT, NGX_LEVEL_EVENT) != NGX_OK) {
        ngx_log_error(NGX_LOG_ALERT, h->c->log, 0,
                      "tfa_resend redis: could not add a write event");
    }
}


static void
ngx_http_tfa_resend_hiredis_del_write(void *data)
{
    ngx_http_tfa_resend_hiredis_t  *h = data;

    ngx_event_t  *wev;

    wev = h->c->write;

    if (wev->posted) {
        ngx_delete_posted_event(wev);
    }

    if (wev->active) {
        (void) ngx_del_event(wev, NGX_WRITE_EVENT, 0);
    }
}


/*
 * hiredis frees the context: it closes the socket itself right after, so
 * this is ngx_close_connection() without the close().
 */

static void
ngx_http_tfa_resend_hiredis_cleanup(void *data)
{
    ngx_http_tfa_resend_hiredis_t  *h = data;

    ngx_connection_t   *c;
    redisAsyncContext  *ac;

    ac = h->ac;
    c = h->c;

    ac->ev.data = NULL;
    ac->ev.addRead = NULL;
    ac->ev.delRead = NULL;
    ac->ev.addWrite = NULL;
    ac->ev.delWrite = NULL;
    ac->ev.cleanup = NULL;

    ngx_log_debug1(NGX_LOG_DEBUG_EVENT, c->log, 0,
                   "tfa_resend redis: *%uA gone", c->number);

    if (c->read->timer_set) {
        ngx_del_timer(c->read);
    }

    if (c->write->timer_set) {
        ngx_del_timer(c->write);
    }

    if (ngx_del_conn) {
        ngx_del_conn(c, NGX_CLOSE_EVENT);

    } else {
        if (c->read->active || c->read->disabled) {
            ngx_del_event(c->read, NGX_READ_EVENT, NGX_CLOSE_EVENT);
        }

        if (c->write->active || c->write->disabled) {
            ngx_del_event(c->write, NGX_WRITE_EVENT, NGX_CLOSE_EVENT);
        }
    }

    if (c->read->posted) {
        ngx_delete_posted_event(c->read);
    }

    if (c->write->posted) {
        ngx_delete_posted_event(c->write);
    }

    c->read->closed = 1;
    c->write->closed = 1;

    ngx_free_connection(c);

    c->fd = (ngx_socket_t) -1;

    if (h->alive) {
        *h->alive = 0;
    }

    h->gone(ac, h->data);

    ngx_free(h);
}
