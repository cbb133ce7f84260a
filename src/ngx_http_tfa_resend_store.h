
/*
 * Copyright (C) ngx_http_tfa_resend_module authors
 *
 * The limiter's store: where the admissions of each pinId are kept and the
 * sliding-window decision is made.  No HTTP in here: a store sees a key (the
 * pinId), a time and a zone, and answers admitted / rejected / no room.
 *
 * One store per tfa_resend_limit_zone.  The shared-memory store
 * (ngx_http_tfa_resend_shm.c) answers synchronously under the zone's lock;
 * a remote store (Redis) answers later: its admit returns NGX_AGAIN and
 * calls op->done once the answer is in.  The limiter treats both alike.
 *
 * Which store a zone has is its store= parameter: a row of the table of
 * store kinds (ngx_http_tfa_resend_stores.c), each row a kind's name, its
 * own parameters, how to create one, and its exit hook.
 */


#ifndef _NGX_HTTP_TFA_RESEND_STORE_H_INCLUDED_
#define _NGX_HTTP_TFA_RESEND_STORE_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>


/* "rate=N/WINDOW": N from 1 to 64, WINDOW from 1ms to 30d */
#define NGX_HTTP_TFA_RESEND_STORE_MAX_LIMIT   64
#define NGX_HTTP_TFA_RESEND_STORE_MAX_WINDOW  (30 * 86400 * (ngx_msec_t) 1000)


typedef struct ngx_http_tfa_resend_store_s     ngx_http_tfa_resend_store_t;
typedef struct ngx_http_tfa_resend_store_op_s  ngx_http_tfa_resend_store_op_t;
typedef struct ngx_http_tfa_resend_store_kind_s
    ngx_http_tfa_resend_store_kind_t;

typedef void (*ngx_http_tfa_resend_store_done_pt)(
    ngx_http_tfa_resend_store_op_t *op);


/*
 * One operation on one key.  The caller fills in the "in" part, the store
 * the "out" part.  An operation that returned NGX_AGAIN must stay where it
 * is (op->pool) until op->done has been called; a store that outlives its
 * caller's pool (the request went away) registers a cleanup on op->pool and
 * drops the answer.
 */

struct ngx_http_tfa_resend_store_op_s {
    /* in */
    ngx_str_t                           key;       /* the pinId */
    ngx_msec_t                          now;       /* ngx_current_msec */
    ngx_log_t                          *log;
    ngx_pool_t                         *pool;      /* for async state */
    ngx_http_tfa_resend_store_done_pt   done;      /* after NGX_AGAIN only */
    void                               *data;      /* the caller's */

    /* out of admit, in to refund: which admission this was */
    uint64_t                            stamp;     /* when, store's clock */
    uint64_t                            serial;    /* a tiebreak, or 0 */
    uint64_t                            local;     /* a remote store: its
                                                      local window's stamp
                                                      of the same
                                                      admission, or 0 */

    /* out */
    ngx_int_t                           rc;        /* as returned, or the
                                                      final answer before
                                                      done is called */
    ngx_uint_t                          remaining; /* admissions left now */
    ngx_msec_t                          retry_after;  /* NGX_BUSY: ms until
                                                         the oldest admission
                                                         leaves the window */
    unsigned                            store_error:1;  /* decided by a
                                                           remote store's
                                                           on_store_error
                                                           (and counted so
                                                           by the store) */
};


/*
 * The operations.  Each returns:
 *
 *   admit    NGX_OK        admitted and counted; op->stamp/serial name it
 *            NGX_BUSY      N admissions already in the window: not counted;
 *                          op->retry_after set
 *            NGX_DECLINED  no room for a key the store does not know yet
 *                          (a full zone); not counted
 *            NGX_AGAIN     pending: op->done(op) is called later with
 *                          op->rc set to one of the above (or NGX_ERROR)
 *            NGX_ERROR     the store failed
 *
 *   refund   takes back the admission named by op->stamp/serial, if it is
 *            still in the window: NGX_OK (taken back or already gone), or
 *            NGX_ERROR.  Fire and forget: a remote store copies what it
 *            needs, may answer NGX_AGAIN, and calls op->done only if set.
 *
 *   inspect  op->remaining for the key without counting: NGX_OK, or
 *            NGX_DECLINED when the store cannot tell synchronously (a
 *            remote store without a local answer).  Never NGX_AGAIN.
 */

typedef struct {
    ngx_str_t                           name;      /* "shm", "redis" */

    ngx_int_t  (*admit)(ngx_http_tfa_resend_store_t *store,
                        ngx_http_tfa_resend_store_op_t *op);
    ngx_int_t  (*refund)(ngx_http_tfa_resend_store_t *store,
                         ngx_http_tfa_resend_store_op_t *op);
    ngx_int_t  (*inspect)(ngx_http_tfa_resend_store_t *store,
                          ngx_http_tfa_resend_store_op_t *op);
} ngx_http_tfa_resend_store_type_t;


/*
 * A zone: what tfa_resend_limit_zone declares and tfa_resend_limit points
 * at (shm_zone->data is this struct).  Every store has its shared memory
 * zone: the shm store keeps its counts there, a remote store its
 * connection state and local fallback window.
 */

struct ngx_http_tfa_resend_store_s {
    const ngx_http_tfa_resend_store_type_t  *type;
    const ngx_http_tfa_resend_store_kind_t  *kind;    /* its row */
    void                                    *data;    /* the store's own */

    ngx_shm_zone_t                          *shm_zone;
    ngx_http_tfa_resend_store_t             *local;   /* the shm store of
                                                         the zone: this one,
                                                         or a remote one's
                                                         fallback window */
    ngx_str_t                                name;    /* the zone's */
    ngx_uint_t                               limit;   /* N */
    ngx_msec_t                               window;  /* ms */
    ngx_int_t                                metrics; /* its counters' slot
                                                         (metrics.h) */
};


/*
 * A kind of store: a row of the limiter's table.  store=NAME picks the row
 * of that name (store=shm); a name that ends in "://" is a scheme, and
 * store=SCHEME... picks it (store=redis://HOST:PORT).
 *
 *   create        makes store (its shm_zone, name, limit and window set)
 *                 one of this kind: sets store->type and store->data, and
 *                 the zone's init handler.  value is the store= parameter
 *                 (NULL when the zone has none), params the kind's own
 *                 parameters given (an array of ngx_str_t, or NULL).
 *                 NGX_OK, or NGX_ERROR with an [emerg] logged.
 *   exit_process  a worker exits: whatever the store holds in the worker
 *                 (a connection) goes.  NULL: nothing to do.
 */

struct ngx_http_tfa_resend_store_kind_s {
    ngx_str_t                                name;
    char                                    *syntax;  /* in messages, or
                                                         NULL: not shown */
    char                                   **params;  /* "redis_timeout="
                                                         ..., NULL-ended;
                                                         or NULL */
    ngx_int_t  (*create)(ngx_conf_t *cf, ngx_http_tfa_resend_store_t *store,
                         ngx_str_t *value, ngx_array_t *params);
    void       (*exit_process)(ngx_http_tfa_resend_store_t *store);
};


#endif /* _NGX_HTTP_TFA_RESEND_STORE_H_INCLUDED_ */
