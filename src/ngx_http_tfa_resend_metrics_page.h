
/*
 * Copyright (C) ngx_http_tfa_resend_module authors
 *
 * The tfa_resend_metrics page: the module's counters
 * (ngx_http_tfa_resend_metrics.c) in Prometheus' text exposition format
 * 0.0.4, and the gauges read from each shared-memory limit zone at scrape
 * time.
 */


#ifndef _NGX_HTTP_TFA_RESEND_METRICS_PAGE_H_INCLUDED_
#define _NGX_HTTP_TFA_RESEND_METRICS_PAGE_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>


/* tfa_resend_metrics; (the location's content handler) */
char *ngx_http_tfa_resend_metrics_page(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);


#endif /* _NGX_HTTP_TFA_RESEND_METRICS_PAGE_H_INCLUDED_ */
