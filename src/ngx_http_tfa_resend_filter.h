
/*
 * Copyright (C) ngx_http_tfa_resend_module authors
 *
 * The header and body filter that gives the client the canonical answer
 * whoever answered an intercepted resend, and its tfa_resend_status_map.
 */


#ifndef _NGX_HTTP_TFA_RESEND_FILTER_H_INCLUDED_
#define _NGX_HTTP_TFA_RESEND_FILTER_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>


/* tfa_resend_status_map FROM CANONICAL */
char *ngx_http_tfa_resend_status_map(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);

/* registers the header and body filters (postconfiguration) */
ngx_int_t ngx_http_tfa_resend_filter_init(ngx_conf_t *cf);


#endif /* _NGX_HTTP_TFA_RESEND_FILTER_H_INCLUDED_ */
