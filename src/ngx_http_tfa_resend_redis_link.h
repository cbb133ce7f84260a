
/*
 * Copyright (C) ngx_http_tfa_resend_module authors
 *
 * One connection to one Redis server on nginx's event loop: an nginx peer
 * connection (ngx_event_connect_peer), TLS by nginx's own client when the
 * link has an SSL context, the commands written as they come in one
 * buffer, the answers parsed by hiredis's reader (redisReader) and handed
 * to each command's handler in order.  Nothing in here blocks, and nothing
 * knows about zones, the limiter or HTTP: the Redis store's connection,
 * its Sentinels and a cluster's nodes are each a link.
 */


#ifndef _NGX_HTTP_TFA_RESEND_REDIS_LINK_H_INCLUDED_
#define _NGX_HTTP_TFA_RESEND_REDIS_LINK_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_event.h>
#include <ngx_event_connect.h>

#include <hiredis/hiredis.h>


#define NGX_HTTP_TFA_RESEND_REDIS_LINK_IDLE     0  /* no socket */
#define NGX_HTTP_TFA_RESEND_REDIS_LINK_CONNECT  1  /* TCP, then TLS */
#define NGX_HTTP_TFA_RESEND_REDIS_LINK_OPEN     2

/*
 * A server whose command timed out and that has answered nothing since is
 * given this long, 10 x redis_timeout and 1 s at least, before its link is
 * made again; connecting and TLS may take as long
 */
#define ngx_http_tfa_resend_redis_link_cutoff(timeout)                      \
    ngx_max(10 * (timeout), 1000)


typedef struct ngx_http_tfa_resend_redis_link_s
    ngx_http_tfa_resend_redis_link_t;

/*
 * A command's answer, in the order the commands were sent; reply is NULL
 * when the link closed before the answer came.  The reply is freed once
 * the handler returns.
 */
typedef void (*ngx_http_tfa_resend_redis_reply_pt)(void *data,
    redisReply *reply);

/*
 * The link opened (connected, TLS verified), or closed by itself
 * (link->err says why, the commands waiting are answered NULL after this
 * returns)
 */
typedef void (*ngx_http_tfa_resend_redis_link_pt)(
    ngx_http_tfa_resend_redis_link_t *link);


struct ngx_http_tfa_resend_redis_link_s {
    ngx_peer_connection_t                peer;     /* sockaddr, name */
    ngx_msec_t                           timeout;  /* connecting and TLS */
    ngx_uint_t                           state;
    ngx_uint_t                           gen;      /* one more a close */

#if (NGX_SSL)
    ngx_ssl_t                           *ssl;      /* NULL: plain TCP */
    ngx_str_t                            ssl_name; /* SNI, verified;
                                                      NUL-terminated */
    ngx_uint_t                           ssl_verify;
#endif

    ngx_log_t                            log;      /* keeps nginx's reason
                                                      for connect() or
                                                      TLS failing */
    const char                          *doing;    /* ... prefixed so */

    redisReader                         *reader;
    u_char                              *out;      /* commands not sent */
    size_t                               out_len;
    size_t                               out_sent;
    size_t                               out_size;
    ngx_queue_t                          replies;  /* their handlers */
    ngx_uint_t                           pending;
    ngx_uint_t                           lost;     /* pending when it last
                                                      closed */

    ngx_http_tfa_resend_redis_link_pt    opened;
    ngx_http_tfa_resend_redis_link_pt    closed;
    ngx_http_tfa_resend_redis_reply_pt   push;     /* answers no command
                                                      asked: a
                                                      subscription's */
    void                                *data;

    u_char                               err[256]; /* why it closed */
};


/*
 * name: a copy of host from pool, NUL-terminated (for SNI) and without the
 * brackets of an IPv6 address, as a link's default TLS name.
 */
ngx_int_t ngx_http_tfa_resend_redis_link_name(ngx_pool_t *pool,
    ngx_str_t *host, ngx_str_t *name);

/*
 * An IDLE link, or one closed: its peer and handlers are set by the caller
 * after this
 */
void ngx_http_tfa_resend_redis_link_init(
    ngx_http_tfa_resend_redis_link_t *link);

/*
 * Starts connecting to link->peer.sockaddr; opened() or closed() follows,
 * never from inside this call.  NGX_ERROR: could not even start
 * (link->err says why); the link is IDLE again, its commands kept.
 */
ngx_int_t ngx_http_tfa_resend_redis_link_connect(
    ngx_http_tfa_resend_redis_link_t *link);

/*
 * Queues a command in the protocol's form (cmd, len: copied); it is
 * written once the link is open, at the end of this pass of the event
 * loop, with every other command queued meanwhile.  handler may be NULL.
 */
ngx_int_t ngx_http_tfa_resend_redis_link_send(
    ngx_http_tfa_resend_redis_link_t *link, u_char *cmd, size_t len,
    ngx_http_tfa_resend_redis_reply_pt handler, void *data);

/* the same, formatted from arguments by hiredis */
ngx_int_t ngx_http_tfa_resend_redis_link_send_argv(
    ngx_http_tfa_resend_redis_link_t *link, int argc, const char **argv,
    const size_t *argvlen, ngx_http_tfa_resend_redis_reply_pt handler,
    void *data);

/*
 * A server silent since stalled (ms: a command timed out then, nothing was
 * answered since), for redis_timeout timeout: NGX_DECLINED while that is
 * shorter than the cutoff, the next commands would only wait as long;
 * NGX_ABORT past it, the link is to be made again.  why (len bytes at the
 * most) says which.
 */
ngx_int_t ngx_http_tfa_resend_redis_link_silent(ngx_msec_t stalled,
    ngx_msec_t timeout, u_char *why, size_t len);

/*
 * Closes the link at once, by its owner: closed() is not called, the
 * commands waiting are answered NULL, the link is IDLE and empty.
 */
void ngx_http_tfa_resend_redis_link_close(
    ngx_http_tfa_resend_redis_link_t *link);


#endif /* _NGX_HTTP_TFA_RESEND_REDIS_LINK_H_INCLUDED_ */
