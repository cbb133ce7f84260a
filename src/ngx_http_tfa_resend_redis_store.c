
/*
 * Copyright (C) ngx_http_tfa_resend_module authors
 *
 * The Redis store's operations.
 *
 * The admissions of a pinId are one sorted set in Redis, "tfa:ZONE:PINID":
 * a member per admission, scored by the Redis server's clock in
 * milliseconds, the key expiring one window after its newest admission.
 * One Lua script (ngx_http_tfa_resend_redis_script.c) makes the whole
 * decision on the Redis server, atomically: it drops the admissions that
 * left the window, counts the rest, and adds one if there are fewer than
 * N.  So two gateways can never both admit the N+1th resend, and since
 * the time is the Redis server's (TIME), clock skew between gateways
 * cannot split a window.  The script is loaded once per connection
 * (SCRIPT LOAD) and called by its SHA-1 (EVALSHA; EVAL when Redis answers
 * NOSCRIPT, after a SCRIPT FLUSH or a failover).  The resends a worker
 * asks in one pass of its event loop wait in a queue and go in one call
 * when the pass ends (a posted event), up to 64 a call: most of what a
 * call costs Redis is entering the script at all.
 *
 * Admit answers NGX_AGAIN, and the reply resumes the request.
 *
 * When Redis cannot answer in time (down, refusing, slower than
 * redis_timeout, wrong password) on_store_error decides
 * (ngx_http_tfa_resend_redis_fallback.c): reject (503), allow, or local:
 * this server's own window, in the zone's shared memory.  Every admission
 * this server makes through Redis is recorded there too, so a server that
 * falls back goes on from what it has admitted itself rather than from an
 * empty window.
 *
 * A command that timed out is still answered later: if that late answer
 * is an admission and the resend was not let through meanwhile, it is
 * taken back, so a slow Redis never uses up quota for calls that were not
 * placed.  So too when the request went away while it waited.  A pinId
 * left with no admission by a take-back has its key deleted at once.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_event.h>

#include "ngx_http_tfa_resend_metrics.h"
#include "ngx_http_tfa_resend_shm.h"
#include "ngx_http_tfa_resend_redis_conn.h"
#include "ngx_http_tfa_resend_redis_fallback.h"
#include "ngx_http_tfa_resend_redis_script.h"
#include "ngx_http_tfa_resend_redis_store.h"


/* admissions asked in one script call at the most */
#define NGX_HTTP_TFA_RESEND_REDIS_BATCH         64


/* one admission asked of Redis, until its answer is in */

typedef struct {
    ngx_http_tfa_resend_redis_t        *rd;
    ngx_http_tfa_resend_store_op_t     *op;        /* NULL: nobody waits */
    ngx_pool_cleanup_t                 *cln;       /* on the op's pool */
    ngx_event_t                         timer;     /* redis_timeout */
    ngx_queue_t                         queue;     /* in conn->waiting */
    uint64_t                            nonce;
    uint64_t                            asked;     /* metrics clock */
    ngx_uint_t                          slot;      /* in a cluster */
    unsigned                            passed:1;  /* let through without
                                                      Redis's answer */
    size_t                              key_len;
    u_char                              key[1];    /* "tfa:ZONE:PINID" */
} ngx_http_tfa_resend_redis_rec_t;


/* the admissions of one script call, until its answer is in */

typedef struct {
    ngx_http_tfa_resend_redis_t        *rd;
    ngx_uint_t                          n;
    unsigned                            eval:1;    /* sent as EVAL */
    ngx_http_tfa_resend_redis_rec_t    *rec[NGX_HTTP_TFA_RESEND_REDIS_BATCH];
} ngx_http_tfa_resend_redis_batch_t;


static ngx_int_t ngx_http_tfa_resend_redis_admit(
    ngx_http_tfa_resend_store_t *store, ngx_http_tfa_resend_store_op_t *op);
static ngx_int_t ngx_http_tfa_resend_redis_refund(
    ngx_http_tfa_resend_store_t *store, ngx_http_tfa_resend_store_op_t *op);
