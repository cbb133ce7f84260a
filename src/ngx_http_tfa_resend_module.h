
/*
 * Copyright (C) ngx_http_tfa_resend_module authors
 */


#ifndef _NGX_HTTP_TFA_RESEND_MODULE_H_INCLUDED_
#define _NGX_HTTP_TFA_RESEND_MODULE_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>


/*
 * The configuration and per-request structs, shared by every file of the
 * module.  The types they point to belong to other files (the pattern to
 * check, the store to store.h, the status map to normalize, the admission
 * to limit); they are named here by their struct tags, so that this header
 * includes none of those files' headers.
 */


typedef struct {
    ngx_flag_t                  used;     /* some location has tfa_resend on */

    /* interception and credentials */
    struct ngx_http_tfa_resend_pattern_s  *default_pattern;

    struct ngx_http_tfa_resend_metrics_conf_s  *metrics;  /* or NULL */
} ngx_http_tfa_resend_main_conf_t;


typedef struct {
    ngx_flag_t                  enable;

    /* interception and credentials */
    struct ngx_http_tfa_resend_pattern_s  *pin_pattern;
    ngx_uint_t                  pin_case;     /* ..._PIN_CASE_UPPER ... */
    ngx_str_t                   credentials;  /* "Basic ..." or "App ..." */
    ngx_array_t                *pass_headers;  /* of ngx_str_t, or NULL */
    size_t                      max_body_size;
    ngx_flag_t                  own;      /* tfa_resend, _credentials here */
    ngx_flag_t                  inject;   /* the credentials go from here */

    /* limiter */
    struct ngx_http_tfa_resend_store_s  *limit_store;  /* NULL: off */
    ngx_uint_t                  limit_status;
    ngx_uint_t                  limit_log_level;
    ngx_flag_t                  limit_dry_run;
    ngx_flag_t                  limit_refund;

    /* normalizer */
    ngx_flag_t                  normalize;
    size_t                      max_response_size;
    struct ngx_http_tfa_resend_status_map_s  *status_map;  /* or NULL */
    ngx_msec_t                  refused_logged;  /* an upstream 401/403,
                                                    this worker's last, or 0 */
} ngx_http_tfa_resend_loc_conf_t;


/* ctx->limit_state: what the limiter made of the resend */
#define NGX_HTTP_TFA_RESEND_LIMIT_NONE              0  /* not asked */
#define NGX_HTTP_TFA_RESEND_LIMIT_PENDING           1  /* a remote store */
#define NGX_HTTP_TFA_RESEND_LIMIT_PASSED            2
#define NGX_HTTP_TFA_RESEND_LIMIT_REJECTED          3
#define NGX_HTTP_TFA_RESEND_LIMIT_REJECTED_DRY_RUN  4


/*
 * Per-request state.  It exists only for an intercepted resend (a request
 * of the resend shape in a location with tfa_resend on): its presence is
 * what the filter, the limiter and the variables test.
 */

typedef struct {
    ngx_str_t                   pin_id;           /* folded */

    /* interception and credentials */
    ngx_str_t                   uri;              /* r->uri, pinId folded */
    ngx_http_handler_pt         content_handler;  /* the location's own */
    ngx_int_t                 (*create_request)(ngx_http_request_t *r);
    ngx_int_t                   phase_rc;         /* precontent, re-entered */
    ngx_http_upstream_t        *upstream;         /* this location's own */
    unsigned                    redirected:1;     /* found again, not seen */

    /* limiter */
    struct ngx_http_tfa_resend_store_s  *limit_store;  /* that admitted */
    ngx_uint_t                  limit_state;      /* ..._LIMIT_PASSED ... */
    ngx_uint_t                  limit_limit;      /* N */
    ngx_uint_t                  limit_remaining;
    ngx_msec_t                  limit_retry_after;  /* ms, if rejected */
    /* while a remote store decides: the admission it answers */
    struct ngx_http_tfa_resend_limit_admission_s  *limit_admission;
    unsigned                    limit_inspected:1;  /* not admitted: asked */
    unsigned                    limit_headers:1;    /* X-RateLimit-* set */
    unsigned                    limit_unavailable:1;  /* rejected: could not
                                                         decide (503) */

    /* metrics */
    uint64_t                    forwarded_at;     /* metrics clock, or 0 */
    unsigned                    counted:1;        /* the answer sent */

    /* normalizer */
    const char                 *call_status;      /* canonical, sent */
    ngx_uint_t                  upstream_status;
    off_t                       received;         /* upstream body bytes */
    ngx_buf_t                  *body;             /* collected so far */
    ngx_buf_t                  *answer;           /* canonical, to send */
    void                      (*finalize_request)(ngx_http_request_t *r,
                                                  ngx_int_t rc);

    unsigned                    own_response:1;   /* made by the module */
    unsigned                    replace_body:1;   /* nginx's error page */
    unsigned                    collecting:1;     /* upstream's answer */
    unsigned                    too_large:1;
    unsigned                    cut_short:1;
    unsigned                    unusable:1;       /* status or 1xx */
    unsigned                    timed_out:1;
    unsigned                    sent:1;
} ngx_http_tfa_resend_ctx_t;


extern ngx_module_t  ngx_http_tfa_resend_module;


#endif /* _NGX_HTTP_TFA_RESEND_MODULE_H_INCLUDED_ */
