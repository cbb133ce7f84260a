
/*
 * Copyright (C) ngx_http_tfa_resend_module authors
 */


#ifndef _NGX_HTTP_TFA_RESEND_MODULE_H_INCLUDED_
#define _NGX_HTTP_TFA_RESEND_MODULE_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>


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
    ngx_str_t                   credentials;  /* "Basic ..." or "App ..." */

    /* limiter */
    struct ngx_http_tfa_resend_store_s  *limit_store;  /* NULL: off */
    ngx_uint_t                  limit_status;
    ngx_uint_t                  limit_log_level;
    ngx_flag_t                  limit_dry_run;
    ngx_flag_t                  limit_refund;

    /* normalizer */
    ngx_flag_t                  normalize;
    size_t                      max_response_size;
    void                       *status_map;  /* ..._status_map_t, or NULL */
} ngx_http_tfa_resend_loc_conf_t;


/*
 * Per-request state.  It exists only for an intercepted resend (a request
 * of the resend shape in a location with tfa_resend on): its presence is
 * what the filter, the limiter and the variables test.
 */

typedef struct {
    ngx_str_t                   pin_id;

    /* interception and credentials */
    ngx_http_handler_pt         content_handler;  /* the location's own */
    ngx_int_t                 (*create_request)(ngx_http_request_t *r);
    ngx_int_t                   phase_rc;         /* precontent, re-entered */

    /* limiter */
    ngx_uint_t                  limit_state;      /* ..._LIMIT_PASSED ... */
    ngx_uint_t                  limit_limit;      /* N */
    ngx_uint_t                  limit_remaining;
    ngx_msec_t                  limit_retry_after;  /* ms, if rejected */
    void                       *limit_admission;  /* pending: a store op */
    unsigned                    limit_inspected:1;  /* not admitted: asked */
    unsigned                    limit_headers:1;    /* X-RateLimit-* set */

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
    unsigned                    timed_out:1;
    unsigned                    sent:1;
} ngx_http_tfa_resend_ctx_t;


ngx_int_t ngx_http_tfa_resend_add_variables(ngx_conf_t *cf);

/* src/ngx_http_tfa_resend_limit.c */
#define NGX_HTTP_TFA_RESEND_LIMIT_NONE              0  /* not asked */
#define NGX_HTTP_TFA_RESEND_LIMIT_PENDING           1  /* a remote store */
#define NGX_HTTP_TFA_RESEND_LIMIT_PASSED            2
#define NGX_HTTP_TFA_RESEND_LIMIT_REJECTED          3
#define NGX_HTTP_TFA_RESEND_LIMIT_REJECTED_DRY_RUN  4
/*
 * Admits (and counts) the intercepted resend in ctx under the location's
 * tfa_resend_limit.  Returns NGX_DECLINED to go on (admitted, a dry-run
 * rejection, or no limit here), else the rc of the 429/503 it sent; or
 * NGX_AGAIN when a remote store answers later: the caller returns, and the
 * limiter calls it again once the answer is in (the request body's
 * post_handler when there is one, else ngx_http_core_run_phases), and this
 * call then returns the decision.
 */
ngx_int_t ngx_http_tfa_resend_limit_request(ngx_http_request_t *r,
    ngx_http_tfa_resend_ctx_t *ctx);

/* src/ngx_http_tfa_resend_filter.c */
ngx_int_t ngx_http_tfa_resend_filter_init(ngx_conf_t *cf);
char *ngx_http_tfa_resend_status_map(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
/*
 * Sends a canonical error response made by the module itself (400, 405,
 * 415, 429, 503 ...) and returns what the caller returns to nginx (as
 * ngx_http_send_header / ngx_http_output_filter do).
 */
ngx_int_t ngx_http_tfa_resend_send_error(ngx_http_request_t *r,
    ngx_uint_t status, const char *message_id, const char *text);


extern ngx_module_t  ngx_http_tfa_resend_module;


#endif /* _NGX_HTTP_TFA_RESEND_MODULE_H_INCLUDED_ */