static ngx_int_t ngx_http_tfa_resend_redis_inspect(
    ngx_http_tfa_resend_store_t *store, ngx_http_tfa_resend_store_op_t *op);

static void ngx_http_tfa_resend_redis_flush(ngx_event_t *ev);
static void ngx_http_tfa_resend_redis_one_slot(ngx_http_tfa_resend_redis_t *rd,
    ngx_http_tfa_resend_redis_batch_t *b);
static ngx_int_t ngx_http_tfa_resend_redis_send(
    ngx_http_tfa_resend_redis_t *rd, ngx_http_tfa_resend_redis_batch_t *b);
static void ngx_http_tfa_resend_redis_reply(void *data, redisReply *reply);
static void ngx_http_tfa_resend_redis_decide(ngx_http_tfa_resend_redis_t *rd,
    ngx_http_tfa_resend_redis_rec_t *rec, redisReply *reply);
static ngx_int_t ngx_http_tfa_resend_redis_parse(
    ngx_http_tfa_resend_redis_t *rd, redisReply *reply, uint64_t *x,
    ngx_uint_t *remaining);
static void ngx_http_tfa_resend_redis_timeout(ngx_event_t *ev);
static void ngx_http_tfa_resend_redis_op_cleanup(void *data);
static void ngx_http_tfa_resend_redis_free_rec(
    ngx_http_tfa_resend_redis_rec_t *rec);


const ngx_http_tfa_resend_store_type_t  ngx_http_tfa_resend_redis_store = {
    ngx_string("redis"),
    ngx_http_tfa_resend_redis_admit,
    ngx_http_tfa_resend_redis_refund,
    ngx_http_tfa_resend_redis_inspect
};


static ngx_int_t
ngx_http_tfa_resend_redis_admit(ngx_http_tfa_resend_store_t *store,
    ngx_http_tfa_resend_store_op_t *op)
{
    size_t                             len;
    u_char                            *p;
    ngx_int_t                          rc;
    ngx_pool_cleanup_t                *cln;
    ngx_http_tfa_resend_redis_t       *rd;
    ngx_http_tfa_resend_redis_rec_t   *rec;
    ngx_http_tfa_resend_redis_conn_t  *conn;

    rd = store->data;
    conn = &rd->conn;

    op->stamp = 0;
    op->serial = 0;
    op->local = 0;
    op->retry_after = 0;
    op->store_error = 0;

    if (rd->cluster && conn->pid != ngx_pid) {

        /*
         * The members' nonces, seeded per worker as the connection of one
         * Redis seeds them when it connects: a cluster has no such moment
         */

        conn->pid = ngx_pid;
        conn->nonce = (uint64_t) ((ngx_random() & 0x7fffffff) | 0x40000000)
                      << 32;
    }

    if (rd->cluster == NULL && ngx_http_tfa_resend_redis_ready(rd) != NGX_OK)
    {
        return ngx_http_tfa_resend_redis_fallback(rd, op,
                                          ngx_http_tfa_resend_redis_down(rd));
    }

    len = rd->prefix.len + op->key.len + rd->suffix.len;

    rec = ngx_alloc(offsetof(ngx_http_tfa_resend_redis_rec_t, key) + len,
                    op->log);
    if (rec == NULL) {
        return NGX_ERROR;
    }

    ngx_memzero(rec, offsetof(ngx_http_tfa_resend_redis_rec_t, key));

    p = ngx_cpymem(rec->key, rd->prefix.data, rd->prefix.len);
    p = ngx_cpymem(p, op->key.data, op->key.len);
    ngx_memcpy(p, rd->suffix.data, rd->suffix.len);

    rec->key_len = len;

    if (rd->cluster) {

        /* once: the batches of a pass are made by slot */

        rec->slot = ngx_http_tfa_resend_redis_cluster_slot(rec->key, len);

        rc = ngx_http_tfa_resend_redis_cluster_ready(rd->cluster, rec->slot);

        if (rc != NGX_OK) {
            ngx_free(rec);

            /* NGX_BUSY: its master has not answered since one timed out */

            return ngx_http_tfa_resend_redis_fallback(rd, op, rc == NGX_BUSY
                                      ? NGX_HTTP_TFA_RESEND_METRICS_TIMEOUT
                                      : ngx_http_tfa_resend_redis_down(rd));
        }
    }

    rec->rd = rd;
    rec->nonce = conn->nonce++;
    rec->asked = ngx_http_tfa_resend_metrics_clock();

    /* the request may go before the answer comes: the answer is dropped */

    cln = ngx_pool_cleanup_add(op->pool, 0);
    if (cln == NULL) {
        ngx_free(rec);
        return NGX_ERROR;
    }

    /* sent with the others of this pass of the event loop, after it */

    ngx_queue_insert_tail(&conn->waiting, &rec->queue);

    if (!conn->flush.posted) {
        conn->flush.handler = ngx_http_tfa_resend_redis_flush;
        conn->flush.data = rd;
        conn->flush.log = ngx_cycle->log;

        ngx_post_event(&conn->flush, &ngx_posted_events);
    }

    cln->handler = ngx_http_tfa_resend_redis_op_cleanup;
    cln->data = rec;

    rec->op = op;
    rec->cln = cln;

    rec->timer.handler = ngx_http_tfa_resend_redis_timeout;
    rec->timer.data = rec;
    rec->timer.log = ngx_cycle->log;

    ngx_add_timer(&rec->timer, rd->timeout);

    conn->pending++;

    ngx_log_debug3(NGX_LOG_DEBUG_HTTP, op->log, 0,
                   "tfa_resend_limit admit \"%V\" in \"%V\": asked redis, "
                   "%ui pending", &op->key, &store->name, conn->pending);

    return NGX_AGAIN;
}


