
/*
 * Copyright (C) ngx_http_tfa_resend_module authors
 *
 * A Redis Cluster under the Redis store.
 *
 * The keys of one pinId carry it as their hash tag ("tfa:ZONE:{PINID}"),
 * so its window lives in one slot, on one master, where the script runs
 * atomically with that master's TIME, exactly as on a single Redis.  Each
 * worker learns the slot map (CLUSTER SLOTS, asked of the seeds and then
 * of any node it knows) when the first command needs it, and asks again
 * after a MOVED or a lost connection (100 ms apart at least) and at most
 * once a second otherwise.  Each master gets a link when a command first
 * goes to it, with the handshake of the plain store's connection (AUTH,
 * SCRIPT LOAD) pipelined ahead of it.
 *
 * A command is kept until its one answer that counts is in:
 *
 *   MOVED        the slot has moved: the map is updated and the command
 *                goes to the named node
 *   ASK          the slot is moving: ASKING then the command to the named
 *                node, the map unchanged
 *   TRYAGAIN,    sent again 25 ms later (redis_timeout / 4 if shorter)
 *   CLUSTERDOWN  until redis_timeout has nearly passed since it was first
 *                sent; then the error is the answer, and on_store_error
 *                decides (a slot no master serves in the map is waited
 *                for the same way)
 *
 * A node answers MOVED, ASK, TRYAGAIN and CLUSTERDOWN without running the
 * command, so following them never runs a script twice: no resend is
 * decided or counted twice because of a redirection.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_event.h>

#include "ngx_http_tfa_resend_redis_cluster.h"


/* redirections of one command at the most, then it is an error */
#define NGX_HTTP_TFA_RESEND_REDIS_CLUSTER_HOPS   5

/* the map asked again after a MOVED or a lost node, not sooner */
#define NGX_HTTP_TFA_RESEND_REDIS_CLUSTER_SOON   100

/* ... and otherwise at most once a second */
#define NGX_HTTP_TFA_RESEND_REDIS_CLUSTER_LATER  1000

#define NGX_HTTP_TFA_RESEND_REDIS_CLUSTER_RETRY  25


/* a command until its answer is in */

typedef struct {
    ngx_http_tfa_resend_redis_cluster_t  *cl;
    ngx_http_tfa_resend_redis_reply_pt    handler;
    void                                 *data;
    ngx_queue_t                           queue;    /* waiting, retrying */
    ngx_event_t                           timer;    /* retrying */
    ngx_msec_t                            deadline; /* retried until */
    ngx_uint_t                            slot;
    ngx_uint_t                            node;     /* sent to */
    ngx_uint_t                            hops;
    unsigned                              ask:1;    /* to node, ASKING */
    size_t                                len;
    u_char                                cmd[1];
} ngx_http_tfa_resend_redis_cluster_cmd_t;


static uint16_t ngx_http_tfa_resend_redis_cluster_crc16(u_char *p,
    size_t len);
static ngx_int_t ngx_http_tfa_resend_redis_cluster_add(
    ngx_http_tfa_resend_redis_cluster_t *cl, u_char *ip, size_t len,
    ngx_uint_t port);
static ngx_int_t ngx_http_tfa_resend_redis_cluster_key(u_char *cmd,
    size_t len, u_char **key, size_t *key_len);
static ngx_int_t ngx_http_tfa_resend_redis_cluster_route(
    ngx_http_tfa_resend_redis_cluster_cmd_t *cc);
static void ngx_http_tfa_resend_redis_cluster_reply(void *data,
    redisReply *reply);
static ngx_int_t ngx_http_tfa_resend_redis_cluster_redirect(
    ngx_http_tfa_resend_redis_cluster_cmd_t *cc, redisReply *reply);
static ngx_int_t ngx_http_tfa_resend_redis_cluster_later(
    ngx_http_tfa_resend_redis_cluster_cmd_t *cc);
static void ngx_http_tfa_resend_redis_cluster_retry(ngx_event_t *ev);
static void ngx_http_tfa_resend_redis_cluster_answer(
    ngx_http_tfa_resend_redis_cluster_cmd_t *cc, redisReply *reply);
