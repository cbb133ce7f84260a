
/*
 * Copyright (C) ngx_http_tfa_resend_module authors
 */


#ifndef _NGX_HTTP_TFA_RESEND_HANDLER_H_INCLUDED_
#define _NGX_HTTP_TFA_RESEND_HANDLER_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_tfa_resend_module.h"


/* registers the precontent phase handler (postconfiguration) */
/* tfa_resend_pin_case upper | lower | off */
extern ngx_conf_enum_t  ngx_http_tfa_resend_pin_cases[];


ngx_int_t ngx_http_tfa_resend_handler_init(ngx_conf_t *cf);

/* tfa_resend_pin_pattern REGEX */
char *ngx_http_tfa_resend_pin_pattern(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);

/* the "interception and credentials" part of merge_loc_conf */
char *ngx_http_tfa_resend_merge_intercept_conf(ngx_conf_t *cf,
    ngx_http_tfa_resend_loc_conf_t *prev,
    ngx_http_tfa_resend_loc_conf_t *conf);


#endif /* _NGX_HTTP_TFA_RESEND_HANDLER_H_INCLUDED_ */