static ngx_int_t
ngx_http_tfa_resend_redis_refund(ngx_http_tfa_resend_store_t *store,
    ngx_http_tfa_resend_store_op_t *op)
{
    u_char                          *key, *p;
    size_t                           len;
    ngx_http_tfa_resend_redis_t     *rd;
    ngx_http_tfa_resend_store_op_t   lop;

    rd = store->data;

    op->rc = NGX_OK;

    if (op->local) {
        ngx_memzero(&lop, sizeof(ngx_http_tfa_resend_store_op_t));

        lop.key = op->key;
        lop.now = ngx_current_msec;
        lop.log = op->log;
        lop.stamp = op->local;

        (void) ngx_http_tfa_resend_shm_store.refund(&rd->local, &lop);
    }

    if (op->serial == 0) {
        return NGX_OK;
    }

    if (rd->conn.link == NULL && rd->cluster == NULL) {
        ngx_log_error(NGX_LOG_INFO, op->log, 0,
                      "tfa_resend_limit_zone \"%V\": redis at %V is not "
                      "connected: the refund of pinId \"%V\" is dropped, "
                      "the admission leaves the window on its own",
                      &store->name, &rd->addr, &op->key);

        op->rc = NGX_ERROR;
        return NGX_ERROR;
    }

    len = rd->prefix.len + op->key.len + rd->suffix.len;

    key = ngx_alloc(len, op->log);
    if (key == NULL) {
        op->rc = NGX_ERROR;
        return NGX_ERROR;
    }

    p = ngx_cpymem(key, rd->prefix.data, rd->prefix.len);
    p = ngx_cpymem(p, op->key.data, op->key.len);
    ngx_memcpy(p, rd->suffix.data, rd->suffix.len);

    ngx_http_tfa_resend_redis_take_back(rd, key, len, op->stamp, op->serial);

    ngx_free(key);

    return NGX_OK;
}


/*
 * The count lives in Redis: without asking it there is nothing exact to
 * tell, and a resend refused before the limiter (400, 405 ...) is not worth
 * a round trip.  The local window knows only this server's admissions.
 */

static ngx_int_t
ngx_http_tfa_resend_redis_inspect(ngx_http_tfa_resend_store_t *store,
    ngx_http_tfa_resend_store_op_t *op)
{
    return NGX_DECLINED;
}


