
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
 *
 * A master that stays connected but stops answering (a paused process, a
 * hung host) is handled as the plain store's connection: once a command
 * on its link has timed out, and until it answers anything, the commands
 * of its slots are not sent at all (ngx_http_tfa_resend_redis_link_silent:
 * on_store_error decides at once); its late answers still come on the
 * link.  Silent past the cutoff, its link is dropped, its commands
 * answered NULL as a lost link's, the map asked again, and the link made
 * again when next needed.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_event.h>

#include "ngx_http_tfa_resend_redis_slots.h"
#include "ngx_http_tfa_resend_redis_cluster.h"


/* redirections of one command at the most, then it is an error */
#define NGX_HTTP_TFA_RESEND_REDIS_CLUSTER_HOPS   5

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
    unsigned                              refused:1; /* ... ASKING */
    size_t                                len;
    u_char                                cmd[1];
} ngx_http_tfa_resend_redis_cluster_cmd_t;


static ngx_int_t ngx_http_tfa_resend_redis_cluster_key(u_char *cmd,
    size_t len, u_char **key, size_t *key_len);
static ngx_int_t ngx_http_tfa_resend_redis_cluster_node_ready(
    ngx_http_tfa_resend_redis_cluster_t *cl, ngx_uint_t i);
static ngx_int_t ngx_http_tfa_resend_redis_cluster_route(
    ngx_http_tfa_resend_redis_cluster_cmd_t *cc);
static void ngx_http_tfa_resend_redis_cluster_asking_reply(void *data,
    redisReply *reply);
static void ngx_http_tfa_resend_redis_cluster_reply(void *data,
    redisReply *reply);
static ngx_int_t ngx_http_tfa_resend_redis_cluster_redirect(
    ngx_http_tfa_resend_redis_cluster_cmd_t *cc, redisReply *reply);
static ngx_int_t ngx_http_tfa_resend_redis_cluster_later(
    ngx_http_tfa_resend_redis_cluster_cmd_t *cc);
static void ngx_http_tfa_resend_redis_cluster_retry(ngx_event_t *ev);
static void ngx_http_tfa_resend_redis_cluster_answer(
    ngx_http_tfa_resend_redis_cluster_cmd_t *cc, redisReply *reply);
static ngx_int_t ngx_http_tfa_resend_redis_cluster_ask(
    ngx_http_tfa_resend_redis_cluster_t *cl, ngx_uint_t from);
static void ngx_http_tfa_resend_redis_cluster_map_reply(void *data,
    redisReply *reply);
static void ngx_http_tfa_resend_redis_cluster_map_timeout(ngx_event_t *ev);
static void ngx_http_tfa_resend_redis_cluster_map_next(
    ngx_http_tfa_resend_redis_cluster_t *cl);
static void ngx_http_tfa_resend_redis_cluster_resume(
    ngx_http_tfa_resend_redis_cluster_t *cl);


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
    ngx_http_tfa_resend_redis_cluster_t *cl, ngx_uint_t slot)
{
    ngx_uint_t  i;
    ngx_msec_t  gap;

    if (cl->closing) {
        ngx_sprintf(cl->why, "is closed: the worker is exiting%Z");
        return NGX_DECLINED;
    }

    if (!cl->known) {

        if (cl->asking) {
            return NGX_OK;
        }

        if ((ngx_msec_int_t) (ngx_current_msec - cl->retry_at) < 0) {
            /* cl->why still tells the last failure */
            return NGX_DECLINED;
        }

        return ngx_http_tfa_resend_redis_cluster_ask(cl, 0) == NGX_OK
               ? NGX_OK : NGX_DECLINED;
    }

    if (!cl->asking) {
        gap = cl->stale ? NGX_HTTP_TFA_RESEND_REDIS_CLUSTER_SOON
                        : NGX_HTTP_TFA_RESEND_REDIS_CLUSTER_LATER;

        if (ngx_current_msec - cl->map_time >= gap) {

            /* the map known is used meanwhile */

            (void) ngx_http_tfa_resend_redis_cluster_ask(cl, 0);
        }
    }

    i = cl->slots[slot];

    if (i == NGX_HTTP_TFA_RESEND_REDIS_CLUSTER_NONE) {
        /* the command waits for a master, within redis_timeout */
        return NGX_OK;
    }

    return ngx_http_tfa_resend_redis_cluster_node_ready(cl, i);
}


