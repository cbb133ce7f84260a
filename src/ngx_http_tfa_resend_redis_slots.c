
/*
 * Copyright (C) ngx_http_tfa_resend_module authors
 *
 * A Redis Cluster's nodes and slot map: the seeds of the URL, the nodes
 * the cluster names (CLUSTER SLOTS, MOVED, ASK), the master of each slot
 * by CLUSTER SLOTS, the hash slot of a key, and each node's link with its
 * handshake.  It knows nothing of commands: redis_cluster.c routes them,
 * follows redirections and asks for the map.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_event.h>

#include "ngx_http_tfa_resend_redis_slots.h"


static uint16_t ngx_http_tfa_resend_redis_cluster_crc16(u_char *p,
    size_t len);
static void ngx_http_tfa_resend_redis_cluster_setup_reply(void *data,
    redisReply *reply);
static void ngx_http_tfa_resend_redis_cluster_closed(
    ngx_http_tfa_resend_redis_link_t *link);


/* CRC16-CCITT (XModem): the cluster specification's key hash */

static uint16_t
ngx_http_tfa_resend_redis_cluster_crc16(u_char *p, size_t len)
{
    uint16_t    crc;
    ngx_uint_t  i;

    crc = 0;

    while (len--) {
        crc ^= (uint16_t) (*p++ << 8);

        for (i = 0; i < 8; i++) {
            crc = (crc & 0x8000) ? (uint16_t) ((crc << 1) ^ 0x1021)
                                 : (uint16_t) (crc << 1);
        }
    }

    return crc;
}


ngx_uint_t
ngx_http_tfa_resend_redis_cluster_slot(u_char *key, size_t len)
{
    u_char  *open, *close, *last;

    last = key + len;

    /* the first "{" and the first "}" after it, if anything is between */

    open = ngx_strlchr(key, last, '{');

    if (open) {
        close = ngx_strlchr(open + 1, last, '}');

        if (close && close > open + 1) {
            key = open + 1;
            len = close - key;
        }
    }

    return ngx_http_tfa_resend_redis_cluster_crc16(key, len)
           & (NGX_HTTP_TFA_RESEND_REDIS_CLUSTER_SLOTS - 1);
}


ngx_int_t
ngx_http_tfa_resend_redis_cluster_parse(ngx_conf_t *cf,
    ngx_http_tfa_resend_redis_cluster_t *cl, ngx_str_t *value,
    ngx_str_t *url)
{
    u_char                                    *p, *last, *comma;
    ngx_url_t                                  u;
    ngx_http_tfa_resend_redis_cluster_node_t  *node;

    p = url->data;
    last = url->data + url->len;

    if (ngx_strlchr(p, last, '@')) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid store \"%V\": no user or password in "
                           "the URL, use redis_password_file=", value);
        return NGX_ERROR;
    }

    if (ngx_strlchr(p, last, '/')) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid store \"%V\": a cluster has only "
                           "database 0, use "
                           "store=redis-cluster://HOST:PORT[,HOST:PORT...]",
                           value);
        return NGX_ERROR;
    }

    cl->nodes = ngx_pcalloc(cf->pool,
                            NGX_HTTP_TFA_RESEND_REDIS_CLUSTER_NODES
                            * sizeof(ngx_http_tfa_resend_redis_cluster_node_t));
    cl->slots = ngx_pnalloc(cf->pool, NGX_HTTP_TFA_RESEND_REDIS_CLUSTER_SLOTS);

    if (cl->nodes == NULL || cl->slots == NULL) {
        return NGX_ERROR;
    }

    ngx_memset(cl->slots, NGX_HTTP_TFA_RESEND_REDIS_CLUSTER_NONE,
               NGX_HTTP_TFA_RESEND_REDIS_CLUSTER_SLOTS);

    while (p < last) {

        comma = ngx_strlchr(p, last, ',');
        if (comma == NULL) {
            comma = last;
        }

        if (cl->nnodes == NGX_HTTP_TFA_RESEND_REDIS_CLUSTER_NODES / 4) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "invalid store \"%V\": %d seed nodes at the "
                               "most", value,
                               NGX_HTTP_TFA_RESEND_REDIS_CLUSTER_NODES / 4);
            return NGX_ERROR;
        }

        ngx_memzero(&u, sizeof(ngx_url_t));

        u.url.data = p;
        u.url.len = comma - p;
        u.default_port = 6379;

        if (u.url.len == 0) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "invalid store \"%V\": an empty node", value);
            return NGX_ERROR;
        }

        if (ngx_parse_url(cf->pool, &u) != NGX_OK
            || u.family == AF_UNIX || u.naddrs == 0)
        {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "invalid store \"%V\": node \"%V\": %s",
                               value, &u.url,
                               u.err ? u.err : "use HOST:PORT");
            return NGX_ERROR;
        }

        node = &cl->nodes[cl->nnodes++];

        node->cluster = cl;
        ngx_memcpy(&node->sockaddr, u.addrs[0].sockaddr, u.addrs[0].socklen);
        node->socklen = u.addrs[0].socklen;
        node->name.data = node->text;
        node->name.len = ngx_sock_ntop(&node->sockaddr.sockaddr,
                                       node->socklen, node->text,
                                       NGX_SOCKADDR_STRLEN, 1);

        if (ngx_http_tfa_resend_redis_link_name(cf->pool, &u.host,
                                                &node->host)
            != NGX_OK)
        {
            return NGX_ERROR;
        }

        ngx_http_tfa_resend_redis_link_init(&node->link);

        p = comma + 1;
    }

    if (cl->nnodes == 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid store \"%V\": no node", value);
        return NGX_ERROR;
    }

    cl->nseeds = cl->nnodes;
    cl->backoff = NGX_HTTP_TFA_RESEND_REDIS_CLUSTER_SOON;

    ngx_queue_init(&cl->waiting);
    ngx_queue_init(&cl->retrying);

    return NGX_OK;
}