/*
 * The admissions waiting, in script calls of at most BATCH each.  One that
 * cannot be sent is decided by on_store_error, as if the connection went.
 */

static void
ngx_http_tfa_resend_redis_flush(ngx_event_t *ev)
{
    ngx_http_tfa_resend_redis_t *rd = ev->data;

    ngx_uint_t                          i;
    ngx_queue_t                        *q;
    ngx_http_tfa_resend_redis_conn_t   *conn;
    ngx_http_tfa_resend_redis_batch_t  *b;

    conn = &rd->conn;

    while (!ngx_queue_empty(&conn->waiting)) {

        b = ngx_alloc(sizeof(ngx_http_tfa_resend_redis_batch_t),
                      ngx_cycle->log);

        if (b == NULL) {
            ngx_sprintf(conn->why, "could not take a command%Z");

            while (!ngx_queue_empty(&conn->waiting)) {
                q = ngx_queue_head(&conn->waiting);
                ngx_queue_remove(q);
                ngx_http_tfa_resend_redis_decide(rd,
                    ngx_queue_data(q, ngx_http_tfa_resend_redis_rec_t, queue),
                    NULL);
            }

            return;
        }

        b->rd = rd;
        b->n = 0;
        b->eval = 0;

        if (rd->cluster) {
            ngx_http_tfa_resend_redis_one_slot(rd, b);

        } else {
            while (b->n < NGX_HTTP_TFA_RESEND_REDIS_BATCH
                   && !ngx_queue_empty(&conn->waiting))
            {
                q = ngx_queue_head(&conn->waiting);
                ngx_queue_remove(q);
                b->rec[b->n++] = ngx_queue_data(q,
                                     ngx_http_tfa_resend_redis_rec_t, queue);
            }
        }

        if (ngx_http_tfa_resend_redis_send(rd, b) != NGX_OK) {

            if (conn->link) {
                ngx_sprintf(conn->why, "could not take a command%Z");
            }

            for (i = 0; i < b->n; i++) {
                ngx_http_tfa_resend_redis_decide(rd, b->rec[i], NULL);
            }

            ngx_free(b);
        }
    }
}


/*
 * In a cluster a script call holds the keys of one slot: the first
 * admission waiting, and those of the same slot after it (most often the
 * same pinId), up to BATCH
 */

static void
ngx_http_tfa_resend_redis_one_slot(ngx_http_tfa_resend_redis_t *rd,
    ngx_http_tfa_resend_redis_batch_t *b)
{
    ngx_uint_t                        slot;
    ngx_queue_t                      *q, *next;
    ngx_http_tfa_resend_redis_rec_t  *rec;

    q = ngx_queue_head(&rd->conn.waiting);
    rec = ngx_queue_data(q, ngx_http_tfa_resend_redis_rec_t, queue);
    slot = rec->slot;

    while (q != ngx_queue_sentinel(&rd->conn.waiting)
           && b->n < NGX_HTTP_TFA_RESEND_REDIS_BATCH)
    {
        next = ngx_queue_next(q);
        rec = ngx_queue_data(q, ngx_http_tfa_resend_redis_rec_t, queue);

        if (rec->slot == slot) {
            ngx_queue_remove(q);
            b->rec[b->n++] = rec;
        }

        q = next;
    }
}


/*
 * EVALSHA sha K KEY... N WINDOW NONCE..., in the protocol's own form (EVAL
 * with the script once Redis has lost it): all but the keys and the nonces
 * were made when the configuration was read, and the connection takes the
 * command as it is (formatting it argument by argument would cost more
 * than all the rest of the work)
 */

