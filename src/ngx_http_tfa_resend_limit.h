
/*
 * Copyright (C) ngx_http_tfa_resend_module authors
 *
 * The per-pinId resend limiter: its directives, the admission call the
 * interception handler makes, and the X-RateLimit-* header filter.
 */


#ifndef _NGX_HTTP_TFA_RESEND_LIMIT_H_INCLUDED_
#define _NGX_HTTP_TFA_RESEND_LIMIT_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_tfa_resend_module.h"
#include "ngx_http_tfa_resend_store.h"


extern ngx_conf_enum_t        ngx_http_tfa_resend_limit_log_levels[];
extern ngx_conf_num_bounds_t  ngx_http_tfa_resend_limit_status_bounds;


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

/* tfa_resend_limit_zone zone=NAME:SIZE rate=N/WINDOW */
char *ngx_http_tfa_resend_limit_zone(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);

/* tfa_resend_limit zone=NAME | off */
char *ngx_http_tfa_resend_limit(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);

/* registers the header filter (postconfiguration) */
ngx_int_t ngx_http_tfa_resend_limit_init(ngx_conf_t *cf);

/* the module's exit_process: each zone's store, by its kind's exit hook */
void ngx_http_tfa_resend_limit_exit_process(ngx_cycle_t *cycle);


#endif /* _NGX_HTTP_TFA_RESEND_LIMIT_H_INCLUDED_ */
