
/*
 * Copyright (C) ngx_http_tfa_resend_module authors
 *
 * The Redis store's connection: each worker's one connection per zone, a
 * link on nginx's event loop (ngx_http_tfa_resend_redis_link.c); the
 * handshake (AUTH, SELECT, ROLE behind Sentinel, SCRIPT LOAD), the backoff
 * after a failure, and the reports of Redis failing and answering again.
 * Also the state of a zone's Redis store, which the store, its connection
 * and its configuration share.  Behind Sentinel the master is found by
 * ngx_http_tfa_resend_redis_sentinel.c, through rd->find_master.
 */


#ifndef _NGX_HTTP_TFA_RESEND_REDIS_CONN_H_INCLUDED_
#define _NGX_HTTP_TFA_RESEND_REDIS_CONN_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_event.h>

#include "ngx_http_tfa_resend_store.h"
#include "ngx_http_tfa_resend_redis_link.h"
#include "ngx_http_tfa_resend_redis_cluster.h"


#define NGX_HTTP_TFA_RESEND_REDIS_REJECT        0
#define NGX_HTTP_TFA_RESEND_REDIS_LOCAL         1
#define NGX_HTTP_TFA_RESEND_REDIS_ALLOW         2

#define NGX_HTTP_TFA_RESEND_REDIS_DOWN          0
#define NGX_HTTP_TFA_RESEND_REDIS_CONNECTING    1
#define NGX_HTTP_TFA_RESEND_REDIS_READY         2

/* reconnecting after a failure: 100ms, 200ms ... 2s */
#define NGX_HTTP_TFA_RESEND_REDIS_BACKOFF_MIN   100
#define NGX_HTTP_TFA_RESEND_REDIS_BACKOFF_MAX   2000


/* in the zone's shared memory, beside the local window */

typedef struct {
    ngx_atomic_t                        log_time;  /* s: last error logged */
    ngx_atomic_t                        failed;    /* resends decided by
                                                      on_store_error since
                                                      Redis last answered */
} ngx_http_tfa_resend_redis_shctx_t;


/* a Redis server or a Sentinel, its address known */

typedef struct {
    struct sockaddr                    *sockaddr;
    socklen_t                           socklen;
    ngx_str_t                           name;      /* "127.0.0.1:26379" */
    ngx_str_t                           host;      /* as in the URL, for
                                                      TLS; NUL-terminated */
} ngx_http_tfa_resend_redis_node_t;


/* one worker's connection for one zone */

typedef struct {
    ngx_http_tfa_resend_redis_link_t   *link;      /* NULL: DOWN */
    ngx_http_tfa_resend_redis_link_t    master;    /* ... else this */
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
    unsigned                            refused:1; /* the set-up (AUTH ...)
                                                      was, last time */
    unsigned                            closing:1; /* the worker exits */
    u_char                              why[256];  /* the last failure */

    /* with Sentinels: the one asked, then subscribed to; the master */

    ngx_http_tfa_resend_redis_link_t    sentinel;
    ngx_uint_t                          asked;     /* its index */
    ngx_event_t                         ask_timer; /* redis_timeout */
    ngx_sockaddr_t                      master_sockaddr;
    socklen_t                           master_socklen;
    u_char                              master_ip[NGX_INET6_ADDRSTRLEN + 1];
    u_char                              addr[NGX_SOCKADDR_STRLEN + 128];
                                                   /* rd->addr's text */
} ngx_http_tfa_resend_redis_conn_t;


typedef struct ngx_http_tfa_resend_redis_s  ngx_http_tfa_resend_redis_t;

/*
 * Behind Sentinel: asks them for the master, from the ith on; the handshake
 * waits on conn->master until one names it
 */
typedef ngx_int_t (*ngx_http_tfa_resend_redis_find_pt)(
    ngx_http_tfa_resend_redis_t *rd, ngx_uint_t i);


struct ngx_http_tfa_resend_redis_s {
    ngx_http_tfa_resend_store_t        *store;
    ngx_str_t                           addr;      /* "127.0.0.1:6379" */
    ngx_str_t                           host;      /* as in the URL */
    struct sockaddr                    *sockaddr;
    socklen_t                           socklen;
    ngx_uint_t                          db;
    ngx_str_t                           db_arg;
    ngx_str_t                           password;  /* empty: no AUTH */
    ngx_str_t                           username;  /* empty: AUTH PASSWORD */

    ngx_http_tfa_resend_redis_node_t   *sentinels; /* NULL: no Sentinel */
    ngx_uint_t                          nsentinels;
    ngx_str_t                           master_name;
    ngx_str_t                           sentinel_password;
    ngx_http_tfa_resend_redis_find_pt   find_master;

    ngx_http_tfa_resend_redis_cluster_t *cluster;  /* NULL: no cluster */

    unsigned                            tls:1;     /* rediss:// */
    unsigned                            ssl_verify:1;
#if (NGX_SSL)
    ngx_ssl_t                          *ssl;
    ngx_str_t                           ssl_name;  /* NUL-terminated; empty:
                                                      each node's own */
#endif
    ngx_msec_t                          timeout;
    ngx_uint_t                          on_error;
    ngx_str_t                           prefix;    /* "tfa:ZONE:" */
    ngx_str_t                           suffix;    /* "}" in a cluster */
    ngx_str_t                           script;    /* the Lua script */
    u_char                              sha[40];
    ngx_str_t                           argv;      /* N and the window,
                                                      as the script's
                                                      arguments */

    ngx_http_tfa_resend_store_t         local;     /* the fallback window */
    ngx_http_tfa_resend_redis_shctx_t  *sh;

    ngx_http_tfa_resend_redis_conn_t    conn;      /* this process's */
};


/* on_store_error's values, by NGX_HTTP_TFA_RESEND_REDIS_REJECT ... */
extern ngx_str_t  ngx_http_tfa_resend_redis_modes[];


/*
 * NGX_OK: a command can be sent now (connected, or connecting: the link
 * queues it behind the handshake); else conn->why says why not.
 */
ngx_int_t ngx_http_tfa_resend_redis_ready(ngx_http_tfa_resend_redis_t *rd);

/*
 * A command in the protocol's form (copied), or from arguments, on the
 * connection: NGX_ERROR if there is none (DOWN) or out of memory.  The
 * handler gets the answer, or NULL if the connection goes first (conn->why
 * says why then).
 */
ngx_int_t ngx_http_tfa_resend_redis_command(ngx_http_tfa_resend_redis_t *rd,
    u_char *cmd, size_t len, ngx_http_tfa_resend_redis_reply_pt handler,
    void *data);
ngx_int_t ngx_http_tfa_resend_redis_command_argv(
    ngx_http_tfa_resend_redis_t *rd, int argc, const char **argv,
    const size_t *argvlen, ngx_http_tfa_resend_redis_reply_pt handler,
    void *data);

/*
 * Drops the connection (conn->why set), connects again after the backoff;
 * the commands in flight are answered NULL
 */
void ngx_http_tfa_resend_redis_fail(ngx_http_tfa_resend_redis_t *rd);

/* Redis decides again: says so once, if resends were decided without it */
void ngx_http_tfa_resend_redis_answered(ngx_http_tfa_resend_redis_t *rd);

/* whether a Redis failure may be logged now: once a second per zone */
ngx_uint_t ngx_http_tfa_resend_redis_may_log(ngx_http_tfa_resend_redis_t *rd);


#endif /* _NGX_HTTP_TFA_RESEND_REDIS_CONN_H_INCLUDED_ */