static ngx_int_t
ngx_http_tfa_resend_redis_send(ngx_http_tfa_resend_redis_t *rd,
    ngx_http_tfa_resend_redis_batch_t *b)
{
    u_char      *cmd, *p, nonce[8];
    size_t       len, n;
    ngx_int_t    rc;
    ngx_uint_t   i, j;

    if (rd->conn.link == NULL && rd->cluster == NULL) {
        return NGX_ERROR;
    }

    n = rd->script.len;

    len = sizeof("*\r\n$7\r\nEVALSHA\r\n$\r\n\r\n$\r\n\r\n") - 1
          + 3 * NGX_SIZE_T_LEN + n + rd->argv.len + 1;

    for (i = 0; i < b->n; i++) {
        len += 1 + NGX_SIZE_T_LEN + 2 + b->rec[i]->key_len + 2
               + sizeof("$16\r\n\r\n") - 1 + 16;
    }

    cmd = ngx_alloc(len, ngx_cycle->log);
    if (cmd == NULL) {
        return NGX_ERROR;
    }

    p = ngx_sprintf(cmd, "*%ui\r\n", 2 * b->n + 5);

    if (b->eval) {
        p = ngx_sprintf(p, "$4\r\nEVAL\r\n$%uz\r\n", n);
        p = ngx_cpymem(p, rd->script.data, n);

    } else {
        p = ngx_cpymem(p, "$7\r\nEVALSHA\r\n$40\r\n",
                       sizeof("$7\r\nEVALSHA\r\n$40\r\n") - 1);
        p = ngx_cpymem(p, rd->sha, 40);
    }

    /* numkeys: 1 to BATCH (64), one or two digits */

    p = ngx_sprintf(p, "\r\n$%uz\r\n%ui\r\n", (size_t) (b->n < 10 ? 1 : 2),
                    b->n);

    for (i = 0; i < b->n; i++) {
        p = ngx_sprintf(p, "$%uz\r\n", b->rec[i]->key_len);
        p = ngx_cpymem(p, b->rec[i]->key, b->rec[i]->key_len);
        *p++ = CR;
        *p++ = LF;
    }

    p = ngx_cpymem(p, rd->argv.data, rd->argv.len);

    for (i = 0; i < b->n; i++) {

        /* as "%016xL" would print it */

        for (j = 0; j < 8; j++) {
            nonce[j] = (u_char) (b->rec[i]->nonce >> (56 - 8 * j));
        }

        p = ngx_cpymem(p, "$16\r\n", sizeof("$16\r\n") - 1);
        p = ngx_hex_dump(p, nonce, 8);
        *p++ = CR;
        *p++ = LF;
    }

    if (rd->cluster) {
        rc = ngx_http_tfa_resend_redis_cluster_command(rd->cluster, cmd,
                 p - cmd, ngx_http_tfa_resend_redis_reply, b);

    } else {
        rc = ngx_http_tfa_resend_redis_command(rd, cmd, p - cmd,
                                               ngx_http_tfa_resend_redis_reply,
                                               b);
    }

    ngx_free(cmd);

    return rc;
}


static void
ngx_http_tfa_resend_redis_reply(void *data, redisReply *reply)
{
    ngx_http_tfa_resend_redis_batch_t  *b = data;

    ngx_uint_t                          i, each;
    ngx_http_tfa_resend_redis_t        *rd;

    rd = b->rd;

    if (rd->conn.closing) {
        for (i = 0; i < b->n; i++) {
            ngx_http_tfa_resend_redis_free_rec(b->rec[i]);
        }

        ngx_free(b);
        return;
    }

    if (reply
        && reply->type == REDIS_REPLY_ERROR
        && !b->eval
        && ngx_strncmp(reply->str, "NOSCRIPT", 8) == 0)
    {
        /* the script is gone from Redis (SCRIPT FLUSH, a failover) */

        ngx_log_debug1(NGX_LOG_DEBUG_HTTP, ngx_cycle->log, 0,
                       "tfa_resend: redis %V lost the script, EVAL",
                       &rd->addr);

        b->eval = 1;

        if (ngx_http_tfa_resend_redis_send(rd, b) == NGX_OK) {
            return;
        }
    }

    /* an answer each; or an error, another answer, or none: for all */

    each = (reply
            && reply->type == REDIS_REPLY_ARRAY
            && reply->elements == b->n);

    for (i = 0; i < b->n; i++) {
        ngx_http_tfa_resend_redis_decide(rd, b->rec[i],
                                         each ? reply->element[i] : reply);
    }

    ngx_free(b);

    if (reply
        && reply->type == REDIS_REPLY_ERROR
        && ngx_strncmp(reply->str, "READONLY", 8) == 0)
    {
        /* a replica now (a failover): the master is found again */

        if (rd->cluster) {
            ngx_http_tfa_resend_redis_cluster_stale(rd->cluster);

        } else {
            ngx_http_tfa_resend_redis_fail(rd);
        }
    }
}


