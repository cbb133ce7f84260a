
/*
 * Copyright (C) ngx_http_tfa_resend_module authors
 *
 * A Redis Cluster's nodes and slot map (redis_slots.c): the cluster's
 * state, shared with the routing of commands (redis_cluster.c).
 */


#ifndef _NGX_HTTP_TFA_RESEND_REDIS_SLOTS_H_INCLUDED_
#define _NGX_HTTP_TFA_RESEND_REDIS_SLOTS_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_event.h>

#include "ngx_http_tfa_resend_redis_link.h"


#define NGX_HTTP_TFA_RESEND_REDIS_CLUSTER_SLOTS  16384
#define NGX_HTTP_TFA_RESEND_REDIS_CLUSTER_NODES  64

/* a slot no known node serves */
#define NGX_HTTP_TFA_RESEND_REDIS_CLUSTER_NONE   0xff

/* the map asked again after a MOVED or a lost node, not sooner */
#define NGX_HTTP_TFA_RESEND_REDIS_CLUSTER_SOON   100

/* ... and otherwise at most once a second */
#define NGX_HTTP_TFA_RESEND_REDIS_CLUSTER_LATER  1000


typedef struct ngx_http_tfa_resend_redis_cluster_s
    ngx_http_tfa_resend_redis_cluster_t;


/* a node: a seed of the URL, or one the cluster named */

typedef struct {
    ngx_http_tfa_resend_redis_cluster_t  *cluster;
    ngx_sockaddr_t                        sockaddr;
    socklen_t                             socklen;
    ngx_str_t                             name;     /* "127.0.0.1:7000" */
    ngx_str_t                             host;     /* for TLS;
                                                       NUL-terminated */
    ngx_msec_t                            retry_at; /* failed: not before */
    ngx_msec_t                            stalled;  /* a command timed out
                                                       then, nothing was
                                                       answered since; or 0 */
    ngx_http_tfa_resend_redis_link_t      link;
    u_char                                text[NGX_SOCKADDR_STRLEN];
    u_char                                ip[NGX_INET6_ADDRSTRLEN + 1];
} ngx_http_tfa_resend_redis_cluster_node_t;


struct ngx_http_tfa_resend_redis_cluster_s {

    /* set when the configuration is read */

    ngx_str_t                                  *zone;
    ngx_str_t                                   password;
    ngx_str_t                                   username;
    ngx_str_t                                   script;
    u_char                                     *why;      /* 256 bytes, the
                                                             store's */
    ngx_msec_t                                  timeout;
#if (NGX_SSL)
    ngx_ssl_t                                  *ssl;      /* NULL: plain */
    ngx_str_t                                   ssl_name; /* empty: each
                                                             node's IP */
    ngx_uint_t                                  ssl_verify;
#endif
    ngx_uint_t                                  nseeds;   /* nodes[0 ...] */

    /* each worker's */

    ngx_http_tfa_resend_redis_cluster_node_t   *nodes;
    ngx_uint_t                                  nnodes;
    u_char                                     *slots;    /* node by slot */
    ngx_uint_t                                  asked;    /* for the map */
    ngx_msec_t                                  map_time; /* last asked */
    ngx_msec_t                                  retry_at; /* no map: not
                                                             before */
    ngx_msec_t                                  backoff;
    time_t                                      log_time; /* a node lost,
                                                             last logged */
    ngx_event_t                                 map_timer;
    ngx_queue_t                                 waiting;  /* for the map */
    ngx_queue_t                                 retrying; /* TRYAGAIN ... */
    unsigned                                    known:1;  /* the map */
    unsigned                                    asking:1; /* ... in flight */
    unsigned                                    stale:1;  /* MOVED, a node
                                                             lost: ask
                                                             again */
    unsigned                                    closing:1;
};


/*
 * store=redis-cluster://HOST:PORT[,HOST:PORT...] (url: after the scheme):
 * the seeds, resolved now.  NGX_ERROR: logged ([emerg]).
 */
ngx_int_t ngx_http_tfa_resend_redis_cluster_parse(ngx_conf_t *cf,
    ngx_http_tfa_resend_redis_cluster_t *cl, ngx_str_t *value,
    ngx_str_t *url);

/* the hash slot of a key: CRC16 of it, or of its {hash tag} */
ngx_uint_t ngx_http_tfa_resend_redis_cluster_slot(u_char *key, size_t len);

/*
 * A node the cluster named (CLUSTER SLOTS, MOVED, ASK): its index, a new
 * one if need be; NGX_ERROR if the address is not one or there is no room
 */
ngx_int_t ngx_http_tfa_resend_redis_cluster_add(
    ngx_http_tfa_resend_redis_cluster_t *cl, u_char *ip, size_t len,
    ngx_uint_t port);

/*
 * [[START, END, [IP, PORT, ...], replicas...], ...]: the masters by slot;
 * a slot no range names has none (the cluster is missing it)
 */
ngx_int_t ngx_http_tfa_resend_redis_cluster_map(
    ngx_http_tfa_resend_redis_cluster_t *cl, redisReply *reply);

/*
 * Node i's link, connecting it (with its handshake queued) if it is not;
 * NULL: it failed a moment ago, or could not start (cl->why says why)
 */
ngx_http_tfa_resend_redis_link_t *ngx_http_tfa_resend_redis_cluster_link(
    ngx_http_tfa_resend_redis_cluster_t *cl, ngx_uint_t i);


#endif /* _NGX_HTTP_TFA_RESEND_REDIS_SLOTS_H_INCLUDED_ */