static ngx_http_tfa_resend_redis_link_t *ngx_http_tfa_resend_redis_cluster_link(
    ngx_http_tfa_resend_redis_cluster_t *cl, ngx_uint_t i);
static void ngx_http_tfa_resend_redis_cluster_setup_reply(void *data,
    redisReply *reply);
static void ngx_http_tfa_resend_redis_cluster_closed(
    ngx_http_tfa_resend_redis_link_t *link);
static ngx_int_t ngx_http_tfa_resend_redis_cluster_ask(
    ngx_http_tfa_resend_redis_cluster_t *cl, ngx_uint_t from);
static void ngx_http_tfa_resend_redis_cluster_map_reply(void *data,
    redisReply *reply);
static ngx_int_t ngx_http_tfa_resend_redis_cluster_map(
    ngx_http_tfa_resend_redis_cluster_t *cl, redisReply *reply);
static void ngx_http_tfa_resend_redis_cluster_map_timeout(ngx_event_t *ev);
static void ngx_http_tfa_resend_redis_cluster_map_next(
    ngx_http_tfa_resend_redis_cluster_t *cl);
static void ngx_http_tfa_resend_redis_cluster_resume(
    ngx_http_tfa_resend_redis_cluster_t *cl);


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

        node->host.data = ngx_pnalloc(cf->pool, u.host.len + 1);
        if (node->host.data == NULL) {
            return NGX_ERROR;
        }

        node->host.len = u.host.len;
        *ngx_cpymem(node->host.data, u.host.data, u.host.len) = '\0';

        if (node->host.len > 2 && node->host.data[0] == '[') {
            node->host.data++;
            node->host.len -= 2;
            node->host.data[node->host.len] = '\0';
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

static ngx_int_t
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


/* the 4th argument of a command in the protocol's form: EVAL's first key */

static ngx_int_t
ngx_http_tfa_resend_redis_cluster_key(u_char *cmd, size_t len, u_char **key,
    size_t *key_len)
{
    u_char      *p, *last;
    size_t       n;
    ngx_uint_t   i;

    p = cmd;
    last = cmd + len;

    /* "*N\r\n" */

    p = ngx_strlchr(p, last, LF);
    if (p == NULL) {
        return NGX_ERROR;
    }

    p++;

    for (i = 0; i < 4; i++) {

        if (p == last || *p++ != '$') {
            return NGX_ERROR;
        }

        n = 0;

        while (p < last && *p >= '0' && *p <= '9') {
            n = n * 10 + (*p++ - '0');
        }

        if (last - p < 2 || (size_t) (last - p - 2) < n + 2) {
            return NGX_ERROR;
        }

        p += 2;

        if (i == 3) {
            *key = p;
            *key_len = n;
            return NGX_OK;
        }

        p += n + 2;
    }

    return NGX_ERROR;
}


ngx_int_t
ngx_http_tfa_resend_redis_cluster_ready(
    ngx_http_tfa_resend_redis_cluster_t *cl)
{
    ngx_msec_t  gap;

    if (cl->closing) {
        ngx_sprintf(cl->why, "is closed: the worker is exiting%Z");
        return NGX_DECLINED;
    }

    if (cl->asking) {
        return NGX_OK;
    }

    if (!cl->known) {

        if ((ngx_msec_int_t) (ngx_current_msec - cl->retry_at) < 0) {
            /* cl->why still tells the last failure */
            return NGX_DECLINED;
        }

        return ngx_http_tfa_resend_redis_cluster_ask(cl, 0) == NGX_OK
               ? NGX_OK : NGX_DECLINED;
    }

    gap = cl->stale ? NGX_HTTP_TFA_RESEND_REDIS_CLUSTER_SOON
                    : NGX_HTTP_TFA_RESEND_REDIS_CLUSTER_LATER;

    if (ngx_current_msec - cl->map_time >= gap) {

        /* the map known is used meanwhile */

        (void) ngx_http_tfa_resend_redis_cluster_ask(cl, 0);
    }

    return NGX_OK;
}


ngx_int_t
ngx_http_tfa_resend_redis_cluster_command(
    ngx_http_tfa_resend_redis_cluster_t *cl, u_char *cmd, size_t len,
    ngx_http_tfa_resend_redis_reply_pt handler, void *data)
{
    u_char                                   *key;
    size_t                                    key_len;
    ngx_http_tfa_resend_redis_cluster_cmd_t  *cc;

    if (cl->closing) {
        ngx_sprintf(cl->why, "is closed: the worker is exiting%Z");
        return NGX_ERROR;
    }

    if (ngx_http_tfa_resend_redis_cluster_key(cmd, len, &key, &key_len)
        != NGX_OK)
    {
        ngx_sprintf(cl->why, "could not take a command without a key%Z");
        return NGX_ERROR;
    }

    cc = ngx_alloc(offsetof(ngx_http_tfa_resend_redis_cluster_cmd_t, cmd)
                   + len, ngx_cycle->log);
    if (cc == NULL) {
        ngx_sprintf(cl->why, "could not take a command%Z");
        return NGX_ERROR;
    }

    ngx_memzero(cc, offsetof(ngx_http_tfa_resend_redis_cluster_cmd_t, cmd));

    cc->cl = cl;
    cc->handler = handler;
    cc->data = data;
    cc->slot = ngx_http_tfa_resend_redis_cluster_slot(key, key_len);
    /*
     * given up on a little before the store's own redis_timeout, so that
     * the error line tells the cluster's answer rather than the timeout
     */

    cc->deadline = ngx_current_msec + cl->timeout
                   - ngx_min(cl->timeout / 2,
                             2 * NGX_HTTP_TFA_RESEND_REDIS_CLUSTER_RETRY);
    cc->len = len;
    ngx_memcpy(cc->cmd, cmd, len);

    if (ngx_http_tfa_resend_redis_cluster_route(cc) != NGX_OK) {
        ngx_free(cc);
        return NGX_ERROR;
    }

    return NGX_OK;
}


ngx_int_t
ngx_http_tfa_resend_redis_cluster_command_argv(
    ngx_http_tfa_resend_redis_cluster_t *cl, int argc, const char **argv,
    const size_t *argvlen, ngx_http_tfa_resend_redis_reply_pt handler,
    void *data)
{
    int        len;
    char      *cmd;
    ngx_int_t  rc;

    len = redisFormatCommandArgv(&cmd, argc, argv, argvlen);
    if (len < 0) {
        ngx_sprintf(cl->why, "could not take a command%Z");
        return NGX_ERROR;
    }

    rc = ngx_http_tfa_resend_redis_cluster_command(cl, (u_char *) cmd,
                                                   (size_t) len, handler,
                                                   data);

    redisFreeCommand(cmd);

    return rc;
}


/*
 * The command to the master of its slot (or, after ASK, to the node
 * named); it waits for the map if none is known.  NGX_ERROR: it could not
 * go (cl->why says why), nothing was sent.
 */

static ngx_int_t
ngx_http_tfa_resend_redis_cluster_route(
    ngx_http_tfa_resend_redis_cluster_cmd_t *cc)
{
    ngx_uint_t                            i;
    ngx_http_tfa_resend_redis_link_t     *link;
    ngx_http_tfa_resend_redis_cluster_t  *cl;

    static const char   *asking[] = { "ASKING" };
    static const size_t  asking_len[] = { sizeof("ASKING") - 1 };

    cl = cc->cl;

    if (cc->ask) {
        i = cc->node;

    } else {
        i = cl->known ? cl->slots[cc->slot]
                      : NGX_HTTP_TFA_RESEND_REDIS_CLUSTER_NONE;

        if (i == NGX_HTTP_TFA_RESEND_REDIS_CLUSTER_NONE) {

            if (cl->known && !cl->asking
                && ngx_current_msec - cl->map_time
                   < NGX_HTTP_TFA_RESEND_REDIS_CLUSTER_SOON)
            {
                /* as CLUSTERDOWN: the map may name one within the time */

                ngx_sprintf(cl->why, "has no master for slot %ui%Z",
                            cc->slot);

                return ngx_http_tfa_resend_redis_cluster_later(cc);
            }

            if (!cl->asking
                && ngx_http_tfa_resend_redis_cluster_ask(cl, 0) != NGX_OK)
            {
                return NGX_ERROR;
            }

            ngx_queue_insert_tail(&cl->waiting, &cc->queue);
            return NGX_OK;
        }
    }

    link = ngx_http_tfa_resend_redis_cluster_link(cl, i);
    if (link == NULL) {
        return NGX_ERROR;
    }

    if (cc->ask
        && ngx_http_tfa_resend_redis_link_send_argv(link, 1, asking,
                                                    asking_len, NULL, NULL)
           != NGX_OK)
    {
        ngx_sprintf(cl->why, "could not take a command%Z");
        return NGX_ERROR;
    }

    if (ngx_http_tfa_resend_redis_link_send(link, cc->cmd, cc->len,
            ngx_http_tfa_resend_redis_cluster_reply, cc)
        != NGX_OK)
    {
        ngx_sprintf(cl->why, "could not take a command%Z");
        return NGX_ERROR;
    }

    cc->node = i;

    return NGX_OK;
}


static void
ngx_http_tfa_resend_redis_cluster_reply(void *data, redisReply *reply)
{
    ngx_http_tfa_resend_redis_cluster_cmd_t  *cc = data;

    ngx_http_tfa_resend_redis_cluster_t       *cl;
    ngx_http_tfa_resend_redis_cluster_node_t  *node;

    cl = cc->cl;

    if (reply == NULL || cl->closing) {

        if (reply == NULL && !cl->closing) {
            node = &cl->nodes[cc->node];

            ngx_snprintf(cl->why, 255, "node %V %s%Z", &node->name,
                         node->link.err);
            cl->stale = 1;
        }

        ngx_http_tfa_resend_redis_cluster_answer(cc, reply);
        return;
    }

    if (reply->type == REDIS_REPLY_ERROR
        && ngx_http_tfa_resend_redis_cluster_redirect(cc, reply) == NGX_OK)
    {
        return;
    }

    ngx_http_tfa_resend_redis_cluster_answer(cc, reply);
}


/*
 * MOVED, ASK, TRYAGAIN, CLUSTERDOWN: the command goes again (NGX_OK), or
 * the error is its answer (NGX_DECLINED; or NGX_ERROR, answered NULL)
 */

static ngx_int_t
ngx_http_tfa_resend_redis_cluster_redirect(
    ngx_http_tfa_resend_redis_cluster_cmd_t *cc, redisReply *reply)
{
    u_char                               *p, *last, *colon;
    ngx_int_t                             i, port;
    ngx_uint_t                            moved;
    ngx_http_tfa_resend_redis_cluster_t  *cl;

    cl = cc->cl;
    p = (u_char *) reply->str;
    last = p + reply->len;

    if ((size_t) reply->len > 6 && ngx_strncmp(p, "MOVED ", 6) == 0) {
        moved = 1;
        p += 6;

    } else if ((size_t) reply->len > 4 && ngx_strncmp(p, "ASK ", 4) == 0) {
        moved = 0;
        p += 4;

    } else if (((size_t) reply->len >= 8 && ngx_strncmp(p, "TRYAGAIN", 8) == 0)
               || ((size_t) reply->len >= 11
                   && ngx_strncmp(p, "CLUSTERDOWN", 11) == 0))
    {
        if (p[0] == 'C') {
            cl->stale = 1;
        }

        if (ngx_http_tfa_resend_redis_cluster_later(cc) != NGX_OK) {
            return NGX_DECLINED;
        }

        ngx_log_debug3(NGX_LOG_DEBUG_HTTP, ngx_cycle->log, 0,
                       "tfa_resend redis cluster: node %V: \"%*s\", again",
                       &cl->nodes[cc->node].name,
                       (size_t) ngx_min(reply->len, 64), reply->str);

        return NGX_OK;

    } else {
        return NGX_DECLINED;
    }

    /* "SLOT IP:PORT" */

    p = ngx_strlchr(p, last, ' ');
    if (p == NULL) {
        return NGX_DECLINED;
    }

    p++;

    colon = NULL;

    for (last--; last > p; last--) {
        if (*last == ':') {
            colon = last;
            break;
        }
    }

    last = (u_char *) reply->str + reply->len;

    if (colon == NULL) {
        return NGX_DECLINED;
    }

    port = ngx_atoi(colon + 1, last - colon - 1);

    if (colon == p) {
        /* no address: the node that answered, on that port */
        p = cl->nodes[cc->node].host.data;
        colon = p + cl->nodes[cc->node].host.len;
    }

    i = (port == NGX_ERROR) ? NGX_ERROR
        : ngx_http_tfa_resend_redis_cluster_add(cl, p, colon - p,
                                                (ngx_uint_t) port);

    if (i == NGX_ERROR || ++cc->hops > NGX_HTTP_TFA_RESEND_REDIS_CLUSTER_HOPS)
    {
        return NGX_DECLINED;
    }

    ngx_log_debug4(NGX_LOG_DEBUG_HTTP, ngx_cycle->log, 0,
                   "tfa_resend redis cluster: slot %ui %s from %V to %V",
                   cc->slot, moved ? "moved" : "asked",
                   &cl->nodes[cc->node].name, &cl->nodes[i].name);

    if (moved) {
        cl->slots[cc->slot] = (u_char) i;
        cl->stale = 1;
        cc->ask = 0;

    } else {
        cc->ask = 1;
        cc->node = i;
    }

    if (ngx_http_tfa_resend_redis_cluster_route(cc) != NGX_OK) {
        ngx_http_tfa_resend_redis_cluster_answer(cc, NULL);
    }

    return NGX_OK;
}


/*
 * TRYAGAIN, CLUSTERDOWN, no master known for the slot: sent again 25 ms
 * later (NGX_OK), unless redis_timeout has passed since it was first sent
 * (NGX_ERROR)
 */

static ngx_int_t
ngx_http_tfa_resend_redis_cluster_later(
    ngx_http_tfa_resend_redis_cluster_cmd_t *cc)
{
    ngx_msec_t                            delay;
    ngx_http_tfa_resend_redis_cluster_t  *cl;

    cl = cc->cl;

    if ((ngx_msec_int_t) (cc->deadline - ngx_current_msec) <= 0) {
        return NGX_ERROR;
    }

    delay = ngx_min(NGX_HTTP_TFA_RESEND_REDIS_CLUSTER_RETRY,
                    ngx_max(cl->timeout / 4, 1));

    cc->timer.handler = ngx_http_tfa_resend_redis_cluster_retry;
    cc->timer.data = cc;
    cc->timer.log = ngx_cycle->log;
    cc->timer.cancelable = 1;

    ngx_queue_insert_tail(&cl->retrying, &cc->queue);
    ngx_add_timer(&cc->timer, delay);

    return NGX_OK;
}


/* TRYAGAIN, CLUSTERDOWN: the time to send it again */

static void
ngx_http_tfa_resend_redis_cluster_retry(ngx_event_t *ev)
{
    ngx_http_tfa_resend_redis_cluster_cmd_t  *cc = ev->data;

    ngx_queue_remove(&cc->queue);

    if (ngx_http_tfa_resend_redis_cluster_route(cc) != NGX_OK) {
        ngx_http_tfa_resend_redis_cluster_answer(cc, NULL);
    }
}


/* the one answer of a command (NULL: none, cl->why says why); it goes */

static void
ngx_http_tfa_resend_redis_cluster_answer(
    ngx_http_tfa_resend_redis_cluster_cmd_t *cc, redisReply *reply)
{
    if (cc->handler) {
        cc->handler(cc->data, reply);
    }

    ngx_free(cc);
}


/*
 * Node i's link, connecting it (with its handshake queued) if it is not;
 * NULL: it failed a moment ago, or could not start (cl->why says why)
 */

static ngx_http_tfa_resend_redis_link_t *
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

    link->peer.sockaddr = &node->sockaddr.sockaddr;
    link->peer.socklen = node->socklen;
    link->peer.name = &node->name;
    link->timeout = ngx_max(10 * cl->timeout, 1000);
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

    if (reply == NULL || reply->type != REDIS_REPLY_ERROR) {
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

    cl->stale = 1;
}


/*
 * CLUSTER SLOTS, of node from and the next ones in turn: the seeds, then
 * the nodes the cluster named.  NGX_OK: one is being asked, else none
 * could be (cl->why says why), and it is tried again after the backoff.
 */

static ngx_int_t
ngx_http_tfa_resend_redis_cluster_ask(ngx_http_tfa_resend_redis_cluster_t *cl,
    ngx_uint_t from)
{
    ngx_uint_t                         i;
    ngx_http_tfa_resend_redis_link_t  *link;

    static const char   *argv[] = { "CLUSTER", "SLOTS" };
    static const size_t  argvlen[] = { sizeof("CLUSTER") - 1,
                                       sizeof("SLOTS") - 1 };

    cl->map_time = ngx_current_msec;

    for (i = from; i < cl->nnodes; i++) {

        link = ngx_http_tfa_resend_redis_cluster_link(cl, i);
        if (link == NULL) {
            continue;
        }

        if (ngx_http_tfa_resend_redis_link_send_argv(link, 2, argv, argvlen,
                ngx_http_tfa_resend_redis_cluster_map_reply, cl)
            != NGX_OK)
        {
            continue;
        }

        cl->asked = i;
        cl->asking = 1;

        cl->map_timer.handler = ngx_http_tfa_resend_redis_cluster_map_timeout;
        cl->map_timer.data = cl;
        cl->map_timer.log = ngx_cycle->log;
        cl->map_timer.cancelable = 1;

        ngx_add_timer(&cl->map_timer, cl->timeout);

        return NGX_OK;
    }

    /* cl->why: the last node's failure */

    cl->retry_at = ngx_current_msec + cl->backoff;
    cl->backoff = ngx_min(2 * cl->backoff, 2000);

    return NGX_DECLINED;
}


static void
ngx_http_tfa_resend_redis_cluster_map_reply(void *data, redisReply *reply)
{
    ngx_http_tfa_resend_redis_cluster_t  *cl = data;

    ngx_http_tfa_resend_redis_cluster_node_t  *node;

    if (!cl->asking || cl->closing) {
        /* a late answer of one given up on */
        return;
    }

    cl->asking = 0;

    if (cl->map_timer.timer_set) {
        ngx_del_timer(&cl->map_timer);
    }

    node = &cl->nodes[cl->asked];

    if (reply == NULL) {
        ngx_snprintf(cl->why, 255, "node %V %s%Z", &node->name,
                     node->link.err);
        ngx_http_tfa_resend_redis_cluster_map_next(cl);
        return;
    }

    if (ngx_http_tfa_resend_redis_cluster_map(cl, reply) != NGX_OK) {
        ngx_snprintf(cl->why, 255, "node %V answered CLUSTER SLOTS with "
                     "%s%*s%s%Z", &node->name,
                     reply->type == REDIS_REPLY_ERROR ? "\"" : "no slot map",
                     (size_t) (reply->type == REDIS_REPLY_ERROR
                               ? ngx_min(reply->len, 160) : 0),
                     reply->str,
                     reply->type == REDIS_REPLY_ERROR ? "\"" : "");
        ngx_http_tfa_resend_redis_cluster_map_next(cl);
        return;
    }

    ngx_log_debug2(NGX_LOG_DEBUG_HTTP, ngx_cycle->log, 0,
                   "tfa_resend redis cluster: slot map from %V, %ui nodes",
                   &node->name, cl->nnodes);

    cl->known = 1;
    cl->stale = 0;
    cl->backoff = NGX_HTTP_TFA_RESEND_REDIS_CLUSTER_SOON;

    ngx_http_tfa_resend_redis_cluster_resume(cl);
}


/*
 * [[START, END, [IP, PORT, ...], replicas...], ...]: the masters by slot;
 * a slot no range names has none (the cluster is missing it)
 */

static ngx_int_t
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


static void
ngx_http_tfa_resend_redis_cluster_map_timeout(ngx_event_t *ev)
{
    ngx_http_tfa_resend_redis_cluster_t  *cl = ev->data;

    ngx_http_tfa_resend_redis_cluster_node_t  *node;

    node = &cl->nodes[cl->asked];

    ngx_snprintf(cl->why, 255, "node %V did not answer CLUSTER SLOTS within "
                 "redis_timeout (%Mms)%Z", &node->name, cl->timeout);

    cl->asking = 0;

    ngx_http_tfa_resend_redis_cluster_map_next(cl);
}


/* the node asked could not tell: the next one, or none */

static void
ngx_http_tfa_resend_redis_cluster_map_next(
    ngx_http_tfa_resend_redis_cluster_t *cl)
{
    if (ngx_http_tfa_resend_redis_cluster_ask(cl, cl->asked + 1) == NGX_OK) {
        return;
    }

    /* the map known, if any, goes on; the commands waiting for one fail */

    ngx_http_tfa_resend_redis_cluster_resume(cl);
}


/* the commands that waited for the map go, or fail */

static void
ngx_http_tfa_resend_redis_cluster_resume(
    ngx_http_tfa_resend_redis_cluster_t *cl)
{
    ngx_queue_t                               waiting, *q;
    ngx_http_tfa_resend_redis_cluster_cmd_t  *cc;

    if (ngx_queue_empty(&cl->waiting)) {
        return;
    }

    waiting.next = cl->waiting.next;
    waiting.prev = cl->waiting.prev;
    waiting.next->prev = &waiting;
    waiting.prev->next = &waiting;
    ngx_queue_init(&cl->waiting);

    while (!ngx_queue_empty(&waiting)) {
        q = ngx_queue_head(&waiting);
        ngx_queue_remove(q);

        cc = ngx_queue_data(q, ngx_http_tfa_resend_redis_cluster_cmd_t,
                            queue);

        if (!cl->known || cl->asking
            || ngx_http_tfa_resend_redis_cluster_route(cc) != NGX_OK)
        {
            if (cl->asking) {
                ngx_sprintf(cl->why, "has no slot map yet%Z");
            }

            ngx_http_tfa_resend_redis_cluster_answer(cc, NULL);
        }
    }
}


void
ngx_http_tfa_resend_redis_cluster_stale(
    ngx_http_tfa_resend_redis_cluster_t *cl)
{
    cl->stale = 1;
}


void
ngx_http_tfa_resend_redis_cluster_close(
    ngx_http_tfa_resend_redis_cluster_t *cl)
{
    ngx_uint_t                                i;
    ngx_queue_t                              *q;
    ngx_http_tfa_resend_redis_cluster_cmd_t  *cc;

    cl->closing = 1;
    cl->asking = 0;

    if (cl->map_timer.timer_set) {
        ngx_del_timer(&cl->map_timer);
    }

    while (!ngx_queue_empty(&cl->retrying)) {
        q = ngx_queue_head(&cl->retrying);
        ngx_queue_remove(q);

        cc = ngx_queue_data(q, ngx_http_tfa_resend_redis_cluster_cmd_t,
                            queue);

        if (cc->timer.timer_set) {
            ngx_del_timer(&cc->timer);
        }

        ngx_http_tfa_resend_redis_cluster_answer(cc, NULL);
    }

    while (!ngx_queue_empty(&cl->waiting)) {
        q = ngx_queue_head(&cl->waiting);
        ngx_queue_remove(q);

        ngx_http_tfa_resend_redis_cluster_answer(
            ngx_queue_data(q, ngx_http_tfa_resend_redis_cluster_cmd_t, queue),
            NULL);
    }

    for (i = 0; i < cl->nnodes; i++) {
        ngx_http_tfa_resend_redis_link_close(&cl->nodes[i].link);
    }
}