/*
 * One admission's answer (reply NULL: none, its connection went, or it
 * could not be sent: conn->why says why); resumes its request, or takes a
 * late admission back.
 */

static void
ngx_http_tfa_resend_redis_decide(ngx_http_tfa_resend_redis_t *rd,
    ngx_http_tfa_resend_redis_rec_t *rec, redisReply *reply)
{
    uint64_t                           x;
    ngx_int_t                          rc;
    ngx_uint_t                         remaining;
    ngx_http_tfa_resend_store_op_t    *op, lop;
    ngx_http_tfa_resend_redis_conn_t  *conn;

    conn = &rd->conn;

    conn->pending--;

    x = 0;
    remaining = 0;

    if (reply) {
        conn->stalled = 0;
        rc = ngx_http_tfa_resend_redis_parse(rd, reply, &x, &remaining);

        if (rec->asked) {
            ngx_http_tfa_resend_metrics_store_time(rd->store->metrics,
                           ngx_http_tfa_resend_metrics_clock() - rec->asked);
        }

    } else {
        rc = NGX_ERROR;
    }

    op = rec->op;

    if (op == NULL) {

        /*
         * Nobody waits: the resend timed out, or its request went away.
         * An admission it was not let through with is taken back.
         */

        if (rc == NGX_OK && !rec->passed) {
            ngx_log_error(NGX_LOG_INFO, ngx_cycle->log, 0,
                          "tfa_resend_limit_zone \"%V\": redis admitted "
                          "\"%*s\" after the resend was decided without "
                          "it: taken back",
                          &rd->store->name, rec->key_len, rec->key);

            ngx_http_tfa_resend_redis_take_back(rd, rec->key, rec->key_len,
                                                x, rec->nonce);
        }

        ngx_http_tfa_resend_redis_free_rec(rec);
        return;
    }

    rec->op = NULL;

    switch (rc) {

    case NGX_OK:
        op->stamp = x;
        op->serial = rec->nonce;
        op->remaining = remaining;
        op->rc = NGX_OK;

        /* this server's own record, should Redis fail later */

        ngx_memzero(&lop, sizeof(ngx_http_tfa_resend_store_op_t));

        lop.key = op->key;
        lop.now = ngx_current_msec;
        lop.log = op->log;

        if (ngx_http_tfa_resend_shm_store.admit(&rd->local, &lop) == NGX_OK) {
            op->local = lop.stamp;
        }

        ngx_http_tfa_resend_redis_answered(rd);
        break;

    case NGX_BUSY:
        op->remaining = 0;
        op->retry_after = (ngx_msec_t) x;
        op->rc = NGX_BUSY;

        ngx_http_tfa_resend_redis_answered(rd);
        break;

    default: /* NGX_ERROR */
        (void) ngx_http_tfa_resend_redis_fallback(rd, op, reply
                                      ? NGX_HTTP_TFA_RESEND_METRICS_REPLY
                                      : ngx_http_tfa_resend_redis_down(rd));
        break;
    }

    ngx_log_debug4(NGX_LOG_DEBUG_HTTP, op->log, 0,
                   "tfa_resend_limit admit \"%V\" in \"%V\": redis said %i, "
                   "remaining %ui", &op->key, &rd->store->name, op->rc,
                   op->remaining);

    ngx_http_tfa_resend_redis_free_rec(rec);

    op->done(op);
}


/* the script's answer: NGX_OK (admitted at *x, ms), NGX_BUSY (retry *x) */