/*
 * Node i, unless it has been silent since a command timed out: then
 * NGX_BUSY (cl->why says for how long) and nothing is queued on its link,
 * the next commands would only wait as long.  Past the cutoff its
 * link is dropped: the commands on it are answered NULL as a lost link's,
 * the map is asked again, and the link is made again when next needed,
 * after the backoff.
 */

static ngx_int_t
ngx_http_tfa_resend_redis_cluster_node_ready(
    ngx_http_tfa_resend_redis_cluster_t *cl, ngx_uint_t i)
{
    u_char                                    *p;
    ngx_http_tfa_resend_redis_cluster_node_t  *node;

    node = &cl->nodes[i];

    if (!node->stalled) {
        return NGX_OK;
    }

    p = ngx_snprintf(cl->why, 255, "node %V ", &node->name);

    if (ngx_http_tfa_resend_redis_link_silent(node->stalled, cl->timeout, p,
                                              255 - (p - cl->why))
        == NGX_DECLINED)
    {
        return NGX_BUSY;
    }

    /* rare (once a cutoff per node and worker at most): always logged */

    ngx_log_error(NGX_LOG_WARN, ngx_cycle->log, 0,
                  "tfa_resend_limit_zone \"%V\": redis cluster %s; the slot "
                  "map is asked again", cl->zone, cl->why);

    ngx_cpystrn(node->link.err, p, sizeof(node->link.err));

    node->stalled = 0;
    node->retry_at = ngx_current_msec + NGX_HTTP_TFA_RESEND_REDIS_CLUSTER_SOON;
    cl->stale = 1;

    ngx_http_tfa_resend_redis_link_close(&node->link);

    /* the answers NULL may have told another node's failure meanwhile */

    ngx_snprintf(cl->why, 255, "node %V %s%Z", &node->name, node->link.err);

    return NGX_BUSY;
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

    if (ngx_http_tfa_resend_redis_cluster_node_ready(cl, i) != NGX_OK) {
        return NGX_ERROR;
    }

    link = ngx_http_tfa_resend_redis_cluster_link(cl, i);
    if (link == NULL) {
        return NGX_ERROR;
    }

    cc->refused = 0;

    if (cc->ask
        && ngx_http_tfa_resend_redis_link_send_argv(link, 1, asking,
                asking_len, ngx_http_tfa_resend_redis_cluster_asking_reply,
                cc)
           != NGX_OK)
    {
        ngx_sprintf(cl->why, "could not take a command%Z");
        return NGX_ERROR;
    }

    if (ngx_http_tfa_resend_redis_link_send(link, cc->cmd, cc->len,
            ngx_http_tfa_resend_redis_cluster_reply, cc)
        != NGX_OK)
    {
        if (cc->ask) {
            /* the ASKING queued must not answer to a command that went */
            ngx_http_tfa_resend_redis_link_close(link);
        }

        ngx_sprintf(cl->why, "could not take a command%Z");
        return NGX_ERROR;
    }

    cc->node = i;

    return NGX_OK;
}


/*
 * ASKING refused (an ACL user without +asking): the node then answers the
 * command with a redirection that says nothing of why; the refusal is the
 * command's error instead.  Its answer comes next on the link, nothing
 * runs between the two, so cl->why still holds this.
 */