/*
 * A node the cluster named (CLUSTER SLOTS, MOVED, ASK): its index, a new
 * one if need be; NGX_ERROR if the address is not one or there is no room
 */

ngx_int_t
ngx_http_tfa_resend_redis_cluster_add(ngx_http_tfa_resend_redis_cluster_t *cl,
    u_char *ip, size_t len, ngx_uint_t port)
{
    in_addr_t                                  a;
    ngx_uint_t                                 i;
    ngx_sockaddr_t                             sa;
    socklen_t                                  socklen;
    ngx_http_tfa_resend_redis_cluster_node_t  *node;

    if (port < 1 || port > 65535 || len == 0 || len > NGX_INET6_ADDRSTRLEN) {
        return NGX_ERROR;
    }

    ngx_memzero(&sa, sizeof(ngx_sockaddr_t));

    a = ngx_inet_addr(ip, len);

    if (a != INADDR_NONE) {
        sa.sockaddr_in.sin_family = AF_INET;
        sa.sockaddr_in.sin_port = htons((in_port_t) port);
        sa.sockaddr_in.sin_addr.s_addr = a;
        socklen = sizeof(struct sockaddr_in);

#if (NGX_HAVE_INET6)
    } else if (ngx_inet6_addr(ip, len, sa.sockaddr_in6.sin6_addr.s6_addr)
               == NGX_OK)
    {
        sa.sockaddr_in6.sin6_family = AF_INET6;
        sa.sockaddr_in6.sin6_port = htons((in_port_t) port);
        socklen = sizeof(struct sockaddr_in6);
#endif

    } else {
        return NGX_ERROR;
    }

    for (i = 0; i < cl->nnodes; i++) {
        if (ngx_cmp_sockaddr(&cl->nodes[i].sockaddr.sockaddr,
                             cl->nodes[i].socklen, &sa.sockaddr, socklen, 1)
            == NGX_OK)
        {
            return i;
        }
    }

    if (cl->nnodes == NGX_HTTP_TFA_RESEND_REDIS_CLUSTER_NODES) {
        return NGX_ERROR;
    }

    node = &cl->nodes[cl->nnodes];

    ngx_memzero(node, sizeof(ngx_http_tfa_resend_redis_cluster_node_t));

    node->cluster = cl;
    node->sockaddr = sa;
    node->socklen = socklen;
    node->name.data = node->text;
    node->name.len = ngx_sock_ntop(&node->sockaddr.sockaddr, socklen,
                                   node->text, NGX_SOCKADDR_STRLEN, 1);

    *ngx_cpymem(node->ip, ip, len) = '\0';
    node->host.data = node->ip;
    node->host.len = len;

    ngx_http_tfa_resend_redis_link_init(&node->link);

    return cl->nnodes++;
}