static ngx_int_t
ngx_http_tfa_resend_redis_parse(ngx_http_tfa_resend_redis_t *rd,
    redisReply *reply, uint64_t *x, ngx_uint_t *remaining)
{
    if (reply->type == REDIS_REPLY_INTEGER) {

        if (reply->integer >= 0) {
            *x = (uint64_t) reply->integer >> 6;
            *remaining = (ngx_uint_t) (reply->integer & 63);
            return NGX_OK;
        }

        *x = (uint64_t) -reply->integer;
        *remaining = 0;
        return NGX_BUSY;
    }

    if (reply->type == REDIS_REPLY_ERROR) {
        ngx_snprintf(rd->conn.why, sizeof(rd->conn.why) - 1,
                     "answered \"%*s\"%Z",
                     (size_t) ngx_min(reply->len, 160), reply->str);
        return NGX_ERROR;
    }

    ngx_sprintf(rd->conn.why, "answered the script with something else%Z");

    return NGX_ERROR;
}


/* no answer within redis_timeout: on_store_error decides */

static void
ngx_http_tfa_resend_redis_timeout(ngx_event_t *ev)
{
    ngx_http_tfa_resend_redis_rec_t  *rec = ev->data;

    ngx_http_tfa_resend_redis_t       *rd;
    ngx_http_tfa_resend_store_op_t    *op;
    ngx_http_tfa_resend_redis_conn_t  *conn;

    rd = rec->rd;
    conn = &rd->conn;
    op = rec->op;

    if (op == NULL) {
        return;
    }

    rec->op = NULL;

    if (rec->cln) {
        rec->cln->handler = NULL;
        rec->cln = NULL;
    }

    if (rd->cluster) {
        /* its master is taken for silent, as the connection is below */
        ngx_http_tfa_resend_redis_cluster_timed_out(rd->cluster, rec->slot);

    } else {
        ngx_sprintf(conn->why, "did not answer within redis_timeout "
                    "(%Mms)%s%Z", rd->timeout,
                    conn->state == NGX_HTTP_TFA_RESEND_REDIS_CONNECTING
                    ? " of connecting" : "");
    }

    rec->passed = (ngx_http_tfa_resend_redis_fallback(rd, op,
                                         NGX_HTTP_TFA_RESEND_METRICS_TIMEOUT)
                   == NGX_OK);

    /*
     * The connection stays: the command was sent and may yet be answered,
     * and such a late admission must be seen to be taken back.
     */

    if (!conn->stalled) {
        conn->stalled = ngx_current_msec;
    }

    /* rec stays on the connection until the answer or the connection goes */

    op->done(op);
}


/* the request went away while it waited: nothing is resumed */

static void
ngx_http_tfa_resend_redis_op_cleanup(void *data)
{
    ngx_http_tfa_resend_redis_rec_t  *rec = data;

    rec->op = NULL;
    rec->cln = NULL;
    rec->passed = 0;

    if (rec->timer.timer_set) {
        ngx_del_timer(&rec->timer);
    }
}


static void
ngx_http_tfa_resend_redis_free_rec(ngx_http_tfa_resend_redis_rec_t *rec)
{
    if (rec->timer.timer_set) {
        ngx_del_timer(&rec->timer);
    }

    if (rec->cln) {
        rec->cln->handler = NULL;
    }

    ngx_free(rec);
}


void
ngx_http_tfa_resend_redis_close(ngx_http_tfa_resend_redis_t *rd)
{
    ngx_queue_t  *q;

    rd->conn.closing = 1;

    if (rd->conn.flush.posted) {
        ngx_delete_posted_event(&rd->conn.flush);
    }

    while (!ngx_queue_empty(&rd->conn.waiting)) {
        q = ngx_queue_head(&rd->conn.waiting);
        ngx_queue_remove(q);
        ngx_http_tfa_resend_redis_free_rec(
            ngx_queue_data(q, ngx_http_tfa_resend_redis_rec_t, queue));
    }

    if (rd->cluster) {
        ngx_http_tfa_resend_redis_cluster_close(rd->cluster);
    }

    if (rd->conn.link) {
        ngx_http_tfa_resend_redis_fail(rd);
    }
}