static void
ngx_http_tfa_resend_redis_cluster_asking_reply(void *data, redisReply *reply)
{
    ngx_http_tfa_resend_redis_cluster_cmd_t  *cc = data;

    if (reply == NULL) {
        return;
    }

    cc->cl->nodes[cc->node].stalled = 0;

    if (reply->type != REDIS_REPLY_ERROR) {
        return;
    }

    cc->refused = 1;

    ngx_snprintf(cc->cl->why, 255, "node %V refused ASKING: \"%*s\"%Z",
                 &cc->cl->nodes[cc->node].name,
                 (size_t) ngx_min(reply->len, 160), reply->str);
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

    /* the node answers: it is not silent (a late answer is taken back) */

    cl->nodes[cc->node].stalled = 0;

    if (cc->refused && reply->type == REDIS_REPLY_ERROR) {
        ngx_http_tfa_resend_redis_cluster_answer(cc, NULL);
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
 * CLUSTER SLOTS, of node from and the next ones in turn: the seeds, then
 * the nodes the cluster named.  NGX_OK: one is being asked, else none
 * could be (cl->why says why), and it is tried again after the backoff.
 */

static ngx_int_t
ngx_http_tfa_resend_redis_cluster_ask(ngx_http_tfa_resend_redis_cluster_t *cl,
    ngx_uint_t from)
{
    u_char                                    *p;
    ngx_uint_t                                 i;
    ngx_http_tfa_resend_redis_link_t          *link;
    ngx_http_tfa_resend_redis_cluster_node_t  *node;

    static const char   *argv[] = { "CLUSTER", "SLOTS" };
    static const size_t  argvlen[] = { sizeof("CLUSTER") - 1,
                                       sizeof("SLOTS") - 1 };

    cl->map_time = ngx_current_msec;

    for (i = from; i < cl->nnodes; i++) {

        node = &cl->nodes[i];

        if (node->stalled) {

            /* it would only time out again: a resend drops it, if need be */

            p = ngx_snprintf(cl->why, 255, "node %V ", &node->name);
            (void) ngx_http_tfa_resend_redis_link_silent(node->stalled,
                                                         cl->timeout, p,
                                                         255 - (p - cl->why));
            continue;
        }

        link = ngx_http_tfa_resend_redis_cluster_link(cl, i);
        if (link == NULL) {
            continue;
        }

        if (ngx_http_tfa_resend_redis_link_send_argv(link, 2, argv, argvlen,
                ngx_http_tfa_resend_redis_cluster_map_reply, node)
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
    ngx_http_tfa_resend_redis_cluster_node_t  *node = data;

    ngx_http_tfa_resend_redis_cluster_t  *cl;

    cl = node->cluster;

    if (reply) {
        node->stalled = 0;
    }

    if (!cl->asking || cl->closing || node != &cl->nodes[cl->asked]) {
        /* a late answer of one given up on */
        return;
    }

    cl->asking = 0;

    if (cl->map_timer.timer_set) {
        ngx_del_timer(&cl->map_timer);
    }

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


static void
ngx_http_tfa_resend_redis_cluster_map_timeout(ngx_event_t *ev)
{
    ngx_http_tfa_resend_redis_cluster_t  *cl = ev->data;

    ngx_http_tfa_resend_redis_cluster_node_t  *node;

    node = &cl->nodes[cl->asked];

    ngx_snprintf(cl->why, 255, "node %V did not answer CLUSTER SLOTS within "
                 "redis_timeout (%Mms)%Z", &node->name, cl->timeout);

    /* as a resend's command timing out: silent until it answers */

    if (!node->stalled) {
        node->stalled = ngx_current_msec;
    }

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


/*
 * A command of this slot got no answer within redis_timeout: the slot's
 * master is taken for silent if a command waits on its link (the command
 * may also have waited for the map, or gone elsewhere after ASK)
 */

void
ngx_http_tfa_resend_redis_cluster_timed_out(
    ngx_http_tfa_resend_redis_cluster_t *cl, ngx_uint_t slot)
{
    ngx_uint_t                                 i;
    ngx_http_tfa_resend_redis_cluster_node_t  *node;

    i = cl->slots[slot];

    if (i == NGX_HTTP_TFA_RESEND_REDIS_CLUSTER_NONE
        || cl->nodes[i].link.pending == 0)
    {
        ngx_snprintf(cl->why, 255, "did not answer within redis_timeout "
                     "(%Mms)%Z", cl->timeout);
        return;
    }

    node = &cl->nodes[i];

    ngx_snprintf(cl->why, 255, "node %V did not answer within redis_timeout "
                 "(%Mms)%s%Z", &node->name, cl->timeout,
                 node->link.state == NGX_HTTP_TFA_RESEND_REDIS_LINK_CONNECT
                 ? " of connecting" : "");

    if (!node->stalled) {
        node->stalled = ngx_current_msec;
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
