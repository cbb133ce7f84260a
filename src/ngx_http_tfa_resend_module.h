
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
} ngx_http_tfa_resend_main_conf_t;


typedef struct {
    ngx_flag_t                  enable;
} ngx_http_tfa_resend_loc_conf_t;


/* per-request state of an intercepted resend */

typedef struct {
    ngx_str_t                   pin_id;
} ngx_http_tfa_resend_ctx_t;


ngx_int_t ngx_http_tfa_resend_add_variables(ngx_conf_t *cf);


extern ngx_module_t  ngx_http_tfa_resend_module;


#endif /* _NGX_HTTP_TFA_RESEND_MODULE_H_INCLUDED_ */
