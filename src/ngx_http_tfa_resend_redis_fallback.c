
/*
 * Copyright (C) ngx_http_tfa_resend_module authors
 *
 * What on_store_error makes of a resend the Redis store cannot decide:
 * refused, let through, or decided by this server's own window in the
 * zone's shared memory; counted and logged.
 */


#include <ngx_config.h>
#include <ngx_core.h>

#include "ngx_http_tfa_resend_metrics.h"
#include "ngx_http_tfa_resend_shm.h"
#include "ngx_http_tfa_resend_redis_conn.h"
#include "ngx_http_tfa_resend_redis_fallback.h"


static const char  *ngx_http_tfa_resend_redis_effects[] = {
    "resends are refused with 503",
    "this server's own window decides",
    "resends are let through, unlimited"
};


/*
 * Redis cannot decide (conn->why says why, reason counts it):
 * on_store_error does, and the zone's decision is counted as such
 */

ngx_int_t
ngx_http_tfa_resend_redis_fallback(ngx_http_tfa_resend_redis_t *rd,
    ngx_http_tfa_resend_store_op_t *op,
    ngx_http_tfa_resend_metrics_reason_e reason)
{
    ngx_int_t  rc;

    static ngx_http_tfa_resend_metrics_decision_e  decisions[] = {
        NGX_HTTP_TFA_RESEND_METRICS_STORE_ERROR_REJECTED,  /* reject */
        NGX_HTTP_TFA_RESEND_METRICS_STORE_ERROR_LOCAL,     /* local */
        NGX_HTTP_TFA_RESEND_METRICS_STORE_ERROR_ALLOWED    /* allow */
    };

    (void) ngx_atomic_fetch_add(&rd->sh->failed, 1);

    ngx_http_tfa_resend_metrics_store_error(rd->store->metrics, reason);
    ngx_http_tfa_resend_metrics_decision(rd->store->metrics,
                                         decisions[rd->on_error]);
    op->store_error = 1;

    if (ngx_http_tfa_resend_redis_may_log(rd)) {
        ngx_log_error(NGX_LOG_ERR, op->log, 0,
                      "tfa_resend_limit_zone \"%V\": redis at %V %s; "
                      "on_store_error=%V: %s (logged once a second at most)",
                      &rd->store->name, &rd->addr, rd->conn.why,
                      &ngx_http_tfa_resend_redis_modes[rd->on_error],
                      ngx_http_tfa_resend_redis_effects[rd->on_error]);
    }

    op->stamp = 0;
    op->serial = 0;
    op->local = 0;

    /* decided now, perhaps redis_timeout after the resend was asked */

    op->now = ngx_current_msec;

    switch (rd->on_error) {

    case NGX_HTTP_TFA_RESEND_REDIS_REJECT:
        op->remaining = 0;
        op->retry_after = 0;
        rc = NGX_ERROR;
        break;

    case NGX_HTTP_TFA_RESEND_REDIS_ALLOW:

        /* counted nowhere; what is left as far as this server knows */

        (void) ngx_http_tfa_resend_shm_store.inspect(&rd->local, op);

        op->retry_after = 0;
        rc = NGX_OK;
        break;

    default: /* NGX_HTTP_TFA_RESEND_REDIS_LOCAL */

        rc = ngx_http_tfa_resend_shm_store.admit(&rd->local, op);

        if (rc == NGX_OK) {
            op->local = op->stamp;
            op->stamp = 0;
            op->serial = 0;
        }

        break;
    }

    op->rc = rc;

    return rc;
}


/* why a connection is not there, or went: as the metrics count it */

ngx_http_tfa_resend_metrics_reason_e
ngx_http_tfa_resend_redis_down(ngx_http_tfa_resend_redis_t *rd)
{
    if (rd->conn.refused) {
        return NGX_HTTP_TFA_RESEND_METRICS_AUTH;
    }

    if (rd->conn.stalled) {
        return NGX_HTTP_TFA_RESEND_METRICS_TIMEOUT;
    }

    return NGX_HTTP_TFA_RESEND_METRICS_CONNECT;
}