/*
 * Node i's link, connecting it (with its handshake queued) if it is not;
 * NULL: it failed a moment ago, or could not start (cl->why says why)
 */

ngx_http_tfa_resend_redis_link_t *
ngx_http_tfa_resend_redis_cluster_link(ngx_http_tfa_resend_redis_cluster_t *cl,
    ngx_uint_t i)
{
    int                                        argc;
    size_t                                     argvlen[3];
    const char                                *argv[3];
    ngx_http_tfa_resend_redis_link_t          *link;
    ngx_http_tfa_resend_redis_cluster_node_t  *node;

    node = &cl->nodes[i];
    link = &node->link;

    if (link->state != NGX_HTTP_TFA_RESEND_REDIS_LINK_IDLE) {
        return link;
    }

    if ((ngx_msec_int_t) (ngx_current_msec - node->retry_at) < 0) {
        ngx_snprintf(cl->why, 255, "node %V %s%Z", &node->name, link->err);
        return NULL;
    }

    ngx_log_debug1(NGX_LOG_DEBUG_HTTP, ngx_cycle->log, 0,
                   "tfa_resend redis cluster: connecting to %V", &node->name);

    ngx_http_tfa_resend_redis_link_init(link);

    node->stalled = 0;

    link->peer.sockaddr = &node->sockaddr.sockaddr;
    link->peer.socklen = node->socklen;
    link->peer.name = &node->name;
    link->timeout = ngx_http_tfa_resend_redis_link_cutoff(cl->timeout);
    link->closed = ngx_http_tfa_resend_redis_cluster_closed;
    link->data = node;

#if (NGX_SSL)
    link->ssl = cl->ssl;
    link->ssl_name = cl->ssl_name.len ? cl->ssl_name : node->host;
    link->ssl_verify = cl->ssl_verify;
#endif

    if (cl->password.len) {
        argv[0] = "AUTH";
        argvlen[0] = sizeof("AUTH") - 1;
        argc = 1;

        if (cl->username.len) {
            argv[argc] = (const char *) cl->username.data;
            argvlen[argc++] = cl->username.len;
        }

        argv[argc] = (const char *) cl->password.data;
        argvlen[argc++] = cl->password.len;

        if (ngx_http_tfa_resend_redis_link_send_argv(link, argc, argv,
                argvlen, ngx_http_tfa_resend_redis_cluster_setup_reply, node)
            != NGX_OK)
        {
            goto failed;
        }
    }

    argv[0] = "SCRIPT";
    argvlen[0] = sizeof("SCRIPT") - 1;
    argv[1] = "LOAD";
    argvlen[1] = sizeof("LOAD") - 1;
    argv[2] = (const char *) cl->script.data;
    argvlen[2] = cl->script.len;

    if (ngx_http_tfa_resend_redis_link_send_argv(link, 3, argv, argvlen,
            ngx_http_tfa_resend_redis_cluster_setup_reply, node)
        != NGX_OK)
    {
        goto failed;
    }

    if (ngx_http_tfa_resend_redis_link_connect(link) != NGX_OK) {
        ngx_snprintf(cl->why, 255, "node %V %s%Z", &node->name, link->err);
        ngx_http_tfa_resend_redis_link_close(link);
        node->retry_at = ngx_current_msec
                         + NGX_HTTP_TFA_RESEND_REDIS_CLUSTER_SOON;
        return NULL;
    }

    return link;

failed:

    ngx_sprintf(cl->why, "could not take the handshake%Z");
    ngx_http_tfa_resend_redis_link_close(link);

    return NULL;
}


/*
 * AUTH, SCRIPT LOAD: an error closes the node's link, its commands are
 * answered NULL with the reason
 */

static void
ngx_http_tfa_resend_redis_cluster_setup_reply(void *data, redisReply *reply)
{
    ngx_http_tfa_resend_redis_cluster_node_t  *node = data;

    ngx_http_tfa_resend_redis_cluster_t  *cl;

    if (reply == NULL) {
        return;
    }

    node->stalled = 0;

    if (reply->type != REDIS_REPLY_ERROR) {
        return;
    }

    cl = node->cluster;

    /* the error names the user, never the password */

    ngx_snprintf(node->link.err, sizeof(node->link.err) - 1,
                 "refused the connection's set-up%s%V%s: \"%*s\"%Z",
                 cl->username.len ? " as user \"" : "", &cl->username,
                 cl->username.len ? "\"" : "",
                 (size_t) ngx_min(reply->len, 160), reply->str);

    node->retry_at = ngx_current_msec + NGX_HTTP_TFA_RESEND_REDIS_CLUSTER_LATER;

    /* the err is kept: the commands' answers name it */

    ngx_http_tfa_resend_redis_link_close(&node->link);
}


/* a node's link closed by itself: the map is asked again soon */

static void
ngx_http_tfa_resend_redis_cluster_closed(
    ngx_http_tfa_resend_redis_link_t *link)
{
    ngx_http_tfa_resend_redis_cluster_node_t  *node = link->data;

    ngx_uint_t                            level;
    ngx_http_tfa_resend_redis_cluster_t  *cl;

    cl = node->cluster;

    /* once a second per worker at most: a node down is tried again often */

    level = link->lost ? NGX_LOG_WARN : NGX_LOG_INFO;

    if (cl->log_time != ngx_time()) {
        cl->log_time = ngx_time();

        ngx_log_error(level, ngx_cycle->log, 0,
                      "tfa_resend_limit_zone \"%V\": redis cluster node %V "
                      "%s%s", cl->zone, &node->name, link->err,
                      link->lost ? "; the slot map is asked again" : "");
    }

    if (link->lost) {
        node->retry_at = ngx_current_msec
                         + NGX_HTTP_TFA_RESEND_REDIS_CLUSTER_SOON;
    }

    node->stalled = 0;
    cl->stale = 1;
}


/*
 * [[START, END, [IP, PORT, ...], replicas...], ...]: the masters by slot;
 * a slot no range names has none (the cluster is missing it)
 */

ngx_int_t
ngx_http_tfa_resend_redis_cluster_map(ngx_http_tfa_resend_redis_cluster_t *cl,
    redisReply *reply)
{
    u_char                                    *ip;
    size_t                                     len;
    ngx_int_t                                  n;
    ngx_uint_t                                 i, s;
    redisReply                                *r, *m;
    ngx_http_tfa_resend_redis_cluster_node_t  *asked;

    if (reply->type != REDIS_REPLY_ARRAY || reply->elements == 0) {
        return NGX_ERROR;
    }

    asked = &cl->nodes[cl->asked];

    for (i = 0; i < reply->elements; i++) {
        r = reply->element[i];

        if (r->type != REDIS_REPLY_ARRAY || r->elements < 3
            || r->element[0]->type != REDIS_REPLY_INTEGER
            || r->element[1]->type != REDIS_REPLY_INTEGER
            || r->element[0]->integer < 0
            || r->element[1]->integer < r->element[0]->integer
            || r->element[1]->integer
               >= NGX_HTTP_TFA_RESEND_REDIS_CLUSTER_SLOTS
            || r->element[2]->type != REDIS_REPLY_ARRAY
            || r->element[2]->elements < 2
            || r->element[2]->element[0]->type != REDIS_REPLY_STRING
            || r->element[2]->element[1]->type != REDIS_REPLY_INTEGER)
        {
            return NGX_ERROR;
        }
    }

    ngx_memset(cl->slots, NGX_HTTP_TFA_RESEND_REDIS_CLUSTER_NONE,
               NGX_HTTP_TFA_RESEND_REDIS_CLUSTER_SLOTS);

    for (i = 0; i < reply->elements; i++) {
        r = reply->element[i];
        m = r->element[2];

        ip = (u_char *) m->element[0]->str;
        len = m->element[0]->len;

        if (len == 0 || (len == 1 && ip[0] == '?')) {
            /* no address known: the node asked */
            ip = asked->host.data;
            len = asked->host.len;
        }

        n = ngx_http_tfa_resend_redis_cluster_add(cl, ip, len,
                                      (ngx_uint_t) m->element[1]->integer);
        if (n == NGX_ERROR) {
            continue;
        }

        for (s = (ngx_uint_t) r->element[0]->integer;
             s <= (ngx_uint_t) r->element[1]->integer;
             s++)
        {
            cl->slots[s] = (u_char) n;
        }
    }

    return NGX_OK;
}
